"""The statistics of a compare folder, as results.json records them under ``statistics``: which ports
coincide, the test for a difference (the family of difference tests, Holm-adjusted), and the
equivalence pairs (a family of their own), each with what its design can decide."""

from __future__ import annotations

import numpy as np

from dropout_ports.benchmarks.results.document import finished, is_failed
from dropout_ports.benchmarks.results.identical import identical_groups, merged
from dropout_ports.benchmarks.results.power import (
    POWER,
    f_detectable,
    fewest_seeds,
    joint_tost_power,
    paired_detectable,
    sign_detectable,
    tost_seeds,
)
from dropout_ports.benchmarks.results.stats import ALPHA, DEFAULT_MARGIN, blocked_test, equivalence, holm


def port_name(backend: str, variant: str) -> str:
    return f"{backend}/{variant}"


def holm_family(rows: list[dict], alpha: float) -> tuple[list[float | None], float]:
    """The rows' Holm-adjusted p (None where untested) and Holm's strictest level, alpha / m. A test
    whose smallest attainable p exceeds alpha can never reject, so it does not count in m (as in
    Tarone's modification; it costs the others no power) and keeps its own p."""
    reachable = [row.get("p_value") if row.get("smallest_p", 0.0) <= alpha else None for row in rows]
    adjusted = holm(reachable)
    level = alpha / max(1, sum(p is not None for p in reachable))
    return [a if a is not None else row.get("p_value") for a, row in zip(adjusted, rows, strict=True)], level


def adjust(tests: list[dict], alpha: float = ALPHA) -> list[dict]:
    """The tests of one family with Holm's adjusted p and, at Holm's strictest level alpha / m, the
    smallest difference each detects with 80% power (``detectable``: None when it cannot reject)."""
    adjusted, level = holm_family(tests, alpha)
    for test, p_adjusted in zip(tests, adjusted, strict=True):
        test["p_adjusted"] = p_adjusted
        test["level"] = level
        test["detectable"] = detectable(test, level)
        if "spread_factor" in test.get("design", {}):  # the largest gap at its least favourable
            spread = {**test["design"], "factor": test["design"]["spread_factor"]}
            test["detectable_gap"] = f_detectable(test.get("residual_sd"), spread, level, test["smallest_p"])
    return tests


def detectable(test: dict, level: float) -> float | None:
    """What a test can see at this level, in the units of its values (a sign test: P(ahead))."""
    kind = test.get("test")
    if "design" in test:  # the permutation tests
        return f_detectable(test.get("residual_sd"), test["design"], level, test["smallest_p"])
    if kind == "paired t":
        return paired_detectable(test["sd"], test["n"], level)
    if kind == "sign":
        return sign_detectable(test["n"], level)
    return None


def adjust_equivalence(rows: list[dict], alpha: float = ALPHA) -> list[dict]:
    """The equivalence family with Holm's adjusted p and the verdict it gives."""
    adjusted, level = holm_family(rows, alpha)
    for row, p_adjusted in zip(rows, adjusted, strict=True):
        if p_adjusted is not None:
            row.update(p_adjusted=p_adjusted, level=level, equivalent=p_adjusted < alpha)
    return rows


def equivalence_power(rows: list[dict], margin: float, alpha: float = ALPHA) -> dict | None:
    """The SD of paired differences pooled over the pairs (each pair's alone rests on few seeds),
    and the seeds at which TOST within +-margin has 80% power with no true difference: for one
    pair at alpha, for one pair at Holm's strictest level alpha / m (the table's verdicts), and for
    every pair at once at alpha (the verdict's claim: 80% for all m, the pairs taken as independent),
    with the pooled SD and with each pair's own; and the joint claim's power at that many seeds if
    the observed mean differences were the true ones."""
    tested = [row for row in rows if "sd" in row]
    if not tested:
        return None
    sd = float(np.sqrt(np.mean([row["sd"] ** 2 for row in tested])))
    sds = [row["sd"] for row in tested]
    own = fewest_seeds(lambda n: joint_tost_power(sds, n, margin, alpha)) if min(sds) > 0 else None
    gaps = [row["mean_difference"] for row in tested]
    return {
        "paired_sd": sd,
        "seeds_pair": tost_seeds(sd, margin, alpha),
        "seeds_holm": tost_seeds(sd, margin, alpha / len(tested)),
        "seeds_joint": tost_seeds(sd, margin, alpha, POWER ** (1 / len(tested))),
        "seeds_joint_own_sd": own,
        "joint_power_observed_gaps": own and joint_tost_power(sds, own, margin, alpha, gaps),
    }


def runs_by_port(runs: list[dict]) -> dict[str, dict[int, dict]]:
    """The runs that produced a result (finished or diverged), by port and seed."""
    by_port: dict[str, dict[int, dict]] = {}
    for run in runs:
        if not is_failed(run):
            by_port.setdefault(port_name(run["backend"], run["variant"]), {})[run["seed"]] = run
    return by_port


def accuracies(runs: dict[str, dict[object, dict]]) -> dict[str, dict[object, float]]:
    """Final test accuracy of the finished runs, by port and block."""
    values = {
        port: {block: run["test_accuracy"] for block, run in by_block.items() if finished(run)}
        for port, by_block in runs.items()
    }
    return {port: by_block for port, by_block in values.items() if by_block}


def compare_statistics(doc: dict) -> dict:
    """The statistics section of a compare folder's results.json."""
    margin = doc["settings"].get("margin", DEFAULT_MARGIN)
    runs = runs_by_port(doc["runs"])
    groups = identical_groups(runs)
    tested = merged(accuracies(runs), groups)
    test = blocked_test(tested)
    pairs = adjust_equivalence(equivalence(tested, margin))
    return {
        "alpha": ALPHA,
        "margin": margin,
        "identical": groups,
        "tests": adjust([{**test, "what": "ports"}] if test else []),
        "equivalence": pairs,
        "equivalence_power": equivalence_power(pairs, margin),
    }


def speed_ratios(rows: list[dict]) -> list[dict]:
    """Each port's epoch (median after the first, mean over its seeds) as a ratio to the fastest."""
    timed = [row for row in rows if "epoch_s" in row]
    if not timed:
        return []
    fastest = min(row["epoch_s"] for row in timed)
    return [
        {"port": port_name(row["backend"], row["variant"]), "epoch_s": row["epoch_s"],
         "ratio": row["epoch_s"] / fastest}
        for row in timed
    ]  # fmt: skip
