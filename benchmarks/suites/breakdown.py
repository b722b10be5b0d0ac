"""Where an epoch's time goes, by ablation in the port's own process (``contenders``): each
variant's epoch in its own loop split into

- matmuls: the floor (a step's matmuls alone, in the framework's own loop; the median of every
  floor burst of the port's process), times the epoch's full-batch equivalents;
- dropout: the epoch less the same epoch with every rate 0 (drawing the masks and applying them);
- optimizer update: the update's arithmetic alone (in the framework's loop too), times the steps;
- per-step overhead (host, dispatch, framework): the same steps at hidden widths of TINY_WIDTH,
  rates 0, where the work is next to nothing;
- rest of forward and backward (activations, loss, bias, what the update's arithmetic alone
  leaves out): the rates-0 epoch less the matmuls, the update and the overhead.

The matmuls and the update are each less the same call at TINY_WIDTH: what a call costs whatever
its size, which the per-step overhead holds already where the framework makes its calls from the
host.

The parts add up to the epoch by construction. The check is on the four measured apart: should
they exceed the epoch by more than TOLERANCE of it (the rest reading below -10%), the split is
flagged as one to distrust (a busy machine, or parts that overlap).
"""

from __future__ import annotations

import statistics

from dropout_ports.benchmarks.results.tables import Column
from dropout_ports.benchmarks.suites.contenders import (
    EPOCH,
    FLOOR_TINY,
    RATES_0,
    TINY,
    UPDATE,
    UPDATE_TINY,
    key,
)

MATMULS = "matmuls"
DROPOUT = "dropout (drawing and applying masks)"
REST = "rest of forward and backward"
UPDATE_PART = "optimizer update"
OVERHEAD = "per-step overhead (host, dispatch, framework)"
PARTS = (MATMULS, DROPOUT, REST, UPDATE_PART, OVERHEAD)
TOLERANCE = 0.10


def split(epoch_s: float, rates_0_s: float, tiny_s: float, matmuls_s: float, update_s: float) -> dict:
    """The parts of one epoch from its ablations (seconds each), and the share of the epoch the
    parts measured apart account for."""
    measured = {MATMULS: matmuls_s, DROPOUT: epoch_s - rates_0_s, UPDATE_PART: update_s, OVERHEAD: tiny_s}
    parts = {**measured, REST: rates_0_s - matmuls_s - update_s - tiny_s}
    return {
        "epoch_s": epoch_s,
        "parts": {name: parts[name] for name in PARTS},
        "measured_share": sum(measured.values()) / epoch_s,
    }


def adds_up(row: dict) -> bool:
    """Whether the parts measured apart stay within TOLERANCE of the epoch."""
    return row["measured_share"] <= 1 + TOLERANCE


def median_of(records: dict[str, list[dict]], label: str) -> float:
    return statistics.median(record["seconds"] for record in records[label])


def breakdown_rows(name: str, plan: list[dict], records: dict[str, list[dict]], scale: dict) -> list[dict]:
    """One row per variant of a port, in its own loop (the loop its ablations ran in). scale: the
    epoch's "steps", its full-batch equivalents ("batches": examples / batch size, the FLOPs'
    count) and "floor_s", a step's floor (the median of the process's floor bursts)."""
    rows = []
    for entry in plan:
        if entry["kind"] != RATES_0:
            continue
        variant, loop = entry["variant"], entry["loop"]
        epoch = key(variant, loop, EPOCH)
        parts = split(
            median_of(records, epoch),
            median_of(records, entry["key"]),
            median_of(records, key(variant, loop, TINY)),
            (scale["floor_s"] - median_of(records, FLOOR_TINY)) * scale["batches"],
            (median_of(records, UPDATE) - median_of(records, UPDATE_TINY)) * scale["steps"],
        )
        rows.append({"backend": name, "variant": variant, "loop": loop, **parts})
    return rows


def _part(name: str) -> Column:
    return (name, lambda r: f"{r['parts'][name]:.3f} ({r['parts'][name] / r['epoch_s']:.0%})")


def _check(row: dict) -> str:
    share = f"{row['measured_share']:.0%}"
    return share if adds_up(row) else f"{share}: over the epoch by more than {TOLERANCE:.0%}, distrust"


COLUMNS: list[Column] = [
    ("port", lambda r: f"{r['backend']}/{r['variant']} ({r['loop']} loop)"),
    ("epoch s", lambda r: f"{r['epoch_s']:.3f}"),
    *[_part(name) for name in PARTS],
    ("measured apart / epoch", _check),
]
