"""The PyTorch port's keep masks and their application: 32-bit thresholds, exact to 2^-32."""

from __future__ import annotations

import math

import torch

from dropout_ports.common.masks import keep_threshold


def keep_mask(rng: torch.Generator, shape: tuple[int, ...], p: float) -> torch.Tensor:
    """Bool mask, True with probability 1 - p to within 2^-32, drawn on rng's device.

    Uniform 32-bit integers against the threshold all ports share (``torch.rand(shape) >= p``
    resolves only 2^-24). ``random_`` fills int64 over its full range; its bytes are uniform.
    On the CPU, where random bits cost most, each element gets one byte and only ties with the
    threshold's top byte (1 in 256) draw 24 more bits, as in the NumPy port; on CUDA, bits are
    cheap and a tie pass would sync with the host, so each element gets all 32 at once.
    """
    device = rng.device
    size = math.prod(shape)
    threshold = keep_threshold(p)
    if device.type != "cpu":
        words = torch.empty((size + 1) // 2, dtype=torch.int64, device=device)
        bits = words.random_(-(2**63), None, generator=rng).view(torch.int32)[:size]
        return (bits < threshold - 2**31).view(shape)  # int32 holds the uint32 draws shifted by 2^31
    top, rest = threshold >> 24, threshold & 0xFFFFFF
    words = torch.empty((size + 7) // 8, dtype=torch.int64, device=device)
    draws = words.random_(-(2**63), None, generator=rng).view(torch.uint8)[:size]
    ties = (draws == top).nonzero().squeeze(1) if rest else None
    keep = torch.lt(draws, top, out=draws.view(torch.bool))  # in place: one fresh buffer fewer
    if ties is not None:
        keep[ties] = torch.empty(len(ties), dtype=torch.int64).random_(0, 2**24, generator=rng) < rest
    return keep.view(shape)


def apply_keep(x: torch.Tensor, keep: torch.Tensor, p: float) -> torch.Tensor:
    """The chapter's ``mask * X / (1 - p)`` with one fresh tensor (on the CPU each is page-faulted
    in); autograd gives mask / (1 - p). On the CPU torch multiplies by a bool mask element by
    element, 2x slower than float by float, so a full-size mask is cast first; CUDA's kernels cast
    as they go, and a broadcast mask is smaller than x."""
    if x.device.type == "cpu" and keep.shape == x.shape:
        return keep.to(x.dtype).mul_(x).div_(1.0 - p)
    return (x * keep).div_(1.0 - p)
