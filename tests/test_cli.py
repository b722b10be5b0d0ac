"""End to end through the console script: compare, report, bench, train, info, and errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import SMALL_RUN, assert_valid_png, cli

from dropout_ports.benchmarks.suites.targets import PEER_SPEEDUPS

pytestmark = pytest.mark.slow  # each test runs the console script in a process of its own


def test_compare_writes_json_markdown_and_figures(compared):
    doc = json.loads((compared / "results.json").read_text())
    assert doc["schema_version"] == 3 and doc["status"] == "complete"
    pairs = {(run["backend"], run["variant"]) for run in doc["runs"]}
    assert ("numpy", "scratch") in pairs
    assert len(doc["runs"]) == 2 * len(pairs)
    run = doc["runs"][0]
    assert len(run["history"]) == 2 and run["peak_rss_bytes"] > 0 and doc["yardsticks"]["peak_gflops"] > 0
    markdown = (compared / "results.md").read_text()
    assert "| numpy | scratch | step | 2 |" in markdown and "blocked permutation test" in markdown
    assert "needs at least 2 seeds" not in markdown
    for figure in ("curves.png", "throughput.png"):
        assert_valid_png(compared / figure)


def test_report_re_renders_from_the_json(compared, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "results.json").write_text((compared / "results.json").read_text())
    done = cli("report", str(folder))
    assert done.returncode == 0, done.stderr
    assert (folder / "results.md").read_text() == (compared / "results.md").read_text()
    assert_valid_png(folder / "curves.png")


def test_bench_quick(tmp_path):
    """NumPy and TensorFlow (both loops); torch and JAX run bench in the peers test below."""
    done = cli("bench", "--quick", "--backends", "numpy", "tensorflow", "--out", str(tmp_path))
    assert "bench: dropout op" in done.stderr
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "bench.json").read_text())
    labels = {row["implementation"] for row in doc["dropout"]}
    assert {"numpy copy", "numpy scratch", "numpy chapter"} <= labels
    assert all(row["ratio_to_copy"] > 0 for row in doc["dropout"])
    rows = {(r["backend"], r["variant"], r["loop"]): r["host_us_per_step"] for r in doc["training"]["rows"]}
    assert ("numpy", "scratch", "step") in rows and min(rows.values()) > 0  # every loop, with its host cost
    assert len({key for key in rows if key[0] == "tensorflow"}) in (0, 6)  # 3 variants, each in both loops
    markdown = (tmp_path / "bench.md").read_text()
    assert "x own copy | x fastest copy" in markdown and "## Targets" in markdown and "| loop |" in markdown
    assert doc["data"]["load_s"] > 0
    assert_valid_png(tmp_path / "bench-dropout.png")
    assert_valid_png(tmp_path / "bench-training.png")
    (tmp_path / "bench.md").unlink()
    assert cli("report", str(tmp_path)).returncode == 0 and (tmp_path / "bench.md").is_file()


def test_train_prints_epochs_and_summary():
    done = cli("train", "--backend", "numpy", "--data-source", "synthetic", "--epochs", "2")
    assert done.returncode == 0, done.stderr
    epoch_lines = [line for line in done.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2 and "done: test accuracy" in done.stdout


def test_bad_input_through_the_console_script_is_one_clear_line():
    """The in-process cases are in tests/test_cli_errors.py; this one goes through the script."""
    done = cli("compare", "--seeds", "0", "0")
    assert done.returncode == 2
    assert "repeats [0]" in done.stderr and "Traceback" not in done.stderr


def test_info_lists_frameworks_and_data():
    done = cli("info")
    assert done.returncode == 0, done.stderr
    assert "numpy" in done.stdout and "data" in done.stdout


def test_main_command_is_what_the_readme_says():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "bash scripts/run.sh" in readme and "bash scripts/test.sh" in readme
    assert "dropout-ports compare" in (Path(__file__).parents[1] / "scripts" / "run.sh").read_text()
    assert os.access(Path(__file__).parents[1] / ".ci" / "run", os.R_OK)


def test_version_help_defaults_and_plain_text():
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("dropout-ports ")
    help_text = cli("compare", "--help").stdout
    assert "(default: 10)" in help_text and "``" not in cli("--help").stdout + help_text


def test_no_progress_frames_outside_a_terminal():
    done = cli(
        "compare", *SMALL_RUN, "--out", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"np-{os.getpid()}")
    )
    assert done.returncode == 0 and "\r" not in done.stderr and "it/s" not in done.stderr


def test_report_refuses_an_old_bench_document(tmp_path):
    (tmp_path / "bench.json").write_text(json.dumps({"schema_version": 1, "training": {}}))
    done = cli("report", str(tmp_path))
    assert done.returncode == 2 and "older dropout-ports" in done.stderr and "Traceback" not in done.stderr


def test_the_model_options_reach_every_run(tmp_path):
    args = ["--dropouts", "0.3", "0.3", "0.3", "--hiddens", "64", "32", "16", "--noise", "gaussian"]
    done = cli(
        "compare", *SMALL_RUN, *args, "--mc-samples", "3", "--dtype", "float64", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    (run,) = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert run["config"]["num_hiddens"] == [64, 32, 16] and run["config"]["noise"] == "gaussian"
    assert run["config"]["dtype"] == "float64" and 0 <= run["history"][-1]["mc_test_ece"] <= 1


def test_bench_peers_measures_keras_and_the_chapters_recipe_beside_the_ports(tmp_path):
    done = cli("bench", "--quick", "--peers", "--quiet", "--backends", "torch", "jax", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    train = json.loads((tmp_path / "bench.json").read_text())["training"]
    peers = {(row["backend"], row["peer"]): row for row in train["peers"]}
    assert set(peers) == {("torch", "Keras 3"), ("torch", "the chapter's recipe"), ("jax", "Keras 3")}
    for row in peers.values():
        assert row["epoch_s"] > 0 and 0 <= row["test_acc"] <= 1 and row["speedup"] > 0, row
        assert row["target"] == PEER_SPEEDUPS[row["peer"]]  # every peer has its target
        assert row["port_epoch_s"] == next(
            r["epoch_s"]
            for r in train["rows"]
            if r["backend"] == row["backend"] and r["variant"] == "scratch"
        )
    assert "## Peers" in (tmp_path / "bench.md").read_text()
