"""Markdown tables and PNG figures for compare and bench results, from their JSON alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from common.analysis import accuracy_test, group_runs, run_metrics
from common.report import Column, markdown_table


def _mean_std(values: list[float], fmt: str) -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(np.mean(values), fmt)} ± {format(np.std(values, ddof=1), fmt)}"


def compare_rows(doc: dict) -> list[dict]:
    """One row per (backend, variant), averaged over seeds."""
    rows = []
    for (backend, variant), runs in group_runs(doc).items():
        metrics = [run_metrics(run, doc) for run in runs]
        rows.append(
            {
                "backend": backend,
                "variant": variant,
                "seeds": len(runs),
                "test_acc": [run["test_accuracy"] for run in runs],
                "train_loss": [run["history"][-1]["train_loss"] for run in runs],
                "peak_rss_mb": max(run["peak_rss_bytes"] for run in runs) / 2**20,
                "run_rss_mb": np.mean([run["peak_rss_bytes"] - run["rss_at_start_bytes"] for run in runs])
                / 2**20,
                **{key: float(np.mean([m[key] for m in metrics])) for key in metrics[0]},
            }
        )
    return rows


COMPARE_COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    ("seeds", lambda r: str(r["seeds"])),
    ("test acc", lambda r: _mean_std(r["test_acc"], ".4f")),
    ("train loss", lambda r: _mean_std(r["train_loss"], ".4f")),
    ("first epoch s", lambda r: f"{r['first_epoch_s']:.2f}"),
    ("epoch s", lambda r: f"{r['mean_epoch_s']:.2f}"),
    ("samples/s", lambda r: f"{r['samples_per_s']:,.0f}"),
    ("GFLOP/s", lambda r: f"{r['gflops']:.1f}"),
    ("of matmul peak", lambda r: f"{r['fraction_of_matmul_peak']:.0%}"),
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
            f"10,000 permutations) over {len(rows)} ports: p = {p_value:.3f}"
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
            f"{doc['matmul_gflops']:.0f} GFLOP/s (NumPy float32 4096^2).",
            "",
            markdown_table(rows, COMPARE_COLUMNS),
            "",
            "Epoch seconds exclude the first epoch (compilation and warm-up), shown apart. Peak RSS is of "
            "the whole process, which holds every framework imported so far; 'run added' is the peak "
            "during a run less the RSS at its start (data copies, activations, compiled code).",
            "",
            verdict,
            "",
        ]
    )


def training_curves(doc: dict, path: Path) -> None:
    """The chapter's plot for every port on one sheet: train loss, train acc, test acc per epoch."""
    panels = [("train_loss", "train loss"), ("train_acc", "train accuracy"), ("test_acc", "test accuracy")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for (backend, variant), runs in group_runs(doc).items():
        epochs = [row["epoch"] for row in runs[0]["history"]]
        for ax, (key, _) in zip(axes, panels, strict=True):
            values = np.array([[row[key] for row in run["history"]] for run in runs])
            (line,) = ax.plot(epochs, values.mean(axis=0), marker="o", ms=3, label=f"{backend}/{variant}")
            if len(runs) > 1:
                ax.fill_between(
                    epochs, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.15
                )
    for ax, (_, title) in zip(axes, panels, strict=True):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Dropout MLP on {doc['settings']['data']}: every port (mean over seeds, band = min..max)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def throughput_bars(rows: list[dict], path: Path, title: str) -> None:
    """Samples per second per port, labelled with the share of the matmul yardstick."""
    labels = [f"{r['backend']}\n{r['variant']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.5))
    bars = ax.bar(labels, [r["samples_per_s"] for r in rows], color="tab:blue")
    for bar, row in zip(bars, rows, strict=True):
        ax.annotate(
            f"{row['fraction_of_matmul_peak']:.0%} of peak",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("training samples / s (after the first epoch)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_compare(doc: dict, out_dir: Path) -> None:
    """results.md, curves.png and throughput.png from a results document."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(compare_markdown(doc))
    training_curves(doc, out_dir / "curves.png")
    throughput_bars(compare_rows(doc), out_dir / "throughput.png", "Training throughput per port")


def dropout_plot(rows: list[dict], path: Path) -> None:
    """Time against array size per implementation (p = 0.5), log-log."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    implementations = dict.fromkeys(r["implementation"] for r in rows)
    for label in implementations:
        points = sorted((r["size"], r["ms"]) for r in rows if r["implementation"] == label and r["p"] == 0.5)
        style = "--" if "copy" in label or "clone" in label else "-"
        ax.plot(*zip(*points, strict=True), style, marker="o", ms=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("float32 elements")
    ax.set_ylabel("ms per call (median)")
    ax.set_title("Dropout p = 0.5 against a copy of the same array (dashed)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bench_markdown(doc: dict) -> str:
    from benchmarks import dropout, training

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
