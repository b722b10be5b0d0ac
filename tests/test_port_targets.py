"""The targets that tell a port's own costs from its framework's (benchmarks/suites/targets.py),
on a bench document made by hand, so every figure is known."""

from __future__ import annotations

import pytest

from dropout_ports.benchmarks.suites.breakdown import DROPOUT, MATMULS, OVERHEAD, PARTS, REST, split
from dropout_ports.benchmarks.suites.targets import best_mask_seconds, port_target_rows


def _epoch(backend: str, variant: str, rounds: list[float], floor_gflops: float = 100.0) -> dict:
    return {"backend": backend, "variant": variant, "loop": "step", "epoch_s": sorted(rounds)[1],
            "floor_gflops": floor_gflops, "rounds": {"epoch_s": rounds}}  # fmt: skip


def _parts(backend: str, variant: str, epoch_s: float, rates_0_s: float, tiny_s: float) -> dict:
    return {"backend": backend, "variant": variant, "loop": "step",
            **split(epoch_s, rates_0_s, tiny_s, matmuls_s=0.5, update_s=0.0)}  # fmt: skip


def _doc() -> dict:
    rows = [
        _epoch("numpy", "scratch", [1.0, 1.0, 1.0]),
        _epoch("torch", "scratch", [1.2, 1.5, 1.4]),  # 1.2x, 1.5x, 1.4x numpy's: median 1.4x, missed
        _epoch("torch", "compiled", [1.2, 1.4, 1.5]),  # 1.0x, 0.93x, 1.07x its scratch: median 1.0x, met
    ]
    breakdown = [_parts("numpy", "scratch", 1.0, 0.9, 0.1), _parts("torch", "scratch", 1.4, 1.1, 0.5),
                 _parts("torch", "compiled", 1.4, 1.0, 0.6)]  # fmt: skip
    ops = [("numpy", "scratch", 2**10, 1.0), ("numpy", "scratch", 2**16, 0.065536),
           ("numpy", "copy", 2**16, 0.001), ("torch", "scratch", 2**16, 0.131072)]  # fmt: skip
    dropout = [{"backend": b, "implementation": f"{b} {kind}", "is_copy": kind == "copy", "size": n, "ms": ms}
               for b, kind, n, ms in ops]  # fmt: skip
    cfg = {"num_hiddens": [256, 256], "dropouts": [0.2, 0.0], "batch_size": 256}
    return {"dropout": dropout, "training": {"rows": rows, "breakdown": breakdown, "config": cfg,
                                             "epoch_gflop": 50.0, "examples": 10_000}}  # fmt: skip


def test_a_mask_is_costed_at_the_frameworks_fastest_op_a_mask_large_or_larger():
    doc = _doc()
    assert best_mask_seconds(doc, "numpy", 256 * 256) == pytest.approx(1e-9)  # the 2^10 op's 1 µs passed over
    assert best_mask_seconds(doc, "numpy", 2**20) == pytest.approx(1e-9)  # none so large: its largest
    assert best_mask_seconds(doc, "jax", 256) is None


def test_each_target_is_judged_on_its_figure_and_a_miss_names_its_breakdown_part():
    got = {row["what"] + " " + row["target"]: row for row in port_target_rows(_doc())}
    # numpy: floor 50 GFLOP / 100 GFLOP/s = 0.5 s, masks 10,000 x 256 x 1 ns = 0.00256 s, epoch 1.0 s
    numpy = got["numpy scratch epoch (step loop) >= 85% of floor + best masks"]
    assert (numpy["measured"], numpy["met"]) == ("50%", False)
    assert numpy["why"] == f"{REST}: 30% of the epoch"  # 0.9 - 0.5 - 0.1: the largest part beyond the matmuls
    compiled = got["torch compiled epoch (step loop) <= 1x its scratch epoch"]
    assert (compiled["measured"], compiled["met"]) == ("1.00x", True)
    versus = got["torch scratch epoch (step loop) <= 1.3x numpy/scratch's epoch"]
    assert (versus["measured"], versus["met"]) == ("1.40x", False)
    assert versus["why"] == f"{OVERHEAD}: 0.500 s against 0.100 s"  # 0.4 s more; dropout 0.3 s - 0.1 s
    assert {DROPOUT, MATMULS} <= set(PARTS)
