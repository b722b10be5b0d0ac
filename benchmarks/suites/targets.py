"""The project's speed targets, checked against one bench document: each with the figure
measured in that run, met or missed. The peers' targets are checked in their own table (``peers``).

Scratch dropout at the largest size: on the CPU at most 3x its framework's own copy and 6x the
run's fastest copy; on a GPU at least 70% of the copy's bandwidth. Epochs on the CPU: at least 75%
of the framework's own GEMM rate at the MLP's shapes for scratch variants, 60% for the framework
layers' ones. Epochs on a GPU, where the host can bound them: each port's scratch epoch within 2x
of the fastest port's in the device loop (torch's CUDA graph against JAX's scan) and within 3x in
the step loop, all at the run's one matmul precision.
"""

from __future__ import annotations

from dropout_ports.benchmarks.results.tables import Column

DROPOUT_OWN_COPY = 3.0
DROPOUT_FASTEST_COPY = 6.0
DEVICE_COPY_SHARE = 0.70
EPOCH_SHARES = {"scratch": 0.75, "builtin": 0.60, "nnx": 0.60}
LOOP_EPOCH_RATIOS = {"device": 2.0, "step": 3.0}  # GPU: scratch epoch over the fastest port's, same loop
PEER_SPEEDUPS = {"Keras 3": 1.5, "the chapter's recipe": 3.0}  # port scratch epoch x faster than the peer


def kind(row: dict) -> str:
    """scratch, builtin, chapter or copy: the word after the backend in a dropout row's label."""
    return row["implementation"].split()[1]


def target_rows(doc: dict) -> list[dict]:
    """One row per target the bench document measures."""
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
            rows.append(
                _row(what, f"<= {DROPOUT_OWN_COPY:g}x own copy", f"{own:.2f}x", own <= DROPOUT_OWN_COPY)
            )
            rows.append(
                _row(
                    what,
                    f"<= {DROPOUT_FASTEST_COPY:g}x fastest copy",
                    f"{fastest:.2f}x",
                    fastest <= DROPOUT_FASTEST_COPY,
                )
            )
        else:
            share = 1 / row["ratio_to_fastest_copy"]
            goal = f">= {DEVICE_COPY_SHARE:.0%} of the copy's bandwidth"
            rows.append(_row(what, goal, f"{share:.0%}", share >= DEVICE_COPY_SHARE))
    for row in doc["training"]["rows"] if on_cpu else []:
        floor, share = EPOCH_SHARES.get(row["variant"]), row.get("of_own_gemm")
        if floor is not None and share is not None:
            rows.append(_row(_epoch(row), f">= {floor:.0%} of own GEMM", f"{share:.0%}", share >= floor))
    return rows + ([] if on_cpu else loop_rows(doc["training"]["rows"]))


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
                goal = f"<= {limit:g}x {fastest['backend']}'s epoch"
                rows.append(_row(_epoch(row), goal, f"{ratio:.2f}x", ratio <= limit))
    return rows


def _epoch(row: dict) -> str:
    loop = f" ({row['loop']} loop)" if row.get("loop") else ""
    return f"{row['backend']} {row['variant']} epoch{loop}"


def _row(what: str, target: str, measured: str, met: bool) -> dict:
    return {"what": what, "target": target, "measured": measured, "met": met}


COLUMNS: list[Column] = [
    ("what", lambda r: r["what"]),
    ("target", lambda r: r["target"]),
    ("measured", lambda r: r["measured"]),
    ("result", lambda r: "met" if r["met"] else "missed"),
]
