"""Masks keyed by example: a function of (seed, step, layer, row of the global batch) alone, so a
replica computes the rows it holds, in any port, and a run does not depend on how many replicas
computed it (Config.replica_seeding "example").

The bits are Threefry-2x32 with 20 rounds (Salmon et al. 2011, "Parallel random numbers: as easy
as 1, 2, 3"; JAX's default generator): one key per (seed, step, layer), one counter per (row,
column pair), each counter giving the bits of two columns. The code uses only +, ^, <<, >> and |
on uint32 arrays, so the same function runs on NumPy arrays and, under jit, on jax.numpy arrays
(pass the array module as ``xp``); tests check it against Random123's known answers and JAX's own.
An element is kept when its 32 bits fall below ``keep_threshold(p)``, as in every port's dropout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dropout_ports.common.config import Config
from dropout_ports.common.masks import keep_threshold

ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
PARITY = 0x1BD11BDA  # Threefish's key-schedule constant
EXAMPLE_STREAM = 2  # the keys' second word: apart from the streams of common.streams


def threefry2x32(k0: Any, k1: Any, x0: Any, x1: Any) -> tuple[Any, Any]:
    """Threefry-2x32-20 of the counters (x0, x1) under the key (k0, k1), elementwise (uint32
    arrays that broadcast; wrapping addition, as NumPy and XLA do for unsigned integers)."""
    keys = (k0, k1, k0 ^ k1 ^ PARITY)
    x0, x1 = x0 + keys[0], x1 + keys[1]
    for group in range(5):
        for r in ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = ((x1 << r) | (x1 >> (32 - r))) ^ x0
        x0 = x0 + keys[(group + 1) % 3]
        x1 = x1 + keys[(group + 2) % 3] + (group + 1)
    return x0, x1


def layer_key(xp: Any, seed: int, step: Any, layer: int) -> tuple[Any, Any]:
    """The key of one hidden layer's masks in one step (step may be a traced JAX scalar)."""

    def word(value: Any) -> Any:
        return xp.reshape(xp.asarray(value, dtype=xp.uint32), (1,))

    return threefry2x32(word(seed), word(EXAMPLE_STREAM), word(step), word(layer))


def example_keep(xp: Any, seed: int, step: Any, layer: int, rows: Any, width: int, p: float) -> Any:
    """(len(rows), width) bool keep-mask of the global batch's rows `rows` (their positions in it)
    for hidden layer `layer` (from 1) at global step `step`: row r's mask depends on r alone."""
    if p == 0.0:
        return xp.ones((rows.shape[0], width), dtype=bool)
    k0, k1 = layer_key(xp, seed, step, layer)
    counters = xp.reshape(xp.asarray(rows, dtype=xp.uint32), (-1, 1))
    pairs = xp.reshape(xp.arange(-(-width // 2), dtype=xp.uint32), (1, -1))
    first, second = threefry2x32(k0, k1, counters, pairs)  # columns [0, pairs) and [pairs, 2 pairs)
    bits = xp.concatenate([first, second], axis=1)[:, :width]
    return bits < xp.asarray(keep_threshold(p), dtype=xp.uint32)


def example_masks(cfg: Config, step: int, rows: np.ndarray) -> list[np.ndarray]:
    """Every hidden layer's keep-mask for these rows of the global batch of step, in NumPy."""
    return [
        example_keep(np, cfg.seed, step, layer, rows, width, p)
        for layer, (width, p) in enumerate(zip(cfg.num_hiddens, cfg.dropouts, strict=True), start=1)
    ]
