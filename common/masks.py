"""Mask arithmetic every port's dropout shares: integer thresholds, broadcast shapes, injected masks."""

from __future__ import annotations

import numpy as np

from common.config import Config


def keep_threshold(p: float) -> int:
    """The uint32 t with P(bits < t) = 1 - p to within 2^-32, so masks come from integer compares."""
    return min(round((1.0 - p) * 2**32), 2**32 - 1)


def mask_shape(shape: tuple[int, ...], broadcast_dims: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """x's shape with a 1 in each broadcast dimension: one mask value shared along it."""
    ndim = len(shape)
    dims = set()
    for dim in broadcast_dims:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -ndim <= dim < ndim:
            raise ValueError(f"broadcast_dims {tuple(broadcast_dims)} out of range for {ndim}-d input")
        dims.add(int(dim) % ndim)
    return tuple(1 if i in dims else size for i, size in enumerate(shape))


def random_keep_masks(cfg: Config, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Keep-masks with the configured rates, for injecting the same masks into every port."""
    return [rng.random((batch, width)) >= p for width, p in zip(cfg.num_hiddens, cfg.dropouts, strict=True)]


def check_masks(cfg: Config, masks: object, batch: int) -> list[np.ndarray]:
    """Return injected keep-masks as bool arrays, one (batch, hidden_i) per dropout layer."""
    if not isinstance(masks, (list, tuple)) or len(masks) != len(cfg.num_hiddens):
        raise ValueError(f"masks must be a list of {len(cfg.num_hiddens)} keep-masks, one per layer")
    checked = []
    for i, (mask, width) in enumerate(zip(masks, cfg.num_hiddens, strict=True)):
        mask = np.asarray(mask)
        if mask.shape != (batch, width):
            raise ValueError(f"masks[{i}] must have shape {(batch, width)}, got {mask.shape}")
        checked.append(mask.astype(bool, copy=False))
    return checked
