"""Timing helpers: medians of repeats, and the machine's matmul throughput as the yardstick."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def median_seconds(
    run: Callable[[], object], *, min_repeats: int = 3, min_total: float = 0.3, max_repeats: int = 50
) -> float:
    """Median wall time of run() after one warm-up call; run must wait for its own result."""
    run()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < min_total and len(times) < max_repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def matmul_gflops(size: int = 4096, repeats: int = 10) -> float:
    """float32 size x size matmul throughput in NumPy, the yardstick for achieved GFLOP/s.

    Measure it first, before any framework starts its own thread pools.
    """
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    seconds = median_seconds(lambda: a @ b, min_repeats=repeats, min_total=0.0)
    return 2 * size**3 / seconds / 1e9
