"""What a design can decide, against the research note's figures (docs: ../shared/research/
comparison-statistics.md, a paired SD of 0.0085) and against simulations of the tests themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dropout_ports.benchmarks.results import power
from dropout_ports.benchmarks.results.stats import blocked_test, interaction_test, smallest_p

PAIRED_SD = 0.0085  # of paired seed differences, from the kept runs
SIGMA = PAIRED_SD / math.sqrt(2)  # of one run about its block and port


def _blocked_power(ports: int, seeds: int, shift: float = 0.01) -> float:
    design = power.blocked_design([ports] * seeds, ports)
    return power.f_power(shift, SIGMA, design, 0.05, smallest_p(np.zeros((seeds, ports))))


@pytest.mark.parametrize(("ports", "seeds", "note"), [(3, 3, 0.16), (6, 3, 0.30), (3, 10, 0.96)])
def test_blocked_power_matches_the_research_note(ports, seeds, note):
    assert _blocked_power(ports, seeds) == pytest.approx(note, abs=0.04)


def _simulated_power(tables: np.ndarray, test, alpha: float = 0.05) -> tuple[float, float]:
    hits = np.mean([test(table)["p_value"] < alpha for table in tables])
    return float(hits), 5 * math.sqrt(max(hits * (1 - hits), 0.01) / len(tables))


def test_blocked_power_matches_a_simulation_of_the_permutation_test():
    """3 ports x 3 seeds reject only when the observed spread is the largest of 36 relabellings."""
    rng = np.random.default_rng(0)
    for ports, seeds in ((3, 3), (3, 6)):
        tables = rng.normal(0, SIGMA, (400, seeds, ports))
        tables[:, :, 0] += 0.01

        def test(table: np.ndarray) -> dict:
            by_port = {p: dict(enumerate(column)) for p, column in enumerate(table.T)}
            return blocked_test(by_port, permutations=400)

        simulated, bound = _simulated_power(tables, test)
        assert _blocked_power(ports, seeds) == pytest.approx(simulated, abs=bound + 0.03)


def test_interaction_power_matches_a_simulation():
    rng = np.random.default_rng(1)
    settings, seeds, ports, shift = 3, 4, 3, 0.02
    values = rng.normal(0, SIGMA, (300, settings, seeds, ports))
    values[:, 0, :, 0] += shift  # one port off in one setting
    design = power.interaction_design([seeds] * settings, ports)
    distinct = math.factorial(settings * seeds) / math.factorial(seeds) ** settings / math.factorial(settings)
    model = power.f_power(shift, SIGMA, design, 0.05, 1 / distinct)

    def test(table: np.ndarray) -> dict:
        by_setting = {
            s: {b: dict(enumerate(row)) for b, row in enumerate(block)} for s, block in enumerate(table)
        }
        return interaction_test(by_setting, permutations=400)

    simulated, bound = _simulated_power(values, test)
    assert model == pytest.approx(simulated, abs=bound + 0.05)


def test_a_design_that_cannot_reject_detects_nothing():
    design = power.blocked_design([2] * 3, 2)  # 2 ports x 3 seeds: the smallest p is 0.25
    assert power.f_detectable(SIGMA, design, 0.05, 0.25) is None
    design = power.blocked_design([6] * 8, 6)
    detectable = power.f_detectable(SIGMA, design, 0.05, 1e-4)
    assert power.f_power(detectable, SIGMA, design, 0.05, 1e-4) == pytest.approx(0.8)


@pytest.mark.parametrize(("seeds", "margin", "note"), [(8, 0.01, 0.83), (3, 0.01, 0.20), (3, 0.005, 0.03)])
def test_tost_power_matches_the_research_note(seeds, margin, note):
    assert power.tost_power(PAIRED_SD, seeds, margin, 0.05) == pytest.approx(note, abs=0.02)


def test_tost_seeds_match_the_research_note_and_a_simulation():
    assert power.tost_seeds(PAIRED_SD, 0.01, 0.05) == 8
    assert power.tost_seeds(PAIRED_SD, 0.005, 0.05) == 27
    assert power.tost_seeds(PAIRED_SD, 0.01, 0.05 / 15) > 8  # Holm's strictest level asks for more
    assert power.tost_seeds(1.0, 0.01, 0.05) is None  # beyond 1,000 seeds
    rng = np.random.default_rng(2)
    n, trials = 8, 20_000
    diff = rng.normal(0.002, PAIRED_SD, (trials, n))
    half = stats.t.ppf(0.95, n - 1) * diff.std(axis=1, ddof=1) / math.sqrt(n)
    shown = np.mean(np.abs(diff.mean(axis=1)) + half < 0.01)
    bound = 5 * math.sqrt(shown * (1 - shown) / trials)
    assert power.tost_power(PAIRED_SD, n, 0.01, 0.05, difference=0.002) == pytest.approx(shown, abs=bound)


def test_paired_and_sign_detectables_have_80_percent_power():
    rng = np.random.default_rng(3)
    shift = power.paired_detectable(PAIRED_SD, 9, 0.05)
    diff = rng.normal(shift, PAIRED_SD, (20_000, 9))
    p = 2 * stats.t.sf(np.abs(diff.mean(axis=1)) / (diff.std(axis=1, ddof=1) / 3), 8)
    assert np.mean(p < 0.05) == pytest.approx(0.8, abs=5 * math.sqrt(0.16 / 20_000))
    ahead = power.sign_detectable(9, 0.05)
    rejecting = [k for k in range(10) if stats.binomtest(k, 9, 0.5).pvalue <= 0.05]
    assert sum(stats.binom.pmf(k, 9, ahead) for k in rejecting) == pytest.approx(0.8, abs=1e-4)
    assert power.sign_detectable(4, 0.05) is None  # 4 pairs: the smallest p is 0.125
