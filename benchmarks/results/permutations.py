"""The relabellings a permutation test runs over: every one when they are few (an exact p with no
Monte Carlo error: 3 ports x 3 seeds have 6^3 relabellings), else a seeded random sample of them.

A relabelling permutes within each stratum on its own: the ports of one seed (every block of that
seed alike, since its runs share the initial weights and batches), or the settings of one seed."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np


def relabellings(sizes: Sequence[int], limit: int, seed: int = 0) -> tuple[list[np.ndarray], bool]:
    """For strata of these sizes: one (R, size) array of permutations of range(size) per stratum,
    row r of every array together making relabelling r; exact (all prod(size!) of them, the
    identity among them) when that many are at most limit, else limit random ones."""
    if math.prod(math.factorial(size) for size in sizes) <= limit:
        every = [np.array(list(itertools.permutations(range(size))), int) for size in sizes]
        grid = np.meshgrid(*(np.arange(len(p)) for p in every), indexing="ij")
        pairs = zip(every, grid, sizes, strict=True)
        return [p[index.ravel()].reshape(index.size, size) for p, index, size in pairs], True
    rng = np.random.default_rng(seed)
    return [rng.permuted(np.broadcast_to(np.arange(size), (limit, size)), axis=1) for size in sizes], False


def permutation_p(hits: int, count: int, exact: bool) -> float:
    """An exact test's share of relabellings at least as extreme (the observed one among them); a
    sampled test's (hits + 1) / (count + 1), which keeps it valid."""
    return hits / count if exact else (hits + 1) / (count + 1)
