"""The figures of a study, from its rows (benchmarks.study_report) and its runs' histories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from benchmarks.figures import plt  # Agg, set once
from benchmarks.study_findings import mean_of


def draw(doc: dict, rows: list[dict], out_dir: Path) -> list[str]:
    """Every figure the study has, written into out_dir; their file names."""
    name = doc["settings"]["study"]["name"]
    drawn = []
    for filename, figure in FIGURES.get(name, DEFAULT):
        if figure(doc, rows, out_dir / filename):
            drawn.append(filename)
    return drawn


def names(study: str) -> list[str]:
    """The file names of a study's figures."""
    return [filename for filename, _ in FIGURES.get(study, DEFAULT)]


def _ports(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["port"] for row in rows))


def _settings(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["setting"] for row in rows))


def _save(fig, path: Path) -> bool:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def grouped_bars(rows: list[dict], key: str, label: str, path: Path) -> bool:
    """One group of bars per setting, one bar per port: the mean over seeds, seeds as dots."""
    settings, ports = _settings(rows), _ports(rows)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(settings) * max(1, len(ports)) / 3), 4))
    width = 0.8 / max(1, len(ports))
    for j, name in enumerate(ports):
        for i, setting in enumerate(settings):
            row = next((r for r in rows if r["port"] == name and r["setting"] == setting), None)
            values = [] if row is None else [v for v in row.get("last", {}).get(key, []) if v is not None]
            x = i + (j - (len(ports) - 1) / 2) * width
            ax.bar(x, np.mean(values) if values else 0, width, color=f"C{j}", label=name if i == 0 else None)
            ax.plot([x] * len(values), values, "k.", ms=3)
    ax.set_xticks(range(len(settings)), settings)
    ax.set_ylabel(label)
    finite = [v for r in rows for v in r.get("last", {}).get(key, []) if v is not None]
    if finite and key.endswith("acc"):
        ax.set_ylim(max(0.0, min(finite) - 0.05), min(1.0, max(finite) + 0.02))
    ax.legend(fontsize=8)
    return _save(fig, path)


def accuracy_bars(doc: dict, rows: list[dict], path: Path) -> bool:
    return grouped_bars(rows, "test_acc", "final test accuracy", path)


def time_bars(doc: dict, rows: list[dict], path: Path) -> bool:
    """Epoch time (after the first) and the first epoch's, per port and setting."""
    timed = [r for r in rows if "epoch_s" in r]
    labels = [f"{r['port']}\n{r['setting']}" for r in timed]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(timed)), 4))
    x = np.arange(len(timed))
    ax.bar(x - 0.2, [r["first_epoch_s"] for r in timed], 0.4, label="first epoch (compilation included)")
    ax.bar(x + 0.2, [r["epoch_s"] for r in timed], 0.4, label="later epochs (median)")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("seconds")
    ax.legend(fontsize=8)
    return _save(fig, path)


