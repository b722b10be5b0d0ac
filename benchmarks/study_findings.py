"""A study's rows and its answer in numbers: (setting, port) rows with the mean over the seeds that
finished, the finding sentences, and whether the ports agree (the blocked permutation test of
benchmarks.stats, with each (setting, seed) as a block: every port of a block starts from the same
parameters and sees the same batches)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.results import finished, is_failed
from benchmarks.stats import difference_test


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
    return text + lost_runs(rows) + (" " + special(rows) if special else "")


def lost_runs(rows: list[dict]) -> str:
    """A sentence naming the settings whose runs diverged or failed (left out of the means)."""
    lost: dict[str, list[int]] = {}
    for row in rows:
        counts = lost.setdefault(row["setting"], [0, 0, 0])
        counts[0] += row["diverged"]
        counts[1] += row["failed"]
        counts[2] += len(row["runs"])
    parts = [
        f"{setting}: {diverged} diverged, {failed} failed of {total}"
        for setting, (diverged, failed, total) in lost.items()
        if diverged or failed
    ]
    return f" Runs left out of the means: {'; '.join(parts)}." if parts else ""


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
