"""Throughput of training epochs: the one place it is computed, for compare and bench alike."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from benchmarks.tables import Column
from common.config import Config
from common.flops import epoch_flops


def throughput(cfg: Config, examples: int, seconds: Sequence[float], peak_gflops: float) -> dict:
    """Figures of one run's epoch times: the first (compilation, warm-up) apart, then the median
    of the rest (of all, with a single epoch); GFLOP/s and its share of the yardstick."""
    steady = statistics.median(seconds[1:] or seconds)
    gflops = epoch_flops(cfg, examples) / steady / 1e9
    return {
        "first_epoch_s": seconds[0],
        "epoch_s": steady,
        "samples_per_s": examples / steady,
        "gflops": gflops,
        "fraction_of_matmul_peak": gflops / peak_gflops,
    }


COLUMNS: list[Column] = [
    ("first epoch s", lambda r: f"{r['first_epoch_s']:.2f}"),
    ("epoch s", lambda r: f"{r['epoch_s']:.2f}"),
    ("samples/s", lambda r: f"{r['samples_per_s']:,.0f}"),
    ("GFLOP/s", lambda r: f"{r['gflops']:.1f}"),
    ("of matmul peak", lambda r: f"{r['fraction_of_matmul_peak']:.0%}"),
]
