"""The project's speed targets, checked against one bench document: each with the figure
measured in that run, met or missed. The peers' targets are checked in their own table (``peers``).

Scratch dropout at the largest size: on the CPU at most 3x its framework's own copy and 6x the
run's fastest copy; on a GPU at least 70% of the copy's bandwidth. Epochs on the CPU: at least 75%
of the framework's own GEMM rate at the MLP's shapes for scratch variants, 60% for the framework
layers' ones. Epochs on a GPU, where the host can bound them: each port's scratch epoch within 2x
of the fastest port's in the device loop (torch's CUDA graph against JAX's scan) and within 3x in
the step loop, all at the run's one matmul precision.

Then the targets that tell a port's own costs from its framework's (``port_target_rows``), each
miss with the time breakdown's part that explains it: every scratch epoch, in its own loop, at
least FLOOR_AND_MASKS of its floor plus its masks drawn and applied at the framework's best (its
fastest dropout op of the run per element, at one mask's size or larger, where a call's own cost is
spread over a mask at least); a compiled variant at least as fast as its scratch, in the same loop;
every scratch epoch in the step loop within OF_REFERENCE of the reference port's. Their ratios are
medians of the rounds' own ratios.

A --quick run's sizes are not the ones the targets are meant for: its rows say so and judge
nothing. Each figure is judged as the reader sees it, rounded.
"""

from __future__ import annotations

import statistics

from dropout_ports.benchmarks.results.tables import Column
from dropout_ports.benchmarks.results.throughput import share_text, with_shares
from dropout_ports.benchmarks.suites.breakdown import MATMULS
from dropout_ports.benchmarks.suites.lockstep import REFERENCE

DROPOUT_OWN_COPY = 3.0
DROPOUT_FASTEST_COPY = 6.0
DEVICE_COPY_SHARE = 0.70
EPOCH_SHARES = {"scratch": 0.75, "builtin": 0.60, "nnx": 0.60}
LOOP_EPOCH_RATIOS = {"device": 2.0, "step": 3.0}  # GPU: scratch epoch over the fastest port's, same loop
QUICK_WORDS = "not judged at --quick sizes"
PEER_SPEEDUPS = {"Keras 3": 1.5, "the chapter's recipe": 3.0}  # port scratch epoch x faster than the peer


def kind(row: dict) -> str:
    """scratch, builtin, chapter or copy: the word after the backend in a dropout row's label."""
    return row["implementation"].split()[1]


def target_rows(doc: dict) -> list[dict]:
    """One row per target the bench document measures; met is None (not judged) at --quick sizes."""
    rows = measured_targets(doc)
    return [{**row, "met": None} for row in rows] if doc.get("quick") else rows


def measured_targets(doc: dict) -> list[dict]:
    """Every target's row with its figure, judged."""
    dropout = doc["dropout"]
    largest = max((row["size"] for row in dropout), default=None)
    on_cpu = doc["device"] == "cpu"
    rows = []
    for row in dropout:
        if row["size"] != largest or kind(row) != "scratch":
            continue
        what = f"{row['implementation']} dropout, p = {row['p']}"
        if on_cpu:
            own, fastest = row["ratio_to_copy"], row["ratio_to_fastest_copy"]
            rows.append(_at_most(what, own, DROPOUT_OWN_COPY, "x own copy"))
            rows.append(_at_most(what, fastest, DROPOUT_FASTEST_COPY, "x fastest copy"))
        else:
            goal = f">= {DEVICE_COPY_SHARE:.0%} of the copy's bandwidth"
            rows.append(_at_least(what, 1 / row["ratio_to_fastest_copy"], DEVICE_COPY_SHARE, goal))
    training = doc["training"]
    for row in with_shares(training["rows"], training["yardsticks"]) if on_cpu else []:
        floor, share = EPOCH_SHARES.get(row["variant"]), row.get("of_own_gemm")
        if floor is not None and share is not None:
            rows.append(_at_least(_epoch(row), share, floor, f">= {floor:.0%} of own GEMM"))
    return rows + ([] if on_cpu else loop_rows(training["rows"])) + port_target_rows(doc)


def _at_most(what: str, ratio: float, limit: float, unit: str, why: str | None = None) -> dict:
    """A ratio target, judged on the figure the reader sees (two decimals); why: what explains a miss."""
    shown = f"{ratio:.2f}"
    return _row(what, f"<= {limit:g}{unit}", f"{shown}x", float(shown) <= limit, why)


def _at_least(what: str, share: float, floor: float, goal: str, why: str | None = None) -> dict:
    """A share target, judged on the whole percent the reader sees (a share over 100% flagged)."""
    shown = share_text(share)
    return _row(what, goal, shown, int(shown.split("%")[0]) >= round(100 * floor), why)


