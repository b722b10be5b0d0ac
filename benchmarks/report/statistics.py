"""The words and tables of the statistics, for compare's results.md and a study's study.md: what
coincides, each test's raw and Holm-adjusted p, what its design can detect, and the equivalence
pairs with their intervals. The words follow the adjusted p."""

from __future__ import annotations

import numpy as np

from dropout_ports.benchmarks.results.identical import why_identical
from dropout_ports.benchmarks.results.stats import (
    ALPHA,
    EQUIVALENCE_CONFIDENCE,
    INTERVAL_METHOD,
    MIN_INTERVAL_SEEDS,
    PERMUTATIONS,
    mean_interval,
)
from dropout_ports.benchmarks.results.tables import Column, markdown_table


def pp(value: float, sign: bool = False) -> str:
    """A difference of accuracies in percentage points."""
    return f"{value * 100:{'+' if sign else ''}.2f} pp"


def amount(value: float, unit: str, sign: bool = False) -> str:
    """A value in its test's unit: percentage points for accuracies, else the figure itself."""
    return pp(value, sign) if unit == "pp" else f"{value:{'+' if sign else ''}.3g}"


def p_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def mean_and_interval(values: list[float]) -> str:
    """An accuracy's mean over seeds with its Student interval, a limit past [0, 1] marked *."""
    interval = mean_interval(values)
    if interval is None:
        return f"{np.mean(values):.4f}"
    mean, *limits = interval
    low, high = (f"{v:.4f}" + ("*" if not 0 <= v <= 1 else "") for v in limits)
    return f"{mean:.4f} [{low}, {high}]"


def interval_text(interval: list | tuple | None, unit: str = "pp") -> str:
    if interval is None:
        return f"needs {MIN_INTERVAL_SEEDS} seeds"
    return f"[{amount(interval[0], unit, True)}, {amount(interval[1], unit, True)}]"


def detects(test: dict) -> str:
    """What the test's design detects with 80% power at Holm's strictest level, or why nothing."""
    unit = test.get("unit", "pp")
    if test["detectable"] is None:
        floor = test.get("smallest_p")
        why = f": its smallest attainable p is {p_text(floor)}" if floor and floor > test["level"] else ""
        return f"nothing at level {test['level']:.2g}{why}"
    if test["test"] == "blocked permutation":
        what = test.get("treatment", "port")
        text = f"one {what} {amount(test['detectable'], unit)} off, the others equal"
        if test.get("detectable_gap"):
            text += f" (two {what}s {amount(test['detectable_gap'], unit)} apart, the least favourable case)"
        return text
    if test["test"] == "interaction permutation":
        return f"one port {amount(test['detectable'], unit)} off in one setting"
    if test["test"] == "sign":
        return f"ahead in {test['detectable']:.0%} of pairs"
    return f"a mean difference of {amount(test['detectable'], unit)}"


def result_words(test: dict) -> str:
    """The conclusion the adjusted p allows."""
    if test.get("p_adjusted") is None:
        return "not tested"
    if test["p_adjusted"] < ALPHA:
        return f"differ at {ALPHA:g} (Holm)"
    return f"no evidence of a difference at {ALPHA:g} (Holm)"


def identical_lines(groups: list[list[str]], configs: dict[str, list[dict]], where: str = "") -> list[str]:
    """A sentence per group of ports that computed the same runs, and why that is expected."""
    return [
        f"Identical runs{where}: {' and '.join(group)} coincide bit for bit on every shared seed "
        f"({why_identical(group, [c for port in group for c in configs.get(port, [])])}); "
        f"tested once, as {group[0]}."
        for group in groups
    ]


def difference_sentence(test: dict | None, seeds: int) -> str:
    """compare's test for a difference in words, with its adjusted p and what it could detect."""
    if test is None:
        if seeds < 2:
            return "Test for a difference: needs at least 2 seeds per port (`--seeds 0 1 2`)."
        return "Test for a difference: not possible, fewer than 2 ports finished 2 of the same seeds."
    sd = f", residual SD {pp(test['residual_sd'])}" if test.get("residual_sd") else ""
    count = test.get("permutations", PERMUTATIONS)
    shuffles = "every relabelling: exact" if test.get("exact") else f"{count:,} random relabellings"
    return (
        f"Test for a difference between the {len(test['ports'])} ports' final test accuracies: blocked "
        f"permutation test (values shuffled among ports within each seed, {shuffles}): "
        f"p = {p_text(test['p_value'])}, Holm-adjusted {p_text(test['p_adjusted'])}: {result_words(test)}. "
        f"Its design ({test['blocks']} seeds{sd}) detects {detects(test)} with 80% power; a large p is "
        "not evidence of equality (the next table tests that)."
    )


