"""The JAX port's training: jitted pure steps over a NamedTuple state, as the Flax examples
write them, and the host-side Trainer that holds the state. Its loops: "device" runs an epoch's
full batches in one call (train_scan, a lax.scan), "step" calls train_batch once a batch."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dropout_ports.backends.jax.models import BuiltinNet, ScratchNet, from_flax, to_flax
from dropout_ports.backends.jax.ops import (
    MATMUL_PRECISIONS,
    VARIANTS,
    make_rng,
    matmul_precision,
    resolve_device,
    to_numpy,
)
from dropout_ports.common.batches import full_and_short
from dropout_ports.common.config import Config
from dropout_ports.common.params import Params
from dropout_ports.common.trainer import TrainerBase


def loss_and_correct(logits: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Batch-mean softmax cross-entropy and the number of correct argmaxes."""
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.sum(jnp.argmax(logits, axis=1) == y)


def log_probs(logits: jax.Array) -> jax.Array:
    """Log-softmax in at least float32, whatever the training dtype (bfloat16 sums too coarsely)."""
    return jax.nn.log_softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)))


class StepSettings(NamedTuple):
    """What a compiled step depends on besides its arrays: the static argument of every jit below,
    so trainers of one shape and rate share their compiled code, and dropping a trainer frees it."""

    variant: str
    hiddens: tuple[int, ...]
    rates: tuple[float, ...]
    outputs: int
    lr: float
    weight_decay: float
    noise: str
    matmul_precision: str  # every dot of the compiled step is traced at it (at_precision)

    @classmethod
    def of(cls, cfg: Config, variant: str) -> StepSettings:
        return cls(
            variant, cfg.num_hiddens, cfg.dropouts, cfg.num_outputs, cfg.lr, cfg.weight_decay, cfg.noise,
            cfg.matmul_precision,
        )  # fmt: skip

    def optimizer(self) -> optax.GradientTransformation:
        """SGD; builtin and nnx decay the weights with optax's own transformation (kernels only)."""
        if self.variant == "scratch" or not self.weight_decay:
            return optax.sgd(self.lr)

        def kernels(params: Any) -> Any:
            """True at each kernel: the last name in its path (nnx's paths may end in a Variable's value)."""

            def is_kernel(path: tuple, _: Any) -> bool:
                return [key.key for key in path if isinstance(key, jax.tree_util.DictKey)][-1] == "kernel"

            return jax.tree_util.tree_map_with_path(is_kernel, params)

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
            return ScratchNet(self.rates, self.noise)(params, x, key=key, masks=masks)
        model = BuiltinNet(self.hiddens, self.rates, self.outputs)
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


def at_precision(function: Callable[..., Any]) -> Callable[..., Any]:
    """function(net, ...) traced at net's matmul precision: a static setting of the compiled code
    (train_batch and train_scan get it from the train_step they call)."""

    @wraps(function)
    def traced(net: StepSettings, *args: Any) -> Any:
        with matmul_precision(net.matmul_precision):
            return function(net, *args)

    return traced


