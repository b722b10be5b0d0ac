"""The targets that tell the port's own costs from its framework's, checked against one bench
document, each miss with the part of the time breakdown that explains it:

- every port's scratch epoch, in its own loop, at least FLOOR_AND_MASKS of its floor (the step's
  matmuls, ``contenders``) plus its masks drawn and applied at the framework's best: the fastest
  per element of its dropout ops in the same run (``dropout``) at one mask's size or larger (where
  a call's own cost is spread over a mask at least);
- a compiled variant at least as fast as its framework's scratch, in the same loop;
- every port's scratch epoch in the step loop within OF_REFERENCE of the reference port's.

The ratios are medians of the rounds' own ratios (the rounds pair the ports' epochs by index).
"""

from __future__ import annotations

import statistics

from dropout_ports.benchmarks.results.throughput import share_text
from dropout_ports.benchmarks.suites.breakdown import MATMULS
from dropout_ports.benchmarks.suites.lockstep import REFERENCE

FLOOR_AND_MASKS = 0.85
OF_REFERENCE = 1.3
COMPILED_OF_SCRATCH = 1.0


def port_target_rows(doc: dict) -> list[dict]:
    """One row per target of this module that the document measures (a document from before
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
    shown = share_text(share)
    met = int(shown.split("%")[0]) >= round(100 * FLOOR_AND_MASKS)
    why = f"{largest}: {others[largest] / split['epoch_s']:.0%} of the epoch"
    what = f"{row['backend']} scratch epoch ({row['loop']} loop)"
    return [_row(what, f">= {FLOOR_AND_MASKS:.0%} of floor + best masks", shown, met, why)]


def _ratio(what: str, rows: dict, parts: dict, pair: tuple, limit: float, unit: str) -> dict:
    """rows[pair[0]]'s epoch over rows[pair[1]]'s, the median of the rounds' ratios; a miss names
    the breakdown part that the first exceeds the second by most (where both have a breakdown)."""
    ours, theirs = (rows[key]["rounds"]["epoch_s"] for key in pair)
    ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
    shown = f"{ratio:.2f}"
    why = "no breakdown of both in this loop"
    if pair[0] in parts and pair[1] in parts:
        mine, other = (parts[key]["parts"] for key in pair)
        name = max(mine, key=lambda part: mine[part] - other[part])
        why = f"{name}: {mine[name]:.3f} s against {other[name]:.3f} s"
    return _row(what, f"<= {limit:g}{unit} epoch", f"{shown}x", float(shown) <= limit, why)


def _row(what: str, target: str, measured: str, met: bool, why: str) -> dict:
    return {"what": what, "target": target, "measured": measured, "met": met, "why": why}
