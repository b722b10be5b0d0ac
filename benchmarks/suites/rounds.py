"""Timed parts in interleaved rounds: every part once per round in a fixed order, each bracketed by
the machine's load, so that a noisy neighbour slows every contender alike (ratios stay honest) and
is seen when it does. Ports take their rounds in turn, each in a process of its own that lives for
the whole measurement: round 1 of every port, then round 2 of every port, and so on.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

from dropout_ports.benchmarks.runs.machine import load_between, load_snapshot

# One timed burst: returns its own figures (an epoch's host seconds, "repeats": how many times it
# did its work, to divide the time by), or None.
Part = Callable[[], dict | None]
BURST_S = 0.1  # a short part (a step's matmuls) is repeated to about this long


def time_parts(parts: list[tuple[str, Part]]) -> list[dict]:
    """One round: each part once, in order, with its wall seconds (per repeat), its own figures and
    the load around it."""
    records = []
    for label, part in parts:
        before = load_snapshot()
        began = time.perf_counter()
        figures = part() or {}
        seconds = (time.perf_counter() - began) / figures.get("repeats", 1)
        records.append(
            {"label": label, **figures, "seconds": seconds, "load": load_between(before, load_snapshot())}
        )
    return records


def burst(call: Callable[[], object], steps: int = 1) -> Part:
    """call as a part repeated to about BURST_S (calibrated once, after a warm-up call), its time
    divided by its calls times the steps each call computes."""
    call()
    began = time.perf_counter()
    call()
    repeats = max(1, math.ceil(BURST_S / max(time.perf_counter() - began, 1e-9)))

    def part() -> dict:
        for _ in range(repeats):
            call()
        return {"repeats": repeats * steps}

    return part


@contextmanager
def workers(names: list[str]) -> Iterator[dict[str, Executor]]:
    """A spawned process per port for the whole measurement, holding no framework but its own."""
    with ExitStack() as stack:
        context = mp.get_context("spawn")
        yield {name: stack.enter_context(ProcessPoolExecutor(1, mp_context=context)) for name in names}


def in_turns(
    pools: dict[str, Executor], step: Callable[..., Any], rounds: int, *args: Any
) -> dict[str, list]:
    """step(name, *args) in each port's own process, port after port, for the rounds: each port's
    results in round order. A port's turn ends before the next port's begins."""
    results: dict[str, list] = {name: [] for name in pools}
    for _ in range(rounds):
        for name, pool in pools.items():
            results[name].append(pool.submit(step, name, *args).result())
    return results
