"""``dropout-ports compare`` (and ``train --out``): runs side by side into one results folder.

Every port of a seed starts from the same parameters, batch order and data; an executor
(benchmarks.engine) runs them. The folder is locked while a command writes to it; results.json
is saved durably as each run finishes, so an interruption (Ctrl-C, SIGTERM) loses only the runs
in progress, and ``--resume`` runs only what is missing (failed runs included).
Derived figures come from the stored runs, so ``dropout-ports report`` re-renders exactly this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from backends import get_backend
from benchmarks.engine import Executor, RunSpec
from benchmarks.folder import FolderError, ResultsFolder
from benchmarks.machine import environment, yardsticks
from benchmarks.results import (
    SCHEMA_VERSION,
    RunKey,
    check_document,
    is_failed,
    run_key,
    shared_settings,
    sort_runs,
)
from benchmarks.stats import DEFAULT_MARGIN
from benchmarks.study_report import render_results
from common.config import Config
from common.data import Dataset
from common.progress import show_progress


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


def plan_settings(
    plan: list[RunKey], data: Dataset, base: Config, device: str, margin: float, study: dict | None = None
) -> dict:
    """What the runs of a folder share; a study's folder adds the study (its settings by label)."""
    settings = {
        "backends": list(dict.fromkeys(key[0] for key in plan)),
        "seeds": sorted({key[2] for key in plan}),
        "device": device,
        "config": base.to_dict(),
        "data": data.origin,
        "train_examples": len(data.train_y),
        "margin": margin,
    }
    return settings if study is None else {**settings, "study": study}


def new_document(settings: dict, base: Config, quick: bool) -> dict:
    """A fresh document: the environment and the yardsticks are measured here, before any run."""
    names = settings["backends"]
    return {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
        "environment": environment(names),
        "settings": settings,
        "yardsticks": yardsticks(names, base, settings["device"], quick=quick),
        "runs": [],
    }


def resumed_document(existing: dict, fresh: dict, source: Path) -> dict:
    """The folder's document, widened to the new plan, if the settings every run shares agree;
    its runs that failed are dropped, to run again."""
    doc = check_document(existing, "results.json", source)
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
) -> dict:
    """Run every run of the plan not already finished in the folder through the executor; each
    record is saved as it arrives, whichever the executor, and the folder rendered at the end.
    With a study (benchmarks.studies.describe), a run's setting names its Config changes."""
    base = base or Config()
    with ResultsFolder(out_dir, "results.json", resume=resume) as folder:
        settings = plan_settings(plan, data, base, device, margin, study)
        if folder.existing is None:
            doc = new_document(settings, base, quick_yardsticks)
        else:
            doc = resumed_document(folder.existing, settings, folder.document)
        doc["executor"] = describe_executor(executor)
        done = {run_key(run) for run in doc["runs"]}
        todo = [run_spec(key, base, device, study) for key in plan if key not in done]

        bar = tqdm(
            total=len(todo), desc=f"runs ({executor.name})", unit="run", disable=not show_progress(progress)
        )

        def keep(record: dict) -> None:
            doc["runs"].append(record)
            sort_runs(doc)
            folder.save(doc)
            bar.update()

        doc["status"] = "running"
        try:
            executor.run(todo, keep)
            doc["status"] = "complete"
        except KeyboardInterrupt:
            doc["status"] = "interrupted"
            raise
        finally:
            bar.close()
            if doc["runs"]:
                folder.save(doc)
                render_results(doc, out_dir)
    return doc


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
