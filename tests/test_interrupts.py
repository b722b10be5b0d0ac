"""Interruptions keep what finished: Ctrl-C and SIGTERM during the runs save and render the
finished ones; before the first run finishes, results.json says "interrupted" with no runs."""

from __future__ import annotations

import json
import signal
import time

import pytest
from conftest import SCRIPT, cli, interruptible

pytestmark = pytest.mark.slow  # end to end, through the console script


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_compare_keeps_and_renders_the_finished_runs(tmp_path, signum, exit_code):
    out = tmp_path / "interrupted"
    args = ["compare", "--data-source", "synthetic", "--backends", "numpy", "--seeds", "0", "1", "2"]
    process = interruptible([str(SCRIPT), *args, "--epochs", "30", "--out", str(out)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        path = out / "results.json"
        if path.is_file() and json.loads(path.read_text())["runs"]:
            break
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code, stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["status"] == "interrupted" and 1 <= len(doc["runs"]) < 3
    assert "(interrupted)" in (out / "results.md").read_text()
    assert all(len(run["history"]) == 30 for run in doc["runs"])
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert "Traceback" not in stderr.decode()


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_before_the_first_run_leaves_an_interrupted_document(tmp_path, signum, exit_code):
    """Stopped while the yardsticks are measured, before any run: results.json says so, with no runs."""
    out = tmp_path / "early"
    process = interruptible(
        [str(SCRIPT), "compare", "--data-source", "synthetic", "--backends", "numpy", "--out", str(out)]
    )
    said = b""
    while b"results go to" not in said:  # the data is loaded; yardsticks come next, then the first run
        said += process.stderr.readline()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code, stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["status"] == "interrupted" and doc["runs"] == []
    assert "no run had finished" in (said + stderr).decode() and "Traceback" not in stderr.decode()
    args = ("--data-source", "synthetic", "--backends", "numpy")
    resumed = cli("compare", *args, "--resume", "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr  # --resume measures what is missing and runs them all
    doc = json.loads((out / "results.json").read_text())
    assert doc["status"] == "complete" and doc["yardsticks"]["peak_gflops"] > 0 and len(doc["runs"]) == 1
