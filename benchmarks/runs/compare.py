"""``dropout-ports compare`` (and ``train --out``): runs side by side into one results folder.

Every port of a seed starts from the same parameters, batch order and data; an executor
(runs.engine) runs them. The folder is locked while a command writes to it; results.json
is saved durably as each run finishes, so an interruption (Ctrl-C, SIGTERM) loses only the runs
in progress, and ``--resume`` runs only what is missing (failed runs included).
Derived figures come from the stored runs, so ``dropout-ports report`` re-renders exactly this.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.results.document import (
    SCHEMA_VERSION,
    RunKey,
    check_document,
    is_failed,
    run_key,
    shared_settings,
    sort_runs,
)
from dropout_ports.benchmarks.results.folder import FolderError, ResultsFolder
from dropout_ports.benchmarks.results.stats import DEFAULT_MARGIN
from dropout_ports.benchmarks.runs.engine import Executor
from dropout_ports.benchmarks.runs.machine import environment, yardsticks
from dropout_ports.benchmarks.runs.spec import RunSpec
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset
from dropout_ports.common.progress import show_progress


def plan_runs(
    names: Sequence[str], seeds: Sequence[int], variants: Sequence[str] | None = None
) -> list[RunKey]:
    """Every (backend, variant, seed), seed by seed; variants=None means each backend's all."""
    return [
        (name, variant, seed, "")
        for seed in seeds
        for name in names
        for variant in (variants or get_backend(name).VARIANTS)
    ]


def supported_runs(plan: list[RunKey], base: Config, device: str) -> tuple[list[RunKey], list[str]]:
    """The runs whose port can train base on device, and a line for each (backend, variant) left
    out, saying why (numpy at --matmul-precision tf32, torch's device loop on a CPU)."""
    kept, skipped = [], {}
    for key in plan:
        backend, variant = key[:2]
        try:
            get_backend(backend).Trainer.check_support(base, variant, device)
        except ValueError as err:
            skipped.setdefault(f"{backend}/{variant}", f"{backend}/{variant}: {err}")
            continue
        kept.append(key)
    return kept, list(skipped.values())


def plan_settings(
    plan: list[RunKey],
    data: Dataset | None,
    base: Config,
    device: str,
    margin: float,
    study: dict | None = None,
) -> dict:
    """What the runs of a folder share; a study's folder adds the study (its settings by label).
    data=None: not loaded yet (a command interrupted while loading it)."""
    settings = {
        "backends": list(dict.fromkeys(key[0] for key in plan)),
        "seeds": sorted({key[2] for key in plan}),
        "device": device,
        "config": base.to_dict(),
        "data": data and data.origin,
        "train_examples": data and len(data.train_y),
        "margin": margin,
    }
    return settings if study is None else {**settings, "study": study}


def new_document(settings: dict) -> dict:
    """A fresh document, saved before anything is measured so that an interruption leaves a record;
    the environment and the yardsticks are measured into it next, before any run."""
    return {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
        "environment": None,
        "settings": settings,
        "yardsticks": None,
        "runs": [],
    }


def record_interruption(out_dir: Path, settings: dict) -> None:
    """A command stopped before run_compare saved its document leaves one all the same: interrupted,
    no runs (``--resume`` then runs them all)."""
    with ResultsFolder(out_dir, "results.json", resume=True) as folder:
        if folder.existing is None:
            folder.save({**new_document(settings), "status": "interrupted"})


def resumed_document(existing: dict, fresh: dict, source: Path) -> dict:
    """The folder's document, widened to the new plan, if the settings every run shares agree (a
    document without runs takes the new settings); its runs that failed are dropped, to run again."""
    doc = check_document(existing, "results.json", source)
    if not doc["runs"]:
        return {**new_document(fresh), "created": doc["created"]}
    old, new = shared_settings(doc["settings"]), shared_settings(fresh)
    if old != new:
        changed = [key for key in new if old.get(key) != new[key]]
        changed += [f"config.{k}" for k in new["config"] if old["config"].get(k) != new["config"][k]]
        raise FolderError(
            f"cannot resume {source}: its runs were made with other settings ({', '.join(changed)}); "
            "use the same options, or pick another --out"
        )
    settings = doc["settings"]
    settings["backends"] = list(dict.fromkeys([*settings["backends"], *fresh["backends"]]))
    settings["seeds"] = sorted({*settings["seeds"], *fresh["seeds"]})
    doc["runs"] = [run for run in doc["runs"] if not is_failed(run)]
    return doc


