"""Timing helpers: medians of repeats, timed in alternating rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


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


def host_loop(fn: Callable[..., object], steps: int) -> Callable[..., object]:
    """fn(*args) steps times from the host, its last outputs returned: the ``device_loop`` of a
    framework that runs every op from the host (NumPy, torch on the CPU)."""

    def run(*args: object) -> object:
        for _ in range(steps):
            outs = fn(*args)
        return outs

    return run
