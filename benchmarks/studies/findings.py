"""A study's rows and its answer in numbers: (setting, port) rows with the mean over the seeds that
finished, and the finding: the means, the runs lost or collapsed, each exercise test with its raw
and Holm-adjusted p (studies.analysis), the ports' agreement, and what the study's own probe saw.
A port that computed the same runs as another in a setting counts once in that setting's means."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dropout_ports.benchmarks.report.statistics import (
    amount,
    blocks_text,
    detects,
    interval_text,
    p_text,
    result_words,
)
from dropout_ports.benchmarks.results.analysis import port_name
from dropout_ports.benchmarks.results.document import collapsed, finished, is_failed
from dropout_ports.benchmarks.results.stats import ALPHA, MIN_INTERVAL_SEEDS
from dropout_ports.benchmarks.studies.data_parallel import data_parallel_finding


def port(run: dict) -> str:
    return port_name(run["backend"], run["variant"])


def study_rows(doc: dict, identical: dict[str, list[list[str]]] | None = None) -> list[dict]:
    """One row per (setting, port): the last history row's figures per seed, and the epoch times;
    ``same_as`` names the port whose runs it repeats bit for bit in that setting."""
    same_as = {
        (s, p): group[0] for s, groups in (identical or {}).items() for group in groups for p in group[1:]
    }
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in doc["runs"]:
        groups.setdefault((run["setting"], port(run)), []).append(run)
    rows = []
    for (setting, name), runs in groups.items():
        done = [run for run in runs if finished(run)]
        row = {
            "setting": setting,
            "port": name,
            "same_as": same_as.get((setting, name)),
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


def setting_means(rows: list[dict], key: str = "test_acc") -> dict[str, float]:
    """Each setting's mean over its distinct ports of the per-port means."""
    by_setting: dict[str, list[float]] = {}
    for row in rows:
        value = mean_of(row, key)
        if value is not None and row.get("same_as") is None:
            by_setting.setdefault(row["setting"], []).append(value)
    return {setting: float(np.mean(values)) for setting, values in by_setting.items()}


def test_sentence(test: dict) -> str:
    """One test in words: its estimate over seeds, raw and adjusted p, the conclusion, and what it
    detects."""
    unit = test.get("unit", "pp")
    if "mean_difference" in test:
        interval = test.get("interval")
        notes = (
            [f"each the mean of its {' or '.join(map(str, test['ports']))} ports"]
            if test.get("ports")
            else []
        )
        notes += [] if interval else [f"an interval needs {MIN_INTERVAL_SEEDS}"]
        estimate = amount(test["mean_difference"], unit, True) + (
            f" {interval_text(interval, unit)}" if interval else ""
        )
        estimate += f" over {test['n']} seeds" + (f" ({'; '.join(notes)})" if notes else "")
    elif test["test"] == "sign":
        estimate = f"ahead in {test['ahead']} of {test['n']} seeds (a seed ahead when most of its ports are)"
    else:
        estimate = blocks_text(test)
    power = "" if test["detectable"] is None else " with 80% power"
    return (
        f"{test['what']}: {estimate}, p = {p_text(test['p_value'])} (Holm {p_text(test['p_adjusted'])}): "
        f"{result_words(test)}; the design detects {detects(test)}{power}."
    )


