"""Statistics over seeds. Every port starts a seed from the same parameters and batch order, so
runs are paired by seed: the tests below compare ports within seeds (blocks), never across them.

Each test returns a plain dict (it is stored in results.json as it is); a family of tests is
adjusted by Holm's step-down method (``holm``), and the words of a report follow the adjusted p.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from scipy import stats

from dropout_ports.benchmarks.results.permutations import permutation_p, relabellings
from dropout_ports.benchmarks.results.power import blocked_design, interaction_design

PERMUTATIONS = 10_000
CONFIDENCE = 0.95
ALPHA = 0.05
DEFAULT_MARGIN = 0.01  # test accuracy, as a fraction: one percentage point
MIN_INTERVAL_SEEDS = 3  # with 2, Student's t is 12.7: an interval wider than the whole range
INTERVAL_METHOD = (
    "Student's t over seeds; intervals need 3 seeds; a limit past [0, 1] is printed as computed and marked "
    "* (the t interval does not fit such a sample: a run that collapsed or lagged far behind the others)"
)
EQUIVALENCE_CONFIDENCE = 1 - 2 * ALPHA  # TOST at alpha is the (1 - 2 alpha) interval inside +-margin

Blocks = Mapping[str, Mapping[Hashable, float]]  # port -> block (a seed, or (setting, seed)) -> value


def mean_interval(
    values: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float] | None:
    """(mean, low, high): Student's t interval of the mean, as computed (an accuracy's may reach past
    1 when a run collapsed: reports mark such a limit, results.stats.INTERVAL_METHOD); None with
    fewer than MIN_INTERVAL_SEEDS values."""
    if len(values) < MIN_INTERVAL_SEEDS:
        return None
    mean = float(np.mean(values))
    half = float(stats.t.ppf((1 + confidence) / 2, len(values) - 1) * stats.sem(values))
    return mean, mean - half, mean + half


def block_table(by_port: Blocks) -> tuple[list[str], list[Hashable], np.ndarray]:
    """The ports, the blocks at least 2 of them share, and a (blocks x ports) table with NaN where a
    port has no value in a block (a failed run, or a port merged into an identical one there)."""
    ports = list(by_port)
    blocks = [
        block
        for block in dict.fromkeys(b for values in by_port.values() for b in values)
        if sum(block in by_port[port] for port in ports) >= 2
    ]
    table = np.array([[by_port[p].get(block, np.nan) for p in ports] for block in blocks], float)
    return ports, blocks, table.reshape(len(blocks), len(ports))


def blocked_test(
    by_port: Blocks, permutations: int = PERMUTATIONS, units: Mapping[Hashable, Hashable] | None = None
) -> dict | None:
    """A blocked permutation test that the ports differ: values are relabelled among the ports, the
    statistic is the ports' sum of squared block-centred totals (in a complete design the treatment
    sum of squares of a randomised block design, monotone in its F). units maps a block to its
    independent unit (a study's (setting, seed) block to its seed): one relabelling of the ports
    present in every block of a unit moves all of that unit's blocks alike, since they share the
    seed's weights and batches; by default each block is its own unit. Exact when the relabellings
    are at most ``permutations``. None below 2 ports or 2 blocks. With the test: the residual SD of
    the additive (block + port) model and the block sizes, from which results.power tells what the
    design can detect."""
    ports, blocks, table = block_table(by_port)
    if len(ports) < 2 or len(blocks) < 2:
        return None
    unit_of = [units[block] if units else block for block in blocks]
    strata = [np.flatnonzero([u == unit for u in unit_of]) for unit in dict.fromkeys(unit_of)]
    movable = [np.flatnonzero(~np.isnan(table[rows]).any(axis=0)) for rows in strata]
    orders, exact = relabellings([len(columns) for columns in movable], permutations)
    shuffled = np.repeat(table[None], len(orders[0]) if orders else 1, axis=0)
    for rows, columns, order in zip(strata, movable, orders, strict=True):
        shuffled[:, rows[:, None], columns] = table[np.ix_(rows, columns)][:, order].transpose(1, 0, 2)
    observed = _port_statistic(table)
    hits = int(np.count_nonzero(_port_statistic(shuffled) >= observed * (1 - 1e-12)))
    sizes = (~np.isnan(table)).sum(axis=1).tolist()
    sigma, dof = residual_sd(table)
    return {
        "test": "blocked permutation",
        "ports": ports,
        "blocks": len(blocks),
        "units": len(strata),
        "exact": exact,
        "permutations": len(shuffled),
        "design": blocked_design(sizes, len(ports)),
        "p_value": permutation_p(hits, len(shuffled), exact),
        "smallest_p": max(_smallest_relabelled(movable), 0 if exact else 1 / (permutations + 1)),
        "residual_sd": sigma,
        "residual_df": dof,
    }


def interaction_test(by_setting: Mapping[str, Mapping[Hashable, Mapping[str, float]]],
                     permutations: int = PERMUTATIONS) -> dict | None:  # fmt: skip
    """A permutation test of a port x setting interaction: each block's port effects (values minus
    the block's mean, over the ports present in every block) are relabelled among the settings of
    the same seed (the block's key: its runs share the seed's weights and batches), blocks kept
    whole; the statistic is the settings' sum of squared deviations of their mean port effects
    from the overall ones. Exact when the relabellings are at most ``permutations``. None without
    2 settings, 2 ports and a setting of 2 blocks."""
    blocks = [(s, seed, values) for s, by_block in by_setting.items() for seed, values in by_block.items()]
    ports = [p for p in dict.fromkeys(p for *_, values in blocks for p in values)
             if all(p in values for *_, values in blocks)]  # fmt: skip
    settings = list(dict.fromkeys(s for s, *_ in blocks))
    counts = np.array([sum(s == setting for s, *_ in blocks) for setting in settings])
    if len(settings) < 2 or len(ports) < 2 or counts.max() < 2:
        return None
    values = np.array([[v[p] for p in ports] for *_, v in blocks])
    effects = values - values.mean(axis=1, keepdims=True)
    labels = np.array([settings.index(s) for s, *_ in blocks])
    seeds = [seed for _, seed, _ in blocks]
    strata = [np.flatnonzero([s == seed for s in seeds]) for seed in dict.fromkeys(seeds)]
    orders, exact = relabellings([len(rows) for rows in strata], permutations)
    shuffled = np.repeat(labels[None], len(orders[0]), axis=0)
    for rows, order in zip(strata, orders, strict=True):
        shuffled[:, rows] = labels[rows][order]

    def statistic(labels: np.ndarray) -> np.ndarray:
        onehot = (labels[..., None, :] == np.arange(len(settings))[:, None]).astype(float)
        means = onehot @ effects / counts[:, None]
        return (counts[:, None] * (means - effects.mean(axis=0)) ** 2).sum(axis=(-2, -1))

    observed = statistic(labels) * (1 - 1e-12)
    hits = sum(np.count_nonzero(statistic(chunk) >= observed) for chunk in np.array_split(shuffled, 10))
    swaps = math.lgamma(len(settings) + 1) if all(len(rows) == len(settings) for rows in strata) else 0.0
    log_distinct = sum(math.lgamma(len(rows) + 1) for rows in strata) - swaps
    return {
        "test": "interaction permutation",
        "ports": ports,
        "settings": settings,
        "blocks": len(blocks),
        "units": len(strata),
        "exact": exact,
        "permutations": len(shuffled),
        "design": interaction_design(counts.tolist(), len(ports)),
        "p_value": permutation_p(int(hits), len(shuffled), exact),
        "smallest_p": max(math.exp(-log_distinct), 0 if exact else 1 / (permutations + 1)),
    }


def _port_statistic(table: np.ndarray) -> np.ndarray:
    centred = table - np.nanmean(table, axis=-1, keepdims=True)
    totals = np.nansum(centred, axis=-2)
    counts = (~np.isnan(table)).sum(axis=-2)
    return (totals**2 / np.maximum(counts, 1)).sum(axis=-1)


def smallest_p(table: np.ndarray) -> float:
    """The smallest p a blocked permutation test of this design can give, each block its own unit:
    one over the distinct relabellings: 2 ports x 3 seeds: 0.25; 3 x 3: 1/36."""
    return _smallest_relabelled([np.flatnonzero(~np.isnan(row)) for row in table])


def _smallest_relabelled(movable: Sequence[np.ndarray]) -> float:
    """One over the distinct relabellings of units whose movable ports are given: prod(k_u!) over
    k_c! (relabelling the k_c ports movable in every unit alike in all of them leaves the statistic
    unchanged)."""
    common = set.intersection(*(set(columns.tolist()) for columns in movable)) if movable else set()
    log_distinct = sum(math.lgamma(len(columns) + 1) for columns in movable) - math.lgamma(len(common) + 1)
    return math.exp(-log_distinct)


def residual_sd(table: np.ndarray) -> tuple[float | None, int]:
    """SD of the residuals of the additive model value = block + port (least squares over the cells
    present) and its degrees of freedom; (None, 0) when nothing is left over."""
    rows, cols = np.nonzero(~np.isnan(table))
    values = table[rows, cols]
    design = np.zeros((len(values), table.shape[0] + table.shape[1]))
    design[np.arange(len(values)), rows] = 1
    design[np.arange(len(values)), table.shape[0] + cols] = 1
    coef, _, rank, _ = np.linalg.lstsq(design, values, rcond=None)
    dof = len(values) - int(rank)
    if dof <= 0:
        return None, 0
    return float(np.sqrt(((values - design @ coef) ** 2).sum() / dof)), dof


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values of one family (None: a test that could not be made, and
    does not count): the i-th smallest p times (m - i + 1), kept monotone, at most 1."""
    ranked = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (len(ranked) - rank) * p))
        adjusted[i] = running
    return adjusted


