"""Markdown reports and their figures for compare and bench results, from their JSON alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import dropout, peers, targets, training
from benchmarks.figures import dropout_plot, throughput_bars, training_curves
from benchmarks.machine import describe_threads
from benchmarks.results import compare_rows
from benchmarks.stats import (
    CONFIDENCE,
    DEFAULT_MARGIN,
    PERMUTATIONS,
    difference_test,
    equivalence,
    mean_interval,
)
from benchmarks.tables import Column, markdown_table
from benchmarks.throughput import COLUMNS as THROUGHPUT_COLUMNS


def _accuracy(row: dict) -> str:
    values = row["test_acc"]
    lost = [f"{len(row[kind])} {kind}" for kind in ("diverged", "failed") if row[kind]]
    if not values:
        return " and ".join(lost)
    interval = mean_interval(values)
    text = (
        f"{values[0]:.4f}"
        if interval is None
        else f"{interval[0]:.4f} [{interval[1]:.4f}, {interval[2]:.4f}]"
    )
    return text + (f" ({', '.join(lost)})" if lost else "")


def _finished(cell: Callable[[dict], str]) -> Callable[[dict], str]:
    return lambda row: cell(row) if "gflops" in row else "none finished"


def _megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


COMPARE_COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    ("seeds", lambda r: str(r["seeds"])),
    (f"test acc (mean [{CONFIDENCE:.0%} CI])", _accuracy),
    ("train loss", _finished(lambda r: f"{np.mean(r['train_loss']):.4f}")),
    *[(header, _finished(cell)) for header, cell in THROUGHPUT_COLUMNS],
    ("peak RSS MB", _finished(lambda r: _megabytes(r["peak_rss_mb"]))),
    ("GPU peak MB", _finished(lambda r: _megabytes(r["device_peak_mb"]))),
]

EQUIVALENCE_COLUMNS: list[Column] = [
    ("pair", lambda r: " vs ".join(r["pair"])),
    ("seeds", lambda r: str(r["seeds"])),
    ("mean difference", lambda r: f"{r['mean_difference']:+.4f}" if "p_value" in r else "needs 2 seeds"),
    ("TOST p", lambda r: f"{r['p_value']:.3f}" if "p_value" in r else ""),
    ("equivalent", lambda r: ("yes" if r["equivalent"] else "not shown") if "p_value" in r else ""),
]


def statistics_section(rows: list[dict], margin: float, seeds: int) -> list[str]:
    """The lines on whether the ports' final test accuracies differ, and whether they are equivalent."""
    lines = []
    for kind, why in (("diverged", "loss NaN or infinite"), ("failed", "no result; see results.json")):
        left_out = [f"{r['backend']}/{r['variant']} seed {s}" for r in rows for s in r[kind]]
        if left_out:
            lines += [f"Left out of the statistics, {kind} ({why}): {', '.join(left_out)}.", ""]
    by_port = {f"{r['backend']}/{r['variant']}": r["by_seed"] for r in rows if r["by_seed"]}
    p_value = difference_test(by_port)
    if p_value is None:
        if seeds < 2:
            lines.append("Test for a difference: needs at least 2 seeds per port (`--seeds 0 1 2`).")
        else:
            lines.append(
                "Test for a difference: not possible, fewer than 2 ports finished 2 of the same seeds."
            )
        return lines
    verdict = "the ports differ at 0.05" if p_value < 0.05 else "no evidence of a difference at 0.05"
    lines += [
        f"Test for a difference between the {len(by_port)} ports' final test accuracies: blocked permutation "
        f"test (values shuffled among ports within each seed, {PERMUTATIONS:,} permutations): "
        f"p = {p_value:.3f} ({verdict}). A large p is not evidence of equality; the next table tests that.",
        "",
        f"Equivalence within ±{margin * 100:.1f} percentage points (two one-sided paired t-tests per pair, "
        "alpha 0.05):",
        "",
        markdown_table(equivalence(by_port, margin), EQUIVALENCE_COLUMNS),
    ]
    return lines