def loop_rows(training: list[dict]) -> list[dict]:
    """Each port's scratch epoch against the fastest port's in the same loop style, where two or
    more ports ran that loop."""
    rows = []
    for loop, limit in LOOP_EPOCH_RATIOS.items():
        scratch = [row for row in training if row["variant"] == "scratch" and row.get("loop") == loop]
        if len({row["backend"] for row in scratch}) < 2:
            continue
        fastest = min(scratch, key=lambda row: row["epoch_s"])
        for row in scratch:
            if row is not fastest:
                ratio = row["epoch_s"] / fastest["epoch_s"]
                rows.append(_at_most(_epoch(row), ratio, limit, f"x {fastest['backend']}'s epoch"))
    return rows


def _epoch(row: dict) -> str:
    loop = f" ({row['loop']} loop)" if row.get("loop") else ""
    return f"{row['backend']} {row['variant']} epoch{loop}"


def _row(what: str, target: str, measured: str, met: bool, why: str | None = None) -> dict:
    return {"what": what, "target": target, "measured": measured, "met": met, **({"why": why} if why else {})}


FLOOR_AND_MASKS = 0.85  # a scratch epoch's share of its floor plus its masks at the framework's best
OF_REFERENCE = 1.3
COMPILED_OF_SCRATCH = 1.0


def port_target_rows(doc: dict) -> list[dict]:
    """One row per own-cost target that the document measures (a document from before
    rounds measures none), judged, each miss explained."""
    training = doc["training"]
    rows = {(r["backend"], r["variant"], r.get("loop")): r for r in training["rows"] if "rounds" in r}
    parts = {(r["backend"], r["variant"], r["loop"]): r for r in training.get("breakdown", [])}
    targets = []
    for backend, variant, loop in parts:
        if variant == "scratch" and (backend, variant, loop) in rows:
            targets += _floor_and_masks(doc, rows[backend, variant, loop], parts[backend, variant, loop])
        if variant == "compiled" and (backend, "scratch", loop) in rows:
            pair = ((backend, "compiled", loop), (backend, "scratch", loop))
            what = f"{backend} compiled epoch ({loop} loop)"
            targets.append(_ratio(what, rows, parts, pair, COMPILED_OF_SCRATCH, "x its scratch"))
    reference = (*REFERENCE, "step")
    for key in rows:
        if key[1:] == reference[1:] and key != reference and reference in rows:
            what, unit = f"{key[0]} scratch epoch (step loop)", f"x {'/'.join(REFERENCE)}'s"
            targets.append(_ratio(what, rows, parts, (key, reference), OF_REFERENCE, unit))
    return targets


def best_mask_seconds(doc: dict, backend: str, elements: int) -> float | None:
    """Seconds an element of the framework's fastest dropout op in the run (not its copy) at
    ``elements`` or more (its largest size where it timed none so large); None where it timed none."""
    ops = [r for r in doc.get("dropout", []) if r["backend"] == backend and not r.get("is_copy")]
    if not ops:
        return None
    smallest = min(elements, max(r["size"] for r in ops))
    return min(r["ms"] / 1e3 / r["size"] for r in ops if r["size"] >= smallest)


def _floor_and_masks(doc: dict, row: dict, split: dict) -> list[dict]:
    training = doc["training"]
    cfg = training["config"]
    noisy = [width for width, p in zip(cfg["num_hiddens"], cfg["dropouts"], strict=True) if 0 < p < 1]
    per_element = best_mask_seconds(doc, row["backend"], cfg["batch_size"] * max(noisy, default=0))
    if per_element is None or "examples" not in training:
        return []
    floor_s = training["epoch_gflop"] / row["floor_gflops"]
    share = (floor_s + per_element * training["examples"] * sum(noisy)) / row["epoch_s"]
    others = {name: s for name, s in split["parts"].items() if name != MATMULS}
    largest = max(others, key=lambda name: others[name])
    why = f"{largest}: {others[largest] / split['epoch_s']:.0%} of the epoch"
    what = f"{row['backend']} scratch epoch ({row['loop']} loop)"
    return [_at_least(what, share, FLOOR_AND_MASKS, f">= {FLOOR_AND_MASKS:.0%} of floor + best masks", why)]


def _ratio(what: str, rows: dict, parts: dict, pair: tuple, limit: float, unit: str) -> dict:
    """rows[pair[0]]'s epoch over rows[pair[1]]'s, the median of the rounds' ratios; a miss names
    the breakdown part that the first exceeds the second by most (where both have a breakdown)."""
    ours, theirs = (rows[key]["rounds"]["epoch_s"] for key in pair)
    ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
    why = "no breakdown of both in this loop"
    if pair[0] in parts and pair[1] in parts:
        mine, other = (parts[key]["parts"] for key in pair)
        name = max(mine, key=lambda part: mine[part] - other[part])
        why = f"{name}: {mine[name]:.3f} s against {other[name]:.3f} s"
    return _at_most(what, ratio, limit, f"{unit} epoch", why)


COLUMNS: list[Column] = [
    ("what", lambda r: r["what"]),
    ("target", lambda r: r["target"]),
    ("measured", lambda r: r["measured"]),
    ("result", lambda r: QUICK_WORDS if r["met"] is None else "met" if r["met"] else "missed"),
    ("a miss explained by (time breakdown)", lambda r: r.get("why", "-") if r["met"] is False else "-"),
]
