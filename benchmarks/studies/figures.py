"""The figures of a study, from its rows (dropout_ports.benchmarks.studies.report) and its runs'
histories. Means are dots with their intervals (never bars on a cut axis); diverged runs are
marked where they would be, collapsed ones drawn apart; panels of one kind share one scale."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter

from dropout_ports.benchmarks.report.figures import plt, save  # Agg, set once
from dropout_ports.benchmarks.results.document import collapsed, ran_in_parallel
from dropout_ports.benchmarks.results.stats import CONFIDENCE, mean_interval
from dropout_ports.benchmarks.studies.curves import gap_lines, variance_lines
from dropout_ports.benchmarks.studies.findings import mean_of

TIMED = {"time.png"}  # figures that compare epoch times across ports: only from runs one at a time
LOG_SPAN = 30  # times spanning more than this ratio go on a log axis


def draw(doc: dict, rows: list[dict], out_dir: Path) -> list[str]:
    """Every figure the study has, written into out_dir; their file names."""
    figures = FIGURES.get(doc["settings"]["study"]["name"], DEFAULT)
    wanted = [(name, figure) for name, figure in figures if name not in TIMED or not ran_in_parallel(doc)]
    return [name for name, figure in wanted if figure(doc, rows, out_dir / name)]


def names(study: str) -> list[str]:
    """The file names of a study's figures."""
    return [filename for filename, _ in FIGURES.get(study, DEFAULT)]


def _ports(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["port"] for row in rows))


def _settings(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["setting"] for row in rows))


def _slot(i: int, j: int, ports: int) -> float:
    return i + (j - (ports - 1) / 2) * 0.8 / max(1, ports)