def ports_sentence(tests: list[dict]) -> str:
    """The ports' tests in words: pooled, per setting (the smallest adjusted p), interaction."""
    ports = [t for t in tests if not t.get("exercise")]
    if not ports:
        return "The ports could not be compared: that needs 2 ports and 2 blocks."
    pooled, *rest = ports
    per_setting = [t for t in rest if "setting" in t]
    parts = [
        f"Ports, pooled over {blocks_text(pooled)}: p = {p_text(pooled['p_value'])} "
        f"(Holm {p_text(pooled['p_adjusted'])}): {result_words(pooled)}"
    ]
    if per_setting:
        differ = [t["setting"] for t in per_setting if t["p_adjusted"] < ALPHA]
        best = min(per_setting, key=lambda t: t["p_value"])
        parts.append(
            f"per setting ({len(per_setting)} tests): "
            + (f"they differ at {', '.join(differ)}" if differ else "no setting where they differ")
            + f" (smallest p {p_text(best['p_value'])} at {best['setting']}, "
            f"Holm {p_text(best['p_adjusted'])})"
        )
    for t in rest:
        if t["test"] == "interaction permutation":
            parts.append(
                f"port x setting interaction: p = {p_text(t['p_value'])} (Holm {p_text(t['p_adjusted'])}): "
                f"{result_words(t)}"
            )
    return "; ".join(parts) + "."


def finding(name: str, rows: list[dict], statistics: dict, note: str = "", timed: bool = True) -> str:
    """The study's answer in numbers; timed=False leaves out epoch times (runs in parallel)."""
    means = setting_means(rows)
    if not means:
        return "No run finished, so there is no finding."
    listed = "; ".join(f"{setting}: {value:.4f}" for setting, value in means.items())
    sentences = [f"Test accuracy, mean over ports: {listed}.{lost_runs(rows)}"]
    sentences += [test_sentence(t) for t in statistics["tests"] if t.get("exercise")]
    sentences.append(ports_sentence(statistics["tests"]))
    special = FINDINGS.get(name)
    if special and (timed or special is not _time_finding):
        sentences.append(special(rows))
    return " ".join([*sentences, note] if note else sentences)


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
        "Train minus test accuracy (dropout off for both) after the last epoch, mean over ports: "
        + "; ".join(
            f"{setting}: {train[setting] - test[setting]:+.4f}" for setting in test if setting in train
        )
        + "."
    )


def _variance_finding(rows: list[dict]) -> str:
    """The variance in training mode over evaluation mode; for h1, whose input carries no noise,
    inverted dropout predicts it from the layer's mean m, variance v and rate p:
    ((v + m^2) / (1 - p) - m^2) / v."""
    parts = []
    for layer in (1, 2):
        train, evaluation = (setting_means(rows, f"act_{mode}_var_{layer}") for mode in ("train", "eval"))
        parts += [
            f"h{layer} {s} x{train[s] / evaluation[s]:.2f}"
            for s in evaluation
            if s in train and evaluation[s]
        ]
    predicted = []
    for row in rows:
        rate = row["runs"][0]["config"]["dropouts"][0]
        mean, var = mean_of(row, "act_eval_mean_1"), mean_of(row, "act_eval_var_1")
        if rate and mean is not None and var and row.get("same_as") is None:
            predicted.append(((var + mean**2) / (1 - rate) - mean**2) / var)
    theory = (
        f"; inverted dropout predicts h1's x{np.mean(predicted):.2f} from its mean and p" if predicted else ""
    )
    return "Variance in training mode over evaluation mode, last epoch: " + ", ".join(parts) + theory + "."


def _mc_finding(rows: list[dict]) -> str:
    table = mc_rows([row for row in rows if row.get("same_as") is None])
    parts = []
    for samples in sorted({r["samples"] for r in table}):
        chosen = [r for r in table if r["samples"] == samples]
        figures = {key: np.mean([r[key] for r in chosen]) for key in ("accuracy", "loss", "ece")}
        label = "dropout off" if samples == 0 else f"T={samples}"
        parts.append(
            f"{label}: accuracy {figures['accuracy']:.4f}, NLL {figures['loss']:.4f}, "
            f"ECE {figures['ece']:.4f}"
        )
    return "Mean over ports, " + "; ".join(parts) + ". T noisy passes cost T forward passes of the test set."


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
    "train-size": _gap_finding,
    "activations": _variance_finding,
    "mc-dropout": _mc_finding,
    "precision": _time_finding,
    "compiled": _time_finding,
    "data-parallel": lambda rows: f"{data_parallel_finding(rows)} {_gap_finding(rows)}",
}
