"""The results document of ``compare`` and ``train``: its schema, its checks, and the rows
derived from its runs (rendering and statistics read only these)."""

from __future__ import annotations

import json
import math

import numpy as np

from dropout_ports.backends import VARIANT_NAMES
from dropout_ports.benchmarks.results.throughput import (
    add_shares,
    load_summary,
    throughput,
    with_fastest_copy,
)
from dropout_ports.common.config import PORT_LOOP, Config

SCHEMA_VERSION = 3  # 2: yardsticks per framework, diverged runs, strict JSON; 3: executors, failed runs
REQUIRED = {
    "results.json": ("status", "environment", "settings", "yardsticks", "runs"),
    "bench.json": ("environment", "quick", "device", "data", "dropout", "training"),
}
RUN_KEYS = ("backend", "variant", "seed", "config", "history", "diverged")
SHARED_SETTINGS = ("device", "data", "train_examples", "study")  # with the config less its seed


def check_document(doc: dict, name: str, source: object) -> dict:
    """doc if this version can read it; older documents are upgraded, others refused clearly."""
    version = doc.get("schema_version")
    if not isinstance(version, int):
        raise ValueError(f"{source} has no schema_version: not a dropout-ports {name}")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"{source} was written by a newer dropout-ports (schema {version}; this one reads "
            f"up to {SCHEMA_VERSION}): upgrade dropout-ports to read it"
        )
    if version < 2 and name == "bench.json":
        raise ValueError(
            f"{source} was written by an older dropout-ports (schema {version}): run bench again"
        )
    if name == "bench.json" and not all("ratio_to_fastest_copy" in row for row in doc.get("dropout", [])):
        doc = {**doc, "dropout": with_fastest_copy(doc["dropout"])}  # kept from before it was
    if version == 1 and name == "results.json":
        doc = {**doc, "yardsticks": {"peak_gflops": doc.get("matmul_gflops"), "by_backend": {}}}
        doc["runs"] = [{"diverged": False, **run} for run in doc.get("runs", [])]
    missing = [key for key in REQUIRED[name] if key not in doc]
    if name == "results.json":
        missing += sorted(
            {f"runs[].{key}" for run in doc.get("runs", []) for key in RUN_KEYS if key not in run}
        )
    if missing:
        raise ValueError(f"{source} lacks {', '.join(missing)}: it is damaged or not a dropout-ports {name}")
    return doc


RunKey = tuple[str, str, int, str]  # backend, variant, seed, a study's setting ("" in compare)


def run_key(run: dict) -> RunKey:
    """What tells two runs of one folder apart (the folder's shared settings fix the rest)."""
    return run["backend"], run["variant"], run["seed"], run.get("setting", "")


def shared_settings(settings: dict) -> dict:
    """The settings every run of a folder must share: a resumed folder must match them. A Config
    field added since the folder was written counts as its default (the runs were made with it)."""
    config = {k: v for k, v in Config.from_dict(settings["config"]).to_dict().items() if k != "seed"}
    return json.loads(
        json.dumps({**{k: settings.get(k) for k in SHARED_SETTINGS}, "config": config})
    )  # as stored


def sort_runs(doc: dict) -> None:
    """Runs in plan order (a study's setting, backend as asked for, variant, seed), however they
    finished."""
    backends = doc["settings"]["backends"]
    arms = list(doc["settings"].get("study", {}).get("arms", {}))
    doc["runs"].sort(
        key=lambda run: (arms.index(run["setting"]) if run.get("setting") in arms else -1,
                         backends.index(run["backend"]) if run["backend"] in backends else len(backends),
                         VARIANT_NAMES.index(run["variant"]) if run["variant"] in VARIANT_NAMES else 99,
                         run["seed"])
    )  # fmt: skip


def is_failed(run: dict) -> bool:
    """A run that produced no result (schema 1 and 2 runs have no status: they all finished)."""
    return run.get("status", "ok") == "failed"


def failed_runs(doc: dict) -> list[dict]:
    return [run for run in doc["runs"] if is_failed(run)]


def finished(run: dict) -> bool:
    """A run that trained to its last epoch: neither failed nor diverged."""
    return not is_failed(run) and not run["diverged"]


CHANCE_FACTOR = 1.2  # at most this many times chance accuracy (1 / classes): collapsed


def collapsed(run: dict) -> bool:
    """A finished run whose test accuracy ended at chance: its loss stayed finite, but the net died
    (every ReLU off, say), so nothing marks it diverged."""
    return finished(run) and run["history"][-1]["test_acc"] <= CHANCE_FACTOR / run["config"]["num_outputs"]