def describe_runs(executor: dict | None) -> str:
    """How the runs were executed, and so what their timings and memory figures mean."""
    if executor is None:
        return "Runs executed in the calling process, one after another."
    threads = f" of {executor['threads_per_run']} threads each" if executor.get("threads_per_run") else ""
    text = (
        f"Executor: {executor['name']}, runs {executor['where']}, up to {executor['jobs']} at a time{threads}"
    )
    return text + (" (timings were taken with runs in parallel)." if executor["parallel"] else ".")


def compare_markdown(doc: dict) -> str:
    rows = compare_rows(doc)
    env, settings, sticks = doc["environment"], doc["settings"], doc["yardsticks"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    own = ", ".join(f"{name} {b['mlp_gflops']:.0f}" for name, b in sticks["by_backend"].items())
    peak = max([sticks["peak_gflops"], *(row.get("gflops", 0) for row in rows)])
    return "\n".join(
        [
            f"# dropout-ports compare ({doc['status']})",
            "",
            f"{env['cpu']}, {env['cores']} cores; {versions}.",
            describe_threads(env) + ".",
            f"Device {settings['device']}; data {settings['data']} ({settings['train_examples']:,} training "
            f"examples); seeds {settings['seeds']}; {settings['config']['epochs']} epochs.",
            f"Yardsticks (float32 GFLOP/s, measured in this run): machine peak {peak:.0f} (the best "
            f"{sticks.get('square', '')}^2 matmul of any framework, or an epoch that beat it); each "
            f"framework's own matmuls at the MLP's shapes: {own or 'not measured'}.",
            describe_runs(doc.get("executor")),
            "",
            markdown_table(rows, COMPARE_COLUMNS),
            "",
            "Epoch seconds are the median after the first epoch (compilation and warm-up), shown "
            "apart. Peak RSS is the kernel's high-water mark of the run's process (with --inline, of "
            "the whole calling process); GPU peak is the framework allocator's.",
            "",
            *statistics_section(rows, settings.get("margin", DEFAULT_MARGIN), len(settings["seeds"])),
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
    load = doc["data"]["load_s"]
    return "\n".join(
        [
            f"# dropout-ports bench{' (quick)' if doc['quick'] else ''}",
            "",
            f"{env['cpu']}, {env['cores']} cores; device {doc['device']}; "
            + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
            describe_threads(env) + ".",
            "",
            f"Loading Fashion-MNIST from {doc['data']['folder']}: "
            + (f"{load:.2f} s (median)." if load is not None else "not found."),
            "",
            "## Dropout op (median ms; GB/s counts one read and one write of the array)",
            "",
            markdown_table(doc["dropout"], dropout.COLUMNS),
            "",
            f"## Training (machine peak {train['peak_gflops']:.0f} GFLOP/s; "
            f"an epoch is {train['epoch_gflop']:.1f} GFLOP)",
            "",
            markdown_table(train["rows"], training.COLUMNS),
            "",
            *peers_section(train),
            "## Targets (measured in this run)",
            "",
            markdown_table(targets.target_rows(doc), targets.COLUMNS),
            "",
        ]
    )


def peers_section(train: dict) -> list[str]:
    """bench --peers: the peers' epochs beside the ports' scratch epochs of the same run."""
    if not train.get("peers"):
        return []
    versions = ", ".join(sorted({row["version"] for row in train["peers"] if row.get("version")}))
    return [
        "## Peers (the same MLP, data, batch size and epochs; each in a process of its own)",
        "",
        markdown_table(train["peers"], peers.COLUMNS),
        "",
        f'Measured in this run{f" ({versions})" if versions else ""}; "port faster by" is the peer\'s '
        "epoch over the port's scratch epoch.",
        "",
    ]


def render_bench(doc: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.md").write_text(bench_markdown(doc))
    dropout_plot(doc["dropout"], out_dir / "bench-dropout.png")
    throughput_bars(doc["training"]["rows"], out_dir / "bench-training.png", "Training throughput per port")
