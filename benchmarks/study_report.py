"""study.md and the figures of a study's folder, from its results.json alone (``report`` re-renders).

Rows are (setting, port) with the mean over the seeds that finished; the ports are compared by
the blocked permutation test of benchmarks.stats, with each (setting, seed) as a block, since
every port of a block starts from the same parameters and sees the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import study_figures
from benchmarks.report import render_compare
from benchmarks.results import finished, is_failed
from benchmarks.stats import difference_test, mean_interval
from benchmarks.tables import Column, markdown_table
from common.calibration import ECE_BINS


def render_results(doc: dict, out_dir: Path) -> None:
    """A study's folder as a study, any other results folder as compare's."""
    (render_study if doc["settings"].get("study") else render_compare)(doc, out_dir)


def port(run: dict) -> str:
    return f"{run['backend']}/{run['variant']}"


def study_rows(doc: dict) -> list[dict]:
    """One row per (setting, port): the last history row's figures per seed, and the epoch times."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in doc["runs"]:
        groups.setdefault((run["setting"], port(run)), []).append(run)
    rows = []
    for (setting, name), runs in groups.items():
        done = [run for run in runs if finished(run)]
        row = {
            "setting": setting,
            "port": name,
            "runs": runs,
            "done": done,
            "failed": sum(map(is_failed, runs)),
            "diverged": sum(run["diverged"] for run in runs),
        }
        if done:
            row["last"] = {
                key: [run["history"][-1].get(key) for run in done] for key in done[0]["history"][-1]
            }
            row["first_epoch_s"] = float(np.mean([run["history"][0]["seconds"] for run in done]))
            later = [np.median([h["seconds"] for h in run["history"][1:]] or [np.nan]) for run in done]
            row["epoch_s"] = float(np.mean(later))
        rows.append(row)
    return rows


def mean_of(row: dict, key: str) -> float | None:
    values = [v for v in row.get("last", {}).get(key, []) if v is not None]
    return float(np.mean(values)) if values else None


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


def mc_rows(rows: list[dict]) -> list[dict]:
    """(port, T) rows of the MC-dropout probe: means over seeds of accuracy, NLL and ECE."""
    table = []
    for row in rows:
        probes = [mc for mc in row.get("last", {}).get("mc", []) if mc]
        for samples in probes[0] if probes else []:
            figures = {
                key: float(np.mean([mc[samples][key] for mc in probes]))
                for key in ("accuracy", "loss", "ece")
            }
            table.append({"port": row["port"], "samples": int(samples), **figures})
    return table


MC_COLUMNS: list[Column] = [
    ("port", lambda r: r["port"]),
    ("T", lambda r: "off" if r["samples"] == 0 else str(r["samples"])),
    ("accuracy", lambda r: f"{r['accuracy']:.4f}"),
    ("NLL", lambda r: f"{r['loss']:.4f}"),
    (f"ECE ({ECE_BINS} bins)", lambda r: f"{r['ece']:.4f}"),
]


def agreement(doc: dict) -> tuple[float | None, int, list[str]]:
    """Blocked permutation p-value that the ports' test accuracies differ, with (setting, seed) as
    blocks; the number of blocks every port finished; the ports."""
    by_port: dict[str, dict] = {}
    for run in doc["runs"]:
        if finished(run):
            by_port.setdefault(port(run), {})[(run["setting"], run["seed"])] = run["test_accuracy"]
    blocks = set.intersection(*(set(v) for v in by_port.values())) if by_port else set()
    return difference_test(by_port), len(blocks), list(by_port)


def agreement_sentence(doc: dict) -> str:
    p_value, blocks, ports = agreement(doc)
    if p_value is None:
        return f"The ports ({', '.join(ports)}) could not be compared: that needs 2 ports and 2 blocks."
    verdict = "they differ" if p_value < 0.05 else "no evidence that they differ"
    return (
        f"Across {len(ports)} ports and {blocks} blocks (setting x seed), the blocked permutation test "
        f"of final test accuracy gives p = {p_value:.3f} ({verdict} at 0.05)."
    )


def setting_means(rows: list[dict], key: str = "test_acc") -> dict[str, float]:
    """Each setting's mean over ports of the per-port means."""
    by_setting: dict[str, list[float]] = {}
    for row in rows:
        value = mean_of(row, key)
        if value is not None:
            by_setting.setdefault(row["setting"], []).append(value)
    return {setting: float(np.mean(values)) for setting, values in by_setting.items()}


def finding(name: str, rows: list[dict]) -> str:
    """The study's answer in numbers (means over ports, then seeds)."""
    means = setting_means(rows)
    if not means:
        return "No run finished, so there is no finding."
    listed = ", ".join(f"{setting} {value:.4f}" for setting, value in means.items())
    text = f"Test accuracy, mean over ports: {listed}"
    if len(means) > 1:
        text += f"; best {max(means, key=means.get)}, worst {min(means, key=means.get)}"
    text += "."
    special = FINDINGS.get(name)
    return text + (" " + special(rows) if special else "")


def _gap_finding(rows: list[dict]) -> str:
    train, test = setting_means(rows, "train_eval_acc"), setting_means(rows, "test_acc")
    return (
        "Train minus test accuracy (dropout off for both) after the last epoch: "
        + ", ".join(
            f"{setting} {train[setting] - test[setting]:+.4f}" for setting in test if setting in train
        )
        + "."
    )


def _variance_finding(rows: list[dict]) -> str:
    parts = []
    for layer in (1, 2):
        train, evaluation = (
            setting_means(rows, f"act_train_var_{layer}"),
            setting_means(rows, f"act_eval_var_{layer}"),
        )
        parts += [
            f"h{layer} {s} x{train[s] / evaluation[s]:.2f}"
            for s in evaluation
            if s in train and evaluation[s]
        ]
    return "Variance in training mode over evaluation mode, last epoch: " + ", ".join(parts) + "."


def _mc_finding(rows: list[dict]) -> str:
    table = mc_rows(rows)
    parts = []
    for samples in sorted({r["samples"] for r in table}):
        chosen = [r for r in table if r["samples"] == samples]
        figures = {key: np.mean([r[key] for r in chosen]) for key in ("accuracy", "loss", "ece")}
        label = "dropout off" if samples == 0 else f"T={samples}"
        parts.append(
            f"{label}: accuracy {figures['accuracy']:.4f}, NLL {figures['loss']:.4f}, "
            f"ECE {figures['ece']:.4f}"
        )
    return "Mean over ports, " + "; ".join(parts) + "."


def _time_finding(rows: list[dict]) -> str:
    return (
        "Epoch s (first epoch s, compilation included): "
        + ", ".join(
            f"{r['port']} {r['setting']} {r['epoch_s']:.2f} ({r['first_epoch_s']:.2f})"
            for r in rows
            if "epoch_s" in r
        )
        + "."
    )


FINDINGS: dict[str, Callable[[list[dict]], str]] = {
    "no-dropout": _gap_finding,
    "activations": _variance_finding,
    "mc-dropout": _mc_finding,
    "precision": _time_finding,
    "compiled": _time_finding,
}


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
