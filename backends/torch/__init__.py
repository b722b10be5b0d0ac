"""PyTorch port: from-scratch dropout drawn on x's own device in x's dtype, and nn.Dropout.

Variant "scratch" is the chapter's ``Net`` with the hand-written dropout, switched by
``module.train()`` / ``module.eval()``; "builtin" is its concise ``nn.Sequential`` with ``nn.Dropout``.
"""

from dropout_ports.backends.torch.masks import keep_mask
from dropout_ports.backends.torch.models import ScratchNet, builtin_net
from dropout_ports.backends.torch.ops import (
    DTYPES,
    KERAS_BACKEND,
    MATMUL_PRECISIONS,
    NAME,
    PRNG_IMPLS,
    VARIANTS,
    asarray,
    blas_libraries,
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
from dropout_ports.backends.torch.parallel import DataParallelTrainer
from dropout_ports.backends.torch.recipe import train_chapter_recipe
from dropout_ports.backends.torch.trainer import Trainer

PEERS: dict = {"the chapter's recipe": train_chapter_recipe}  # D2L's DataLoader and Net, as it runs them

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
    "blas_libraries",
    "builtin_dropout",
    "builtin_net",
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
    "output_and_gradient",
    "peak_device_memory",
    "ready",
    "resolve_device",
    "to_numpy",
    "versions",
]