def group_runs(doc: dict) -> dict[tuple[str, str], list[dict]]:
    """Runs by (backend, variant), in the order they ran."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in doc["runs"]:
        groups.setdefault((run["backend"], run["variant"]), []).append(run)
    return groups


def compare_rows(doc: dict) -> list[dict]:
    """One row per (backend, variant): final figures per seed of the runs that finished, the
    diverged and failed ones counted apart; throughput and memory averaged over the finished."""
    rows = []
    for (backend, variant), runs in group_runs(doc).items():
        done = [run for run in runs if finished(run)]
        loops = sorted({run["config"].get("loop", "") for run in runs} - {"", PORT_LOOP})
        row = {
            "backend": backend,
            "variant": variant,
            "loop": "/".join(loops) or None,  # None: runs from before loops were recorded
            "seeds": len(runs),
            "failed": [run["seed"] for run in runs if is_failed(run)],
            "diverged": [run["seed"] for run in runs if run["diverged"]],
            "by_seed": {run["seed"]: run["test_accuracy"] for run in done},
            "test_acc": [run["test_accuracy"] for run in done],
            "train_loss": [run["history"][-1]["train_loss"] for run in done],
        }
        if done:
            timed = timed_runs(done, doc)
            figures = [run_throughput(run, doc) for run in timed]
            row.update({key: float(np.mean([f[key] for f in figures])) for key in figures[0]})
            row.update(floors_beside(timed, (doc.get("environment") or {}).get("cores") or 1))
            rates = [f["samples_per_s"] for f in figures]
            row["samples_per_s_range"] = (min(rates), max(rates))
            row["peak_rss_mb"] = max(run.get("peak_rss_bytes", 0) for run in done) / 2**20
            device_peaks = [run["device_peak_bytes"] for run in done if run.get("device_peak_bytes")]
            row["device_peak_mb"] = max(device_peaks) / 2**20 if device_peaks else None
        rows.append(row)
    add_shares(rows, doc["yardsticks"])
    return rows


def floors_beside(runs: list[dict], cores: int) -> dict:
    """The floor measured after each steady epoch of the runs (the median) and the load over their
    epochs, where the runs measured them (RunSpec.floors); nothing for older runs."""
    epochs = [row for run in runs for row in run["history"] if "floor_gflops" in row]
    if not epochs:
        return {}
    steady = [row["floor_gflops"] for row in epochs if row["epoch"] > 1] or [epochs[0]["floor_gflops"]]
    return {"floor_gflops": float(np.median(steady)), "load": load_summary(epochs, cores)}


def run_throughput(run: dict, doc: dict) -> dict:
    seconds = [row["seconds"] for row in run["history"]]
    cfg = Config.from_dict(run["config"])
    examples = min(cfg.train_subset or math.inf, doc["settings"]["train_examples"])
    return throughput(cfg, examples, seconds)


def ran_alone(run: dict, doc: dict) -> bool:
    """Whether the run had the machine to itself. Runs record how many ran at once; older folders,
    their executor only."""
    return run.get("runs_at_once", (doc.get("executor") or {}).get("jobs", 1)) == 1


def timed_runs(runs: list[dict], doc: dict) -> list[dict]:
    """The runs a port's timings come from: those that ran alone (compare --timed-seeds), else all."""
    return [run for run in runs if ran_alone(run, doc)] or runs


def timings_shared(doc: dict) -> bool:
    """Whether some port's timings (timed_runs) come from runs that shared the machine, so that its
    epoch times are not comparable with another port's."""
    return any(
        not ran_alone(run, doc)
        for runs in group_runs(doc).values()
        for run in timed_runs([run for run in runs if finished(run)], doc)
    )


def ran_in_parallel(doc: dict) -> bool:
    """Whether any run shared the machine with another of the folder's runs (a study's epoch times
    are then not comparable across runs)."""
    return not all(ran_alone(run, doc) for run in doc["runs"])


def sessions(doc: dict) -> int:
    """How many commands made the folder's runs (a resumed folder has several; older ones, 1)."""
    return max(1, len({run["session"] for run in doc["runs"] if "session" in run}))


def epoch_rounds(doc: dict) -> dict[tuple[str, str], list[float]]:
    """compare's rounds for speed ratios, each (backend, variant)'s epoch seconds round by round.
    The runs that give the timings (timed_runs) ran one at a time, every port in turn for a seed, so
    the seeds every port finished are the rounds' frame; within a seed, epoch k after the first
    (compilation) of each port's run is paired with epoch k of the others, one round per epoch (with
    one epoch, that epoch: a round per seed). A port's epochs ran back to back, so the spread shows
    the noise within runs, and a drift of the machine between two ports' runs is not cancelled as
    bench's interleaved rounds cancel it."""
    timed = {port: {run["seed"]: run for run in timed_runs([r for r in runs if finished(r)], doc)}
             for port, runs in group_runs(doc).items()}  # fmt: skip
    timed = {port: runs for port, runs in timed.items() if runs}
    seeds = sorted(set.intersection(*(set(runs) for runs in timed.values()))) if timed else []
    rounds: dict[tuple[str, str], list[float]] = {port: [] for port in timed}
    for seed in seeds:
        histories = {port: runs[seed]["history"] for port, runs in timed.items()}
        epochs = min(len(history) for history in histories.values())
        for k in range(1 if epochs > 1 else 0, epochs):
            for port, history in histories.items():
                rounds[port].append(history[k]["seconds"])
    return {port: seconds for port, seconds in rounds.items() if seconds}