def paired_test(differences: Sequence[float], confidence: float = CONFIDENCE) -> dict | None:
    """Student's paired t-test that the mean difference is 0, with its interval; None below 2."""
    diff = np.asarray(differences, float)
    if len(diff) < 2:
        return None
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    se = sd / math.sqrt(len(diff))
    if se == 0:
        p_value = 1.0 if mean == 0 else 0.0
    else:
        p_value = float(2 * stats.t.sf(abs(mean) / se, len(diff) - 1))
    row = {"test": "paired t", "n": len(diff), "mean_difference": mean, "sd": sd, "p_value": p_value}
    interval = mean_interval(diff, confidence)
    if interval:
        row["interval"] = interval[1:]
    return row


def sign_test(ahead: int, behind: int) -> dict | None:
    """Two-sided sign test of ahead against behind (ties left out); None without a pair."""
    if ahead + behind == 0:
        return None
    n = ahead + behind
    return {
        "test": "sign",
        "n": n,
        "ahead": ahead,
        "p_value": float(stats.binomtest(ahead, n, 0.5).pvalue),
        "smallest_p": min(1.0, 2 * 0.5**n),
    }


def equivalence(by_port: Blocks, margin: float = DEFAULT_MARGIN, alpha: float = ALPHA) -> list[dict]:
    """Two one-sided paired t-tests per pair of ports (TOST) over their shared seeds: the pair is
    shown within +-margin when the (1 - 2 alpha) interval of the mean difference lies inside it.
    Each row has that interval and the smallest margin it establishes (the larger end's size);
    the verdict ``equivalent`` is set by the caller from the family's Holm-adjusted p."""
    rows = []
    for a, b in itertools.combinations(by_port, 2):
        shared = [block for block in by_port[a] if block in by_port[b]]
        row: dict = {"pair": (a, b), "seeds": len(shared), "margin": margin}
        if len(shared) >= MIN_INTERVAL_SEEDS:
            diff = np.array([by_port[a][s] - by_port[b][s] for s in shared])
            mean, sd, dof = float(diff.mean()), float(diff.std(ddof=1)), len(diff) - 1
            se = sd / math.sqrt(len(diff))
            _, low, high = mean_interval(diff, 1 - 2 * alpha)
            if se == 0:
                p_value = 0.0 if abs(mean) < margin else 1.0
            else:
                lower = stats.t.sf((mean + margin) / se, dof)  # H0: difference <= -margin
                upper = stats.t.cdf((mean - margin) / se, dof)  # H0: difference >= +margin
                p_value = float(max(lower, upper))
            row.update(
                mean_difference=mean,
                sd=sd,
                interval=(low, high),
                smallest_margin=max(abs(low), abs(high)),
                p_value=p_value,
            )
        rows.append(row)
    return rows
