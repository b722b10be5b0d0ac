"""Dropout op benchmark: each port's dropout, the framework's own and the chapter's recipe,
against the framework's own copy of the array.

A copy reads and writes the array once: the memory-bound floor. Each row gives its time over its
framework's own copy and over the fastest copy in the run.
Run: python -m dropout_ports.benchmarks.suites.dropout [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import ModuleType

import numpy as np

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.results.tables import Column
from dropout_ports.benchmarks.results.throughput import with_fastest_copy
from dropout_ports.benchmarks.runs.machine import load_between, load_snapshot
from dropout_ports.benchmarks.suites.script_args import table_script
from dropout_ports.common.timing import interleaved_medians

SIZES = [2**k for k in range(10, 25, 2)]
QUICK_SIZES = [2**10, 2**14, 2**18]
DEVICE_SIZES = [2**26]  # a GPU streams 2^24 floats in tens of microseconds: launch costs would dominate
RATES = (0.5, 0.2)  # 0.5 at every size; 0.2 at the largest
COPY = "copy"


def implementations(backend: ModuleType, p: float, device: str) -> dict[str, Callable]:
    """label -> op(x) for one backend, each compiled by the framework where it compiles and each
    returning its result ready; the copy comes first. The rng is an argument, never a constant."""
    ops: dict[str, Callable] = {COPY: backend.jit(backend.copy)}
    for impl in backend.PRNG_IMPLS:
        suffix = f" {impl}" if len(backend.PRNG_IMPLS) > 1 else ""
        rng = backend.make_rng(0, device, impl=impl)
        dropouts = {"scratch": backend.dropout, "builtin": backend.builtin_dropout}
        if impl == backend.PRNG_IMPLS[0]:
            dropouts["chapter"] = backend.chapter_dropout
        for kind, dropout in dropouts.items():
            if dropout is not None:
                compiled = backend.jit(lambda x, rng, dropout=dropout: dropout(x, p, rng))
                ops[kind + suffix] = partial(compiled, rng=rng)
    return {f"{backend.NAME} {label}": _ready(backend, op) for label, op in ops.items()}


def _ready(backend: ModuleType, op: Callable) -> Callable:
    return lambda x: backend.ready(op(x))


def run(names: list[str], *, device: str = "cpu", quick: bool = False) -> list[dict]:
    """One row per (implementation, p, size): ms, GB/s (a read and a write of the array), ratio,
    and the machine's load around the contenders' rounds at that size."""
    sizes = QUICK_SIZES if quick else SIZES + (DEVICE_SIZES if device != "cpu" else [])
    rows = []
    for name in names:
        backend = get_backend(name)
        for p in RATES:
            ops = implementations(backend, p, device)
            copy_label = next(iter(ops))
            for size in sizes if p == RATES[0] else sizes[-1:]:
                x = backend.asarray(np.random.default_rng(1).random(size, dtype=np.float32), device=device)
                before = load_snapshot()
                timed = interleaved_medians({label: partial(op, x) for label, op in ops.items()})
                load = load_between(before, load_snapshot())
                for label, seconds in timed.items():
                    rows.append(
                        {
                            "backend": name,
                            "implementation": label,
                            "is_copy": label == copy_label,
                            "p": p,
                            "size": size,
                            "ms": seconds * 1e3,
                            "gb_per_s": 2 * 4 * size / seconds / 1e9,
                            "ratio_to_copy": seconds / timed[copy_label],
                            "load": load,
                        }
                    )
    return with_fastest_copy(rows)


COLUMNS: list[Column] = [
    ("implementation", lambda r: r["implementation"]),
    ("p", lambda r: f"{r['p']:.1f}"),
    ("elements", lambda r: f"2^{r['size'].bit_length() - 1}"),
    ("ms", lambda r: f"{r['ms']:.3f}"),
    ("GB/s", lambda r: f"{r['gb_per_s']:.2f}"),
    ("x own copy", lambda r: f"{r['ratio_to_copy']:.2f}"),
    ("x fastest copy", lambda r: f"{r['ratio_to_fastest_copy']:.2f}"),
]


def main(argv: list[str] | None = None) -> None:
    table_script(__doc__, run, COLUMNS, "dropout", argv)


if __name__ == "__main__":
    main()
