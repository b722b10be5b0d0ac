"""PNG figures of compare and bench results, from their JSON alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from benchmarks.results import group_runs


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


def dropout_plot(rows: list[dict], path: Path) -> None:
    """Time against array size per implementation (p = 0.5), log-log."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    implementations = {r["implementation"]: r["is_copy"] for r in rows}
    for label, is_copy in implementations.items():
        points = sorted((r["size"], r["ms"]) for r in rows if r["implementation"] == label and r["p"] == 0.5)
        style = "--" if is_copy else "-"
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
