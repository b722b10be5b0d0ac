"""compare's statistics and the main job's verdict, from results documents: identical ports tested
once, the equivalence claim read as one, each port's speed against the fastest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli import cli

from dropout_ports.benchmarks.report.markdown import compare_markdown
from dropout_ports.benchmarks.report.statistics import EQUIVALENCE_COLUMNS
from dropout_ports.benchmarks.report.verdict import speed_line, speed_spread, time_spent
from dropout_ports.benchmarks.results.analysis import adjust_equivalence, compare_statistics
from dropout_ports.benchmarks.results.document import epoch_rounds
from dropout_ports.benchmarks.results.stats import equivalence
from dropout_ports.benchmarks.results.tables import markdown_table
from dropout_ports.benchmarks.results.verdict import compare_entries, verdict
from dropout_ports.benchmarks.runs.compare import plan_runs, run_spec, timed_rounds
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


def test_with_a_timed_round_speed_comes_from_the_runs_made_alone():
    runs = _runs()
    for run in runs:  # the parallel seeds' epochs are slower, and by another ratio
        alone = run["seed"] == 0
        slowdown = 1.0 if alone else {"a": 1.5, "b": 4.0}[run["backend"]]
        history = [{**row, "seconds": row["seconds"] * slowdown} for row in run["history"]]
        run.update(runs_at_once=1 if alone else 2, history=history)
    doc = _doc(runs)
    doc["executor"] = {"name": "local", "where": "each in a fresh process", "jobs": 2, "threads_per_run": 1,
                       "parallel": True, "timed": {"name": "local", "where": "each in a fresh process",
                       "jobs": 1, "threads_per_run": 2, "parallel": False, "seeds": [0]}}  # fmt: skip
    speed = compare_entries(doc)["verdict"]["speed"]
    assert {row["port"]: row["ratio"] for row in speed} == pytest.approx(
        {"a/scratch": 2.0, "a/builtin": 3.0, "b/scratch": 1.0}
    )
    text = compare_markdown(doc)
    assert "a/builtin 3.00x" in text and "from the runs of seed 0, made one at a time" in text
    assert "seed 0 first, one run at a time of 2 threads each" in text
    assert "up to 2 at a time of 1 thread each" in text
    lost = [run for run in runs if not (run["seed"] == 0 and run["backend"] == "b")]  # b: no run alone
    assert "**Speed:** not compared" in compare_markdown(_doc(lost) | {"executor": doc["executor"]})


def test_speed_pairs_the_epochs_after_the_first_and_says_within_noise_where_rounds_disagree():
    runs = []
    for seed in (0, 1):
        for backend, seconds in (("a", [9.0, 1.0, 1.0]), ("b", [9.0, 2.0, 2.1]), ("c", [9.0, 0.9, 1.3])):
            run = _run(backend, "scratch", seed, 0.85, 0.0)
            first = run["history"][0]
            run["history"] = [{**first, "epoch": e + 1, "seconds": s} for e, s in enumerate(seconds)]
            runs.append(run)
    doc = _doc(runs)
    rounds = epoch_rounds(doc)  # seeds ran one at a time: (seed, epoch after the first) pairs are rounds
    assert rounds == {("a", "scratch"): [1.0, 1.0] * 2, ("b", "scratch"): [2.0, 2.1] * 2,
                      ("c", "scratch"): [0.9, 1.3] * 2}  # fmt: skip
    line = speed_line(speed_spread(doc), shared=False, epochs=3)
    assert "a/scratch (1.00 s), median [min, max] over 4 rounds" in line
    assert "b/scratch 2.05x [2.00, 2.10]" in line and "c/scratch 1.10x [0.90, 1.30]" in line
    assert "slower in every round: b/scratch; within noise: c/scratch" in line
    assert "epoch k after the first of each port's run paired" in line
    one_epoch = speed_line(speed_spread(_doc(_runs(seeds=3))), shared=False, epochs=1)
    assert "over 3 rounds" in one_epoch and "a seed a round" in one_epoch  # _runs: 2 epochs, 1 paired


def test_timed_rounds_run_the_first_seeds_through_their_own_executor():
    plan = plan_runs(["numpy"], [3, 1, 2], ["scratch"])
    todo = [run_spec(key, Config(), "cpu", None) for key in plan if key[2] != 1]  # seed 1 is done
    executor, timed = object(), object()
    first, rounds = timed_rounds(todo, plan, executor, timed, 2)
    assert first == [3, 1] and [(runner, [spec.seed for spec in specs]) for runner, specs in rounds] == [
        (timed, [3]),
        (executor, [2]),
    ]
    assert timed_rounds(todo, plan, executor, None, 2) == ([], [(executor, todo)])
    assert timed_rounds(todo, plan, executor, timed, 0) == ([], [(executor, todo)])


def test_the_time_line_says_where_the_time_went():
    runs = [{**run, "wall_s": 2.0} for run in _runs(seeds=2)]  # 6 runs: 4.8 s of epochs, 12 s of wall
    serial = time_spent({**_doc(runs), "duration_s": 60.0})
    assert serial.startswith("Time: 1.0 min in all: 0.1 min in training epochs, 0.1 min in the runs'")
    parallel = time_spent({**_doc(runs), "duration_s": 9.0 * 60, "before_runs_s": 3.0 * 60})
    assert "3.0 min before the runs" in parallel and "6.0 min running them" in parallel
    assert "went in parallel" not in parallel
    assert "went in parallel" in time_spent({**_doc(runs), "duration_s": 10.0, "before_runs_s": 5.0})


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


def test_a_joint_claim_that_fails_is_not_shown_and_says_what_would_show_it():
    """b is noisy: its pairs fail TOST, so "every pair within" is not shown at all; only Holm's
    successes count as pairs shown; the seeds planned name their assumptions."""
    rng = np.random.default_rng(5)
    runs = _runs()
    for run in runs:
        run["test_accuracy"] += rng.normal(0, 0.02) if run["backend"] == "b" else 0.0
    statistics = compare_statistics(_doc(runs))
    same = compare_entries(_doc(runs))["verdict"]["same_accuracy"]
    assert not same["all_shown"] and same["shown_adjusted"] <= 1
    text = compare_markdown(_doc(runs))
    assert (
        f"the joint claim is not shown ({len(same['not_shown'])} of 3 pairs fail their TOST at 0.05" in text
    )
    assert f"pairs shown as claims of their own: {same['shown_adjusted']} of 3 (Holm" in text
    assert "if no pair truly differs and every pair had the pooled paired SD" in text
    assert "with each pair's own observed SD" in text and "shown for" not in text
    power = statistics["equivalence_power"]
    assert power["seeds_joint_own_sd"] >= power["seeds_joint"]  # b's pairs are the noisiest
    test = statistics["tests"][0]  # two ports at +-d/2 are harder to see than one port d off
    assert test["detectable_gap"] > test["detectable"] and "the least favourable case" in text


def test_a_pair_with_no_spread_says_so():
    a = {seed: 0.85 + seed / 128 for seed in range(3)}  # exact in binary: b - a is -1/1024 every seed
    rows = adjust_equivalence(equivalence({"a": a, "b": {seed: v - 1 / 1024 for seed, v in a.items()}}))
    assert rows[0]["sd"] == 0.0
    assert "no spread: the same difference on every seed" in markdown_table(rows, EQUIVALENCE_COLUMNS)
