"""Throughput of training epochs against the yardsticks: the one place either is computed.

A yardstick is the best float32 matmul rate seen for that work in the run: the machine's (the best
square matmul of any installed framework) and each framework's own at the MLP's shapes. Should an
epoch beat a yardstick's own measurement (noise on a shared machine), the epoch's rate is the
better measurement of what the machine can do and becomes the yardstick, so no share exceeds 100%.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from dropout_ports.benchmarks.results.tables import Column
from dropout_ports.common.config import Config
from dropout_ports.common.flops import epoch_flops


def steady(values: Sequence[float]) -> float:
    """The median of per-epoch figures after the first (compilation, warm-up); of all, with one epoch."""
    return statistics.median(values[1:] or values)


def throughput(cfg: Config, examples: int, seconds: Sequence[float]) -> dict:
    """Figures of one run's epoch times: the first (compilation, warm-up) apart, then the median
    of the rest (of all, with a single epoch), and the GFLOP/s of that median epoch."""
    steady_s = steady(seconds)
    return {
        "first_epoch_s": seconds[0],
        "epoch_s": steady_s,
        "samples_per_s": examples / steady_s,
        "first_epoch_samples_per_s": examples / seconds[0],
        "gflops": epoch_flops(cfg, examples) / steady_s / 1e9,
    }


def add_shares(rows: list[dict], yardsticks: dict) -> float:
    """Give each row (with "backend" and "gflops") its share of the machine's peak and of its own
    framework's GEMM rate at the MLP's shapes; returns the machine peak used."""
    timed = [row for row in rows if row.get("gflops") is not None]
    peak = max([yardsticks["peak_gflops"], *(row["gflops"] for row in timed)])
    for row in timed:
        own = yardsticks["by_backend"].get(row["backend"], {}).get("mlp_gflops")
        row["of_peak"] = row["gflops"] / peak
        row["of_own_gemm"] = row["gflops"] / max(own, row["gflops"]) if own else None
    return peak


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


COLUMNS: list[Column] = [
    ("first epoch s", lambda r: f"{r['first_epoch_s']:.2f}"),
    ("epoch s", lambda r: f"{r['epoch_s']:.2f}"),
    ("samples/s", lambda r: f"{r['samples_per_s']:,.0f}"),
    ("GFLOP/s", lambda r: f"{r['gflops']:.1f}"),
    ("of machine peak", lambda r: _share(r.get("of_peak"))),
    ("of own GEMM at MLP shapes", lambda r: _share(r.get("of_own_gemm"))),
]


def with_fastest_copy(rows: list[dict]) -> list[dict]:
    """The rows, each with its time over the fastest copy of its size and rate in the run: a
    framework whose own copy is slow would otherwise flatter its dropout."""
    fastest: dict[tuple, float] = {}
    for row in rows:
        if row["is_copy"]:
            key = (row["p"], row["size"])
            fastest[key] = min(fastest.get(key, row["ms"]), row["ms"])
    return [{**row, "ratio_to_fastest_copy": row["ms"] / fastest[row["p"], row["size"]]} for row in rows]
