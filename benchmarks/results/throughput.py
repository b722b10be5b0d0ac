"""Throughput of training epochs against the yardsticks, and speed ratios over rounds: the one
place either is computed.

A yardstick is a float32 matmul rate measured in the run: the machine's peak (the best square matmul
of any installed framework) and each framework's floor, its own matmuls of one training step at the
MLP's shapes (bench: measured beside each epoch, round by round; compare: before the runs). A share
is never clipped: an epoch faster than its floor reads above 100%, and is flagged, since a floor the
epoch beats is not a floor (a busy machine slowed the floor, or the floor's form is not the
framework's fastest).
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
    """Give each row (with "backend" and "gflops") its share of the machine's peak and of its floor:
    the one measured beside its epochs where it has one ("floor_gflops"), else its framework's
    yardstick at the MLP's shapes. Shares as measured, never clipped; returns the machine peak."""
    peak = yardsticks["peak_gflops"]
    for row in rows:
        if row.get("gflops") is None:
            continue
        own = row.get("floor_gflops") or yardsticks["by_backend"].get(row["backend"], {}).get("mlp_gflops")
        row["of_peak"] = row["gflops"] / peak if peak else None
        row["of_own_gemm"] = row["gflops"] / own if own else None
    return peak


def with_shares(rows: list[dict], yardsticks: dict) -> list[dict]:
    """Copies of the rows with their shares computed afresh: documents from before shares were
    left unclipped stored clipped ones, and a report shows what was measured."""
    copies = [dict(row) for row in rows]
    add_shares(copies, yardsticks)
    return copies


def distrusted(share: float | None) -> bool:
    """A share above 100% as the reader sees it (a whole percent): the epoch beat its yardstick,
    so the yardstick's measurement is suspect."""
    return share is not None and int(f"{share:.0%}"[:-1]) > 100


def share_text(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0%}" + (" (over 100%: distrust)" if distrusted(value) else "")


def ratio_spread(rounds: dict[str, list[float]]) -> list[dict]:
    """Each contender's time against the fastest's (the smallest median), round by round: the
    median ratio, its smallest and largest, and a verdict: "slower in every round" (or faster) only
    where every round agrees as the reader sees it (two decimals: a round at 1.00x is a tie),
    "within noise" otherwise. Rounds are paired by index: every contender has the same rounds."""
    if not rounds:
        return []
    fastest = min(rounds, key=lambda label: statistics.median(rounds[label]))
    rows = []
    for label, seconds in rounds.items():
        ratios = [s / f for s, f in zip(seconds, rounds[fastest], strict=True)]
        shown = [float(f"{ratio:.2f}") for ratio in ratios]
        verdict = "within noise"
        if label == fastest:
            verdict = "fastest (median)"
        elif all(ratio > 1 for ratio in shown):
            verdict = "slower in every round"
        elif all(ratio < 1 for ratio in shown):
            verdict = "faster in every round"
        rows.append({"port": label, "epoch_s": statistics.median(seconds), "ratio": statistics.median(ratios),
                     "low": min(ratios), "high": max(ratios), "rounds": len(ratios), "verdict": verdict,
                     "reference": fastest})  # fmt: skip
    return rows


def spread_text(row: dict) -> str:
    """ "1.82x [1.75, 1.90]": a ratio_spread row's median and range."""
    return f"{row['ratio']:.2f}x [{row['low']:.2f}, {row['high']:.2f}]"


COLUMNS: list[Column] = [
    ("first epoch s", lambda r: f"{r['first_epoch_s']:.2f}"),
    ("epoch s", lambda r: f"{r['epoch_s']:.2f}"),
    ("samples/s", lambda r: f"{r['samples_per_s']:,.0f}"),
    ("GFLOP/s", lambda r: f"{r['gflops']:.1f}"),
    ("of machine peak", lambda r: share_text(r.get("of_peak"))),
    ("of own GEMM at MLP shapes", lambda r: share_text(r.get("of_own_gemm"))),
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
