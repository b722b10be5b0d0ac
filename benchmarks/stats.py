"""Statistics over seeds: does any port's final test accuracy differ from the others?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERMUTATIONS = 10_000


def accuracy_test(samples: Sequence[Sequence[float]], permutations: int = PERMUTATIONS) -> float | None:
    """p-value of a one-way permutation test (F statistic) that all groups share one mean.

    Chosen over Welch's t-test because it compares all ports at once, assumes no normality,
    and is exact in the limit of permutations. None while any group has fewer than 2 values.
    """
    if len(samples) < 2 or any(len(s) < 2 for s in samples):
        return None
    values = np.concatenate([np.asarray(s, float) for s in samples])
    labels = np.repeat(np.arange(len(samples)), [len(s) for s in samples])
    observed = _f_statistic(values, labels)
    rng = np.random.default_rng(0)
    hits = sum(_f_statistic(values, rng.permutation(labels)) >= observed for _ in range(permutations))
    return (hits + 1) / (permutations + 1)


def _f_statistic(values: np.ndarray, labels: np.ndarray) -> float:
    counts = np.bincount(labels)
    means = np.bincount(labels, values) / counts
    between = np.sum(counts * (means - values.mean()) ** 2) / (len(counts) - 1)
    within = np.sum((values - means[labels]) ** 2) / (len(values) - len(counts))
    if within == 0:
        return np.inf if between > 0 else 0.0
    return between / within
