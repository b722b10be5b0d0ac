"""JAX/Flax port: every mask comes from a key that the code splits and passes explicitly.

Keys are new-style typed keys (``jax.random.key``), with the PRNG implementation from
``Config.prng_impl`` ("threefry2x32", JAX's default, or "rbg", cheaper on some devices).

Variant "scratch" is a pure function of the common params dict using the hand-written dropout;
"builtin" is a ``flax.linen`` module with ``linen.Dropout``. Linen, not nnx, because its
functional ``apply(..., rngs={"dropout": key})`` keeps the key an explicit argument of a pure
train step, exactly as in the scratch variant; nnx keeps its RNG state inside the module.
"""

from backends.jax.ops import (
    DTYPES,
    KERAS_BACKEND,
    NAME,
    PEERS,
    PRNG_IMPLS,
    VARIANTS,
    asarray,
    builtin_dropout,
    chapter_dropout,
    copy,
    devices,
    dropout,
    jit,
    make_rng,
    matmul,
    peak_device_memory,
    ready,
    resolve_device,
    to_numpy,
    versions,
)
from backends.jax.training import Net, Trainer, TrainState, forward_pass, mlp, train_scan, train_step

__all__ = [
    "DTYPES",
    "KERAS_BACKEND",
    "NAME",
    "PEERS",
    "PRNG_IMPLS",
    "VARIANTS",
    "Net",
    "TrainState",
    "Trainer",
    "asarray",
    "builtin_dropout",
    "chapter_dropout",
    "copy",
    "devices",
    "dropout",
    "forward_pass",
    "jit",
    "make_rng",
    "matmul",
    "mlp",
    "peak_device_memory",
    "ready",
    "resolve_device",
    "to_numpy",
    "train_scan",
    "train_step",
    "versions",
]
