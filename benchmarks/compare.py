"""``dropout-ports compare`` (and ``train --out``): runs side by side into one results folder.

Every port of a seed starts from the same parameters, batch order and data. The folder is locked
while a command writes to it; results.json is saved durably after every run, so an interruption
(Ctrl-C, SIGTERM) loses only the run in progress, and ``--resume`` runs only what is missing.
Derived figures come from the stored runs, so ``dropout-ports report`` re-renders exactly this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from backends import get_backend
from benchmarks.folder import FolderError, ResultsFolder
from benchmarks.machine import environment, yardsticks
from benchmarks.memory import PeakMemory
from benchmarks.report import render_compare
from benchmarks.results import SCHEMA_VERSION, check_document, run_key, shared_settings
from benchmarks.stats import DEFAULT_MARGIN
from common.config import Config
from common.data import Dataset
from common.training import fit

RunKey = tuple[str, str, int]  # backend, variant, seed


def plan_runs(
    names: Sequence[str], seeds: Sequence[int], variants: Sequence[str] | None = None
) -> list[RunKey]:
    """Every (backend, variant, seed), seed by seed; variants=None means each backend's all."""
    return [
        (name, variant, seed)
        for seed in seeds
        for name in names
        for variant in (variants or get_backend(name).VARIANTS)
    ]


def new_document(
    plan: list[RunKey], data: Dataset, base: Config, device: str, margin: float, quick: bool
) -> dict:
    names = list(dict.fromkeys(name for name, _, _ in plan))
    return {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
        "environment": environment(names),
        "settings": {
            "backends": names,
            "seeds": sorted({seed for _, _, seed in plan}),
            "device": device,
            "config": base.to_dict(),
            "data": data.origin,
            "train_examples": len(data.train_y),
            "margin": margin,
        },
        "yardsticks": yardsticks(names, base, device, quick=quick),
        "runs": [],
    }


def resumed_document(existing: dict, fresh: dict, source: Path) -> dict:
    """The folder's document, widened to the new plan, if the settings every run shares agree."""
    doc = check_document(existing, "results.json", source)
    old, new = shared_settings(doc["settings"]), shared_settings(fresh["settings"])
    if old != new:
        changed = [key for key in new if old.get(key) != new[key]]
        changed += [f"config.{k}" for k in new["config"] if old["config"].get(k) != new["config"][k]]
        raise FolderError(
            f"cannot resume {source}: its runs were made with other settings ({', '.join(changed)}); "
            "use the same options, or pick another --out"
        )
    settings = doc["settings"]
    settings["backends"] = list(dict.fromkeys([*settings["backends"], *fresh["settings"]["backends"]]))
    settings["seeds"] = sorted({*settings["seeds"], *fresh["settings"]["seeds"]})
    return doc


def run_compare(
    plan: list[RunKey],
    data: Dataset,
    out_dir: Path,
    *,
    base: Config | None = None,
    device: str = "cpu",
    resume: bool = False,
    margin: float = DEFAULT_MARGIN,
    progress: bool = True,
    quick_yardsticks: bool = False,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict:
    """Train every run of the plan not already in the folder; save after each, render at the end."""
    base = base or Config()
    with ResultsFolder(out_dir, "results.json", resume=resume) as folder:
        doc = new_document(plan, data, base, device, margin, quick_yardsticks)
        if folder.existing is not None:
            doc = resumed_document(folder.existing, doc, folder.document)
        done = {run_key(run) for run in doc["runs"]}
        doc["status"] = "running"
        try:
            for name, variant, seed in (key for key in plan if key not in done):
                with PeakMemory() as memory:
                    result = fit(
                        name, base.replace(seed=seed), data, variant=variant, device=device, progress=progress
                    )
                memory_fields = {"peak_rss_bytes": memory.bytes, "rss_at_start_bytes": memory.start_bytes}
                doc["runs"].append({**result.to_dict(), "seed": seed, **memory_fields})
                folder.save(doc)
            doc["status"] = "complete"
        except KeyboardInterrupt:
            doc["status"] = "interrupted"
            raise
        finally:
            if doc["runs"]:
                folder.save(doc)
                render_compare(doc, out_dir)
    return doc
