"""Speed figures a reader can trust, their logic without a clock: rounds interleaved in order, the
ports in turn, ratios called only where every round agrees, the machine's load flagged, targets
judged on the figure shown and not at all at --quick sizes, floors computed as the trainer does."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from concurrent.futures import Executor, Future
from types import SimpleNamespace

import numpy as np
import pytest

from dropout_ports.benchmarks.results.throughput import load_summary, ratio_spread
from dropout_ports.benchmarks.runs.machine import (
    load_between,
    load_snapshot,
    matmul_call,
    step_matmuls,
    step_operands,
)
from dropout_ports.benchmarks.suites import rounds
from dropout_ports.benchmarks.suites.rounds import in_turns, time_parts
from dropout_ports.benchmarks.suites.targets import COLUMNS, QUICK_WORDS, target_rows
from dropout_ports.common.config import Config
from dropout_ports.common.flops import gemm_shapes
from dropout_ports.common.timing import host_loop


def test_a_port_is_slower_only_where_every_round_agrees():
    spread = {row["port"]: row for row in ratio_spread({
        "a": [1.0, 1.0, 1.0],
        "b": [2.0, 1.9, 2.2],  # slower in every round
        "c": [0.9, 1.2, 1.1],  # faster in one round: within noise, however slow its median
        "d": [1.004, 1.3, 1.2],  # 1.00x as shown in one round: a tie, so within noise
    })}  # fmt: skip
    assert spread["a"]["verdict"] == "fastest (median)" and spread["a"]["ratio"] == 1.0
    assert spread["b"]["verdict"] == "slower in every round"
    assert (spread["b"]["ratio"], spread["b"]["low"], spread["b"]["high"]) == pytest.approx((2.0, 1.9, 2.2))
    assert spread["c"]["verdict"] == spread["d"]["verdict"] == "within noise"
    assert {row["reference"] for row in spread.values()} == {"a"} and spread["c"]["rounds"] == 3
    with pytest.raises(ValueError):  # rounds are paired: a port with fewer is a bug, not a figure
        ratio_spread({"a": [1.0, 1.0], "b": [2.0]})


def test_a_round_times_each_part_once_in_order_with_the_load_around_it():
    called = []

    def part(label: str, repeats: int = 1):
        return lambda: called.append(label) or {"repeats": repeats, "host_seconds": 0.5}

    records = time_parts([("floor", part("floor", 4)), ("epoch", part("epoch")), ("floor", part("floor", 4))])
    assert called == ["floor", "epoch", "floor"] and [r["label"] for r in records] == called
    assert all(
        r["seconds"] >= 0 and len(r["load"]["load1"]) == 2 and r["host_seconds"] == 0.5 for r in records
    )


def test_a_burst_repeats_a_short_call_and_says_how_often(monkeypatch):
    monkeypatch.setattr(rounds, "BURST_S", 0.0)
    calls = []
    part = rounds.burst(lambda: calls.append(1))
    assert len(calls) == 2 and part() == {"repeats": 1} and len(calls) == 3  # warm-up, calibration, one


class Inline(Executor):
    """Runs each submitted call at once, logging it: the order the ports take their turns in."""

    def __init__(self, log: list):
        self.log = log

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_ports_take_their_rounds_in_turn():
    log: list = []
    step = lambda name, stage: log.append((name, stage)) or len(log)  # noqa: E731
    results = in_turns({"numpy": Inline(log), "torch": Inline(log)}, step, 3, "epochs")
    assert log == [("numpy", "epochs"), ("torch", "epochs")] * 3
    assert results == {"numpy": [1, 3, 5], "torch": [2, 4, 6]}


def _loaded(load1: float, others: float | None, wall_s: float = 1.0) -> dict:
    return {"load": {"load1": [load1, load1], "others_cores": others, "wall_s": wall_s}}


def test_a_busy_machine_is_flagged_quiet_one_not():
    assert not load_summary([_loaded(1.9, 0.1), _loaded(2.0, 0.2)], cores=2)["busy"]
    # the load average counts this run's own threads: above the cores, it says busy only where
    # other processes' CPU could not be read
    assert not load_summary([_loaded(1.0, 0.1), _loaded(2.5, 0.2)], cores=2)["busy"]
    assert load_summary([_loaded(1.0, None), _loaded(2.5, None)], cores=2)["busy"]
    busy = load_summary([_loaded(1.0, 0.9), _loaded(1.0, 0.7)], cores=2)  # others hold most of a core
    assert busy["busy"] and busy["others_cores"] == pytest.approx(0.8) and busy["max_load1"] == 1.0
    brief = load_summary([_loaded(1.0, 2.9, wall_s=0.01), _loaded(1.0, 0.1, wall_s=1.0)], cores=2)
    assert not brief["busy"] and brief["others_cores"] == pytest.approx(0.129 / 1.01)  # weighted by time
    assert load_summary([_loaded(1.0, None)], cores=2)["others_cores"] is None  # no /proc/stat: load only


def test_other_processes_cpu_is_the_machines_less_our_own():
    before = {"at": 10.0, "load1": 1.0, "own_cpu_s": 5.0, "cpu_s": 100.0}
    after = {"at": 12.0, "load1": 1.5, "own_cpu_s": 8.0, "cpu_s": 104.0}  # 4 s used, 3 of them ours
    assert load_between(before, after) == {"load1": [1.0, 1.5], "others_cores": 0.5, "wall_s": 2.0}
    del before["cpu_s"]
    assert load_between(before, after)["others_cores"] is None


def test_a_live_child_processes_cpu_counts_as_our_own():
    """bench's replica processes are the run's work: a busy child's CPU time is in our own (read
    against the start: the suite's other live children, a Ray head, say, count too)."""
    if not os.path.exists(f"/proc/{os.getpid()}/task"):
        pytest.skip("no /proc here")
    busy_then_idle = (
        "import time\nend = time.process_time() + 1\nwhile time.process_time() < end: pass\ntime.sleep(60)"
    )
    before = load_snapshot()["own_cpu_s"]
    child = subprocess.Popen([sys.executable, "-c", busy_then_idle])
    try:
        deadline = time.monotonic() + 60
        while load_snapshot()["own_cpu_s"] - before < 0.9 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert load_snapshot()["own_cpu_s"] - before > 0.5  # the child's second, whatever the load
    finally:
        child.kill()
        child.wait()


