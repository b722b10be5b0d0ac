"""compare's statistics and the main job's verdict, from results documents: identical ports tested
once, the equivalence claim read as one, each port's speed against the fastest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli import cli

from dropout_ports.benchmarks.report.markdown import compare_markdown
from dropout_ports.benchmarks.results.analysis import compare_statistics
from dropout_ports.benchmarks.results.verdict import compare_entries, verdict
from dropout_ports.common.config import Config

CONFIG = Config(epochs=2).to_dict()


def _run(backend: str, variant: str, seed: int, acc: float, seconds: float) -> dict:
    history = [{"epoch": e, "train_loss": 0.4, "test_acc": acc, "seconds": seconds} for e in (1, 2)]
    return {"backend": backend, "variant": variant, "seed": seed, "config": CONFIG, "history": history,
            "diverged": False, "test_accuracy": acc, "status": "ok", "peak_rss_bytes": 2**20}  # fmt: skip


def _doc(runs: list[dict], lockstep: dict | None = None) -> dict:
    env = {"cpu": "a CPU", "cores": 2, "versions": {}, "threadpools": [], "pins": {}}
    settings = {"backends": ["a", "b"], "seeds": sorted({r["seed"] for r in runs}), "device": "cpu",
                "config": CONFIG, "data": "synthetic", "train_examples": 60_000, "margin": 0.01}  # fmt: skip
    sticks = {"peak_gflops": 100.0, "by_backend": {}, "square": 512}
    doc = {"status": "complete", "environment": env, "settings": settings, "yardsticks": sticks, "runs": runs}
    return {**doc, "lockstep": lockstep} if lockstep else doc


def _runs(seeds: int = 8) -> list[dict]:
    rng = np.random.default_rng(0)
    runs = []
    for seed in range(seeds):
        base = 0.85 + rng.normal(0, 0.01)
        runs += [_run("a", "scratch", seed, base + rng.normal(0, 0.002), 0.4),
                 _run("a", "builtin", seed, base + rng.normal(0, 0.002), 0.6),
                 _run("b", "scratch", seed, base + rng.normal(0, 0.002), 0.2)]  # fmt: skip
    return runs


def test_identical_ports_are_tested_once_and_named():
    runs = _runs()
    runs += [{**run, "variant": "twin", "history": [{**row, "seconds": 9.0} for row in run["history"]]}
             for run in runs if run["variant"] == "builtin"]  # fmt: skip
    statistics = compare_statistics(_doc(runs))
    assert statistics["identical"] == [["a/builtin", "a/twin"]]
    (test,) = statistics["tests"]
    assert test["ports"] == ["a/scratch", "a/builtin", "b/scratch"] and test["p_adjusted"] == test["p_value"]
    assert len(statistics["equivalence"]) == 3 and all(row["equivalent"] for row in statistics["equivalence"])
    text = compare_markdown(_doc(runs))
    assert "a/builtin and a/twin coincide bit for bit" in text and "tested once, as a/builtin" in text


def test_the_verdict_reads_lockstep_equivalence_and_speed():
    lockstep = {
        "reference": "a/scratch",
        "dtype": "float64",
        "steps": 235,
        "tolerance": 1e-9,
        "rows": [{"port": "b/scratch", "max_loss_diff": 1e-15, "max_param_diff": 2e-17, "passed": True}],
    }
    doc = _doc(_runs(), lockstep)
    entries = compare_entries(doc)
    check, same, speed = (entries["verdict"][key] for key in ("one_computation", "same_accuracy", "speed"))
    assert check["passed"] and check["statistics_only"] == ["a/builtin"]
    assert same["all_shown"] and same["pairs"] == 3 and same["smallest_margin"] < 0.01
    assert {row["port"]: row["ratio"] for row in speed} == pytest.approx(
        {"a/scratch": 2.0, "a/builtin": 3.0, "b/scratch": 1.0}
    )
    text = compare_markdown(doc)
    assert (
        "## Verdict" in text and "pass (tolerance 1e-9)" in text and "a/builtin draw their own masks" in text
    )
    assert "shown for all 3 pairs" in text and "a/builtin 3.00x" in text
    unchecked = verdict(_doc(_runs()), compare_statistics(_doc(_runs())))
    assert unchecked["one_computation"]["checked"] == []
    assert "not checked in this run" in compare_markdown(_doc(_runs()))


def test_with_few_seeds_the_verdict_says_what_is_missing():
    text = compare_markdown(_doc(_runs(seeds=2)))
    assert "the intervals need 3 seeds" in text and "needs 3 seeds" in text
    assert "[" not in text.split("| a | scratch |")[1].split("|")[2]  # no interval from 2 seeds


@pytest.mark.slow
def test_compare_verdict_checks_every_masked_port_against_numpy(tmp_path):
    args = ["--data-source", "synthetic", "--backends", "numpy", "torch", "--seeds", "0", "1", "2"]
    done = cli("compare", *args, "--epochs", "1", "--verdict", "--quiet", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    rows = doc["lockstep"]["rows"]
    assert {row["port"] for row in rows} == {"torch/scratch", "torch/compiled"}
    assert all(row["passed"] and row["max_param_diff"] < 1e-12 for row in rows)
    assert doc["lockstep"]["steps"] == 8  # one epoch of the 2,048 synthetic examples
    assert doc["verdict"]["one_computation"]["statistics_only"] == ["torch/builtin"]
    assert doc["statistics"]["tests"][0]["test"] == "blocked permutation"
    assert "## Verdict" in (tmp_path / "results.md").read_text()