@partial(jax.jit, static_argnums=0)
@at_precision
def train_step(
    net: StepSettings, state: TrainState, x: jax.Array, y: jax.Array, masks: list[jax.Array] | None
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
def train_batch(
    net: StepSettings,
    state: TrainState,
    sums: tuple[jax.Array, jax.Array],
    x: jax.Array,
    y: jax.Array,
    batches: jax.Array,
    i: int,
) -> tuple[TrainState, tuple[jax.Array, jax.Array]]:
    """Step i of an epoch, called from the host: train_step on the rows batches[i] of x and y, its
    loss (times the batch size) and hits added to sums. The gather and the sums are compiled into
    the call, so the host issues one call a step."""
    idx = batches[i]
    state, loss, correct = train_step(net, state, x[idx], y[idx], None)
    return state, (sums[0] + loss * idx.shape[0], sums[1] + correct)


@partial(jax.jit, static_argnums=0)
def train_scan(
    net: StepSettings, state: TrainState, x: jax.Array, y: jax.Array, batches: jax.Array
) -> tuple[TrainState, jax.Array, jax.Array]:
    """train_step over equal-sized index batches in one lax.scan; (state, loss sum, number correct)."""

    def body(state: TrainState, idx: jax.Array) -> tuple[TrainState, tuple[jax.Array, jax.Array]]:
        state, loss, correct = train_step(net, state, x[idx], y[idx], None)
        return state, (loss, correct)

    state, (losses, corrects) = jax.lax.scan(body, state, batches)
    return state, jnp.sum(losses) * batches.shape[1], jnp.sum(corrects)


@partial(jax.jit, static_argnums=0)
@at_precision
def forward_pass(
    net: StepSettings, params: Any, x: jax.Array, key: jax.Array | None
) -> tuple[jax.Array, list[jax.Array]]:
    """float32 log-softmax and the hidden outputs of a pass without an update (noise on with a key)."""
    logits, hidden = net.layers(params, x, key)
    return log_probs(logits), hidden


EVAL_STREAM = 0x5EED  # folded into the state's key for evaluation's noise


class Trainer(TrainerBase):
    """Host-side holder of a TrainState, stepped by the module's jitted pure functions. The nnx
    variant holds stateful nnx objects instead: constructing a Trainer for it gives the subclass
    nnx.py registers, NNXTrainer, which overrides the steps below and shares the loops."""

    VARIANTS = VARIANTS
    TRAIN_DTYPES = ("float32", "float64", "bfloat16")
    LOOPS = ("device", "step")
    MATMUL_PRECISIONS = MATMUL_PRECISIONS
    # DataParallelTrainer (parallel.py); linen.Dropout draws from the key it is given, not by example
    REPLICA_SEEDINGS: ClassVar = {"scratch": ("example", "rank", "same"), "builtin": ("rank", "same")}
    SUBCLASSES: ClassVar[dict[str, type[Trainer]]] = {}  # variant -> its subclass (nnx.py registers)

    def __new__(cls, *args: Any, variant: str = "scratch", **kwargs: Any):
        return super().__new__(Trainer.SUBCLASSES.get(variant, cls) if cls is Trainer else cls)

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant, device=device)
        if cfg.dtype == "float64":
            # Process-wide: the Trainer's later calls need it too (jax.enable_x64 scopes it to a block)
            jax.config.update("jax_enable_x64", True)
        self.device = resolve_device(device)
        self.dtype = jnp.dtype(cfg.dtype)
        self._start(make_rng(cfg.seed, device, impl=cfg.prng_impl))

    def _start(self, key: jax.Array) -> None:
        """The variant's training state, from the initial parameters and the run's key."""
        self.net = StepSettings.of(self.cfg, self.variant)
        model_params = self.put(self.initial_params)
        if self.variant == "builtin":
            model_params = to_flax(model_params)
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

    def _scan(self, x: jax.Array, y: jax.Array, batches: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The device loop's call: every row of batches a step, in one lax.scan; (loss sum, hits)."""
        self.state, loss_sum, correct = train_scan(self.net, self.state, x, y, batches)
        return loss_sum, correct

    def _batch(self, sums: Any, x: jax.Array, y: jax.Array, batches: jax.Array, i: int) -> Any:
        """The step loop's call: step i (the rows batches[i]), its loss and hits added to sums."""
        self.state, sums = train_batch(self.net, self.state, sums, x, y, batches, i)
        return sums

    def _evaluation_pass(self, x: jax.Array, noisy: bool, sample: int) -> tuple[jax.Array, list[jax.Array]]:
        """Evaluation's noise comes from keys of its own, derived from the state's without using it."""
        key = jax.random.fold_in(jax.random.fold_in(self.state.key, EVAL_STREAM), sample) if noisy else None
        return forward_pass(self.net, self.state.params, x, key)

    def _log_probs(self, x: jax.Array, noisy: bool, sample: int) -> np.ndarray:
        return np.asarray(self._evaluation_pass(x, noisy, sample)[0], np.float64)

    def _hidden(self, x: jax.Array, noisy: bool) -> list[np.ndarray]:
        return [np.asarray(h, np.float64) for h in self._evaluation_pass(x, noisy, 0)[1]]

    def _epoch_sums(self, x: jax.Array, y: jax.Array, batches: list[np.ndarray]) -> tuple[Any, Any]:
        """The loop. "device": the full batches in one call on the device (_scan), then the short last
        one; "step": one call a batch from the host (_batch), the sums kept on the device. Each
        batch shape compiles once; the chapter's order puts the one short batch last, as here."""
        full, short = full_and_short(batches, self.cfg.batch_size)
        if self.cfg.loop == "device":
            loss_sum: Any = 0.0
            correct: Any = 0
            if full:
                loss_sum, correct = self._scan(x, y, self.put(np.stack(full)))
            short_loss, short_correct = super()._epoch_sums(x, y, short)
            return loss_sum + short_loss, correct + short_correct
        sums = jax.device_put(  # committed, as the sums each call returns: one compilation
            (np.zeros((), jnp.promote_types(self.dtype, jnp.float32)), np.zeros((), np.int64)), self.device
        )
        for group in filter(None, (full, short)):
            order = self.put(np.stack(group))
            for i in range(len(group)):
                sums = self._batch(sums, x, y, order, i)
        return sums
