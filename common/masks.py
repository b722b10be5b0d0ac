"""Mask arithmetic every port's dropout shares: integer thresholds, broadcast shapes, injected masks."""

from __future__ import annotations

import math

import numpy as np

from dropout_ports.common.config import Config


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
        if int(dim) % ndim in dims:
            raise ValueError(f"broadcast_dims {tuple(broadcast_dims)} names axis {int(dim) % ndim} twice")
        dims.add(int(dim) % ndim)
    return tuple(1 if i in dims else size for i, size in enumerate(shape))


def noise_std(p: float) -> float:
    """Standard deviation of gaussian noise at rate p: the variance p/(1-p) of inverted dropout's
    multiplier, so both noises share mean 1 and variance (Srivastava et al. 2014, sec. 10)."""
    return math.sqrt(p / (1.0 - p))


def mask_shapes(cfg: Config, batch: int) -> list[tuple[int, ...]]:
    """The injected masks' shapes: (batch, hidden_i) per hidden layer for noise on activations,
    the shape of each weight matrix that reads a hidden layer for dropconnect."""
    if cfg.noise == "dropconnect":
        return list(cfg.layer_shapes[1:])
    return [(batch, width) for width in cfg.num_hiddens]


def random_masks(cfg: Config, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Masks with the configured rates and noise, for injecting the same ones into every port:
    bool keep-masks, or float multipliers for gaussian noise."""
    shapes = mask_shapes(cfg, batch)
    if cfg.noise == "gaussian":
        return [
            1 + noise_std(p) * rng.standard_normal(shape)
            for shape, p in zip(shapes, cfg.dropouts, strict=True)
        ]
    return [rng.random(shape) >= p for shape, p in zip(shapes, cfg.dropouts, strict=True)]


def check_masks(cfg: Config, masks: object, batch: int) -> list[np.ndarray]:
    """Return injected masks as arrays of the noise's kind and shapes (see ``mask_shapes``)."""
    if not isinstance(masks, (list, tuple)) or len(masks) != len(cfg.num_hiddens):
        raise ValueError(f"masks must be a list of {len(cfg.num_hiddens)} masks, one per hidden layer")
    checked = []
    for i, (mask, shape) in enumerate(zip(masks, mask_shapes(cfg, batch), strict=True)):
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise ValueError(f"masks[{i}] must have shape {shape} for {cfg.noise} noise, got {mask.shape}")
        checked.append(mask.astype(np.float32 if cfg.noise == "gaussian" else bool, copy=False))
    return checked
