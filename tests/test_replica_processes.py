"""Data parallelism as processes: torch's DDP replicas (gloo on loopback) at 2 and 4 replicas, JAX
over jax.distributed, the launcher's failures, the run engine's records, torchrun, and the JAX
tests again with the key-reuse checker on. Each starts processes: all marked slow."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS
from replica_runs import fail_on_rank_one, train_replicas
from test_replicas import EXAMPLES, SMALL, assert_same_run, expected_agreement

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.runs.distributed import launch_local
from dropout_ports.benchmarks.runs.engine import execute
from dropout_ports.benchmarks.runs.spec import RunSpec
from dropout_ports.common.config import Config
from dropout_ports.common.data import first_examples
from dropout_ports.common.replicas import shard_slices

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def small(fashion):
    return first_examples(fashion, EXAMPLES)


def launched(name: str, cfg: Config, small, variant: str = "scratch") -> dict:
    """Rank 0's train_replicas over cfg.replicas launched processes (every replica's is the same)."""
    runs = launch_local(train_replicas, (name, cfg, variant), cfg.replicas, small, timeout=600)
    for run in runs[1:]:
        np.testing.assert_array_equal(run["params"]["W1"], runs[0]["params"]["W1"])
    return runs[0]


@pytest.mark.skipif("torch" not in BACKENDS, reason="torch is not installed")
@pytest.mark.parametrize("replicas", [2, 4])
def test_torch_replicas_reproduce_the_one_replica_run(replicas, small):
    cfg = SMALL.replace(replica_seeding="example")
    one = train_replicas("torch", cfg, "scratch", small)
    assert_same_run(launched("torch", cfg.replace(replicas=replicas), small), one)
    numpy_run = train_replicas("numpy", cfg, "scratch", small)  # and the reference's numbers
    np.testing.assert_allclose(one["losses"], numpy_run["losses"], rtol=0, atol=1e-9)


@pytest.mark.skipif("torch" not in BACKENDS, reason="torch is not installed")
@pytest.mark.parametrize("variant", ["scratch", "builtin"])
def test_torch_replicas_agree_as_their_seeding_says_and_never_repeat(variant, small):
    cfg = SMALL.replace(replicas=2, epochs=1)
    full = first_examples(small, 7 * 256)
    same = launched("torch", cfg.replace(replica_seeding="same"), full, variant)
    assert same["agreement"] == 1.0
    rank = launched("torch", cfg.replace(replica_seeding="rank"), full, variant)
    positions = 7 * 128 * 64 * 2 * (0.5 if variant == "builtin" else 1)  # builtin: where ReLU passed
    assert abs(rank["agreement"] - expected_agreement(cfg)) < 5 * np.sqrt(0.25 / positions)
    local = [step[layer][part].tobytes() for step in rank["masks"][:2] for layer in (0, 1)
             for part in shard_slices(256, 2)]  # fmt: skip
    assert len(set(local)) == len(local) or variant == "builtin"  # builtin: masks are not kept whole


@pytest.mark.skipif("jax" not in BACKENDS, reason="jax is not installed")
def test_jax_replicas_as_processes_over_jax_distributed_are_the_one_process_run(small):
    """jax.distributed.initialize on the CPU with gloo collectives: one device per process."""
    cfg = SMALL.replace(replicas=2, replica_seeding="example", epochs=1)
    assert_same_run(launched("jax", cfg, small), train_replicas("jax", cfg, "scratch", small))


@pytest.mark.parametrize(("how", "message"), [("raise", "replica 1 failed: RuntimeError"),
                                              ("exit", "replica 1 died: exit code 3")])  # fmt: skip
def test_a_replica_that_fails_or_dies_ends_the_launch_saying_which(how, message, synthetic):
    with pytest.raises(RuntimeError, match=message):
        launch_local(fail_on_rank_one, (how,), 2, synthetic, timeout=120)


def test_a_launch_past_its_time_ends_every_replica(synthetic):
    with pytest.raises(TimeoutError, match="timed out"):
        launch_local(fail_on_rank_one, ("hang",), 2, synthetic, timeout=20)
    time.sleep(1)  # the fork server reaps the replicas it forked
    servers = [
        pid for pid in _children(os.getpid()) if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert servers and not [pid for server in servers for pid in _children(server)]


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.skipif("torch" not in BACKENDS, reason="torch is not installed")
def test_the_engine_launches_torch_replicas_and_records_their_agreement(synthetic):
    cfg = Config(num_hiddens=(32, 32), batch_size=64, epochs=2, replicas=2)
    record = execute(RunSpec("torch", "scratch", 0, "cpu", cfg), synthetic)
    assert record["status"] == "ok", record.get("error")
    assert 0.5 < record["mask_agreement"] < 0.7 and all("mask_agreement" in row for row in record["history"])
    assert len(record["replica_peak_rss_bytes"]) == 2
    refused = execute(RunSpec("torch", "builtin", 0, "cpu", cfg), synthetic)  # auto: by example
    assert refused["status"] == "failed" and "cannot key them by example" in refused["error"]


@pytest.mark.skipif("torch" not in BACKENDS, reason="torch is not installed")
def test_torchrun_launches_the_train_command_as_replicas(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    train = "train --backend torch --replicas 2 --data-source synthetic --epochs 1 --hiddens 32 32"
    command = [str(torchrun), "--standalone", "--nproc-per-node=2", "-m", "dropout_ports.benchmarks.cli.main",
               *train.split(), "--out", str(tmp_path / "run")]  # fmt: skip
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    # a failing replica's own error comes first in stderr, torchrun's summary of it last
    assert done.returncode == 0, done.stderr[:3000] + "\n...\n" + done.stderr[-1500:]
    assert done.stdout.count("done: test accuracy") == 1  # rank 0 reports, and writes the folder
    assert (tmp_path / "run" / "results.json").is_file()


@pytest.mark.skipif("jax" not in BACKENDS, reason="jax is not installed")
def test_the_jax_tests_pass_with_the_key_reuse_checker_on():
    env = {**os.environ, "JAX_DEBUG_KEY_REUSE": "true"}
    tests = ["tests/test_jax.py", "tests/test_replicas.py", "-k", "jax", "-m", "not slow"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]


def test_bench_times_one_and_two_replicas_and_the_all_reduce():
    from dropout_ports.benchmarks.suites import bench, replicas

    rows = replicas.run(BACKENDS, quick=True)
    parallel = [name for name in BACKENDS if getattr(get_backend(name), "DataParallelTrainer", None)]
    assert {"numpy", "torch", "jax"} & set(BACKENDS) <= set(parallel)  # the ports that have one
    assert [(r["backend"], r["replicas"]) for r in rows] == [
        (name, label) for name in parallel for label, _ in replicas.SETTINGS
    ]
    assert all(r["status"] == "ok" and r["samples_per_s"] > 0 and r["of_chapter"] > 0 for r in rows), rows
    assert all(r["allreduce_ms"] > 0 and 0 < r["allreduce_share"] for r in rows if r["replicas"] == "2")
    section = "\n".join(bench.replicas_section({"replicas": rows}))
    assert "## Data parallel" in section and "all-reduce ms" in section
    assert bench.replicas_section({}) == []  # a bench document from before these rows
