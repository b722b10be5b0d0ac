"""JAX/Flax port: every mask comes from a key that the code splits and passes explicitly.

Keys are new-style typed keys (``jax.random.key``), with the PRNG implementation from
``Config.prng_impl`` ("threefry2x32", JAX's default, or "rbg", cheaper on some devices).

Variant "scratch" is a pure function of the common params dict using the hand-written dropout;
"builtin" is a ``flax.linen`` module with ``linen.Dropout``, whose functional
``apply(..., rngs={"dropout": key})`` keeps the key an explicit argument of a pure train step,
exactly as in the scratch variant. "nnx" is the same net in Flax's current API (``nnx.py``):
``nnx.Dropout`` layers drawing from an ``nnx.Rngs`` stream held inside the module, which each
draw advances, trained under ``nnx.jit``.
"""

from dropout_ports.backends.jax.masks import keep_mask
from dropout_ports.backends.jax.models import BuiltinNet, ScratchNet
from dropout_ports.backends.jax.nnx import NNXTrainer  # registers the nnx variant's Trainer
from dropout_ports.backends.jax.ops import (
    DTYPES,
    KERAS_BACKEND,
    MATMUL_PRECISIONS,
    NAME,
    PRNG_IMPLS,
    VARIANTS,
    asarray,
    builtin_dropout,
    chapter_dropout,
    copy,
    device_loop,
    devices,
    dropout,
    jit,
    make_rng,
    matmul,
    matmul_precision,
    output_and_gradient,
    peak_device_memory,
    ready,
    resolve_device,
    to_numpy,
    versions,
)
from dropout_ports.backends.jax.parallel import DataParallelTrainer
from dropout_ports.backends.jax.trainer import (
    StepSettings,
    Trainer,
    TrainState,
    forward_pass,
    train_batch,
    train_scan,
    train_step,
)

PEERS: dict = {}  # Keras 3 on JAX is bench --peers' peer here (KERAS_BACKEND)

__all__ = [
    "DTYPES",
    "KERAS_BACKEND",
    "MATMUL_PRECISIONS",
    "NAME",
    "PEERS",
    "PRNG_IMPLS",
    "VARIANTS",
    "BuiltinNet",
    "DataParallelTrainer",
    "NNXTrainer",
    "ScratchNet",
    "StepSettings",
    "TrainState",
    "Trainer",
    "asarray",
    "builtin_dropout",
    "chapter_dropout",
    "copy",
    "device_loop",
    "devices",
    "dropout",
    "forward_pass",
    "jit",
    "keep_mask",
    "make_rng",
    "matmul",
    "matmul_precision",
    "output_and_gradient",
    "peak_device_memory",
    "ready",
    "resolve_device",
    "to_numpy",
    "train_batch",
    "train_scan",
    "train_step",
    "versions",
]
