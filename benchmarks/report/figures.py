"""PNG figures of compare and bench results, from their JSON alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from dropout_ports.benchmarks.results.document import collapsed, finished, group_runs


def save(fig: plt.Figure, path: Path, dpi: int = 110) -> bool:
    """Write the figure, trimmed to its content, and close it (pyplot keeps every open figure);
    True, so that a figure function can say it drew."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return True


PANELS = (
    ("train_loss", "train loss"),
    ("train_acc", "train accuracy"),
    ("test_loss", "test loss"),
    ("test_acc", "test accuracy"),
)


def data_label(origin: str) -> str:
    """A data set's name for a title (its origin is a path, which belongs in the report, not here)."""
    if origin.startswith("synthetic"):
        return "a synthetic stand-in for Fashion-MNIST"
    return "Fashion-MNIST" + (" (through TFDS)" if origin.startswith("tfds:") else "")


def _series(run: dict, key: str) -> np.ndarray:
    return np.array([np.nan if row[key] is None else row[key] for row in run["history"]], float)


def training_curves(doc: dict, path: Path) -> None:
    """The chapter's plot for every port on one sheet: train and test loss and accuracy per epoch.
    A line is the mean over the seeds that finished, with a min..max band where there are several;
    a diverged run is drawn alone, dotted, up to the epoch where it stopped, and a run that
    collapsed to chance accuracy alone, dotted, out of the mean."""
    fig, axes = plt.subplots(1, len(PANELS), figsize=(19, 4.5))
    several = False
    for (backend, variant), runs in group_runs(doc).items():
        completed = [run for run in runs if finished(run) and not collapsed(run)]
        for ax, (key, _) in zip(axes, PANELS, strict=True):
            color = None
            if completed:
                values = np.array([_series(run, key) for run in completed])
                epochs = np.arange(1, values.shape[1] + 1)
                (line,) = ax.plot(epochs, values.mean(axis=0), marker="o", ms=3, label=f"{backend}/{variant}")
                color = line.get_color()
                if len(completed) > 1:
                    several = True
                    ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=color, alpha=0.15)
            for run in runs:
                if (run["diverged"] or collapsed(run)) and run["history"]:
                    values = _series(run, key)
                    what = "diverged" if run["diverged"] else "collapsed"
                    label = f"{backend}/{variant} seed {run['seed']} ({what})"
                    ax.plot(np.arange(1, len(values) + 1), values, ":", marker="x", color=color, label=label,
                            markevery=[len(values) - 1])  # fmt: skip
    for ax, (_, title) in zip(axes, PANELS, strict=True):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=8)
    band = "mean over seeds, band = min..max" if several else "one seed per port"
    fig.suptitle(f"Dropout MLP on {data_label(doc['settings']['data'])}: every port ({band})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def throughput_bars(rows: list[dict], path: Path, title: str) -> None:
    """Samples per second per port after the first epoch (bars; whiskers: min..max over seeds),
    the first epoch's with its compilation as a marker, and the share of the machine's peak."""
    rows = [row for row in rows if "samples_per_s" in row]
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4.8))
    if rows:
        _bars(ax, rows)
    else:
        ax.text(0.5, 0.5, "no run finished (every one diverged or failed)", ha="center", va="center")
    ax.set_ylabel("training samples / s")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bars(ax: plt.Axes, rows: list[dict]) -> None:
    labels = ["\n".join(filter(None, (r["backend"], r["variant"], r.get("loop")))) for r in rows]
    rates = np.array([r["samples_per_s"] for r in rows])
    low, high = np.array([r.get("samples_per_s_range", (r["samples_per_s"],) * 2) for r in rows]).T
    bars = ax.bar(labels, rates, color="tab:blue", label="after the first epoch (median)")
    ax.errorbar(labels, rates, yerr=[rates - low, high - rates], fmt="none", ecolor="black", capsize=4)
    first = [r["first_epoch_samples_per_s"] for r in rows]
    ax.scatter(
        labels, first, marker="v", color="tab:red", zorder=3, label="first epoch (compilation included)"
    )
    for bar, row in zip(bars, rows, strict=True):
        ax.annotate(
            f"{row['of_peak']:.0%} of peak",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 4),
            textcoords="offset points",
        )
    ax.legend(fontsize=8, loc="lower right")


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
