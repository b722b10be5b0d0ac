"""JAX/Flax port: every mask comes from a key that the code splits and passes explicitly.

Keys are new-style typed keys (``jax.random.key``), with the PRNG implementation from
``Config.prng_impl`` ("threefry2x32", JAX's default, or "rbg", cheaper on some devices).

Variant "scratch" is a pure function of the common params dict using the hand-written dropout;
"builtin" is a ``flax.linen`` module with ``linen.Dropout``. Linen, not nnx, because its
functional ``apply(..., rngs={"dropout": key})`` keeps the key an explicit argument of a pure
train step, exactly as in the scratch variant; nnx keeps its RNG state inside the module.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import optax

from common.config import Config, check_rate
from common.masks import keep_threshold, mask_shape
from common.params import Params
from common.trainer import TrainerBase

NAME = "jax"
VARIANTS = ("scratch", "builtin")
DTYPES = ("float16", "bfloat16", "float32")
PRNG_IMPLS = ("threefry2x32", "rbg")  # JAX's default first; Config.prng_impl picks one for training
matmul = jnp.matmul


def versions() -> dict[str, str]:
    import flax
    import jaxlib

    return {module.__name__: module.__version__ for module in (jax, jaxlib, flax, optax)}


def devices() -> list[str]:
    return [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()]


def resolve_device(device: str) -> jax.Device:
    """The first JAX device of a platform: "cpu", or "gpu"/"cuda"; none is a clear error."""
    platform = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}.get(device)
    if platform is None:
        raise ValueError(f"unknown device {device!r}; use 'cpu' or 'gpu'")
    try:
        return jax.devices(platform)[0]
    except RuntimeError as err:
        raise ValueError(
            f"device {device!r} asked for, but this jax {jax.__version__} has none: {err}"
        ) from err


def make_rng(seed: int, device: str = "cpu", *, impl: str | None = None) -> jax.Array:
    """A typed PRNG key; JAX has no hidden state, so every draw must be handed a key of its own."""
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"impl must be one of {PRNG_IMPLS}; got {impl!r}")
    return jax.device_put(jax.random.key(seed, impl=impl or PRNG_IMPLS[0]), resolve_device(device))


def asarray(a: object, dtype: str | None = None, device: str | None = None) -> jax.Array:
    if dtype is not None and dtype not in DTYPES:
        raise TypeError(f"unsupported dtype {dtype!r}; supported: {DTYPES}")
    return jax.device_put(jnp.asarray(a, dtype=dtype), resolve_device(device or "cpu"))


def to_numpy(x: jax.Array) -> np.ndarray:
    """x on the host; bfloat16, which NumPy lacks, comes back as float32 as in the torch port."""
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype == jnp.bfloat16 else x


jit = jax.jit


copy = jnp.copy  # a real copy in device memory, even under jit


def ready(x: jax.Array) -> jax.Array:
    """x once computed: JAX dispatches asynchronously."""
    return x.block_until_ready()


def peak_device_memory(device: str) -> int | None:
    """The device allocator's peak bytes in use (XLA's memory_stats); None where it keeps none (CPU)."""
    stats = resolve_device(device).memory_stats()
    return stats.get("peak_bytes_in_use") if stats else None


def chapter_dropout(x: jax.Array, p: float, key: jax.Array) -> jax.Array:
    """D2L's JAX ``dropout_layer``: a float uniform per element, compared, cast to float32."""
    mask = jax.random.uniform(key, x.shape) > p
    return jnp.asarray(mask, dtype=jnp.float32) * x / (1.0 - p)


def apply_keep(x: jax.Array, keep: jax.Array, p: float) -> jax.Array:
    """The chapter's ``mask * X / (1 - p)`` in x's dtype; jax.grad gives mask / (1 - p)."""
    return x * keep / (1.0 - p)


