"""Statistics over seeds. Every port starts a seed from the same parameters and batch order, so
runs are paired by seed: the tests below compare ports within seeds (blocks), never across them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

PERMUTATIONS = 10_000
CONFIDENCE = 0.95
DEFAULT_MARGIN = 0.01  # test accuracy, as a fraction: one percentage point


def mean_interval(
    values: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float] | None:
    """(mean, low, high): Student's t interval of the mean; None with fewer than 2 values."""
    if len(values) < 2:
        return None
    mean = float(np.mean(values))
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * stats.sem(values)
    return mean, mean - half, mean + half


def blocked_table(by_port: Mapping[str, Mapping[int, float]]) -> tuple[list[int], np.ndarray]:
    """The seeds every port finished, and a (seeds x ports) table of their values."""
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in by_port.values()))) if by_port else []
    return seeds, np.array([[by_port[port][seed] for port in by_port] for seed in seeds], float)


def difference_test(
    by_port: Mapping[str, Mapping[int, float]], permutations: int = PERMUTATIONS
) -> float | None:
    """p-value of a blocked permutation test that the ports differ: values are shuffled among the
    ports within each seed, and the statistic is the spread of the port means (the treatment sum
    of squares of a randomised block design, monotone in its F). None below 2 ports or 2 seeds."""
    seeds, table = blocked_table(by_port)
    if table.ndim != 2 or table.shape[1] < 2 or len(seeds) < 2:
        return None
    observed = _spread(table)
    rng = np.random.default_rng(0)
    shuffled = rng.permuted(np.broadcast_to(table, (permutations, *table.shape)), axis=2)
    hits = np.count_nonzero(_spread(shuffled) >= observed * (1 - 1e-12))
    return (hits + 1) / (permutations + 1)


def _spread(table: np.ndarray) -> np.ndarray:
    port_means = table.mean(axis=-2)
    return ((port_means - port_means.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)


def equivalence(
    by_port: Mapping[str, Mapping[int, float]], margin: float = DEFAULT_MARGIN, alpha: float = 0.05
) -> list[dict]:
    """Two one-sided paired t-tests per pair of ports (TOST): equivalent within +-margin when the
    mean difference over shared seeds is shown both above -margin and below +margin at alpha."""
    results = []
    for a, b in itertools.combinations(by_port, 2):
        seeds, table = blocked_table({a: by_port[a], b: by_port[b]})
        row: dict = {"pair": (a, b), "seeds": len(seeds), "margin": margin}
        if len(seeds) >= 2:
            diff = table[:, 0] - table[:, 1]
            mean, se, dof = float(diff.mean()), float(stats.sem(diff)), len(diff) - 1
            if se == 0:
                p_value = 0.0 if abs(mean) < margin else 1.0
            else:
                lower = stats.t.sf((mean + margin) / se, dof)  # H0: difference <= -margin
                upper = stats.t.cdf((mean - margin) / se, dof)  # H0: difference >= +margin
                p_value = float(max(lower, upper))
            row.update(mean_difference=mean, p_value=p_value, equivalent=p_value < alpha)
        results.append(row)
    return results
