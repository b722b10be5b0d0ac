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

BUSY_OTHERS = 0.5  # cores other processes may hold, on average, before a measurement counts as busy


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


def load_summary(records: list[dict], cores: int) -> dict:
    """The highest load average around the records' parts, the cores other processes kept busy over
    their time together (a mean weighted by each part's seconds, steadier than any short part's
    count of ticks; None where not measured), and whether the machine was busy (is_busy)."""
    loads = [record["load"] for record in records]
    counted = [load for load in loads if load["others_cores"] is not None]
    wall = sum(load["wall_s"] for load in counted)
    others = sum(load["others_cores"] * load["wall_s"] for load in counted) / wall if wall else None
    highest = max(value for load in loads for value in load["load1"])
    summary = {"cores": cores, "max_load1": highest, "others_cores": others}
    return {**summary, "busy": is_busy(summary)}


def is_busy(summary: dict) -> bool:
    """Whether other processes held more than BUSY_OTHERS cores on average. Where their CPU was not
    measured (no /proc/stat), whether the load average rose above the cores: a weaker sign, since
    the load average counts the run's own threads too (a 2-thread epoch on 2 cores reads 2.5)."""
    others = summary["others_cores"]
    return others > BUSY_OTHERS if others is not None else summary["max_load1"] > summary["cores"]


def busy_words(summary: dict) -> str:
    others = summary["others_cores"]
    if others is not None:
        return f"busy (other processes held {others:.2f} cores on average)"
    return f"busy (load up to {summary['max_load1']:.1f} on {summary['cores']} cores)"


def flags(row: dict) -> str:
    """What to distrust in a row: an epoch faster than its floor or the peak, a busy machine."""
    said = []
    if distrusted(row.get("of_own_gemm")):
        said.append("floor slower than the epoch")
    if distrusted(row.get("of_peak")):
        said.append("faster than the peak")
    if "load" not in row:
        said.append("load: not measured in this run")
    elif is_busy(row["load"]):
        said.append(busy_words(row["load"]))
    return "; ".join(said) or "-"


def floor_text(row: dict) -> str:
    return f"{row['floor_gflops']:.1f}" if "floor_gflops" in row else "not measured in this run"


FLOOR_COLUMN: Column = ("floor GFLOP/s (beside)", floor_text)
FLAGS_COLUMN: Column = ("flags", flags)
