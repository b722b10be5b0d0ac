"""Timing helpers: medians of repeats, and the machine's matmul throughput as the yardstick."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def interleaved_medians(
    runs: dict[str, Callable[[], object]],
    *,
    min_repeats: int = 5,
    min_total: float = 0.3,
    max_repeats: int = 50,
) -> dict[str, float]:
    """Median wall time of each run() after one warm-up call each, timed in alternating rounds so
    that a noisy neighbour slows every contender alike and ratios stay honest. Each run must wait
    for its own result."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {label: [] for label in runs}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_repeats or (
        time.perf_counter() - start < min_total * len(runs) and rounds < max_repeats
    ):
        for label, run in runs.items():
            began = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - began)
        rounds += 1
    return {label: statistics.median(seconds) for label, seconds in times.items()}


def median_seconds(run: Callable[[], object], **options: float) -> float:
    return interleaved_medians({"run": run}, **options)["run"]


def matmul_gflops(size: int = 4096, repeats: int = 10) -> float:
    """float32 size x size matmul throughput in NumPy, the yardstick for achieved GFLOP/s.

    Measure it first, before any framework starts its own thread pools.
    """
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    seconds = median_seconds(lambda: a @ b, min_repeats=repeats, min_total=0.0)
    return 2 * size**3 / seconds / 1e9
