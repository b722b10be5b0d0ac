"""The statistics with known answers: Holm by hand, intervals inside [0, 1], the smallest p a design
can reach, tests over incomplete blocks, the interaction test, and identical runs found."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.report.statistics import mean_and_interval
from dropout_ports.benchmarks.results.identical import FIGURES, identical_groups, merged, why_identical
from dropout_ports.benchmarks.results.stats import (
    blocked_test,
    equivalence,
    holm,
    interaction_test,
    mean_interval,
    paired_test,
    sign_test,
    smallest_p,
)
from dropout_ports.benchmarks.runs.probes import PROBES
from dropout_ports.common.config import Config
from dropout_ports.common.fit import fit


def test_holm_matches_a_hand_computed_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, None, 0.9]) == pytest.approx([0.4, None, 0.9])  # an untested entry does not count
    assert holm([0.2]) == [0.2] and holm([]) == []


def test_intervals_are_printed_as_computed_and_marked_past_zero_one():
    assert mean_interval([0.85, 0.86]) is None  # t = 12.7 with 2: no interval is printed
    mean, low, high = mean_interval([0.10, 0.99, 0.98])
    assert low < 0.0 < mean < 1.0 < high  # a collapsed run: Student's reaches past both ends
    assert mean_and_interval([0.10, 0.99, 0.98]) == f"{mean:.4f} [{low:.4f}*, {high:.4f}*]"
    mean, low, high = mean_interval([0.84, 0.85, 0.86])
    assert mean - low == pytest.approx(high - mean) == pytest.approx(4.302653 * 0.01 / np.sqrt(3), rel=1e-5)
    assert "*" not in mean_and_interval([0.84, 0.85, 0.86])


def test_the_smallest_p_of_a_blocked_design():
    assert smallest_p(np.zeros((3, 2))) == pytest.approx(0.25)  # 2 ports x 3 seeds: (2!)^2
    assert smallest_p(np.zeros((3, 3))) == pytest.approx(1 / 36)
    assert smallest_p(np.zeros((2, 3))) == pytest.approx(1 / 6)
    incomplete = np.array([[0.0, 0.0, np.nan], [0.0, 0.0, 0.0]])
    assert smallest_p(incomplete) == pytest.approx(2 / (2 * 6))  # 2! 3! relabellings, 2 ports everywhere


def test_blocked_test_sees_a_paired_difference_the_seeds_would_hide():
    """Port b is port a plus 0.5 points on every seed, while seeds differ by several points: only
    a test within seeds can see it, and the shift is far inside a 1-point equivalence margin."""
    seeds = np.random.default_rng(0).normal(0.85, 0.03, 6)
    a = dict(enumerate(seeds))
    b = {seed: value + 0.005 for seed, value in a.items()}
    test = blocked_test({"a": a, "b": b})
    assert test["p_value"] < 0.05 and test["smallest_p"] == pytest.approx(1 / 32)
    (pair,) = equivalence({"a": a, "b": b}, margin=0.01)
    assert pair["p_value"] < 0.05 and pair["mean_difference"] == pytest.approx(-0.005)
    assert pair["interval"] == pytest.approx((-0.005, -0.005))
    assert pair["smallest_margin"] == pytest.approx(0.005)
    (wide,) = equivalence({"a": a, "b": b}, margin=0.004)
    assert wide["p_value"] > 0.05


def test_blocked_test_finds_no_difference_among_exchangeable_ports():
    rng = np.random.default_rng(1)
    ports = {name: dict(enumerate(rng.normal(0.85, 0.01, 5))) for name in "abc"}
    test = blocked_test(ports)
    assert test["p_value"] > 0.05 and test["residual_df"] == 8
    assert test["residual_sd"] == pytest.approx(0.01, rel=0.6)
    assert blocked_test({"a": {0: 0.8}, "b": {0: 0.81}}) is None  # one seed: no test


def test_an_incomplete_block_moves_values_only_among_the_ports_it_has():
    """c is missing from the second half of the blocks; a, 1 point above b everywhere, is found."""
    rng = np.random.default_rng(2)
    base = rng.normal(0.85, 0.03, 8)
    ports = {
        "a": {s: base[s] + 0.01 + rng.normal(0, 0.001) for s in range(8)},
        "b": {s: base[s] + rng.normal(0, 0.001) for s in range(8)},
        "c": {s: base[s] + 0.005 + rng.normal(0, 0.001) for s in range(4)},
    }
    test = blocked_test(ports)
    assert test["p_value"] < 0.001 and test["design"]["dfn"] == 2
    assert test["design"]["factor"] == pytest.approx(4 * (1 - 1 / 3) + 4 * (1 - 1 / 2))


def test_interaction_test_finds_one_port_off_in_one_setting_and_not_otherwise():
    rng = np.random.default_rng(3)

    def blocks(shift: float) -> dict:
        return {
            setting: {seed: {p: rng.normal(0.85, 0.003) + (shift if (p, setting) == ("a", "x") else 0)
                             for p in "abc"} for seed in range(4)}
            for setting in ("x", "y", "z")
        }  # fmt: skip

    off, null = interaction_test(blocks(0.03)), interaction_test(blocks(0.0))
    assert off["p_value"] < 0.01 < null["p_value"] and off["design"]["dfn"] == 4
    # settings relabelled within each of the 4 seeds: 3!^4 relabellings, all of them (exact), each
    # distinct statistic 3! times (the settings renamed alike in every seed)
    assert off["exact"] and off["permutations"] == 6**4
    assert off["smallest_p"] == pytest.approx(math.factorial(3) / 6**4)
    assert interaction_test({"x": {0: {"a": 1.0, "b": 2.0}}, "y": {0: {"a": 1.0, "b": 2.0}}}) is None


def test_paired_and_sign_tests():
    test = paired_test([0.01, 0.012, 0.009, 0.011])
    assert test["p_value"] < 0.001 and test["interval"][0] > 0
    assert "interval" not in paired_test([0.01, 0.02]) and paired_test([0.01]) is None
    assert sign_test(8, 1)["p_value"] == pytest.approx(20 / 512) and sign_test(0, 0) is None


def _run(seed: int, acc: float, diverged: bool = False, seconds: float = 1.0) -> dict:
    row = {"epoch": 1, "test_acc": acc, "seconds": seconds, "host_seconds": seconds / 2}  # timings differ
    return {"seed": seed, "test_accuracy": None if diverged else acc, "diverged": diverged, "history": [row]}


def test_identical_ports_are_found_however_their_timings_differ():
    runs = {
        "torch/scratch": {0: _run(0, 0.85), 1: _run(1, 0.86)},
        "torch/builtin": {0: _run(0, 0.85, seconds=9.0), 1: _run(1, 0.86)},
        "jax/scratch": {0: _run(0, 0.85), 1: _run(1, 0.87)},  # the same on seed 0 only: not identical
        "jax/builtin": {1: _run(1, 0.87)},  # the same as jax/scratch on the one seed both have
    }
    groups = identical_groups(runs)
    assert groups == [["torch/scratch", "torch/builtin"], ["jax/scratch", "jax/builtin"]]
    assert list(merged(runs, groups)) == ["torch/scratch", "jax/scratch"]
    off = {"dropouts": [0.0, 0.0]}
    assert why_identical(groups[0], [off, off]).startswith("every rate 0")
    assert why_identical(["numpy/scratch", "torch/scratch"], [off]) == "bit-identical on every shared seed"
    assert identical_groups({"a/x": {0: _run(0, 0.8)}, "b/x": {1: _run(1, 0.8)}}) == []  # no seed shared


def test_every_figure_a_run_computes_is_compared(synthetic):
    """identical.FIGURES names what two identical runs share; all else fit writes is a timing."""
    cfg = Config(epochs=1, num_hiddens=(16, 8), mc_samples=2)
    figures = {}
    for probe in PROBES.values():
        figures |= fit(get_backend("numpy"), cfg, synthetic, progress=False, probe=probe).history[-1]
    assert set(figures) - set(FIGURES) == {"seconds", "host_seconds"}