def setting_dots(
    doc: dict, rows: list[dict], path: Path, key: str = "test_acc", what: str = "final test accuracy"
) -> bool:
    """Per setting, a dot per port: the mean of the last epoch's key (final test accuracy) with its
    interval (3 seeds or more), each seed a small dot; a collapsed seed ringed in red, a diverged
    one an x on the axis. False when no run has the key."""
    finite = [v for r in rows for v in r.get("last", {}).get(key, []) if v is not None]
    if not finite:
        return False
    shown = [r for r in rows if r["diverged"] or any(v is not None for v in r.get("last", {}).get(key, []))]
    settings, ports = _settings(shown), _ports(rows)  # settings where the key was measured (or lost)
    fig, ax = plt.subplots(figsize=(max(6.5, 0.55 * len(settings) * max(2, len(ports))), 4.2))
    floor = min(finite) - 0.02
    marked = {"diverged": False, "collapsed": False}
    labelled: set[str] = set()
    seeds: set[int] = set()  # the seeds behind each interval drawn, for the axis label
    for j, name in enumerate(ports):
        for i, setting in enumerate(settings):
            row = next((r for r in rows if r["port"] == name and r["setting"] == setting), None)
            if row is None:
                continue
            x = _slot(i, j, len(ports))
            values = [
                run["history"][-1][key] for run in row["done"] if run["history"][-1].get(key) is not None
            ]
            ax.plot([x] * len(values), values, ".", color=f"C{j}", ms=4, alpha=0.6)
            dead = [
                run["history"][-1][key] for run in row["done"] if collapsed(run) and key in run["history"][-1]
            ]
            if dead:
                ax.plot([x] * len(dead), dead, "o", mfc="none", mec="red", ms=8,
                        label=None if marked["collapsed"] else "collapsed to chance")  # fmt: skip
                marked["collapsed"] = True
            interval = mean_interval(values)
            if values:
                seeds.add(len(values))
                low, high = (interval[1], interval[2]) if interval else (np.mean(values),) * 2
                mean = float(np.mean(values))
                ax.errorbar(x, mean, yerr=[[mean - low], [high - mean]], fmt="o", color=f"C{j}",
                            capsize=3, ms=6, label=None if name in labelled else name)  # fmt: skip
                labelled.add(name)
            if row["diverged"]:
                ax.plot([x] * row["diverged"], [floor] * row["diverged"], "x", color="red", ms=8,
                        label=None if marked["diverged"] else "diverged (no accuracy)")  # fmt: skip
                marked["diverged"] = True
    labels = [setting.replace(", ", ",\n") for setting in settings]
    many = len(settings) > 4
    ax.set_xticks(range(len(settings)), labels, rotation=30 if many else 0, ha="right" if many else "center")
    counts = "-".join(str(n) for n in sorted({min(seeds), max(seeds)}))
    ax.set_ylabel(f"{what} (mean, {CONFIDENCE:.0%} CI from {counts} seeds)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return save(fig, path)


def time_dots(doc: dict, rows: list[dict], path: Path) -> bool:
    """Epoch time (median after the first) and the first epoch's, per port and setting; a log axis
    when they span more than LOG_SPAN."""
    timed = [r for r in rows if "epoch_s" in r]
    if not timed:
        return False
    fig, ax = plt.subplots(figsize=(max(6.5, 0.8 * len(timed)), 4.5))
    x = np.arange(len(timed))
    first, later = [r["first_epoch_s"] for r in timed], [r["epoch_s"] for r in timed]
    ax.plot(x, first, "v", color="tab:red", ms=8, label="first epoch (compilation included)")
    ax.plot(x, later, "o", color="tab:blue", ms=7, label="later epochs (median)")
    if max(first + later) > LOG_SPAN * min(first + later):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xticks(x, [f"{r['port']}\n{r['setting']}" for r in timed], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("seconds per epoch")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save(fig, path)


def rate_heatmaps(doc: dict, rows: list[dict], path: Path) -> bool:
    """Mean test accuracy over (p1, p2), one panel per port on one colour scale; a cell with a
    collapsed seed is starred."""
    arms = doc["settings"]["study"]["arms"]
    p1s = sorted({changes["dropouts"][0] for changes in arms.values()})
    p2s = sorted({changes["dropouts"][1] for changes in arms.values()})
    ports = _ports(rows)
    grids = {name: np.full((len(p1s), len(p2s)), np.nan) for name in ports}
    dead = {name: np.zeros((len(p1s), len(p2s)), bool) for name in ports}
    for row in rows:
        a, b = arms[row["setting"]]["dropouts"]
        value = mean_of(row, "test_acc")
        grids[row["port"]][p1s.index(a), p2s.index(b)] = np.nan if value is None else value
        dead[row["port"]][p1s.index(a), p2s.index(b)] = row["collapsed"] > 0
    values = np.concatenate([grid.ravel() for grid in grids.values()])
    low, high = np.nanmin(values), np.nanmax(values)
    fig, axes = plt.subplots(1, len(ports), figsize=(3.6 * len(ports) + 1.2, 3.8), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(axes[0], ports, strict=True):
        image = ax.imshow(grids[name], origin="lower", cmap=cmap, vmin=low, vmax=high)
        for (i, j), value in np.ndenumerate(grids[name]):
            shade = (value - low) / (high - low or 1) if not np.isnan(value) else 1  # NaN: white, unrun
            text = "not run" if np.isnan(value) else f"{value:.3f}" + ("*" if dead[name][i, j] else "")
            ax.text(
                j, i, text, ha="center", va="center", fontsize=8, color="black" if shade > 0.6 else "white"
            )
        ax.set_xticks(range(len(p2s)), [f"{p:g}" for p in p2s])
        ax.set_yticks(range(len(p1s)), [f"{p:g}" for p in p1s])
        ax.set_xlabel("p2 (after hidden layer 2)")
        ax.set_title(name)
    axes[0][0].set_ylabel("p1 (after hidden layer 1)")
    bar = fig.colorbar(image, ax=axes[0].tolist(), shrink=0.85)
    bar.set_label("mean final test accuracy")
    if any(grid.any() for grid in dead.values()):
        fig.text(0.01, -0.02, "* a seed collapsed to chance accuracy (kept in the mean)", fontsize=8)
    return save(fig, path)


RELIABLE_BIN = 20  # examples a bin needs (pooled) for its accuracy to be drawn


def reliability_diagrams(doc: dict, rows: list[dict], path: Path) -> bool:
    """Accuracy against confidence per bin, pooled over seeds (count-weighted), one panel per port
    and a line per T, drawn where a bin holds at least RELIABLE_BIN examples; below, every bin's
    count. The legend's ECE is the mean over seeds, as in the table."""
    ports = [row for row in rows if row.get("last", {}).get("mc") and row.get("same_as") is None]
    if not ports:
        return False
    fig, axes = plt.subplots(2, len(ports), figsize=(3.4 * len(ports), 5.4), squeeze=False, sharex=True,
                             sharey="row", gridspec_kw={"height_ratios": (3, 1)})  # fmt: skip
    for k, row in enumerate(ports):
        ax, counts_ax = axes[0][k], axes[1][k]
        ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
        probes = [mc for mc in row["last"]["mc"] if mc]
        for t, samples in enumerate(probes[0]):
            bins = [probe[samples]["reliability"] for probe in probes]
            count = np.sum([b["count"] for b in bins], axis=0)
            weighted = {
                key: np.sum([np.nan_to_num(np.array(b[key], float)) * b["count"] for b in bins], axis=0)
                for key in ("confidence", "accuracy")
            }
            used = count >= RELIABLE_BIN
            ece = np.mean([probe[samples]["ece"] for probe in probes])
            label = "dropout off" if samples == "0" else f"T = {samples}"
            ax.plot(weighted["confidence"][used] / count[used], weighted["accuracy"][used] / count[used],
                    marker="o", ms=3, color=f"C{t}", label=f"{label} (ECE {ece:.3f})")  # fmt: skip
            centres = (np.arange(len(count)) + 0.5) / len(count)
            counts_ax.plot(centres[count > 0], count[count > 0], marker=".", color=f"C{t}")
        ax.set_title(row["port"])
        ax.legend(fontsize=7, loc="upper left")
        counts_ax.set_yscale("log")
        counts_ax.set_xlabel("confidence (15 bins)")
    axes[0][0].set_ylabel(f"accuracy (bins of {RELIABLE_BIN}+ examples)")
    axes[1][0].set_ylabel("examples per bin")
    fig.suptitle(
        f"Reliability, pooled over {len(probes)} seeds; ECE: mean over seeds, as in the table", fontsize=10
    )
    fig.tight_layout()
    return save(fig, path)


DEFAULT = [("accuracy.png", setting_dots)]
FIGURES = {
    "rates": [("heatmap.png", rate_heatmaps)],
    "no-dropout": [("gap.png", gap_lines), ("accuracy.png", setting_dots)],
    "train-size": [("gap.png", gap_lines), ("accuracy.png", setting_dots)],
    "activations": [("variance.png", variance_lines)],
    "mc-dropout": [("reliability.png", reliability_diagrams)],
    "precision": [("accuracy.png", setting_dots), ("time.png", time_dots)],
    "compiled": [("time.png", time_dots), ("accuracy.png", setting_dots)],
    "data-parallel": [
        ("accuracy.png", setting_dots),
        (
            "agreement.png",
            partial(setting_dots, key="mask_agreement", what="mask agreement between replicas"),
        ),
    ],
}
