"""Results that never lie and are never lost: files, folders, shares (the statistics: test_stats.py)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from dropout_ports.benchmarks.report.figures import data_label
from dropout_ports.benchmarks.results.document import check_document
from dropout_ports.benchmarks.results.folder import FolderError, ResultsFolder, new_folder
from dropout_ports.benchmarks.results.store import write_json_atomic
from dropout_ports.benchmarks.results.throughput import (
    add_shares,
    distrusted,
    share_text,
    with_fastest_copy,
    with_shares,
)
from dropout_ports.benchmarks.runs.machine import describe_threads, environment
from dropout_ports.benchmarks.suites.targets import target_rows


def test_json_is_strict_durable_and_gets_the_umask_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "r.json", {"loss": float("nan"), "rows": [float("inf"), 1.5]})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
    text = (tmp_path / "r.json").read_text()
    assert json.loads(text) == {"loss": None, "rows": [None, 1.5]} and "NaN" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_killed_writers_temporary_files_are_swept_under_the_lock(tmp_path):
    stray = tmp_path / ".results.json.abc123.tmp"
    stray.write_text("{half a fi")
    with ResultsFolder(tmp_path, "results.json"):
        pass
    assert not stray.exists()


def test_the_lock_is_exclusive_and_released(tmp_path):
    with ResultsFolder(tmp_path, "results.json"), pytest.raises(FolderError, match="in use"):
        ResultsFolder(tmp_path, "results.json").__enter__()
    with ResultsFolder(tmp_path, "results.json") as folder:
        folder.save({"runs": []})
    with pytest.raises(FolderError, match="--resume"):
        ResultsFolder(tmp_path, "results.json").__enter__()
    with ResultsFolder(tmp_path, "results.json", resume=True) as folder:
        assert folder.existing == {"runs": []}


def test_default_folders_are_unique_within_one_second(tmp_path):
    folders = {new_folder("x-", tmp_path) for _ in range(5)}
    assert len(folders) == 5 and all(f.is_dir() for f in folders)


def test_shares_are_never_clipped_and_the_floor_beside_the_epochs_comes_first():
    sticks = {"peak_gflops": 100.0, "by_backend": {"jax": {"mlp_gflops": 80.0}}}
    rows = [
        {"backend": "jax", "gflops": 102.0},  # beat both yardsticks: shown as measured, flagged
        {"backend": "jax", "gflops": 40.0, "floor_gflops": 20.0},  # its own floor, measured beside it
        {"backend": "numpy", "gflops": 50.0},
    ]
    assert add_shares(rows, sticks) == 100.0
    assert [row["of_peak"] for row in rows] == pytest.approx([1.02, 0.4, 0.5])
    assert [row["of_own_gemm"] for row in rows] == pytest.approx([102 / 80, 2.0, None])
    assert share_text(rows[1]["of_own_gemm"]) == "200% (over 100%: distrust)"
    assert share_text(1.004) == "100%" and not distrusted(1.004)  # the reader sees 100%: not over
    stored = [{"backend": "jax", "gflops": 90.0, "of_own_gemm": 1.0}]  # an old document's clipped share
    assert with_shares(stored, sticks)[0]["of_own_gemm"] == pytest.approx(90 / 80)
    assert stored[0]["of_own_gemm"] == 1.0  # the document itself is left as it was


def test_the_environment_names_blas_kernel_threads_and_pins(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    env = environment(["numpy"])
    assert any(pool["user_api"] == "blas" and pool["num_threads"] >= 1 for pool in env["threadpools"])
    line = describe_threads(env)
    assert line.startswith("BLAS: ") and "OPENBLAS_CORETYPE=Haswell" in line and "slower" in line


def test_titles_name_the_data_set_not_a_path():
    assert data_label("/usr/share/datasets/fashion-mnist") == "Fashion-MNIST"
    assert "synthetic" in data_label("synthetic(seed=0)")


def _dropout_row(label: str, ms: float, own_copy_ms: float, size: int = 2**24) -> dict:
    return {"implementation": label, "is_copy": label.endswith("copy"), "p": 0.5, "size": size, "ms": ms,
            "ratio_to_copy": ms / own_copy_ms}  # fmt: skip


def test_targets_take_each_ratio_from_the_largest_size_of_the_run():
    rows = [
        _dropout_row("numpy copy", 5.0, 5.0),
        _dropout_row("numpy scratch", 14.0, 5.0),  # 2.8x its own copy: met
        _dropout_row("torch copy", 10.0, 10.0),
        _dropout_row("torch scratch", 31.0, 10.0),  # 3.1x its own copy, 6.2x numpy's: both missed
        _dropout_row("torch copy", 0.001, 0.001, size=2**10),
        _dropout_row("torch scratch", 1.0, 0.001, size=2**10),  # not the largest size: no target
    ]
    training = {
        "rows": [{"backend": "torch", "variant": v, "of_own_gemm": 0.7} for v in ("scratch", "builtin")],
        "yardsticks": {"peak_gflops": 100.0, "by_backend": {}},
    }
    got = {
        (r["what"], r["target"]): r["met"]
        for r in target_rows({"device": "cpu", "dropout": with_fastest_copy(rows), "training": training})
    }
    assert got == {
        ("numpy scratch dropout, p = 0.5", "<= 3x own copy"): True,
        ("numpy scratch dropout, p = 0.5", "<= 6x fastest copy"): True,
        ("torch scratch dropout, p = 0.5", "<= 3x own copy"): False,
        ("torch scratch dropout, p = 0.5", "<= 6x fastest copy"): False,
        ("torch scratch epoch", ">= 75% of own GEMM"): False,
        ("torch builtin epoch", ">= 60% of own GEMM"): True,
    }
    on_gpu = target_rows({"device": "gpu", "dropout": with_fastest_copy(rows[2:4]), "training": training})
    assert [(r["measured"], r["met"]) for r in on_gpu] == [("32%", False)]  # epochs: CPU targets only


def test_a_bench_document_from_before_the_fastest_copy_gets_it_when_read():
    rows = [_dropout_row("numpy copy", 5.0, 5.0), _dropout_row("torch scratch", 31.0, 10.0)]
    doc = {
        "schema_version": 3,
        "environment": {},
        "quick": False,
        "device": "cpu",
        "data": {},
        "training": {},
    }
    upgraded = check_document({**doc, "dropout": rows}, "bench.json", "bench.json")
    assert [row["ratio_to_fastest_copy"] for row in upgraded["dropout"]] == [1.0, 6.2]


def test_on_a_gpu_each_loop_is_held_to_the_fastest_port_in_that_loop():
    def epoch(backend: str, loop: str, seconds: float) -> dict:
        return {"backend": backend, "variant": "scratch", "loop": loop, "epoch_s": seconds}

    training = [epoch("torch", "step", 0.5), epoch("jax", "step", 0.1), epoch("torch", "device", 0.03)]
    training += [epoch("jax", "device", 0.01), {**epoch("jax", "device", 0.5), "variant": "builtin"}]
    doc = {"device": "gpu", "dropout": [], "training": {"rows": training}}
    got = {(r["what"], r["target"], r["measured"], r["met"]) for r in target_rows(doc)}
    assert got == {
        ("torch scratch epoch (device loop)", "<= 2x jax's epoch", "3.00x", False),
        ("torch scratch epoch (step loop)", "<= 3x jax's epoch", "5.00x", False),
    }
