"""The JAX port's training: the scratch MLP and flax's, and jitted pure steps over a NamedTuple
state, as the Flax examples write them."""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import optax

from backends.jax.ops import VARIANTS, apply_keep, dropout, keep_bits, make_rng, resolve_device, to_numpy
from common.config import Config
from common.masks import noise_std
from common.params import Params
from common.trainer import TrainerBase

WEIGHT_KEYS = 1000  # dropconnect's keys: fold_in(key, WEIGHT_KEYS + layer), apart from the activations'


def mlp(
    params: Params,
    x: jax.Array,
    rates: tuple[float, ...],
    *,
    noise: str = "bernoulli",
    key: Any = None,
    masks: Any = None,
) -> tuple[jax.Array, list[jax.Array]]:
    """The scratch variant's logits and hidden outputs: the noise is on when a key (or injected
    masks) is given, off otherwise; under dropconnect it masks the weights that read each hidden
    layer instead of the layer itself."""
    on = key is not None or masks is not None

    def weights(i: int) -> jax.Array:
        """W{i}, under dropconnect (noise on, a layer reading a hidden one) with its kept weights."""
        if not on or noise != "dropconnect" or i == 1:
            return params[f"W{i}"]
        p = rates[i - 2]
        shape = params[f"W{i}"].shape
        keep = (
            masks[i - 2]
            if masks is not None
            else keep_bits(jax.random.fold_in(key, WEIGHT_KEYS + i), shape, p)
        )
        return apply_keep(params[f"W{i}"], keep, p)

    hidden = []
    for i, p in enumerate(rates, start=1):
        x = jax.nn.relu(x @ weights(i) + params[f"b{i}"])
        if on and noise == "gaussian" and p > 0:
            normal = (
                jax.random.normal(jax.random.fold_in(key, i), x.shape, x.dtype) if masks is None else None
            )
            x = x * (masks[i - 1] if masks is not None else 1 + noise_std(p) * normal)
        elif on and noise == "bernoulli":
            x = (
                apply_keep(x, masks[i - 1], p)
                if masks is not None
                else dropout(x, p, jax.random.fold_in(key, i))
            )
        hidden.append(x)
    last = len(rates) + 1
    return x @ weights(last) + params[f"b{last}"], hidden


class FlaxMLP(linen.Module):
    """The builtin variant: Dense-ReLU-Dropout per hidden layer, as the chapter's concise version."""

    hiddens: tuple[int, ...]
    rates: tuple[float, ...]
    outputs: int

    @linen.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        for width, p in zip(self.hiddens, self.rates, strict=True):
            x = linen.relu(linen.Dense(width)(x))
            x = linen.Dropout(p, deterministic=not train)(x)
            self.sow("intermediates", "hidden", x)  # kept only when applied with it mutable
        return linen.Dense(self.outputs)(x)


WEIGHT_NAMES = (("W", "kernel"), ("b", "bias"))


def to_flax(params: Params) -> dict[str, Any]:
    """Common layout -> linen's; Dense kernels are (in, out) like ours, so only names change."""
    return {
        f"Dense_{i}": {key: params[f"{name}{i + 1}"] for name, key in WEIGHT_NAMES}
        for i in range(len(params) // 2)
    }


def from_flax(flax_params: dict[str, Any]) -> Params:
    layers = [flax_params[f"Dense_{i}"] for i in range(len(flax_params))]
    return {f"{name}{i}": layer[key] for i, layer in enumerate(layers, 1) for name, key in WEIGHT_NAMES}


def loss_and_correct(logits: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Batch-mean softmax cross-entropy and the number of correct argmaxes."""
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.sum(jnp.argmax(logits, axis=1) == y)


class Net(NamedTuple):
    """What a compiled step depends on besides its arrays: the static argument of every jit below,
    so trainers of one shape and rate share their compiled code, and dropping a trainer frees it."""

    variant: str
    hiddens: tuple[int, ...]
    rates: tuple[float, ...]
    outputs: int
    lr: float
    weight_decay: float
    noise: str

    @classmethod
    def of(cls, cfg: Config, variant: str) -> Net:
        return cls(
            variant, cfg.num_hiddens, cfg.dropouts, cfg.num_outputs, cfg.lr, cfg.weight_decay, cfg.noise
        )

    def optimizer(self) -> optax.GradientTransformation:
        """SGD; builtin decays the weights with optax's own transformation (kernels only)."""
        if self.variant == "scratch" or not self.weight_decay:
            return optax.sgd(self.lr)

        def kernels(params: Any) -> Any:
            return jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "kernel", params)

        return optax.chain(optax.add_decayed_weights(self.weight_decay, mask=kernels), optax.sgd(self.lr))

    def penalty(self, params: Any) -> jax.Array:
        """The scratch variant's L2 term, as the chapter writes it: weight_decay / 2 * sum ||W||^2."""
        if self.variant != "scratch" or not self.weight_decay:
            return jnp.zeros(())
        return (
            self.weight_decay / 2 * sum(jnp.sum(params[f"W{i}"] ** 2) for i in range(1, len(self.rates) + 2))
        )

    def layers(
        self, params: Any, x: jax.Array, key: jax.Array | None = None, masks: Any = None
    ) -> tuple[jax.Array, list[jax.Array]]:
        """Logits and hidden outputs; dropout is on when a key (or injected masks) is given."""
        if self.variant == "scratch":
            return mlp(params, x, self.rates, noise=self.noise, key=key, masks=masks)
        model = FlaxMLP(self.hiddens, self.rates, self.outputs)
        rngs = {} if key is None else {"dropout": key}
        logits, sown = model.apply(
            {"params": params}, x, train=key is not None, rngs=rngs, mutable=["intermediates"]
        )
        return logits, list(sown["intermediates"]["hidden"])

    def apply(self, params: Any, x: jax.Array, key: jax.Array | None = None, masks: Any = None) -> jax.Array:
        return self.layers(params, x, key, masks)[0]


class TrainState(NamedTuple):
    params: Any
    opt_state: optax.OptState
    key: jax.Array  # split afresh every step


@partial(jax.jit, static_argnums=0)
def train_step(
    net: Net, state: TrainState, x: jax.Array, y: jax.Array, masks: list[jax.Array] | None
) -> tuple[TrainState, jax.Array, jax.Array]:
    """One SGD step (optax.sgd) on the batch-mean loss; a pure function of the state."""
    key, step_key = jax.random.split(state.key)

    def loss_fn(params: Any) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        loss, correct = loss_and_correct(net.apply(params, x, key=step_key, masks=masks), y)
        return loss + net.penalty(params), (loss, correct)

    (_, (loss, correct)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = net.optimizer().update(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), opt_state, key), loss, correct


@partial(jax.jit, static_argnums=0)
def train_scan(
    net: Net, state: TrainState, x: jax.Array, y: jax.Array, batches: jax.Array
) -> tuple[TrainState, jax.Array, jax.Array]:
    """train_step over equal-sized index batches in one lax.scan; (state, loss sum, number correct)."""

    def body(state: TrainState, idx: jax.Array) -> tuple[TrainState, tuple[jax.Array, jax.Array]]:
        state, loss, correct = train_step(net, state, x[idx], y[idx], None)
        return state, (loss, correct)

    state, (losses, corrects) = jax.lax.scan(body, state, batches)
    return state, jnp.sum(losses) * batches.shape[1], jnp.sum(corrects)


@partial(jax.jit, static_argnums=0)
def forward_pass(
    net: Net, params: Any, x: jax.Array, key: jax.Array | None
) -> tuple[jax.Array, list[jax.Array]]:
    """float32 log-softmax and the hidden outputs of a pass without an update (noise on with a key)."""
    logits, hidden = net.layers(params, x, key)
    return jax.nn.log_softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32))), hidden


