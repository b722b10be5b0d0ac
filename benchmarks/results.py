"""The results document of ``compare``: its version, and the rows derived from its runs."""

from __future__ import annotations

import numpy as np

from benchmarks.throughput import throughput
from common.config import Config

SCHEMA_VERSION = 1


def group_runs(doc: dict) -> dict[tuple[str, str], list[dict]]:
    """Runs by (backend, variant), in the order they ran."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in doc["runs"]:
        groups.setdefault((run["backend"], run["variant"]), []).append(run)
    return groups


def run_throughput(run: dict, doc: dict) -> dict:
    seconds = [row["seconds"] for row in run["history"]]
    cfg = Config.from_dict(run["config"])
    return throughput(cfg, doc["settings"]["train_examples"], seconds, doc["matmul_gflops"])


def compare_rows(doc: dict) -> list[dict]:
    """One row per (backend, variant): accuracies per seed, throughput and memory averaged over seeds."""
    rows = []
    for (backend, variant), runs in group_runs(doc).items():
        figures = [run_throughput(run, doc) for run in runs]
        rows.append(
            {
                "backend": backend,
                "variant": variant,
                "seeds": len(runs),
                "test_acc": [run["test_accuracy"] for run in runs],
                "train_loss": [run["history"][-1]["train_loss"] for run in runs],
                "peak_rss_mb": max(run["peak_rss_bytes"] for run in runs) / 2**20,
                "run_rss_mb": np.mean([run["peak_rss_bytes"] - run["rss_at_start_bytes"] for run in runs])
                / 2**20,
                **{key: float(np.mean([f[key] for f in figures])) for key in figures[0]},
            }
        )
    return rows
