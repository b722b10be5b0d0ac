"""Batch order and batch checks: the parts of a training step every port shares."""

from __future__ import annotations

import numpy as np

from dropout_ports.common.config import Config


def batch_order(num_examples: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """One epoch's shuffled index batches, identical for every backend; the last may be short."""
    order = np.random.default_rng([seed, epoch]).permutation(num_examples)
    return [order[start : start + batch_size] for start in range(0, num_examples, batch_size)]


def full_and_short(batches: list[np.ndarray], batch_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The batches of batch_size, which a device loop runs as one compiled shape, and the others
    (the chapter's order has one short batch, last)."""
    full = [idx for idx in batches if len(idx) == batch_size]
    return full, [idx for idx in batches if len(idx) != batch_size]


def check_inputs(cfg: Config, x: object) -> np.ndarray:
    """Return x as float32 (B, num_inputs), B > 0, or raise a ValueError that says what is off."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != cfg.num_inputs:
        raise ValueError(f"x must have shape (batch, {cfg.num_inputs}), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("empty batch")
    return np.ascontiguousarray(x, np.float32)


def check_batch(cfg: Config, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Return (x float32 (B, num_inputs), y int64 (B,)) or raise a ValueError that says what is off."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 2 and y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {y.shape}")
    x = check_inputs(cfg, x)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= cfg.num_outputs:
        raise ValueError(f"labels must be in [0, {cfg.num_outputs}), got range [{y.min()}, {y.max()}]")
    return x, y.astype(np.int64, copy=False)
