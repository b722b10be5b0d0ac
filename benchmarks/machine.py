"""What a result was measured on, and the machine's matmul throughput as the yardstick."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence

import numpy as np

from backends import get_backend
from common.timing import median_seconds


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(names: Sequence[str]) -> dict:
    versions = {"python": platform.python_version()}
    for name in names:
        versions.update(get_backend(name).versions())
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
    }


YARDSTICK_SIZE = 4096


def matmul_gflops(size: int = YARDSTICK_SIZE, repeats: int = 10) -> float:
    """float32 size x size matmul throughput in NumPy, the yardstick for achieved GFLOP/s.

    Measure it first, before any framework starts its own thread pools.
    """
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    seconds = median_seconds(lambda: a @ b, min_repeats=repeats, min_total=0.0)
    return 2 * size**3 / seconds / 1e9
