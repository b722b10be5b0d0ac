"""NumPy port: the chapter's from-scratch dropout and MLP, with forward and backward by hand.

One variant, "scratch": NumPy has no dropout layer, no autograd and no Keras backend that trains.
"""

from dropout_ports.backends.numpy.masks import keep_mask
from dropout_ports.backends.numpy.models import ScratchNet
from dropout_ports.backends.numpy.ops import (
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
    peak_device_memory,
    ready,
    resolve_device,
    to_numpy,
    versions,
)
from dropout_ports.backends.numpy.parallel import DataParallelTrainer
from dropout_ports.backends.numpy.trainer import Trainer

PEERS: dict = {}  # no other NumPy code trains this MLP

__all__ = [
    "DTYPES",
    "KERAS_BACKEND",
    "MATMUL_PRECISIONS",
    "NAME",
    "PEERS",
    "PRNG_IMPLS",
    "VARIANTS",
    "DataParallelTrainer",
    "ScratchNet",
    "Trainer",
    "asarray",
    "builtin_dropout",
    "chapter_dropout",
    "copy",
    "device_loop",
    "devices",
    "dropout",
    "jit",
    "keep_mask",
    "make_rng",
    "matmul",
    "matmul_precision",
    "peak_device_memory",
    "ready",
    "resolve_device",
    "to_numpy",
    "versions",
]
