"""The JAX port's contract operations: keys, arrays, devices, and dropout (ours and flax's)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

# XLA would take 75% of a GPU's memory when it first loads: another framework in the process (the
# benchmarks time torch and JAX side by side) would then run out, and peaks would say nothing.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dropout_ports.backends import COMPILE_CACHE_ENV
from dropout_ports.backends.jax.masks import apply_keep, keep_mask
from dropout_ports.common.checks import (
    check_input,
    check_precision,
    check_rate,
    check_rng,
    check_seed,
    check_training,
)
from dropout_ports.common.masks import mask_shape

if os.environ.get(COMPILE_CACHE_ENV):  # JAX's persistent cache, every program in it however small
    jax.config.update("jax_compilation_cache_dir", os.environ[COMPILE_CACHE_ENV])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)

NAME = "jax"
KERAS_BACKEND = "jax"
VARIANTS = ("scratch", "builtin", "nnx")
DTYPES = ("float16", "bfloat16", "float32")
PRNG_IMPLS = ("threefry2x32", "rbg")  # JAX's default first; Config.prng_impl picks one for training
matmul = jnp.matmul
# Config.matmul_precision -> JAX's name for it. Unset, JAX computes float32 matmuls on NVIDIA GPUs
# in TF32-class precision; "highest" asks for full float32 everywhere.
JAX_PRECISIONS = {"highest": "highest", "tf32": "tensorfloat32"}
MATMUL_PRECISIONS = tuple(JAX_PRECISIONS)


def jax_precision(precision: str) -> str:
    """JAX's name for a Config.matmul_precision, for a dot's precision= or the context below."""
    return JAX_PRECISIONS[check_precision(precision, MATMUL_PRECISIONS)]


def matmul_precision(precision: str) -> contextlib.AbstractContextManager:
    """float32 matmuls traced inside at precision. JAX reads the setting when it traces a dot, and
    jit keys its cache on it, so code compiled inside keeps the precision it was traced with."""
    return jax.default_matmul_precision(jax_precision(precision))


def versions() -> dict[str, str]:
    import flax
    import jaxlib

    return {module.__name__: module.__version__ for module in (jax, jaxlib, flax, optax)}


def devices() -> list[str]:
    return [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()]


def resolve_device(device: str) -> jax.Device:
    """This process's first JAX device of a platform: "cpu", or "gpu"/"cuda"; none is a clear error."""
    platform = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}.get(device)
    if platform is None:
        raise ValueError(f"unknown device {device!r}; use 'cpu' or 'gpu'")
    try:
        return jax.local_devices(backend=platform)[0]
    except RuntimeError as err:
        raise ValueError(
            f"device {device!r} asked for, but this jax {jax.__version__} has none: {err}"
        ) from err


def make_rng(seed: int, device: str = "cpu", *, impl: str | None = None) -> jax.Array:
    """A typed PRNG key; JAX has no hidden state, so every draw must be handed a key of its own."""
    seed = check_seed(seed)
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"impl must be one of {PRNG_IMPLS}; got {impl!r}")
    return jax.device_put(jax.random.key(seed, impl=impl or PRNG_IMPLS[0]), resolve_device(device))


KEY = "a JAX PRNG key (make_rng, jax.random.key)"


def check_key(key: object) -> None:
    """A TypeError unless key is a JAX PRNG key: typed (jax.random.key) or raw (jax.random.PRNGKey)."""
    check_rng(key, jax.Array, KEY)
    if not (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32):
        raise TypeError(f"rng must be {KEY}, got an array of {key.dtype}")


def asarray(a: object, dtype: str | None = None, device: str | None = None) -> jax.Array:
    if dtype is not None and dtype not in DTYPES:
        raise TypeError(f"unsupported dtype {dtype!r}; supported: {DTYPES}")
    return jax.device_put(jnp.asarray(a, dtype=dtype), resolve_device(device or "cpu"))


def to_numpy(x: jax.Array) -> np.ndarray:
    """x on the host; bfloat16, which NumPy lacks, comes back as float32 as in the torch port."""
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype == jnp.bfloat16 else x


jit = jax.jit


def device_loop(fn: Callable, steps: int) -> Callable:
    """fn(*args) steps times in one jitted lax.fori_loop, the last outputs returned. The arguments
    pass an optimization barrier each time round, so that XLA cannot hoist fn's work on them (loop
    invariants) out of the loop: every pass computes afresh, as a training step does."""

    def body(_: int, carry: tuple) -> tuple:
        args = jax.lax.optimization_barrier(carry[0])
        return args, fn(*args)

    @jax.jit
    def run(*args: jax.Array) -> object:
        outs = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(fn, *args))
        return jax.lax.fori_loop(0, steps, body, (args, outs))[1]

    return run


copy = jnp.copy  # a real copy in device memory, even under jit


def ready(x: jax.Array) -> jax.Array:
    """x once computed: JAX dispatches asynchronously."""
    return x.block_until_ready()


def peak_device_memory(device: str) -> int | None:
    """The device allocator's peak bytes in use (XLA's memory_stats); None where it keeps none (CPU)."""
    stats = resolve_device(device).memory_stats()
    return stats.get("peak_bytes_in_use") if stats else None


def output_and_gradient(fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """fn(x) and the gradient of its sum with respect to x (jax.vjp: fn runs once, so one key gives
    both; the conformance kit's gradient check: dropout's is the mask / (1 - p))."""
    out, pullback = jax.vjp(fn, x)
    return out, pullback(jnp.ones_like(out))[0]


def chapter_dropout(x: jax.Array, p: float, rng: jax.Array) -> jax.Array:
    """D2L's JAX ``dropout_layer``: a float uniform per element, compared, cast to float32."""
    check_key(rng)
    mask = jax.random.uniform(rng, x.shape) > p
    return jnp.asarray(mask, dtype=jnp.float32) * x / (1.0 - p)


def checked(x: object, p: object, rng: object, training: object) -> tuple[float, bool]:
    """The rate and training flag, after the contract's checks of every argument (common.checks);
    they run at trace time, so a bad argument never reaches compiled code."""
    p = check_rate(p)
    check_key(rng)
    check_input(x, jax.Array, "a jax.Array (asarray)", lambda a: jnp.issubdtype(a.dtype, jnp.floating))
    return p, check_training(training)


def dropout(
    x: jax.Array, p: float, rng: jax.Array, *, training: bool = True, broadcast_dims: tuple[int, ...] = ()
) -> jax.Array:
    """Inverted dropout; pure: the same key gives the same mask; x itself when not training or at
    p = 0. p must be a static Python number."""
    p, training = checked(x, p, rng, training)
    shape = mask_shape(x.shape, broadcast_dims)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return jnp.zeros_like(x)  # x does not enter: zeros and a zero gradient even for inf
    return apply_keep(x, keep_mask(rng, shape, p), p)


def builtin_dropout(
    x: jax.Array, p: float, rng: jax.Array, *, training: bool = True, broadcast_dims: tuple[int, ...] = ()
) -> jax.Array:
    """Flax's own ``linen.Dropout`` behind our signature, for comparing it with ours (it returns x
    itself at p = 0 and in evaluation, and zeros at p = 1, as ``dropout`` does)."""
    p, training = checked(x, p, rng, training)  # linen.Dropout itself accepts any rate,
    mask_shape(x.shape, broadcast_dims)  # and any broadcast dims, repeated or out of range
    layer = linen.Dropout(p, broadcast_dims=tuple(broadcast_dims), deterministic=not training)
    return layer.apply({}, x, rngs={"dropout": rng})
