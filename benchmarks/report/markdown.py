"""results.md and its figures for compare and train, from the results document alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dropout_ports.benchmarks.report.figures import throughput_bars, training_curves
from dropout_ports.benchmarks.report.statistics import (
    difference_sentence,
    equivalence_lines,
    identical_lines,
    mean_and_interval,
    method_line,
    seed_list,
)
from dropout_ports.benchmarks.report.verdict import time_spent, verdict_section
from dropout_ports.benchmarks.results.analysis import compare_statistics, runs_by_port
from dropout_ports.benchmarks.results.document import compare_rows, failed_runs
from dropout_ports.benchmarks.results.stats import CONFIDENCE
from dropout_ports.benchmarks.results.tables import Column, markdown_table
from dropout_ports.benchmarks.results.throughput import COLUMNS as THROUGHPUT_COLUMNS
from dropout_ports.benchmarks.results.throughput import FLAGS_COLUMN, FLOOR_COLUMN
from dropout_ports.benchmarks.results.verdict import verdict
from dropout_ports.benchmarks.runs.machine import describe_threads


def _accuracy(row: dict) -> str:
    values = row["test_acc"]
    lost = [f"{len(row[kind])} {kind}" for kind in ("diverged", "failed") if row[kind]]
    if not values:
        return " and ".join(lost)
    return mean_and_interval(values) + (f" ({', '.join(lost)})" if lost else "")


def _finished(cell: Callable[[dict], str]) -> Callable[[dict], str]:
    return lambda row: cell(row) if "gflops" in row else "none finished"


def _megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


COMPARE_COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    ("loop", lambda r: r["loop"] or "n/a"),
    ("seeds", lambda r: str(r["seeds"])),
    (f"test acc (mean [{CONFIDENCE:.0%} CI])", _accuracy),
    ("train loss", _finished(lambda r: f"{np.mean(r['train_loss']):.4f}")),
    *[
        (header, _finished(cell))
        for header, cell in [
            *THROUGHPUT_COLUMNS[:4],
            FLOOR_COLUMN,
            *THROUGHPUT_COLUMNS[4:],
            ("peak RSS MB", lambda r: _megabytes(r["peak_rss_mb"])),
            ("GPU peak MB", lambda r: _megabytes(r["device_peak_mb"])),
            FLAGS_COLUMN,
        ]
    ],
]


def statistics_section(doc: dict, rows: list[dict], statistics: dict) -> list[str]:
    """The lines on which ports coincide, whether the ports' final test accuracies differ, and
    whether they are equivalent."""
    lines = [method_line(), ""]
    for kind, why in (("diverged", "loss NaN or infinite"), ("failed", "no result; see results.json")):
        left_out = [f"{r['backend']}/{r['variant']} seed {s}" for r in rows for s in r[kind]]
        if left_out:
            lines += [f"Left out of the statistics, {kind} ({why}): {', '.join(left_out)}.", ""]
    configs = {
        port: [run["config"] for run in by_seed.values()]
        for port, by_seed in runs_by_port(doc["runs"]).items()
    }
    for line in identical_lines(statistics["identical"], configs):
        lines += [line, ""]
    (test,) = statistics["tests"] or [None]
    lines.append(difference_sentence(test, len(doc["settings"]["seeds"])))
    if test is not None:
        equivalence = statistics["equivalence"]
        lines += ["", *equivalence_lines(equivalence, statistics["margin"], statistics["equivalence_power"])]
    return lines


def describe_runs(executor: dict | None) -> str:
    """How the runs were executed, and so what their timings and memory figures mean."""
    if executor is None:
        return "Runs executed in the calling process, one after another."
    text = f"Executor: {executor['name']}, runs {executor['where']}"
    if "timed" in executor:  # compare --timed-seeds
        timed = executor["timed"]
        return (
            f"{text}: {seed_list(timed['seeds'])} first, one run at a time{_threads(timed)}, "
            f"every port in turn; only those runs give the timings and throughput. The other seeds up to "
            f"{executor['jobs']} at a time{_threads(executor)}, for the accuracy and memory."
        )
    text += f", up to {executor['jobs']} at a time{_threads(executor)}"
    if executor["parallel"]:
        return text + " (timings were taken with runs in parallel)."
    return text + "; in rounds: each seed runs every port once, one run at a time, before the next seed."


def _threads(executor: dict) -> str:
    threads = executor.get("threads_per_run")
    return f" of {threads} thread{'s' if threads > 1 else ''} each" if threads else ""


def status_text(doc: dict) -> str:
    """The folder's status, and how many of its runs failed: "complete" alone means every run ran."""
    failed = len(failed_runs(doc))
    return doc["status"] + (f"; {failed} of {len(doc['runs'])} runs failed" if failed else "")


