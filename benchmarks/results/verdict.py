"""The main job's verdict, from one compare folder: are the ports one computation (the float64
lockstep check, ``compare --verdict``), do their accuracies agree (the equivalence pairs), and how
fast is each (its epoch against the fastest port's, from the same run)."""

from __future__ import annotations

from dropout_ports.benchmarks.results.analysis import compare_statistics, port_name, speed_ratios
from dropout_ports.benchmarks.results.document import compare_rows
from dropout_ports.benchmarks.results.stats import ALPHA


def one_computation(lockstep: dict | None, ports: list[str]) -> dict:
    """Which ports the lockstep check found to be NumPy's computation, and which it could not check
    (the builtin variants draw their own masks): those rest on the statistics alone."""
    if not lockstep:
        return {"checked": [], "statistics_only": ports}
    checked = {lockstep["reference"], *(row["port"] for row in lockstep["rows"])}
    return {
        **lockstep,
        "checked": lockstep["rows"],
        "passed": all(row["passed"] for row in lockstep["rows"]),
        "statistics_only": [port for port in ports if port not in checked],
    }


def same_accuracy(statistics: dict) -> dict:
    """The equivalence pairs read as one claim, "every pair within the margin": by the
    intersection-union principle the claim holds at alpha when each pair's TOST rejects at alpha,
    with no adjustment, and is not shown when any pair fails. A count of pairs that pass unadjusted
    carries no error guarantee, so pairs are counted as shown only by their Holm-adjusted verdict."""
    rows = [row for row in statistics["equivalence"] if "p_value" in row]
    margin = statistics["margin"]
    if not rows:  # distinct: identical ports count once
        return {"pairs": 0, "margin": margin, "distinct_pairs": len(statistics["equivalence"])}
    widest = max(rows, key=lambda row: row["smallest_margin"])
    short = [row for row in rows if row["p_value"] >= ALPHA]
    power = statistics["equivalence_power"] or {}
    return {
        "pairs": len(rows),
        "margin": margin,
        "seeds": min(row["seeds"] for row in rows),
        "shown_adjusted": sum(bool(row.get("equivalent")) for row in rows),  # each pair on its own: Holm
        "all_shown": not short,
        "widest": {"pair": list(widest["pair"]), "interval": list(widest["interval"])},
        "smallest_margin": widest["smallest_margin"],
        "not_shown": [list(row["pair"]) for row in short],
        "seeds_needed": power.get("seeds_joint"),
        "seeds_needed_own_sd": power.get("seeds_joint_own_sd"),
        "power_observed_gaps": power.get("joint_power_observed_gaps"),
    }


def verdict(doc: dict, statistics: dict) -> dict:
    """The verdict entry of a compare folder's results.json."""
    rows = compare_rows(doc)
    ports = [port_name(row["backend"], row["variant"]) for row in rows]
    return {
        "one_computation": one_computation(doc.get("lockstep"), ports),
        "same_accuracy": same_accuracy(statistics),
        "identical": statistics["identical"],
        "speed": speed_ratios(rows),
    }


def compare_entries(doc: dict) -> dict:
    """What a compare folder's results.json adds once its runs are in: statistics and verdict."""
    statistics = compare_statistics(doc)
    return {"statistics": statistics, "verdict": verdict(doc, statistics)}