def _tost_p(row: dict) -> str:
    """A pair whose difference is the same on every seed has no spread to test: said, not "0.0e+00"."""
    return "no spread: the same difference on every seed" if row["sd"] == 0 else p_text(row["p_value"])


EQUIVALENCE_COLUMNS: list[Column] = [
    ("pair", lambda r: " vs ".join(r["pair"])),
    ("seeds", lambda r: str(r["seeds"])),
    ("mean difference", lambda r: pp(r["mean_difference"], True) if "p_value" in r else interval_text(None)),
    (f"{EQUIVALENCE_CONFIDENCE:.0%} CI", lambda r: interval_text(r["interval"]) if "p_value" in r else ""),
    ("smallest margin shown", lambda r: f"±{pp(r['smallest_margin'])}" if "p_value" in r else ""),
    ("TOST p", lambda r: _tost_p(r) if "p_value" in r else ""),
    ("Holm p", lambda r: p_text(r["p_adjusted"]) if "p_value" in r else ""),
    ("within the margin", lambda r: ("yes" if r["equivalent"] else "not shown") if "p_value" in r else ""),
]


def seed_list(seeds: list[int]) -> str:
    """'seed 0', 'seeds 0, 1'."""
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def seeds_text(seeds: int | None) -> str:
    return f"about {seeds} seeds" if seeds else "more than 1,000 seeds"


def equivalence_lines(rows: list[dict], margin: float, power: dict | None) -> list[str]:
    """The equivalence table and the sentences that say how to read it and what more seeds would do."""
    if not rows:
        return []
    lines = [
        f"Equivalence within ±{pp(margin)}: two one-sided paired t-tests per pair (TOST, alpha {ALPHA:g}), "
        f"Holm-adjusted over the {len(rows)} pairs; the {EQUIVALENCE_CONFIDENCE:.0%} interval of the paired "
        "difference and the smallest margin it shows are the pair's own.",
        "",
        markdown_table(rows, EQUIVALENCE_COLUMNS),
    ]
    if power:
        pair, holm, joint = (seeds_text(power[key]) for key in ("seeds_pair", "seeds_holm", "seeds_joint"))
        own = power.get("seeds_joint_own_sd")
        lines += [
            "",
            f"With the SD of paired differences pooled over the pairs ({pp(power['paired_sd'])}), TOST "
            f"within ±{pp(margin)} has 80% power, with no true difference, at {pair} for one pair at "
            f"{ALPHA:g}, {holm} at Holm's strictest level ({ALPHA:g} / {len(rows)}), and {joint} for all "
            f"{len(rows)} pairs at once at {ALPHA:g} (the verdict's claim; the pairs taken as independent)"
            + (f"; with each pair's own observed SD, {seeds_text(own)}" if own else "")
            + ". These assume no true difference: a pair whose true difference is near the margin needs "
            "far more.",
        ]
    return lines


def _estimate(test: dict) -> str:
    unit = test.get("unit", "pp")
    if "mean_difference" in test:
        return f"{amount(test['mean_difference'], unit, True)} {interval_text(test.get('interval'), unit)}"
    if test["test"] == "sign":
        return f"ahead in {test['ahead']} of {test['n']}"
    return "-"


def blocks_text(test: dict) -> str:
    """A permutation test's blocks and, where they are fewer, its independent units (seeds)."""
    units = test.get("units", test["blocks"])
    return f"{test['blocks']} blocks" + (f" of {units} seeds" if units < test["blocks"] else "")


TEST_COLUMNS: list[Column] = [
    ("test", lambda t: t["what"]),
    ("kind", lambda t: t["test"]),
    ("n", lambda t: f"{t['n']} seeds" if "n" in t else blocks_text(t)),
    ("estimate [95% CI]", _estimate),
    ("p", lambda t: p_text(t.get("p_value"))),
    ("Holm p", lambda t: p_text(t.get("p_adjusted"))),
    ("detects (80% power)", lambda t: detects(t) if "detectable" in t else "-"),
    ("result", result_words),
]


def tests_table(tests: list[dict]) -> list[str]:
    return [markdown_table(tests, TEST_COLUMNS)] if tests else []


def method_line() -> str:
    return f"Intervals: {INTERVAL_METHOD}."
