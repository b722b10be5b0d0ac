"""PyTorch port: from-scratch dropout drawn on x's own device in x's dtype, and nn.Dropout.

Variant "scratch" is the chapter's ``Net`` with the hand-written dropout, switched by
``module.train()`` / ``module.eval()``; "builtin" is its concise ``nn.Sequential`` with ``nn.Dropout``.
"""

from backends.torch.ops import (
    DTYPES,
    KERAS_BACKEND,
    NAME,
    PRNG_IMPLS,
    VARIANTS,
    asarray,
    builtin_dropout,
    chapter_dropout,
    copy,
    devices,
    dropout,
    jit,
    keep_mask,
    make_rng,
    matmul,
    peak_device_memory,
    ready,
    resolve_device,
    to_numpy,
    versions,
)
from backends.torch.recipe import train_chapter_recipe
from backends.torch.training import ScratchNet, Trainer, builtin_net

PEERS = {"the chapter's recipe": train_chapter_recipe}  # D2L's DataLoader and Net, as it runs them

__all__ = [
    "DTYPES",
    "KERAS_BACKEND",
    "NAME",
    "PEERS",
    "PRNG_IMPLS",
    "VARIANTS",
    "ScratchNet",
    "Trainer",
    "asarray",
    "builtin_dropout",
    "builtin_net",
    "chapter_dropout",
    "copy",
    "devices",
    "dropout",
    "jit",
    "keep_mask",
    "make_rng",
    "matmul",
    "peak_device_memory",
    "ready",
    "resolve_device",
    "to_numpy",
    "versions",
]
