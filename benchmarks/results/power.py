"""What a design can decide: the smallest difference each test detects with 80% power, and the
seeds an equivalence verdict would likely need. Each figure comes from the observed SD of the
design's own runs, with normal noise and no true difference beyond the one named.

- blocked permutation test: the randomised block design's F test with one port shifted by d
  (noncentral F, noncentrality d^2 sum_j (1 - 1/k_j) / sigma^2 over blocks of k_j ports), at the
  largest level the permutation test can attain (its p moves in steps of the smallest p: 3 ports
  x 3 seeds reject at 1/36 when asked for 0.05); the interaction test likewise, one port shifted
  in one setting. tests/test_power.py checks both against simulations of the permutation tests;
- paired t: noncentral t; TOST: exact over the chi-square law of the sample SD;
- sign test: the probability of being ahead it detects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize, stats

POWER = 0.8
MAX_SEEDS = 1000  # beyond this many seeds a verdict is "not likely"
_GRID = (np.arange(2000) + 0.5) / 2000  # quantiles of the SD's law for the TOST integral


def attainable_level(alpha: float, smallest_p: float) -> float:
    """The largest p at most alpha that a test whose p moves in steps of smallest_p can give."""
    return math.floor(alpha / smallest_p + 1e-9) * smallest_p


def f_power(shift: float, sigma: float, design: dict, alpha: float, smallest_p: float = 0.0) -> float:
    """Power of a permutation test whose F design is {dfn, dfd, factor} against a shift whose
    noncentrality is factor x shift^2 / sigma^2 (blocked_test and interaction_test say theirs)."""
    level = attainable_level(alpha, smallest_p) if smallest_p > 0 else alpha
    dfn, dfd = design["dfn"], design["dfd"]
    if level <= 0 or dfd <= 0 or dfn <= 0:
        return 0.0
    noncentrality = design["factor"] * shift**2 / sigma**2
    return float(stats.ncf.sf(stats.f.isf(level, dfn, dfd), dfn, dfd, noncentrality))


def f_detectable(sigma: float | None, design: dict, alpha: float, smallest_p: float = 0.0) -> float | None:
    """The shift the test detects with 80% power; None when it cannot reject at alpha at all (or
    there is no SD to go by)."""
    if not sigma or f_power(1e3 * sigma, sigma, design, alpha, smallest_p) < POWER:
        return None
    return _solve(lambda d: f_power(d, sigma, design, alpha, smallest_p), sigma)


def blocked_design(block_sizes: Sequence[int], treatments: int) -> dict:
    """The F design of a blocked test against one treatment shifted: treatments - 1 and the
    within-block residual degrees of freedom, noncentrality factor sum_j (1 - 1/k_j). With
    ``spread_factor``, the least favourable case for the same largest gap d between treatments:
    two of them at +-d/2 and the rest between, sum_j 1/2."""
    dfn = treatments - 1
    return {"dfn": dfn, "dfd": sum(k - 1 for k in block_sizes) - dfn,
            "factor": sum(1 - 1 / k for k in block_sizes), "spread_factor": len(block_sizes) / 2}  # fmt: skip


def interaction_design(blocks_per_setting: Sequence[int], ports: int) -> dict:
    """The F design of the port x setting interaction against one port shifted in one setting."""
    settings = len(blocks_per_setting)
    mean_blocks = sum(blocks_per_setting) / settings
    return {"dfn": (settings - 1) * (ports - 1), "dfd": sum(n - 1 for n in blocks_per_setting) * (ports - 1),
            "factor": mean_blocks * (1 - 1 / ports) * (1 - 1 / settings)}  # fmt: skip


def paired_power(shift: float, sd: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t-test at level alpha against a true mean difference shift."""
    dof = n - 1
    critical = stats.t.isf(alpha / 2, dof)
    noncentrality = shift * math.sqrt(n) / sd
    tails = stats.nct.sf(critical, dof, noncentrality), stats.nct.cdf(-critical, dof, noncentrality)
    return float(sum(np.nan_to_num(tails)))  # scipy gives NaN for a tail far below 1e-100


