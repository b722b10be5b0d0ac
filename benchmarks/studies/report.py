"""study.md and the figures of a study's folder, from its results.json alone (``report`` re-renders):
the finding (dropout_ports.benchmarks.studies.findings), the table of (setting, port) rows, the figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dropout_ports.benchmarks.report.markdown import render_compare
from dropout_ports.benchmarks.report.statistics import (
    identical_lines,
    mean_and_interval,
    method_line,
    tests_table,
)
from dropout_ports.benchmarks.results.document import ran_in_parallel, sessions
from dropout_ports.benchmarks.results.stats import ALPHA
from dropout_ports.benchmarks.results.tables import Column, markdown_table
from dropout_ports.benchmarks.results.verdict import compare_entries
from dropout_ports.benchmarks.studies import figures as study_figures
from dropout_ports.benchmarks.studies.analysis import study_statistics
from dropout_ports.benchmarks.studies.catalogue import STUDIES
from dropout_ports.benchmarks.studies.findings import finding, mc_rows, mean_of, study_rows
from dropout_ports.common.calibration import ECE_BINS


def render_results(doc: dict, out_dir: Path) -> None:
    """A study's folder as a study, any other results folder as compare's."""
    (render_study if doc["settings"].get("study") else render_compare)(doc, out_dir)


def analyse_results(doc: dict) -> dict:
    """What a folder's results.json adds once its runs are in: its statistics (and compare's verdict)."""
    return {"statistics": study_statistics(doc)} if doc["settings"].get("study") else compare_entries(doc)


def _accuracy(row: dict) -> str:
    values = row.get("last", {}).get("test_acc", [])
    lost = (
        f" ({row['failed']} failed, {row['diverged']} diverged)" if row["failed"] or row["diverged"] else ""
    )
    return (mean_and_interval(values) if values else "-") + lost


def _figure(key: str, digits: int = 4) -> Callable[[dict], str]:
    def cell(row: dict) -> str:
        value = mean_of(row, key)
        return "-" if value is None else f"{value:.{digits}f}"

    return cell


COLUMNS: list[Column] = [
    ("setting", lambda r: r["setting"]),
    ("port", lambda r: r["port"] + (f" (= {r['same_as']})" if r.get("same_as") else "")),
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
GAP_COLUMNS: list[Column] = [
    ("train acc, dropout off", _figure("train_eval_acc")),
    ("gap (train - test)", lambda r: _gap(r)),
]
EXTRA_COLUMNS: dict[str, list[Column]] = {
    "no-dropout": GAP_COLUMNS,
    "train-size": GAP_COLUMNS,
    "data-parallel": [("mask agreement", lambda r: _agreement(r)), *GAP_COLUMNS],
    "activations": [
        (f"var h{layer} {mode}", _figure(f"act_{mode}_var_{layer}", 3))
        for layer in (1, 2)
        for mode in ("eval", "train")
    ],
}


def _agreement(row: dict) -> str:
    values = [run["mask_agreement"] for run in row["done"] if "mask_agreement" in run]
    return f"{sum(values) / len(values):.4f}" if values else "-"


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


def timing_sentence(doc: dict) -> str:
    """How the study's epoch times were taken, and so what they can be compared with."""
    if ran_in_parallel(doc):
        return (
            "Timings: runs ran several at a time, so their epochs shared the cores; no time figure "
            "compares them."
        )
    resumed = sessions(doc)
    return (
        "Timings: one run at a time, each in a fresh process, in rounds (each seed runs every setting "
        "and port before the next), so a slow spell of this shared machine falls on every port alike"
        + (
            f"; the runs come from {resumed} commands (a resumed folder), whose spells differ."
            if resumed > 1
            else "."
        )
    )


def study_markdown(
    doc: dict, figures: list[str], figure_dir: str = "", statistics: dict | None = None
) -> str:
    """study.md; figure_dir is prefixed to the figures' file names (for a page elsewhere)."""
    study, settings, env = doc["settings"]["study"], doc["settings"], doc["environment"]
    statistics = statistics or study_statistics(doc)
    epochs = sorted({run["config"]["epochs"] for run in doc["runs"]}) or [settings["config"]["epochs"]]
    rows = study_rows(doc, statistics["identical_by_setting"])
    name = study["name"]
    entry = STUDIES.get(name)
    timed = bool(entry and entry.timed) and not ran_in_parallel(doc)
    same = []
    for setting, groups in statistics["identical_by_setting"].items():
        configs = {
            row["port"]: [run["config"] for run in row["runs"]] for row in rows if row["setting"] == setting
        }
        same += identical_lines(groups, configs, f" at {setting}")
    lines = [
        f"# Study `{name}`{' (quick)' if study['quick'] else ''} ({doc['status']})",
        "",
        f"Question: {study['question'].rstrip('?')}{'?' if study['question'].endswith('?') else '.'}",
        "",
        f"**Finding.** {finding(name, rows, statistics, entry.note if entry else '', timed)}",
        "",
        f"{env['cpu']}, {env['cores']} cores; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + ".",
        f"Device {settings['device']}; data {settings['data']} "
        f"({settings['train_examples']:,} training examples); "
        f"seeds {settings['seeds']}; {' or '.join(map(str, epochs))} epochs; settings: "
        + "; ".join(f"{label}: {describe_changes(changes)}" for label, changes in study["arms"].items())
        + ".",
        timing_sentence(doc),
        "",
        markdown_table(rows, COLUMNS + EXTRA_COLUMNS.get(name, [])),
        "",
    ]
    if name == "mc-dropout":
        lines += [markdown_table(mc_rows(rows), MC_COLUMNS), ""]
    ports = [test for test in statistics["tests"] if not test.get("exercise")]
    exercise = [test for test in statistics["tests"] if test.get("exercise")]
    lines += [
        "Tests in two families, each adjusted by Holm on its own: do the ports agree, and what does the "
        "exercise show. The seed is the unit: port tests relabel the ports of a seed in all its settings "
        "alike (every relabelling when they are few: an exact p), and the exercise's contrasts are tested "
        'over the seeds\' means of the ports. The words follow the adjusted p; "detects": the difference '
        "each design finds with 80% power at its family's strictest Holm level; a test that cannot reach "
        f"{ALPHA:g} does not count in its family. " + method_line(),
        "",
        *(["Do the ports agree:", "", *tests_table(ports), ""] if ports else []),
        *(["What the exercise shows:", "", *tests_table(exercise), ""] if exercise else []),
        *[f"{line}\n" for line in same],
    ]
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
    statistics = study_statistics(doc)
    figures = study_figures.draw(doc, study_rows(doc, statistics["identical_by_setting"]), out_dir)
    (out_dir / "study.md").write_text(study_markdown(doc, figures, statistics=statistics))
