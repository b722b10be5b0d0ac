"""A study's rows and its answer in numbers: (setting, port) rows with the mean over the seeds that
finished, the finding sentences, and whether the ports agree (the blocked permutation test of
benchmarks.stats, with each (setting, seed) as a block: every port of a block starts from the same
parameters and sees the same batches)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.results import finished, is_failed
from benchmarks.stats import difference_test

CHANCE_FACTOR = 1.2  # at most this many times chance accuracy (1 / classes): collapsed


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
            "collapsed": sum(map(collapsed, done)),
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


def collapsed(run: dict) -> bool:
    """A finished run whose test accuracy ended at chance: its loss stayed finite, but the net died
    (every ReLU off, say), so nothing marks it diverged."""
    return run["history"][-1]["test_acc"] <= CHANCE_FACTOR / run["config"]["num_outputs"]


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
    """Sentences naming the settings whose runs diverged or failed (left out of the means), and
    those whose runs collapsed to chance (kept: a finished run's accuracy is a result)."""
    counts: dict[str, np.ndarray] = {}
    for row in rows:
        tally = counts.setdefault(row["setting"], np.zeros(4, int))
        tally += (row["diverged"], row["failed"], row["collapsed"], len(row["runs"]))
    lost = [f"{s}: {d} diverged, {f} failed of {n}" for s, (d, f, _, n) in counts.items() if d or f]
    dead = [f"{s}: {c} of {n}" for s, (_, _, c, n) in counts.items() if c]
    return (f" Runs left out of the means: {'; '.join(lost)}." if lost else "") + (
        f" Runs that collapsed to chance accuracy (kept in the means): {'; '.join(dead)}." if dead else ""
    )


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