def examples_text(settings: dict) -> str:
    """The training examples the runs trained on: a --train-subset, or all that were loaded."""
    subset, loaded = settings["config"].get("train_subset"), settings["train_examples"]
    if subset and subset < loaded:
        return f"{subset:,} of its {loaded:,} training examples (--train-subset)"
    return f"{loaded:,} training examples"


def epoch_words(epochs: int) -> str:
    """What the epoch-seconds column is, for a run of this many epochs."""
    if epochs == 1:
        return (
            "Epoch seconds are those of the only epoch, compilation and warm-up included (the same as "
            "the first epoch's): run 2 epochs or more for an epoch without them."
        )
    return "Epoch seconds are the median after the first epoch (compilation and warm-up), shown apart."


def compare_markdown(doc: dict) -> str:
    if not doc["runs"] or not doc["yardsticks"]:
        return f"# dropout-ports compare ({doc['status']})\n\nNo run finished; `--resume` runs them.\n"
    rows = compare_rows(doc)
    statistics = compare_statistics(doc)
    env, settings, sticks = doc["environment"], doc["settings"], doc["yardsticks"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    own = ", ".join(f"{name} {b['mlp_gflops']:.0f}" for name, b in sticks["by_backend"].items())
    return "\n".join(
        [
            f"# dropout-ports compare ({status_text(doc)})",
            "",
            f"{env['cpu']}, {env['cores']} cores; {versions}.",
            describe_threads(env) + ".",
            f"Device {settings['device']}; data {settings['data']} ({examples_text(settings)}); seeds "
            f"{settings['seeds']}; {settings['config']['epochs']} epochs.",
            f"Yardsticks (float32 GFLOP/s, measured in this run, before the runs): machine peak "
            f"{sticks['peak_gflops']:.0f} (the best {sticks.get('square', '')}^2 matmul of any framework); "
            f"each framework's own matmuls at the MLP's shapes: {own or 'not measured'}. A run that had "
            "the machine alone also times that floor in its own process after each epoch, with the load "
            'over the epoch (the floor column: its median over the steady epochs; "of own GEMM" is '
            "against it where measured). Shares as measured: one over 100% (an epoch that beat its "
            "floor) is flagged, to distrust, as is a busy machine.",
            describe_runs(doc.get("executor")),
            *filter(None, [time_spent(doc)]),
            "",
            markdown_table(rows, COMPARE_COLUMNS),
            "",
            epoch_words(settings["config"]["epochs"])
            + " Peak RSS is the kernel's high-water mark of the run's process (with --inline, of "
            "the whole calling process); GPU peak is the framework allocator's.",
            "",
            *statistics_section(doc, rows, statistics),
            "",
            *verdict_section(doc, verdict(doc, statistics)),
            "",
        ]
    )


def render_compare(doc: dict, out_dir: Path) -> None:
    """results.md, curves.png and throughput.png from a results document."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(compare_markdown(doc))
    if not doc["runs"] or not doc["yardsticks"]:
        return
    training_curves(doc, out_dir / "curves.png")
    throughput_bars(compare_rows(doc), out_dir / "throughput.png", "Training throughput per port")
