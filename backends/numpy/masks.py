"""The NumPy port's keep masks: 8 random bits per element, exact to 2^-32, in cache-sized pieces."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from dropout_ports.common.masks import keep_threshold

CHUNK = 1 << 18  # elements per piece: a piece's bytes, mask and output stay in cache


def keep_chunks(rng: np.random.Generator, size: int, p: float) -> Iterator[tuple[slice, np.ndarray]]:
    """Bool keep-masks for consecutive pieces of a flat array, True with probability 1 - p to
    within 2^-32, from 8 random bits per element.

    An element's 32-bit draw is compared with the threshold byte by byte: the top byte alone
    decides unless it equals the threshold's (1 time in 256), and only those ties draw 24 more
    bits. That is distributed as a full 32-bit compare at about a quarter of the random bits.
    """
    threshold = keep_threshold(p)
    top, rest = threshold >> 24, threshold & 0xFFFFFF
    for start in range(0, size, CHUNK):
        stop = min(start + CHUNK, size)
        draws = rng.bit_generator.random_raw(-(-(stop - start) // 8)).view(np.uint8)[: stop - start]
        keep = draws < top
        if rest:
            ties = np.flatnonzero(draws == top)
            keep[ties] = (rng.bit_generator.random_raw(ties.size) >> 40) < rest
        yield slice(start, stop), keep


def keep_mask(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """A bool mask of shape, the same one ``dropout`` draws from the same rng state."""
    keep = np.empty(math.prod(shape), bool)
    for part, chunk in keep_chunks(rng, keep.size, p):
        keep[part] = chunk
    return keep.reshape(shape)
