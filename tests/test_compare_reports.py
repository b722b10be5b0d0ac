"""compare's report says what ran, through the command: the examples trained on, a one-epoch run's
epoch, the lockstep on the runs' own steps, a line per run in a log, a failed verdict's exit
status, a subset larger than the data refused before any work, and identical ports merged though
every timing differs."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest
from conftest import SCRIPT, cli

pytestmark = pytest.mark.slow  # each test runs the console script in a process of its own

SYNTHETIC = ["--data-source", "synthetic", "--epochs", "1"]  # 2,048 training examples


def test_a_subset_run_of_one_epoch_is_reported_as_what_ran(tmp_path):
    args = ["--backends", "numpy", "--seeds", "0", "1", "2", "--train-subset", "1024", "--verdict"]
    done = cli("compare", *SYNTHETIC, *args, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "results.md").read_text()
    assert "(1,024 of its 2,048 training examples (--train-subset))" in text
    assert "those of the only epoch, compilation and warm-up included" in text
    assert "(rounds: the only epoch of each run, compilation and warm-up included" in text
    assert "median epoch after" not in text
    assert json.loads((tmp_path / "results.json").read_text())["lockstep"]["steps"] == 4  # 1,024 / 256
    assert "run 3 of 3: numpy/scratch seed 2: test accuracy" in done.stderr  # stderr is a pipe: a log


def test_a_subset_larger_than_the_data_is_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    done = cli("compare", *SYNTHETIC, "--backends", "numpy", "--train-subset", "4096", "--out", str(out))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--train-subset 4,096 exceeds the 2,048 training examples" in done.stderr
    assert not (out / "results.json").exists()


def test_a_verdict_that_fails_exits_1(tmp_path):
    """A port whose learning rate is 1% off is no longer NumPy's computation: FAIL, exit status 1."""
    (tmp_path / "nudged_port.py").write_text(
        textwrap.dedent("""
            from dropout_ports.backends.numpy import *  # noqa: F403
            from dropout_ports.backends.numpy import Trainer as NumpyTrainer

            NAME = "nudged"


            class Trainer(NumpyTrainer):
                def __init__(self, cfg, params, **options):
                    super().__init__(cfg.replace(lr=cfg.lr * 1.01), params, **options)
        """)
    )
    env = {**os.environ, "DROPOUT_PORTS_BACKENDS": "nudged=nudged_port", "PYTHONPATH": str(tmp_path)}
    command = [str(SCRIPT), "compare", *SYNTHETIC, "--backends", "numpy", "nudged", "--seeds", "0"]
    done = subprocess.run([*command, "--verdict", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "verdict: FAIL: nudged/scratch" in done.stderr
    assert "FAIL for nudged/scratch" in (tmp_path / "out" / "results.md").read_text()


def test_variants_that_run_the_same_code_are_merged_though_their_timings_differ(tmp_path):
    """With every rate 0, JAX's three variants compute the same runs; only their timings differ."""
    args = ["--dropouts", "0", "0", "--backends", "jax", "--seeds", "0", "1", "2", "--inline", "--quiet"]
    done = cli("compare", *SYNTHETIC, *args, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    seconds = {(r["variant"], r["seed"]): r["history"][0]["host_seconds"] for r in doc["runs"]}
    assert len(set(seconds.values())) > 1  # the timings do differ
    assert doc["statistics"]["identical"] == [["jax/scratch", "jax/builtin", "jax/nnx"]]
    text = (tmp_path / "results.md").read_text()
    assert "tested once, as jax/scratch" in text and "no two ports computed different runs" in text
