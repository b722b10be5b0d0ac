"""Markdown reports and their figures for compare and bench results, from their JSON alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks import dropout, training
from benchmarks.figures import dropout_plot, throughput_bars, training_curves
from benchmarks.machine import YARDSTICK_SIZE
from benchmarks.results import compare_rows
from benchmarks.stats import PERMUTATIONS, accuracy_test
from benchmarks.tables import Column, markdown_table
from benchmarks.throughput import COLUMNS as THROUGHPUT_COLUMNS


def _mean_std(values: list[float], fmt: str) -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(np.mean(values), fmt)} ± {format(np.std(values, ddof=1), fmt)}"


COMPARE_COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    ("seeds", lambda r: str(r["seeds"])),
    ("test acc", lambda r: _mean_std(r["test_acc"], ".4f")),
    ("train loss", lambda r: _mean_std(r["train_loss"], ".4f")),
    *THROUGHPUT_COLUMNS,
    ("peak RSS MB", lambda r: f"{r['peak_rss_mb']:,.0f}"),
    ("run added MB", lambda r: f"{r['run_rss_mb']:,.0f}"),
]


def compare_markdown(doc: dict) -> str:
    rows = compare_rows(doc)
    env = doc["environment"]
    settings = doc["settings"]
    p_value = accuracy_test([row["test_acc"] for row in rows])
    if p_value is None:
        verdict = "Equivalence test: needs at least 2 seeds per port (`--seeds 0 1 2`)."
    else:
        verdict = (
            f"Do the ports' final test accuracies differ? One-way permutation test (F statistic, "
            f"{PERMUTATIONS:,} permutations) over {len(rows)} ports: p = {p_value:.3f}"
            + (" (no evidence of a difference at 0.05)." if p_value >= 0.05 else " (they differ at 0.05).")
        )
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return "\n".join(
        [
            f"# dropout-ports compare ({doc['status']})",
            "",
            f"{env['cpu']}, {env['cores']} cores; {versions}.",
            f"Device {settings['device']}; data {settings['data']} ({settings['train_examples']:,} training "
            f"examples); seeds {settings['seeds']}; {settings['config']['epochs']} epochs; matmul yardstick "
            f"{doc['matmul_gflops']:.0f} GFLOP/s (NumPy float32 {YARDSTICK_SIZE}^2).",
            "",
            markdown_table(rows, COMPARE_COLUMNS),
            "",
            "Epoch seconds are the median after the first epoch (compilation and warm-up), shown "
            "apart. Peak RSS is of the whole process, which holds every framework imported so far; "
            "'run added' is the peak during a run less the RSS at its start (data copies, activations, "
            "compiled code).",
            "",
            verdict,
            "",
        ]
    )


def render_compare(doc: dict, out_dir: Path) -> None:
    """results.md, curves.png and throughput.png from a results document."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(compare_markdown(doc))
    training_curves(doc, out_dir / "curves.png")
    throughput_bars(compare_rows(doc), out_dir / "throughput.png", "Training throughput per port")


def bench_markdown(doc: dict) -> str:
    env = doc["environment"]
    train = doc["training"]
    return "\n".join(
        [
            f"# dropout-ports bench{' (quick)' if doc['quick'] else ''}",
            "",
            f"{env['cpu']}, {env['cores']} cores; device {doc['device']}; "
            + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
            "",
            f"Loading Fashion-MNIST from {doc['data']['folder']}: "
            + (
                f"{doc['data']['load_s']:.2f} s (median)."
                if doc["data"]["load_s"] is not None
                else "not found."
            ),
            "",
            "## Dropout op (median ms; GB/s counts one read and one write of the array)",
            "",
            markdown_table(doc["dropout"], dropout.COLUMNS),
            "",
            f"## Training (matmul yardstick {train['matmul_gflops']:.0f} GFLOP/s; "
            f"an epoch is {train['epoch_gflop']:.1f} GFLOP)",
            "",
            markdown_table(train["rows"], training.COLUMNS),
            "",
        ]
    )


def render_bench(doc: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.md").write_text(bench_markdown(doc))
    dropout_plot(doc["dropout"], out_dir / "bench-dropout.png")
    throughput_bars(doc["training"]["rows"], out_dir / "bench-training.png", "Training throughput per port")
