"""End to end through the console script: compare, report, bench, train, info, and errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

SCRIPT = Path(sys.executable).with_name("dropout-ports")


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def assert_valid_png(path: Path) -> None:
    image = plt.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    done = cli(
        "compare", "--data-source", "synthetic", "--epochs", "2", "--seeds", "0", "1", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    return out


def test_compare_writes_json_markdown_and_figures(compared):
    doc = json.loads((compared / "results.json").read_text())
    assert doc["schema_version"] == 1 and doc["status"] == "complete"
    pairs = {(run["backend"], run["variant"]) for run in doc["runs"]}
    assert ("numpy", "scratch") in pairs
    assert len(doc["runs"]) == 2 * len(pairs)
    run = doc["runs"][0]
    assert len(run["history"]) == 2 and run["peak_rss_bytes"] > 0 and doc["matmul_gflops"] > 0
    markdown = (compared / "results.md").read_text()
    assert "| numpy | scratch | 2 |" in markdown and "permutation test" in markdown
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


def test_interrupted_compare_keeps_the_finished_runs(tmp_path):
    out = tmp_path / "interrupted"
    args = ["compare", "--data-source", "synthetic", "--backends", "numpy", "--seeds", "0", "1", "2"]
    process = subprocess.Popen(
        [str(SCRIPT), *args, "--epochs", "30", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        path = out / "results.json"
        if path.is_file() and json.loads(path.read_text())["runs"]:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["status"] == "interrupted" and 1 <= len(doc["runs"]) < 3
    assert all(len(run["history"]) == 30 for run in doc["runs"])
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert "Traceback" not in stderr.decode()


def test_bench_quick(tmp_path):
    done = cli("bench", "--quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "bench.json").read_text())
    labels = {row["implementation"] for row in doc["dropout"]}
    assert {"numpy copy", "numpy scratch"} <= labels
    assert all(row["ratio_to_copy"] > 0 for row in doc["dropout"])
    assert {row["backend"] for row in doc["training"]["rows"]} >= {"numpy"}
    assert "x copy" in (tmp_path / "bench.md").read_text()
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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--backend", "numpy", "--lr", "-1", "--data-source", "synthetic"], "lr must be"),
        (
            ["train", "--backend", "numpy", "--variant", "builtin", "--data-source", "synthetic"],
            "unknown variant",
        ),
        (["train", "--backend", "numpy", "--device", "gpu", "--data-source", "synthetic"], "one device"),
        (["report", "/nonexistent"], "neither results.json nor bench.json"),
        (["compare", "--backends", "numpy", "--device", "gpu", "--data-source", "synthetic"], "one device"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    done = cli(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_info_lists_frameworks_and_data():
    done = cli("info")
    assert done.returncode == 0, done.stderr
    assert "numpy" in done.stdout and "data" in done.stdout


def test_main_command_is_what_the_readme_says():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "bash scripts/run.sh" in readme and "bash scripts/test.sh" in readme
    assert "dropout-ports compare" in (Path(__file__).parents[1] / "scripts" / "run.sh").read_text()
    assert os.access(Path(__file__).parents[1] / ".ci" / "run", os.R_OK)