def _bench_doc(quick: bool, share: float, copy_ratio: float) -> dict:
    dropout = [{"implementation": "numpy scratch", "is_copy": False, "p": 0.5, "size": 2**24,
                "ratio_to_copy": copy_ratio, "ratio_to_fastest_copy": copy_ratio}]  # fmt: skip
    rows = [{"backend": "numpy", "variant": "scratch", "loop": "step", "of_own_gemm": share}]
    training = {"rows": rows, "yardsticks": {"peak_gflops": 1.0, "by_backend": {}}}
    return {"quick": quick, "device": "cpu", "dropout": dropout, "training": training}


def test_targets_are_judged_on_the_figure_shown_and_not_at_quick_sizes():
    rows = target_rows(_bench_doc(quick=False, share=0.7496, copy_ratio=3.004))
    assert [(r["measured"], r["met"]) for r in rows] == [("3.00x", True), ("3.00x", True), ("75%", True)]
    missed = target_rows(_bench_doc(quick=False, share=0.7449, copy_ratio=3.006))
    assert [(r["measured"], r["met"]) for r in missed] == [("3.01x", False), ("3.01x", True), ("74%", False)]
    quick = target_rows(_bench_doc(quick=True, share=0.2, copy_ratio=9.0))
    result = dict(COLUMNS)["result"]
    assert {r["met"] for r in quick} == {None} and {result(r) for r in quick} == {QUICK_WORDS}


def test_the_floor_is_the_steps_matmuls_in_the_trainers_layout():
    cfg = Config(num_hiddens=(6, 5), dropouts=(0.1, 0.2), batch_size=4, num_inputs=7, num_outputs=3)
    pairs = step_operands(cfg)
    assert [(a.shape[0], a.shape[1], b.shape[1]) for a, b in pairs] == gemm_shapes(cfg)
    assert pairs[1][0].base is pairs[0][0] and pairs[4][1].base is pairs[2][1]  # x.T, w.T: views
    step_matmuls(SimpleNamespace(**_numpy_like([])), cfg)()  # runs at the MLP's shapes


def _numpy_like(log: list, takes_out: bool = True) -> dict:
    """The Backend names matmul_call uses, logging how each matmul was called."""

    def matmul(a, b, **out):
        if out and not takes_out:
            raise TypeError("matmul() got an unexpected keyword argument 'out'")
        log.append("into" if out else "fresh")
        return np.matmul(a, b, **out)

    def device_loop(fn, steps):
        log.append(f"loop of {steps}")
        return host_loop(fn, steps)

    return {"matmul": matmul, "device_loop": device_loop, "ready": lambda x: x,
            "asarray": lambda a, device: np.asarray(a),
            "matmul_precision": lambda precision: contextlib.nullcontext()}  # fmt: skip


@pytest.mark.parametrize("takes_out", [True, False])
def test_a_floor_writes_into_outputs_allocated_once_or_runs_in_the_frameworks_loop(takes_out):
    log: list = []
    pair = (np.ones((3, 3)), np.ones((3, 3)))
    call = matmul_call(SimpleNamespace(**_numpy_like(log, takes_out)), [pair], "highest", steps=2)
    assert log[-1:] == (["into"] if takes_out else ["loop of 2"])  # out= tried once, else one loop built
    log.clear()
    call()
    assert log == ["into"] * 2 if takes_out else ["fresh"] * 2  # steps matmuls a call


def test_a_run_alone_times_its_floor_after_each_epoch_and_compare_reports_it(synthetic):
    """compare's floors beside the epochs: each epoch's row gains the port's floor, measured in the
    run's process right after it, and the load over it; the report's row takes the median floor
    of the steady epochs and its shares are against it."""
    from dropout_ports.backends import numpy as nb
    from dropout_ports.benchmarks.results.document import compare_rows
    from dropout_ports.benchmarks.results.throughput import flags
    from dropout_ports.benchmarks.runs.probes import with_floors
    from dropout_ports.common.fit import fit

    cfg = Config(num_hiddens=(32, 16), epochs=3)
    history = fit(nb, cfg, synthetic, progress=False, probe=with_floors(nb, "cpu", None)).to_dict()["history"]
    assert all(row["floor_gflops"] > 0 and row["load"]["wall_s"] > 0 for row in history)
    run = {"backend": "numpy", "variant": "scratch", "seed": 0, "config": cfg.to_dict(), "history": history,
           "diverged": False, "status": "ok", "test_accuracy": history[-1]["test_acc"],
           "runs_at_once": 1}  # fmt: skip
    doc = {"runs": [run], "settings": {"train_examples": len(synthetic.train_y)}, "environment": {"cores": 2},
           "yardsticks": {"peak_gflops": 1e9, "by_backend": {"numpy": {"mlp_gflops": 1e-9}}}}  # fmt: skip
    (row,) = compare_rows(doc)
    assert row["floor_gflops"] == pytest.approx(np.median([r["floor_gflops"] for r in history[1:]]))
    assert row["of_own_gemm"] == pytest.approx(row["gflops"] / row["floor_gflops"])  # not the yardstick's
    assert "load: not measured" not in flags(row) and row["load"]["cores"] == 2
