"""study.md and the figures of a study's folder, from its results.json alone (``report`` re-renders):
the finding (benchmarks.study_findings), the table of (setting, port) rows, the figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks import study_figures
from benchmarks.report import render_compare
from benchmarks.stats import mean_interval
from benchmarks.study_findings import agreement_sentence, finding, mc_rows, mean_of, study_rows
from benchmarks.tables import Column, markdown_table
from common.calibration import ECE_BINS


def render_results(doc: dict, out_dir: Path) -> None:
    """A study's folder as a study, any other results folder as compare's."""
    (render_study if doc["settings"].get("study") else render_compare)(doc, out_dir)


def _accuracy(row: dict) -> str:
    values = row.get("last", {}).get("test_acc", [])
    interval = mean_interval(values)
    if interval is not None:
        return f"{interval[0]:.4f} [{interval[1]:.4f}, {interval[2]:.4f}]"
    lost = (
        f" ({row['failed']} failed, {row['diverged']} diverged)" if row["failed"] or row["diverged"] else ""
    )
    return (f"{values[0]:.4f}" if values else "-") + lost


def _figure(key: str, digits: int = 4) -> Callable[[dict], str]:
    def cell(row: dict) -> str:
        value = mean_of(row, key)
        return "-" if value is None else f"{value:.{digits}f}"

    return cell


COLUMNS: list[Column] = [
    ("setting", lambda r: r["setting"]),
    ("port", lambda r: r["port"]),
    (
        "seeds",
        lambda r: str(len(r["done"])) + (f" of {len(r['runs'])}" if len(r["done"]) < len(r["runs"]) else ""),
    ),
    ("test acc (mean [95% CI])", _accuracy),
    ("test loss", _figure("test_loss")),
    ("test ECE", _figure("test_ece")),
    ("first epoch s", lambda r: f"{r['first_epoch_s']:.2f}" if "first_epoch_s" in r else "-"),
    ("epoch s", lambda r: f"{r['epoch_s']:.2f}" if "epoch_s" in r else "-"),
]
EXTRA_COLUMNS: dict[str, list[Column]] = {
    "no-dropout": [
        ("train acc, dropout off", _figure("train_eval_acc")),
        ("gap (train - test)", lambda r: _gap(r)),
    ],
    "activations": [
        (f"var h{layer} {mode}", _figure(f"act_{mode}_var_{layer}", 3))
        for layer in (1, 2)
        for mode in ("eval", "train")
    ],
}


def _gap(row: dict) -> str:
    train, test = mean_of(row, "train_eval_acc"), mean_of(row, "test_acc")
    return "-" if train is None or test is None else f"{train - test:+.4f}"


MC_COLUMNS: list[Column] = [
    ("port", lambda r: r["port"]),
    ("T", lambda r: "off" if r["samples"] == 0 else str(r["samples"])),
    ("accuracy", lambda r: f"{r['accuracy']:.4f}"),
    ("NLL", lambda r: f"{r['loss']:.4f}"),
    (f"ECE ({ECE_BINS} bins)", lambda r: f"{r['ece']:.4f}"),
]


def study_markdown(doc: dict, figures: list[str], figure_dir: str = "") -> str:
    """study.md; figure_dir is prefixed to the figures' file names (for a page elsewhere)."""
    study, settings, env = doc["settings"]["study"], doc["settings"], doc["environment"]
    rows = study_rows(doc)
    name = study["name"]
    lines = [
        f"# Study `{name}`{' (quick)' if study['quick'] else ''} ({doc['status']})",
        "",
        f"Question: {study['question']}.",
        "",
        f"**Finding.** {finding(name, rows)} {agreement_sentence(doc)}",
        "",
        f"{env['cpu']}, {env['cores']} cores; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + ".",
        f"Device {settings['device']}; data {settings['data']} "
        f"({settings['train_examples']:,} training examples); "
        f"seeds {settings['seeds']}; {settings['config']['epochs']} epochs; settings: "
        + "; ".join(f"{label}: {describe_changes(changes)}" for label, changes in study["arms"].items())
        + ".",
        "",
        markdown_table(rows, COLUMNS + EXTRA_COLUMNS.get(name, [])),
        "",
    ]
    if name == "mc-dropout":
        lines += [markdown_table(mc_rows(rows), MC_COLUMNS), ""]
    lines += [f"![{figure}]({figure_dir}{figure})" for figure in figures]
    return "\n".join(lines) + "\n"


def describe_changes(changes: dict) -> str:
    """A setting's Config changes in words: 'dropouts 0.2, 0.5 and weight_decay 0.0005'."""
    if not changes:
        return "the chapter's"
    words = [
        f"{key} {', '.join(map(str, value)) if isinstance(value, list | tuple) else value}"
        for key, value in changes.items()
    ]
    return " and ".join(words)


def render_study(doc: dict, out_dir: Path) -> None:
    """study.md and the study's figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = study_figures.draw(doc, study_rows(doc), out_dir)
    (out_dir / "study.md").write_text(study_markdown(doc, figures))
