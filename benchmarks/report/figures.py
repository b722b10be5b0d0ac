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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=8)
    band = "mean over seeds, band = min..max" if several else "one seed per port"
    fig.suptitle(f"Dropout MLP on {data_label(doc['settings']['data'])}: every port ({band})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


SEEDS_WHISKERS = "whiskers: min..max over the timed seeds' runs"


def throughput_bars(rows: list[dict], path: Path, title: str, whiskers: str = SEEDS_WHISKERS) -> None:
    """Samples per second per port after the first epoch (bars; whiskers: their range, as the
    legend says), the first epoch's with its compilation as a marker, and the share of the
    machine's peak; the legend below the axes, where it covers no bar."""
    rows = [row for row in rows if "samples_per_s" in row]
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 5.4))
    if rows:
        _bars(ax, rows, whiskers)
    else:
        ax.text(0.5, 0.5, "no run finished (every one diverged or failed)", ha="center", va="center")
    ax.set_ylabel("training samples / s")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    legend_below(fig, ax)
    save(fig, path, dpi=100)


def _bars(ax: plt.Axes, rows: list[dict], whiskers: str) -> None:
    labels = ["\n".join(filter(None, (r["backend"], r["variant"], r.get("loop")))) for r in rows]
    rates = np.array([r["samples_per_s"] for r in rows])
    low, high = np.array([r.get("samples_per_s_range", (r["samples_per_s"],) * 2) for r in rows]).T
    bars = ax.bar(labels, rates, color="tab:blue", label="after the first epoch (median)")
    ax.errorbar(labels, rates, yerr=[rates - low, high - rates], fmt="none", ecolor="black", capsize=4,
                label=whiskers)  # fmt: skip
    first = [r["first_epoch_samples_per_s"] for r in rows]
    ax.scatter(
        labels, first, marker="v", color="tab:red", zorder=3, label="first epoch (compilation included)"
    )
    for bar, row in zip(bars, rows, strict=True):
        share = "n/a" if row.get("of_peak") is None else f"{row['of_peak']:.0%}"
        ax.annotate(
            f"{share} of peak",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 4),
            textcoords="offset points",
        )


def dropout_plot(rows: list[dict], path: Path) -> None:
    """Time against array size per implementation (p = 0.5), log-log; a colour of its own for
    every line (tab20's), the copies dashed."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    implementations = {r["implementation"]: r["is_copy"] for r in rows}
    for i, (label, is_copy) in enumerate(implementations.items()):
        points = sorted((r["size"], r["ms"]) for r in rows if r["implementation"] == label and r["p"] == 0.5)
        style = "--" if is_copy else "-"
        color, marker = distinct_style(i)
        ax.plot(*zip(*points, strict=True), style, color=color, marker=marker, ms=3, label=label)
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


MARKERS = "osD^v<>"


def distinct_style(i: int) -> tuple[tuple, str]:
    """The i-th line's colour and marker: tab20's 20 colours, then the same colours with the next
    marker, so no two lines of a legend look alike."""
    return plt.get_cmap("tab20")(i % 20), MARKERS[(i // 20) % len(MARKERS)]


def breakdown_bars(rows: list[dict], parts: tuple[str, ...], path: Path, title: str) -> None:
    """A stacked horizontal bar per port: its epoch split into parts, each as a share of that epoch
    (ports whose epochs differ tenfold read alike) and a colour of its own; a part measured below
    zero (noise, or parts that overlap) is drawn left of zero; the epoch, 100%, is the black line."""
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.55 * len(rows)))
    labels = [f"{r['backend']}/{r['variant']} ({r['loop']}, {r['epoch_s']:.2f} s)" for r in rows]
    right, left = np.zeros(len(rows)), np.zeros(len(rows))
    for i, part in enumerate(parts):
        shares = np.array([100 * r["parts"][part] / r["epoch_s"] for r in rows])
        starts = np.where(shares >= 0, right, left + shares)
        ax.barh(labels, np.abs(shares), left=starts, color=plt.get_cmap("tab10")(i), label=part)
        right, left = right + np.maximum(shares, 0), left + np.minimum(shares, 0)
    ax.axvline(100, color="black", lw=1.5, label="the epoch (median)")
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("% of the port's epoch (medians over the rounds)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    legend_below(fig, ax)
    save(fig, path)


def legend_below(fig: plt.Figure, ax: plt.Axes) -> None:
    """The axes' legend under the figure, where it can cover nothing (save's tight box keeps it)."""
    fig.tight_layout()
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8,
                   frameon=False)  # fmt: skip