def run_compare(
    plan: list[RunKey],
    data: Dataset,
    out_dir: Path,
    executor: Executor,
    *,
    base: Config | None = None,
    device: str = "cpu",
    resume: bool = False,
    margin: float = DEFAULT_MARGIN,
    quick_yardsticks: bool = False,
    progress: bool = False,
    study: dict | None = None,
    lockstep: Callable[[], dict] | None = None,
    analyse: Callable[[dict], dict] | None = None,
    render: Callable[[dict, Path], None] | None = None,
    timed: Executor | None = None,
    timed_seeds: int = 0,
) -> dict:
    """Run every run of the plan not already finished in the folder through the executor; each
    record is saved as it arrives, whichever the executor. Before the runs, lockstep() (compare
    --verdict) checks that the ports are one computation; at the end, interrupted or not,
    analyse(doc) gives the entries it adds (statistics, verdict) and render(doc, folder) draws the
    report. With a study (studies.catalogue.describe), a run's setting names its Config changes.
    With timed, the plan's first timed_seeds seeds run first through it (one run at a time), so
    that the speed figures can come from runs that had the machine to themselves."""
    base = base or Config()
    started = time.perf_counter()
    with ResultsFolder(out_dir, "results.json", resume=resume) as folder:
        settings = plan_settings(plan, data, base, device, margin, study)
        if folder.existing is None:
            doc = new_document(settings)
        else:
            doc = resumed_document(folder.existing, settings, folder.document)
        doc["executor"] = describe_executor(executor)
        session = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        done = {run_key(run) for run in doc["runs"]}
        todo = [run_spec(key, base, device, study) for key in plan if key not in done]
        first, rounds = timed_rounds(todo, plan, executor, timed, timed_seeds)
        if first:
            doc["executor"]["timed"] = {**describe_executor(timed), "seeds": first}
        bar = tqdm(
            total=len(todo), desc=f"runs ({executor.name})", unit="run", disable=not show_progress(progress)
        )

        kept: list[dict] = []  # this command's runs, counted in a log

        def keeper(runs_at_once: int) -> Callable[[dict], None]:
            def keep(record: dict) -> None:
                record.update(session=session, runs_at_once=runs_at_once)
                doc["runs"].append(record)
                sort_runs(doc)
                folder.save(doc)
                bar.update()
                if progress and bar.disable:  # a log, not a terminal: a line per run, not a bar
                    kept.append(record)
                    print(f"run {len(kept)} of {len(todo)}: {run_line(record)}", file=sys.stderr, flush=True)

            return keep

        doc["status"] = "running"
        try:
            folder.save(doc)
            if not doc["environment"]:
                doc["environment"] = environment(settings["backends"])
            if not doc["yardsticks"]:
                doc["yardsticks"] = yardsticks(settings["backends"], base, device, quick=quick_yardsticks)
            if lockstep is not None and not doc.get("lockstep"):
                doc["lockstep"] = lockstep()
            doc["before_runs_s"] = doc.get("before_runs_s", 0.0) + time.perf_counter() - started
            folder.save(doc)
            for runner, specs in rounds:
                jobs = describe_executor(runner)["jobs"]
                alone = jobs == 1 and study is None  # the runs compare's speed figures come from
                runner.run([replace(spec, floors=alone) for spec in specs], keeper(jobs))
            doc["status"] = "complete"
        except KeyboardInterrupt:
            doc["status"] = "interrupted"
            raise
        finally:
            bar.close()
            doc["duration_s"] = doc.get("duration_s", 0.0) + time.perf_counter() - started
            folder.save(doc)  # before anything derived, which could fail
            if doc["runs"] and doc["yardsticks"]:
                if analyse is not None:
                    doc.update(analyse(doc))
                    folder.save(doc)
                if render is not None:
                    render(doc, out_dir)
    return doc


def run_line(record: dict) -> str:
    """A finished run in a few words, for a log."""
    setting = f" at {record['setting']}" if record.get("setting") else ""
    if is_failed(record):
        outcome = f"failed: {record['error']}"
    elif record["diverged"]:
        outcome = "diverged"
    else:
        outcome = f"test accuracy {record['test_accuracy']:.4f}"
    where = f"{record['backend']}/{record['variant']} seed {record['seed']}{setting}"
    return f"{where}: {outcome} ({record.get('wall_s', 0.0):.0f} s)"


def timed_rounds(
    todo: list[RunSpec], plan: list[RunKey], executor: Executor, timed: Executor | None, timed_seeds: int
) -> tuple[list[int], list[tuple[Executor, list[RunSpec]]]]:
    """The plan's first timed_seeds seeds (none without timed) and the rounds the runs go in: those
    seeds' runs through timed, then the rest through executor."""
    first = list(dict.fromkeys(key[2] for key in plan))[:timed_seeds] if timed is not None else []
    if not first:
        return [], [(executor, todo)]
    alone = [spec for spec in todo if spec.seed in first]
    return first, [(timed, alone), (executor, [spec for spec in todo if spec.seed not in first])]


def run_spec(key: RunKey, base: Config, device: str, study: dict | None) -> RunSpec:
    backend, variant, seed, setting = key
    changes = study["arms"][setting] if study else {}
    probe = study["probe"] if study else ""
    return RunSpec(backend, variant, seed, device, base.replace(seed=seed, **changes), setting, probe)


def describe_executor(executor: Executor) -> dict:
    """What the timings were taken under: where, how many runs at once, threads per run."""
    jobs = getattr(executor, "jobs", 1)
    return {
        "name": executor.name,
        "where": executor.where,
        "jobs": jobs,
        "threads_per_run": getattr(executor, "threads", None),
        "parallel": jobs > 1,
    }