def paired_detectable(sd: float | None, n: int, alpha: float) -> float | None:
    """The mean difference a paired t-test of n pairs detects with 80% power; None below 2 pairs."""
    if not sd or n < 2:
        return None
    return _solve(lambda d: paired_power(d, sd, n, alpha), sd)


def tost_power(sd: float, n: int, margin: float, alpha: float, difference: float = 0.0) -> float:
    """Power of TOST within +-margin at level alpha, n pairs of paired SD sd, true difference given:
    the share of samples whose (1 - 2 alpha) interval lies inside the margin, integrated over the
    sample SD's chi-square law."""
    if n < 2:
        return 0.0
    dof = n - 1
    sample_sd = sd * np.sqrt(stats.chi2.ppf(_GRID, dof) / dof)
    reach = margin - stats.t.ppf(1 - alpha, dof) * sample_sd / math.sqrt(n)
    scale = sd / math.sqrt(n)
    inside = stats.norm.cdf((reach - difference) / scale) - stats.norm.cdf((-reach - difference) / scale)
    return float(np.mean(np.where(reach > 0, inside, 0.0)))


def tost_seeds(sd: float | None, margin: float, alpha: float, power: float = POWER) -> int | None:
    """The fewest seeds at which TOST within +-margin has this power (80%) with no true difference;
    None past MAX_SEEDS (or with no SD to go by)."""
    if sd is None:
        return None
    if sd == 0:
        return 3
    return fewest_seeds(lambda n: tost_power(sd, n, margin, alpha), power)


def joint_tost_power(
    sds: Sequence[float], n: int, margin: float, alpha: float, differences: Sequence[float] | None = None
) -> float:
    """Power of the joint claim "every pair within +-margin" (each pair's TOST at alpha, pairs taken
    as independent) at n seeds, each pair with its own SD and true difference (0 by default)."""
    differences = differences if differences is not None else [0.0] * len(sds)
    return math.prod(tost_power(sd, n, margin, alpha, d) for sd, d in zip(sds, differences, strict=True))


def fewest_seeds(power_at: Callable[[int], float], power: float = POWER) -> int | None:
    """The fewest seeds (at least 3) at which power_at(n) reaches power, power rising with n; None
    past MAX_SEEDS."""
    low, high = 2, 3
    while power_at(high) < power:
        low, high = high, 2 * high
        if high > MAX_SEEDS:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power_at(middle) >= power else (middle, high)
    return high


def sign_power(ahead: float, n: int, alpha: float) -> float:
    """Power of the two-sided sign test of n pairs when each is ahead with probability `ahead`."""
    counts = np.arange(n + 1)
    lower, upper = stats.binom.cdf(counts, n, 0.5), stats.binom.sf(counts - 1, n, 0.5)
    tails = np.minimum(1.0, 2 * np.minimum(lower, upper))
    return float(stats.binom.pmf(counts, n, ahead)[tails <= alpha].sum())


def sign_detectable(n: int, alpha: float) -> float | None:
    """The probability of being ahead that a sign test of n pairs detects with 80% power; None when
    n pairs cannot reject at alpha."""
    if n == 0 or sign_power(1.0, n, alpha) < POWER:
        return None
    return 0.5 + _solve(lambda q: sign_power(0.5 + q, n, alpha), 0.5 / 64, limit=0.5)


def _solve(power_at: Callable[[float], float], scale: float, limit: float = math.inf) -> float:
    """The x > 0 with power_at(x) = POWER (power rises with x), bracketed by doubling from scale."""
    high = scale
    while power_at(high) < POWER and high < limit:
        high = min(2 * high, limit)
    low = high / 2 if high > scale else 0.0
    return float(optimize.brentq(lambda x: power_at(x) - POWER, low, high, xtol=1e-6 * scale))