def rate_heatmaps(doc: dict, rows: list[dict], path: Path) -> bool:
    """Mean test accuracy over (p1, p2), one panel per port."""
    arms = doc["settings"]["study"]["arms"]
    p1s = sorted({changes["dropouts"][0] for changes in arms.values()})
    p2s = sorted({changes["dropouts"][1] for changes in arms.values()})
    ports = _ports(rows)
    fig, axes = plt.subplots(1, len(ports), figsize=(4.2 * len(ports), 3.8), squeeze=False)
    for ax, name in zip(axes[0], ports, strict=True):
        grid = np.full((len(p1s), len(p2s)), np.nan)
        for row in rows:
            if row["port"] == name:
                a, b = arms[row["setting"]]["dropouts"]
                value = mean_of(row, "test_acc")
                grid[p1s.index(a), p2s.index(b)] = np.nan if value is None else value
        image = ax.imshow(grid, origin="lower", cmap="viridis")
        for (i, j), value in np.ndenumerate(grid):
            ax.text(
                j,
                i,
                "-" if np.isnan(value) else f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=7,
                color="w",
            )
        ax.set_xticks(range(len(p2s)), [f"{p:g}" for p in p2s])
        ax.set_yticks(range(len(p1s)), [f"{p:g}" for p in p1s])
        ax.set_xlabel("p2 (after hidden layer 2)")
        ax.set_ylabel("p1 (after hidden layer 1)")
        ax.set_title(name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return _save(fig, path)


Curve = tuple[str, str, str, str]  # setting, history key (or "a-b", a difference), line style, label


def history_lines(doc: dict, path: Path, panels: list[tuple[str, list[Curve]]], ylabel: str) -> bool:
    """Panels of per-epoch curves, each the mean over a (setting, port)'s finished runs; a colour
    per port, a line style per curve of the panel (its label says which)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in doc["runs"]:
        if run.get("status", "ok") == "ok" and not run["diverged"]:
            groups.setdefault((run["setting"], f"{run['backend']}/{run['variant']}"), []).append(run)
    ports = list(dict.fromkeys(name for _, name in groups))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels, strict=True):
        for setting, key, style, label in curves:
            for i, name in enumerate(ports):
                runs = groups.get((setting, name), [])
                if runs:
                    values = np.mean([[_value(h, key) for h in run["history"]] for run in runs], axis=0)
                    ax.plot(
                        np.arange(1, len(values) + 1), values, style, color=f"C{i}", label=f"{name}, {label}"
                    )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=6)
    return _save(fig, path)


def _value(row: dict, key: str) -> float:
    if "-" in key:
        a, b = key.split("-")
        return row[a] - row[b]
    return row[key]


def _arms(doc: dict) -> list[str]:
    return list(doc["settings"]["study"]["arms"])


def gap_lines(doc: dict, rows: list[dict], path: Path) -> bool:
    styles = ("-", "--", ":", "-.")
    curves = [
        (arm, "train_eval_acc-test_acc", style, arm) for arm, style in zip(_arms(doc), styles, strict=False)
    ]
    return history_lines(
        doc, path, [("train accuracy (dropout off) - test accuracy", curves)], "accuracy gap"
    )


def variance_lines(doc: dict, rows: list[dict], path: Path) -> bool:
    panels = [
        (f"hidden layer {layer}, {arm}",
         [(arm, f"act_train_var_{layer}", "-", "training mode"),
          (arm, f"act_eval_var_{layer}", "--", "evaluation mode")])
        for arm in _arms(doc)
        for layer in (1, 2)
    ]  # fmt: skip
    return history_lines(doc, path, panels, "variance of the layer's output")


def reliability_diagrams(doc: dict, rows: list[dict], path: Path) -> bool:
    """Accuracy against confidence per bin, one panel per port, one line per T (first seed)."""
    ports = [row for row in rows if row.get("last", {}).get("mc")]
    if not ports:
        return False
    fig, axes = plt.subplots(1, len(ports), figsize=(4.2 * len(ports), 4), squeeze=False)
    for ax, row in zip(axes[0], ports, strict=True):
        ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
        for samples, figures in row["last"]["mc"][0].items():
            bins = figures["reliability"]
            points = [
                (c, a) for c, a in zip(bins["confidence"], bins["accuracy"], strict=True) if c is not None
            ]
            label = "dropout off" if samples == "0" else f"T = {samples}"
            ax.plot(*zip(*points, strict=True), marker="o", ms=3, label=f"{label} (ECE {figures['ece']:.3f})")
        ax.set_title(row["port"])
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=7)
    return _save(fig, path)


DEFAULT = [("accuracy.png", accuracy_bars)]
FIGURES = {
    "rates": [("heatmap.png", rate_heatmaps)],
    "no-dropout": [("gap.png", gap_lines), ("accuracy.png", accuracy_bars)],
    "activations": [("variance.png", variance_lines)],
    "mc-dropout": [("reliability.png", reliability_diagrams)],
    "precision": [("accuracy.png", accuracy_bars), ("time.png", time_bars)],
    "compiled": [("time.png", time_bars), ("accuracy.png", accuracy_bars)],
}
