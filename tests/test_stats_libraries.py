"""Our hand-written statistics against well-kept libraries' (scipy, statsmodels), so a reader need
not trust our arithmetic; and the seed as the unit: with ports that share a seed effect and do not
differ, a study contrast rejects at its nominal rate, where (port, seed) pairs as units would not."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from dropout_ports.benchmarks.results.stats import (
    blocked_test,
    equivalence,
    holm,
    interaction_test,
    paired_test,
)
from dropout_ports.benchmarks.studies.analysis import contrast_test
from dropout_ports.benchmarks.studies.design import versus

multitest = pytest.importorskip("statsmodels.stats.multitest")
weightstats = pytest.importorskip("statsmodels.stats.weightstats")


def test_holm_equals_statsmodels():
    p_values = np.random.default_rng(0).uniform(0, 0.2, 21)
    expected = multitest.multipletests(p_values, method="holm")[1]
    assert holm(list(p_values)) == pytest.approx(expected, abs=1e-15)


def test_tost_equals_statsmodels_ttost_paired():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.85, 0.01, 12), rng.normal(0.853, 0.01, 12)
    (row,) = equivalence({"a": dict(enumerate(a)), "b": dict(enumerate(b))}, margin=0.01)
    p_value, *_ = weightstats.ttost_paired(a, b, -0.01, 0.01)
    assert row["p_value"] == pytest.approx(p_value, rel=1e-12)


def test_paired_test_equals_scipy():
    differences = np.random.default_rng(2).normal(0.004, 0.01, 7)
    expected = stats.ttest_1samp(differences, 0.0)
    assert paired_test(list(differences))["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)


def test_an_exact_blocked_test_equals_scipys_permutation_test():
    """3 ports x 4 seeds: all 6^4 relabellings within seeds, as scipy enumerates them."""
    table = np.random.default_rng(3).normal(0.85, 0.01, (4, 3))
    table[:, 0] += 0.006
    test = blocked_test({port: dict(enumerate(table[:, port])) for port in range(3)})

    def statistic(*ports: np.ndarray, axis: int = -1) -> np.ndarray:  # sum of squared port totals
        totals = np.stack(ports) - np.mean(np.stack(ports), axis=0)
        return (totals.sum(axis=axis) ** 2).sum(axis=0)

    expected = stats.permutation_test(
        tuple(table.T), statistic, permutation_type="samples", alternative="greater", n_resamples=10_000
    )
    assert test["exact"] and test["permutations"] == 6**4
    assert test["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)


def test_seeds_relabel_whole_in_a_study_and_settings_within_a_seed():
    """Interaction: settings relabelled only among a seed's blocks, so a seed's own quirk cannot
    pass for one (all 2^3 relabellings of 2 settings x 3 seeds, every one enumerated)."""
    blocks = {s: {seed: {"a": 0.8 + 0.01 * seed, "b": 0.8 + 0.003 * (s == "x")} for seed in range(3)}
              for s in ("x", "y")}  # fmt: skip
    test = interaction_test(blocks)
    assert test["exact"] and test["permutations"] == 2**3 and test["p_value"] == pytest.approx(2 / 8)


def _study_runs(rng: np.random.Generator, seeds: int, ports: int) -> dict:
    """A study's runs of two settings where the contrast "on - off" is a seed effect shared by every
    port (sd 1 pp) plus port noise (sd 0.3 pp): the ports agree, and the settings do not differ."""
    runs: dict = {"on": {}, "off": {}}
    for seed in range(seeds):
        effect = rng.normal(0, 0.01)
        for port in range(ports):
            off = 0.85 + rng.normal(0, 0.003)
            for setting, value in (("off", off), ("on", off + effect + rng.normal(0, 0.003))):
                history = [{"test_acc": value}]
                runs[setting].setdefault(f"p{port}/scratch", {})[seed] = {
                    "history": history,
                    "diverged": False,
                    "test_accuracy": value,
                    "status": "ok",
                }
    return runs


def test_a_contrast_with_the_seed_as_unit_rejects_at_its_nominal_rate():
    """2,000 studies of 3 seeds x 3 ports with no true effect: the seed-level test rejects about 5%
    of them (5 sigma: 0.05 +- 0.024); the same data with (port, seed) pairs as units, about 40%."""
    rng = np.random.default_rng(4)
    contrast = versus("on against off", "on", "off")
    seed_level, pairs = [], []
    for _ in range(2000):
        runs = _study_runs(rng, seeds=3, ports=3)
        seed_level.append(contrast_test(contrast, runs, {"on": [], "off": []})["p_value"] < 0.05)
        gaps = [runs["on"][p][s]["test_accuracy"] - runs["off"][p][s]["test_accuracy"]
                for p, s in itertools.product(runs["on"], range(3))]  # fmt: skip
        pairs.append(paired_test(gaps)["p_value"] < 0.05)
    assert abs(np.mean(seed_level) - 0.05) < 5 * np.sqrt(0.05 * 0.95 / 2000)
    assert np.mean(pairs) > 0.25
