"""Each dropout's masks, statistically: the keep rate, independence between positions (lags, runs,
chi-square over positions) and between calls and seeds. Every bound is 5 sigma (a false alarm
once in 1.7 million) on draws from fixed seeds, so a verdict is the same on every run."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from dropout_ports.benchmarks.conformance.draws import N, call, keep_bound, kept, positive
from dropout_ports.benchmarks.conformance.kit import SIGMAS, Failed, Target, check

RATES = (0.1, 0.2, 0.5, 0.8)
# At p = 0.5 - 2^-9 the uint32 threshold is 2^31 + 2^23: a port deciding on the top byte must draw
# more bits for ties (1 in 256); resolving them all one way, or 8-bit masks, shifts the keep rate by
# 2^-9, which 2^23 draws resolve (5 sigma = 0.00086 < 2^-9 / 2).
FINE_RATE, FINE_N = 0.5 - 2**-9, 2**23
LAGS = (1, 2, 8, 32)
TAIL = 2 * stats.norm.sf(SIGMAS)  # the two-sided 5-sigma tail, for tests whose statistic is not normal


def agreement_bound(p: float, n: int) -> tuple[float, float]:
    """Independent masks at rate p agree at a position with probability p^2 + q^2: that, and its
    SIGMAS bound over n positions."""
    agree = p * p + (1 - p) * (1 - p)
    return agree, keep_bound(agree, n)


@check(
    "masks.keep_rate",
    "dropout",
    what="the fraction kept is 1 - p",
    bound="within 5 sigma of 1 - p at p = 0.1, 0.2, 0.5, 0.8 (2^20 draws each) and at p = 0.5 - 2^-9 "
    "(2^23 draws: it resolves a keep probability off by 2^-9)",
    why="5 sigma on fixed seeds: a correct port never fails it; keeping with probability p instead of "
    "1 - p, or a threshold decided on one byte, is far outside",
    where="the comparison that makes the mask: keep where a uniform draw is >= p (or below "
    "keep_threshold(p) in common/masks.py)",
)
def keep_rate(target: Target) -> str:
    worst = 0.0
    for p, n in [*((p, N) for p in RATES), (FINE_RATE, FINE_N)]:
        share = float(kept(target, n, p).mean())
        z = abs(share - (1 - p)) / (keep_bound(p, n) / SIGMAS)
        worst = max(worst, z)
        if z > SIGMAS:
            raise Failed(f"at p = {p:.6g} kept {share:.5f}, expected {1 - p:.5f}", f"{z:.1f} sigma")
    return f"largest deviation {worst:.1f} sigma"


def runs_z(mask: np.ndarray) -> float:
    """Wald-Wolfowitz: the number of runs of equal values against its expectation, in sigmas."""
    n, ones = mask.size, int(mask.sum())
    zeros = n - ones
    runs = 1 + int(np.count_nonzero(mask[1:] != mask[:-1]))
    mean = 1 + 2 * ones * zeros / n
    variance = (mean - 1) * (mean - 2) / (n - 1)
    return (runs - mean) / math.sqrt(variance)


@check(
    "masks.lags",
    "dropout",
    what="neighbouring mask bits are independent: no correlation at lags 1, 2, 8, 32, and as many runs "
    "of kept and dropped as chance gives",
    bound="|correlation| below 5 / sqrt(n) at each lag and the runs test within 5 sigma, at p = 0.2 "
    "and 0.5 over 2^20 draws",
    why="a generator reused across lanes, or a word's bits shared between elements, correlates neighbours",
    where="how the mask's random bits are laid out: one independent draw per element",
)
def lags(target: Target) -> str:
    worst = 0.0
    for p in (0.2, 0.5):
        mask = kept(target, N, p)
        bits = mask.astype(np.float64)
        for lag in LAGS:
            z = abs(float(np.corrcoef(bits[:-lag], bits[lag:])[0, 1])) * math.sqrt(N - lag)
            worst = max(worst, z)
            if z > SIGMAS:
                raise Failed(f"mask bits {lag} apart correlate at p = {p}", f"{z:.1f} sigma")
        z = abs(runs_z(mask))
        worst = max(worst, z)
        if z > SIGMAS:
            raise Failed(f"the runs of kept and dropped at p = {p} are off chance", f"{z:.1f} sigma")
    return f"largest deviation {worst:.1f} sigma"


@check(
    "masks.positions",
    "dropout",
    what="every position keeps at the same rate: the mask of a (4096, 256) x, column by column",
    bound="the chi-square test of homogeneity over the 256 columns at p = 0.2: p-value above the "
    "two-sided 5-sigma tail (5.7e-7)",
    why="a mask drawn from too few bits, or tied to the position, keeps some positions more often",
    where="how positions map to random bits (a counter, chunks, a per-row key)",
)
def positions(target: Target) -> str:
    mask = kept(target, N, 0.2).reshape(4096, 256)
    counts = mask.sum(axis=0)
    share = counts.sum() / mask.size
    expected = 4096 * share
    chi2 = float(np.sum((counts - expected) ** 2) / (expected * (1 - share)))
    p_value = float(stats.chi2.sf(chi2, 255))
    if p_value < TAIL:
        raise Failed(
            f"keep counts differ between positions (chi-square {chi2:.0f} on 255 dof)", f"p = {p_value:.1e}"
        )
    return f"chi-square {chi2:.0f} on 255 dof, p = {p_value:.2f}"


@check(
    "masks.seeds",
    "dropout",
    what="the same seed gives the same mask; different seeds independent masks",
    bound="make_rng(0) twice: identical masks; make_rng(0) and make_rng(1): agreement within 5 sigma of "
    "p^2 + q^2 = 0.5 at p = 0.5, over 2^20 draws",
    why="a run is reproduced from its seed alone; a global generator, or a mask cached across calls, "
    "breaks one or the other",
    where="the rng argument: draw every bit from it (never from a global generator), and keep no mask "
    "between calls",
)
def seeds(target: Target) -> str:
    first = kept(target, N, 0.5)
    x = positive(N)
    again = target.port.to_numpy(call(target, x, 0.5, seed=0)) != 0
    if not np.array_equal(first, again):
        raise Failed(
            f"make_rng(0) twice gave masks that differ at {np.mean(first != again):.1%} of positions"
        )
    other = kept(target, N, 0.5, seed=1)
    agree, bound = agreement_bound(0.5, N)
    share = float(np.mean(first == other))
    if abs(share - agree) > bound:
        raise Failed(f"seeds 0 and 1 gave masks that agree at {share:.2%} of positions, expected {agree:.0%}")
    return f"same seed identical; seeds 0 and 1 agree at {share:.2%}"


@check(
    "masks.calls",
    "dropout",
    what="two calls on one rng: fresh, independent masks from a generator that advances, or the same "
    "mask from a key (pure, as JAX's)",
    bound="agreement within 5 sigma of p^2 + q^2 = 0.5 at p = 0.5 over 2^20 draws, or identical masks",
    why="anything between is a generator that advances only part of its state",
    where="how the rng is advanced (or split) between draws",
)
def calls(target: Target) -> str:
    port = target.port
    x = port.asarray(positive(N), device=target.device)
    rng = port.make_rng(2, target.device)
    first, second = (port.to_numpy(target.op(x, 0.5, rng)) != 0 for _ in range(2))
    share = float(np.mean(first == second))
    if share == 1.0:
        return "the same mask twice (a key: pure)"
    agree, bound = agreement_bound(0.5, N)
    if abs(share - agree) > bound:
        raise Failed(f"two calls on one rng agree at {share:.2%} of positions: neither fresh nor the same")
    return f"fresh masks: agree at {share:.2%}"
