"""Results folders through the console script: refused, resumed, locked, interrupted, re-rendered."""

from __future__ import annotations

import json

import pytest
from conftest import SMALL_RUN, cli

pytestmark = pytest.mark.slow  # each test runs the console script in a process of its own


def test_a_folder_with_results_is_refused_without_resume(compared):
    before = (compared / "results.json").read_bytes()
    done = cli("compare", *SMALL_RUN, "--out", str(compared))
    assert done.returncode == 2 and "--resume" in done.stderr and "Traceback" not in done.stderr
    assert (compared / "results.json").read_bytes() == before


def test_resume_runs_only_what_is_missing(tmp_path):
    assert cli("compare", *SMALL_RUN, "--seeds", "0", "--out", str(tmp_path)).returncode == 0
    first = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    done = cli("compare", *SMALL_RUN, "--seeds", "0", "1", "2", "--resume", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [run["seed"] for run in doc["runs"]] == [0, 1, 2] and doc["runs"][0] == first
    assert doc["settings"]["seeds"] == [0, 1, 2] and doc["status"] == "complete"
    other = cli("compare", *SMALL_RUN[:-1], "2", "--seeds", "3", "--resume", "--out", str(tmp_path))
    assert other.returncode == 2 and "config.epochs" in other.stderr


def test_a_folder_in_use_is_refused_at_once(tmp_path):
    from dropout_ports.benchmarks.results.folder import ResultsFolder

    with ResultsFolder(tmp_path, "results.json"):
        done = cli("compare", *SMALL_RUN, "--out", str(tmp_path), timeout=60)
    assert done.returncode == 2 and "in use" in done.stderr
    assert not (tmp_path / "results.json").exists()


def test_an_interrupt_the_moment_the_lock_is_taken_lets_it_go(tmp_path, monkeypatch):
    """A SIGTERM handled right after flock returned left the folder locked, and the interrupted
    command could not record its interruption ("in use by another dropout-ports command")."""
    import fcntl

    from dropout_ports.benchmarks.results import folder

    take = fcntl.flock

    def interrupted(fd: int, operation: int) -> None:
        take(fd, operation)
        raise KeyboardInterrupt

    monkeypatch.setattr(folder.fcntl, "flock", interrupted)
    with pytest.raises(KeyboardInterrupt), folder.ResultsFolder(tmp_path, "results.json"):
        pass
    monkeypatch.undo()
    with folder.ResultsFolder(tmp_path, "results.json"):
        pass  # the lock was let go


def test_an_output_path_that_is_a_file_is_one_clear_line(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    done = cli("compare", *SMALL_RUN, "--out", str(path))
    assert done.returncode == 2 and "is a file" in done.stderr and "Traceback" not in done.stderr


def test_diverged_runs_are_marked_and_left_out(tmp_path):
    done = cli("compare", *SMALL_RUN[:-1], "3", "--lr", "1e6", "--seeds", "0", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "results.json").read_text()
    doc = json.loads(text, parse_constant=lambda token: pytest.fail(f"non-strict JSON token {token}"))
    assert all(run["diverged"] and run["test_accuracy"] is None for run in doc["runs"])
    assert all(len(run["history"]) < 3 for run in doc["runs"])
    markdown = (tmp_path / "results.md").read_text()
    assert "| 2 diverged |" in markdown and "Left out of the statistics" in markdown
    assert "0.0977" not in markdown and "| nan" not in markdown.lower()


def test_train_out_writes_what_compare_writes(tmp_path):
    done = cli(
        "train", "--backend", "numpy", "--data-source", "synthetic", "--epochs", "2", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [(r["backend"], r["variant"], r["seed"]) for r in doc["runs"]] == [("numpy", "scratch", 0)]
    for name in ("results.md", "curves.png", "throughput.png"):
        assert (tmp_path / name).is_file()


def test_report_checks_the_schema_version(compared, tmp_path):
    doc = json.loads((compared / "results.json").read_text())
    for version, message in ((99, "newer dropout-ports"), (None, "no schema_version")):
        (tmp_path / "results.json").write_text(json.dumps({**doc, "schema_version": version}))
        done = cli("report", str(tmp_path))
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    del doc["settings"]
    (tmp_path / "results.json").write_text(json.dumps(doc))
    done = cli("report", str(tmp_path))
    assert done.returncode == 2 and "lacks settings" in done.stderr


def test_report_reads_a_schema_1_document(compared, tmp_path):
    doc = json.loads((compared / "results.json").read_text())
    peak = doc.pop("yardsticks")["peak_gflops"]
    runs = [{k: v for k, v in run.items() if k != "diverged"} for run in doc.pop("runs")]
    (tmp_path / "results.json").write_text(
        json.dumps({**doc, "schema_version": 1, "matmul_gflops": peak, "runs": runs})
    )
    done = cli("report", str(tmp_path))
    assert done.returncode == 0, done.stderr and "| numpy | scratch |" in done.stdout
