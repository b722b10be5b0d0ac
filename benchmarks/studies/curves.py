"""A study's per-epoch figures: panels of curves, each a (setting, port)'s mean over its runs, and
the gap and variance figures drawn with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from dropout_ports.benchmarks.report.figures import plt, save  # Agg, set once
from dropout_ports.benchmarks.results.document import collapsed, finished

Curve = tuple[str, str, str, str]  # setting, history key (or "a-b", a difference), line style, label


def history_lines(
    doc: dict, path: Path, panels: list[tuple[str, list[Curve]]], ylabel: str, columns: int = 0
) -> bool:
    """Panels of per-epoch curves, each the mean over a (setting, port)'s finished runs that did not
    collapse; a colour per port, a line style per curve of the panel (its label says which). A
    collapsed or diverged run is drawn alone, thin and dotted, a diverged one up to its last epoch.
    With columns, the panels fill rows of that many, each row on one y scale."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in doc["runs"]:
        if run.get("status", "ok") == "ok" and run["history"]:
            groups.setdefault((run["setting"], f"{run['backend']}/{run['variant']}"), []).append(run)
    ports = list(dict.fromkeys(name for _, name in groups))
    columns = columns or len(panels)
    rows = -(-len(panels) // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(5.5 * columns, 4.0 * rows), squeeze=False, sharey="row")
    axes = grid.ravel()
    for ax, (title, curves) in zip(axes, panels, strict=True):
        for setting, key, style, label in curves:
            for i, name in enumerate(ports):
                runs = groups.get((setting, name), [])
                kept = [run for run in runs if finished(run) and not collapsed(run)]
                if kept:
                    values = np.mean([[_value(h, key) for h in run["history"]] for run in kept], axis=0)
                    ax.plot(
                        np.arange(1, len(values) + 1), values, style, color=f"C{i}", label=f"{name}, {label}"
                    )
                for run in runs:
                    if run in kept:
                        continue
                    what = "diverged" if run["diverged"] else "collapsed"
                    values = [_value(h, key) for h in run["history"]]
                    ax.plot(np.arange(1, len(values) + 1), values, ":", color=f"C{i}", lw=0.8,
                            marker="x" if run["diverged"] else None, markevery=[len(values) - 1],
                            label=f"{name}, {label}, seed {run['seed']} ({what})")  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in grid[:, 0]:
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    legend = {
        label: handle for ax in axes for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)
    }
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(3, max(1, len(labels))))  # fmt: skip
    return save(fig, path)


def _value(row: dict, key: str) -> float:
    if "-" in key:
        a, b = key.split("-")
        return np.nan if row.get(a) is None or row.get(b) is None else row[a] - row[b]
    return np.nan if row.get(key) is None else row[key]


def _arms(doc: dict) -> list[str]:
    return list(doc["settings"]["study"]["arms"])


def gap_lines(doc: dict, rows: list[dict], path: Path) -> bool:
    """Train accuracy (dropout off) minus test accuracy per epoch; a panel per pair of settings (with
    dropout, solid, and without, dashed, in the catalogue's order), each on its own epoch axis."""
    arms = _arms(doc)
    pairs = [arms[i : i + 2] for i in range(0, len(arms), 2)]
    panels = [
        (
            " against ".join(pair),
            [
                (arm, "train_eval_acc-test_acc", style, arm)
                for arm, style in zip(pair, ("-", "--"), strict=False)
            ],
        )
        for pair in pairs
    ]
    return history_lines(doc, path, panels, "train acc (dropout off) - test acc")


def variance_lines(doc: dict, rows: list[dict], path: Path) -> bool:
    panels = [
        (f"hidden layer {layer}, {arm}",
         [(arm, f"act_train_var_{layer}", "-", "training mode"),
          (arm, f"act_eval_var_{layer}", "--", "evaluation mode")])
        for layer in (1, 2)
        for arm in _arms(doc)
    ]  # fmt: skip
    return history_lines(doc, path, panels, "variance of the layer's output", columns=len(_arms(doc)))