EVAL_STREAM = 0x5EED  # folded into the state's key for evaluation's noise


class Trainer(TrainerBase):
    """Host-side holder of a TrainState, stepped by the module's jitted pure functions."""

    VARIANTS = VARIANTS
    TRAIN_DTYPES = ("float32", "float64", "bfloat16")

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant)
        if cfg.dtype == "float64":
            jax.config.update("jax_enable_x64", True)  # process-wide: the only switch JAX has for 64 bits
        self.device = resolve_device(device)
        self.dtype = jnp.dtype(cfg.dtype)
        self.net = Net.of(cfg, variant)
        model_params = self.put(self.initial_params)
        if variant == "builtin":
            model_params = to_flax(model_params)
        key = make_rng(cfg.seed, device, impl=cfg.prng_impl)
        self.state = TrainState(model_params, self.net.optimizer().init(model_params), key)

    def put(self, array: Any) -> Any:
        """Floating arrays (and pytrees of them) in the trainer's dtype on its device; others as they are."""

        def cast(leaf: Any) -> Any:
            return leaf.astype(self.dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

        return jax.device_put(jax.tree_util.tree_map(cast, array), self.device)

    def get_params(self) -> Params:
        params = self.state.params
        if self.variant == "builtin":
            params = from_flax(params)
        return {name: to_numpy(value).copy() for name, value in params.items()}

    def _step(
        self, x: jax.Array, y: jax.Array, masks: list[np.ndarray] | None
    ) -> tuple[jax.Array, jax.Array]:
        injected = None if masks is None else self.put(masks)
        self.state, loss, correct = train_step(self.net, self.state, x, y, injected)
        return loss, correct

    def _pass(self, x: jax.Array, noisy: bool, sample: int) -> tuple[jax.Array, list[jax.Array]]:
        """Evaluation's noise comes from keys of its own, derived from the state's without using it."""
        key = jax.random.fold_in(jax.random.fold_in(self.state.key, EVAL_STREAM), sample) if noisy else None
        return forward_pass(self.net, self.state.params, x, key)

    def _log_probs(self, x: jax.Array, noisy: bool, sample: int) -> np.ndarray:
        return np.asarray(self._pass(x, noisy, sample)[0], np.float64)

    def _hidden(self, x: jax.Array, noisy: bool) -> list[np.ndarray]:
        return [np.asarray(h, np.float64) for h in self._pass(x, noisy, 0)[1]]

    def _epoch_sums(
        self, x: jax.Array, y: jax.Array, batches: list[np.ndarray]
    ) -> tuple[jax.Array, jax.Array]:
        """The full batches in one lax.scan on the device, then the short last one (each shape
        compiles once). The chapter's order puts the one short batch last, as here."""
        full = [idx for idx in batches if len(idx) == self.cfg.batch_size]
        short = [idx for idx in batches if len(idx) != self.cfg.batch_size]
        loss_sum: Any = 0.0
        correct: Any = 0
        if full:
            self.state, loss_sum, correct = train_scan(self.net, self.state, x, y, self.put(np.stack(full)))
        short_loss, short_correct = super()._epoch_sums(x, y, short)
        return loss_sum + short_loss, correct + short_correct