def dropout(
    x: jax.Array, p: float, key: jax.Array, *, training: bool = True, broadcast_dims: tuple[int, ...] = ()
) -> jax.Array:
    """Inverted dropout; pure: the same key gives the same mask. p must be a static Python number."""
    p = check_rate(p)  # raises at trace time, so a bad rate never reaches compiled code
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"dropout needs a floating-point array, got dtype {x.dtype}")
    shape = mask_shape(x.shape, broadcast_dims)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return jnp.zeros_like(x)  # x does not enter: zeros and a zero gradient even for inf
    keep = jax.random.bits(key, shape, jnp.uint32) < jnp.uint32(keep_threshold(p))
    return apply_keep(x, keep, p)


def builtin_dropout(
    x: jax.Array, p: float, key: jax.Array, *, training: bool = True, broadcast_dims: tuple[int, ...] = ()
) -> jax.Array:
    """Flax's own ``linen.Dropout`` behind our signature, for comparing it with ours."""
    p = check_rate(p)  # linen.Dropout itself accepts any rate
    layer = linen.Dropout(p, broadcast_dims=tuple(broadcast_dims), deterministic=not training)
    return layer.apply({}, jnp.asarray(x), rngs={"dropout": key})


def mlp(
    params: Params, x: jax.Array, rates: tuple[float, ...], *, key: Any = None, masks: Any = None
) -> jax.Array:
    """The scratch variant: dropout is on when a key (or injected masks) is given, off otherwise."""
    layers = len(rates) + 1
    for i, p in enumerate(rates, start=1):
        x = jax.nn.relu(x @ params[f"W{i}"] + params[f"b{i}"])
        if masks is not None:
            x = apply_keep(x, masks[i - 1], p)
        elif key is not None:
            x = dropout(x, p, jax.random.fold_in(key, i))  # one key per layer, never shared
    return x @ params[f"W{layers}"] + params[f"b{layers}"]


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

    @classmethod
    def of(cls, cfg: Config, variant: str) -> Net:
        return cls(variant, cfg.num_hiddens, cfg.dropouts, cfg.num_outputs, cfg.lr)

    def apply(self, params: Any, x: jax.Array, key: jax.Array | None = None, masks: Any = None) -> jax.Array:
        """Logits; dropout is on when a key (or injected masks) is given."""
        if self.variant == "scratch":
            return mlp(params, x, self.rates, key=key, masks=masks)
        model = FlaxMLP(self.hiddens, self.rates, self.outputs)
        if key is None:
            return model.apply({"params": params}, x, train=False)
        return model.apply({"params": params}, x, train=True, rngs={"dropout": key})


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

    def loss_fn(params: Any) -> tuple[jax.Array, jax.Array]:
        return loss_and_correct(net.apply(params, x, key=step_key, masks=masks), y)

    (loss, correct), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = optax.sgd(net.lr).update(grads, state.opt_state, state.params)
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
def eval_step(net: Net, params: Any, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    return loss_and_correct(net.apply(params, x), y)


class Trainer(TrainerBase):
    """Host-side holder of a TrainState, stepped by the module's jitted pure functions."""

    VARIANTS = VARIANTS

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant)
        self.device = resolve_device(device)
        self.net = Net.of(cfg, variant)
        model_params = self.put(self.initial_params)
        if variant == "builtin":
            model_params = to_flax(model_params)
        key = make_rng(cfg.seed, device, impl=cfg.prng_impl)
        self.state = TrainState(model_params, optax.sgd(cfg.lr).init(model_params), key)

    def put(self, array: Any) -> Any:
        return jax.device_put(array, self.device)

    def get_params(self) -> Params:
        params = self.state.params
        if self.variant == "builtin":
            params = from_flax(params)
        return {name: np.array(value) for name, value in params.items()}

    def _step(
        self, x: jax.Array, y: jax.Array, masks: list[np.ndarray] | None
    ) -> tuple[jax.Array, jax.Array]:
        injected = None if masks is None else self.put(masks)
        self.state, loss, correct = train_step(self.net, self.state, x, y, injected)
        return loss, correct

    def _evaluate(self, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        return eval_step(self.net, self.state.params, x, y)

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
