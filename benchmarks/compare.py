"""``dropout-ports compare``: every backend x variant, same init, batches and data, side by side.

The results document is saved after every run (atomically), so an interruption loses only
the run in progress. Derived figures come from the stored histories (benchmarks.results), so
``dropout-ports report`` re-renders exactly what ``compare`` shows.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from pathlib import Path

from backends import get_backend
from benchmarks.machine import environment, matmul_gflops
from benchmarks.memory import PeakMemory
from benchmarks.report import render_compare
from benchmarks.results import SCHEMA_VERSION
from benchmarks.store import write_json_atomic
from common.config import Config
from common.data import Dataset
from common.training import fit


def run_compare(
    names: Sequence[str],
    data: Dataset,
    out_dir: Path,
    *,
    seeds: Sequence[int] = (0,),
    base: Config | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> dict:
    """Train every (seed, backend, variant); save results.json after each run, render at the end."""
    base = base or Config()
    doc = {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
        "environment": environment(names),
        "settings": {
            "backends": list(names),
            "seeds": list(seeds),
            "device": device,
            "config": base.to_dict(),
            "data": data.origin,
            "train_examples": len(data.train_y),
        },
        "matmul_gflops": matmul_gflops(),  # before the frameworks warm up
        "runs": [],
    }
    path = out_dir / "results.json"
    write_json_atomic(path, doc)
    try:
        for seed, name in itertools.product(seeds, names):
            for variant in get_backend(name).VARIANTS:
                with PeakMemory() as memory:
                    result = fit(
                        name, base.replace(seed=seed), data, variant=variant, device=device, progress=progress
                    )
                memory_fields = {"peak_rss_bytes": memory.bytes, "rss_at_start_bytes": memory.start_bytes}
                doc["runs"].append({**result.to_dict(), "seed": seed, **memory_fields})
                write_json_atomic(path, doc)
        doc["status"] = "complete"
    except KeyboardInterrupt:
        doc["status"] = "interrupted"
        raise
    finally:
        write_json_atomic(path, doc)
        if doc["runs"]:
            render_compare(doc, out_dir)
    return doc
