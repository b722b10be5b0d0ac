"""The Verdict section that ends compare's results.md (and the README's verdict): one computation,
the same accuracy, speed; and where the command's time went."""

from __future__ import annotations

from dropout_ports.benchmarks.report.statistics import pp, seed_list, seeds_text
from dropout_ports.benchmarks.results.analysis import port_name
from dropout_ports.benchmarks.results.document import epoch_rounds, timings_shared
from dropout_ports.benchmarks.results.stats import ALPHA, EQUIVALENCE_CONFIDENCE, MIN_INTERVAL_SEEDS
from dropout_ports.benchmarks.results.throughput import ratio_spread, spread_text


def _ports(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def computation_line(check: dict) -> str:
    builtin = check["statistics_only"]
    own = (
        f" {_ports(builtin)} draw their own masks inside the framework's Dropout layer: checked by the "
        "statistics only (the accuracy below)."
        if builtin
        else ""
    )
    if not check["checked"]:
        return (
            "**One computation:** not checked in this run (`dropout-ports compare --verdict` runs every port "
            "that takes injected masks against NumPy in float64 lockstep); every port rests on the "
            "statistics."
        )
    rows = check["checked"]
    failed = [
        f"{row['port']} ({max(row['max_loss_diff'], row['max_param_diff']):.1e})"
        for row in rows
        if not row["passed"]
    ]
    result = "pass" if not failed else f"FAIL for {_ports(failed)}"
    return (
        f"**One computation:** {_ports([row['port'] for row in rows])} against {check['reference']}, "
        f"one epoch ({check['steps']} steps) in {check['dtype']} from the same initial weights, batches "
        f"and masks: largest loss difference {max(r['max_loss_diff'] for r in rows):.1e}, largest "
        f"parameter difference {max(r['max_param_diff'] for r in rows):.1e}: {result} "
        f"(tolerance {check['tolerance']:.0e}).".replace("e-0", "e-")
        + own
    )


def accuracy_line(same: dict, identical: list[list[str]]) -> str:
    coincide = "".join(f" {' = '.join(group)} bit for bit." for group in identical)
    if not same["pairs"]:
        needs = f"the intervals need {MIN_INTERVAL_SEEDS} seeds per port"
        if not same.get("distinct_pairs", 1):
            needs = "no two ports computed different runs"
        return f"**The same accuracy:** not decided: {needs}." + coincide
    widest = same["widest"]
    low, high = widest["interval"]
    text = (
        f"**The same accuracy:** over {same['seeds']} seeds every pair's {EQUIVALENCE_CONFIDENCE:.0%} "
        f"interval of the paired difference lies within ±{pp(same['smallest_margin'])} (widest: "
        f"{' vs '.join(widest['pair'])}, [{pp(low, True)}, {pp(high, True)}]). Within ±{pp(same['margin'])}: "
    )
    if same["all_shown"]:
        text += (
            f"shown for all {same['pairs']} pairs (each pair's TOST at {ALPHA:g}; the claim that every pair "
            "is within needs no adjustment: intersection-union)."
        )
    else:
        missing = [" vs ".join(pair) for pair in same["not_shown"]]
        named = f": {_ports(missing)}" if len(missing) <= 3 else ""
        text += (
            f"the joint claim is not shown ({len(missing)} of {same['pairs']} pairs fail their TOST at "
            f"{ALPHA:g}{named}); pairs shown as claims of their own: {same['shown_adjusted']} of "
            f"{same['pairs']} (Holm, the table's last column). {_planning(same)}"
        )
    return text + coincide


def _planning(same: dict) -> str:
    """How many seeds the joint claim would need, under which assumptions."""
    text = (
        f"{seeds_text(same['seeds_needed']).capitalize()} would give the joint claim 80% power if no pair "
        "truly differs and every pair had the pooled paired SD (pairs taken as independent)"
    )
    own = same.get("seeds_needed_own_sd")
    if own:
        text += f"; with each pair's own observed SD, {seeds_text(own)}"
        gaps = same.get("power_observed_gaps")
        if gaps is not None:
            text += f"; were the observed mean differences true, the joint claim would have {gaps:.1%} power"
    return text + "."


def speed_line(spread: list[dict], shared: bool, timed: dict | None = None, epochs: int = 2) -> str:
    """spread: each port's epoch against the fastest's round by round (throughput.ratio_spread over
    results.document.epoch_rounds); shared: some port's timings come from runs that shared the cores
    (results.document.timings_shared); timed: the executor's timed round (compare --timed-seeds), if
    it had one; epochs: of each run (with one, there is no epoch after the first to take). A port is
    called slower (or faster) only where every round agrees, "within noise" otherwise."""
    if shared:  # in any session of the folder, not only its latest
        return "**Speed:** not compared: the runs ran in parallel, so their epochs shared the cores."
    if not spread:
        return "**Speed:** not compared: no seed on which every port finished a run."
    fastest = next(row for row in spread if row["port"] == row["reference"])
    others = [row for row in spread if row is not fastest]
    ratios = ", ".join(f"{row['port']} {spread_text(row)}" for row in others)
    verdicts = "; ".join(
        f"{verdict}: {_ports([row['port'] for row in others if row['verdict'] == verdict])}"
        for verdict in dict.fromkeys(row["verdict"] for row in others)
    )
    which = "epoch k after the first of each port's run paired with epoch k of the others"
    if epochs == 1:
        which = "the only epoch of each run, compilation and warm-up included, a seed a round"
    where = (
        f"the runs of {seed_list(timed['seeds'])}, made one at a time, each in a fresh process, every "
        "port in turn, before the other seeds ran in parallel"
        if timed
        else "runs one at a time, each in a fresh process, every port in turn before the next seed"
    )
    return (
        f"**Speed:** each port's epoch against the fastest, {fastest['port']} ({fastest['epoch_s']:.2f} s), "
        f"median [min, max] over {fastest['rounds']} rounds: {ratios or 'no other port'}"
        + (f"; {verdicts}" if verdicts else "")
        + f" (rounds: {which}; from {where})."
    )


def speed_spread(doc: dict) -> list[dict]:
    """The verdict's speed figures: every port's epochs against the fastest's, round by round."""
    return ratio_spread({port_name(*port): seconds for port, seconds in epoch_rounds(doc).items()})


def verdict_section(doc: dict, verdict: dict) -> list[str]:
    timed = (doc.get("executor") or {}).get("timed")
    return [
        "## Verdict",
        "",
        f"- {computation_line(verdict['one_computation'])}",
        f"- {accuracy_line(verdict['same_accuracy'], verdict['identical'])}",
        f"- {speed_line(speed_spread(doc), timings_shared(doc), timed, doc['settings']['config']['epochs'])}",
    ]


def time_spent(doc: dict) -> str | None:
    """Where the command's time went, from its duration and its runs' own clocks."""
    if "duration_s" not in doc:
        return None
    runs = [run for run in doc["runs"] if run.get("history")]
    epochs = sum(row["seconds"] for run in runs for row in run["history"])
    inside = sum(run.get("wall_s", 0.0) for run in doc["runs"])
    total = doc["duration_s"] / 60
    if "before_runs_s" not in doc:  # older folders
        return (
            f"Time: {total:.1f} min in all: {epochs / 60:.1f} min in training epochs, "
            f"{(inside - epochs) / 60:.1f} min in the runs' start-up and evaluation, "
            f"{(doc['duration_s'] - inside) / 60:.1f} min outside the runs (environment, yardsticks, "
            "lockstep check, process starts)."
        )
    before = doc["before_runs_s"]
    overlap = (
        " (more than the time they took: runs went in parallel)"
        if inside > doc["duration_s"] - before
        else ""
    )
    return (
        f"Time: {total:.1f} min in all: {before / 60:.1f} min before the runs (environment, yardsticks, "
        f"lockstep check), {total - before / 60:.1f} min running them. The runs' own clocks add up to "
        f"{epochs / 60:.1f} min of training epochs and {(inside - epochs) / 60:.1f} min of start-up and "
        f"evaluation{overlap}."
    )
