"""The Verdict section that ends compare's results.md (and the README's verdict): one computation,
the same accuracy, speed; and where the command's time went."""

from __future__ import annotations

from dropout_ports.benchmarks.report.statistics import pp, seed_list, seeds_text
from dropout_ports.benchmarks.results.document import timings_shared
from dropout_ports.benchmarks.results.stats import ALPHA, EQUIVALENCE_CONFIDENCE, MIN_INTERVAL_SEEDS


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
        return (
            f"**The same accuracy:** not decided: the intervals need {MIN_INTERVAL_SEEDS} seeds per port "
            "(about 8 make a verdict within ±1 pp likely)." + coincide
        )
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
        named = f" (not for {_ports(missing)})" if len(missing) <= 3 else ""
        text += (
            f"shown for {same['shown']} of {same['pairs']} pairs{named} at {ALPHA:g} each, the level of the "
            f"claim that every pair is within (intersection-union){_adjusted(same)}; "
            f"{seeds_text(same['seeds_needed'])} would show every pair with 80% power (with no true "
            "difference and the pooled paired SD)."
        )
    return text + coincide


def _adjusted(same: dict) -> str:
    """How many pairs are shown each on its own claim, Holm-adjusted."""
    counted = f"{same['shown_adjusted']} of {same['pairs']}"
    return f"; {counted} as claims of their own (Holm, the table's last column)"


def speed_line(speed: list[dict], shared: bool, timed: dict | None = None) -> str:
    """shared: some port's timings come from runs that shared the cores (results.document.timings_shared);
    timed: the executor's timed round (compare --timed-seeds), if it had one."""
    if not speed:
        return "**Speed:** no run finished."
    if shared:  # in any session of the folder, not only its latest
        return "**Speed:** not compared: the runs ran in parallel, so their epochs shared the cores."
    fastest = min(speed, key=lambda row: row["ratio"])
    others = ", ".join(f"{row['port']} {row['ratio']:.2f}x" for row in speed if row is not fastest)
    where = (
        f"from the runs of {seed_list(timed['seeds'])}, made one at a time, each in a fresh process, every "
        "port in turn, before the other seeds ran in parallel"
        if timed
        else "mean over the seeds; runs one at a time, each in a fresh process, every port in turn before "
        "the next seed"
    )
    return (
        f"**Speed:** each port's epoch against the fastest, {fastest['port']} ({fastest['epoch_s']:.2f} s): "
        f"{others or 'no other port'} (the median epoch after the first, {where})."
    )


def verdict_section(doc: dict, verdict: dict) -> list[str]:
    return [
        "## Verdict",
        "",
        f"- {computation_line(verdict['one_computation'])}",
        f"- {accuracy_line(verdict['same_accuracy'], verdict['identical'])}",
        f"- {speed_line(verdict['speed'], timings_shared(doc), (doc.get('executor') or {}).get('timed'))}",
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
