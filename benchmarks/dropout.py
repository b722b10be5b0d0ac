"""Dropout op benchmark: each scratch dropout and each framework's own against a copy of the array.

A copy reads and writes the array once: the memory-bound floor. ``ratio`` is time / copy time.
Run: python -m benchmarks.dropout [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from backends import get_backend
from benchmarks.cli import script_parser
from benchmarks.timing import interleaved_medians
from common.report import Column, print_table, write_json_atomic

SIZES = [2**k for k in range(10, 25, 2)]
QUICK_SIZES = [2**10, 2**14, 2**18]
RATES = (0.5, 0.2)  # 0.5 at every size; 0.2 at the largest


def implementations(name: str, p: float, device: str) -> dict[str, Callable]:
    """label -> op(x): what is timed for a backend. Each op returns its result, ready."""
    backend = get_backend(name)
    if name == "numpy":
        rng = backend.make_rng(0)
        return {
            "numpy copy": np.copy,
            "numpy scratch": lambda x: backend.dropout(x, p, rng),
            "numpy naive rng.random": lambda x: x * (rng.random(x.shape) > p) / np.float32(1 - p),
        }
    if name == "torch":
        import torch
        import torch.nn.functional as F

        rng = backend.make_rng(0, device)

        def ready(op: Callable) -> Callable:
            def run(x: torch.Tensor) -> torch.Tensor:
                out = op(x)
                if out.is_cuda:
                    torch.cuda.synchronize(out.device)
                return out

            return run

        return {
            "torch clone": ready(torch.clone),
            "torch scratch": ready(lambda x: backend.dropout(x, p, rng)),
            "torch F.dropout": ready(lambda x: F.dropout(x, p, training=True)),
        }
    import jax

    ops: dict[str, Callable] = {"jax copy": jax.jit(lambda x: x.copy())}
    for impl in ("threefry2x32", "rbg"):
        key = backend.make_rng(0, device, impl=impl)
        ops[f"jax scratch {impl}"] = partial(jax.jit(partial(backend.dropout, p=p)), key=key)
        ops[f"flax Dropout {impl}"] = partial(jax.jit(partial(backend.builtin_dropout, p=p)), key=key)
    return {label: _blocking(op) for label, op in ops.items()}


def _blocking(op: Callable) -> Callable:
    return lambda x: op(x).block_until_ready()


def run(names: list[str], *, device: str = "cpu", quick: bool = False) -> list[dict]:
    """One row per (implementation, p, size): ms, GB/s (a read and a write of the array), ratio."""
    sizes = QUICK_SIZES if quick else SIZES
    rows = []
    for name in names:
        backend = get_backend(name)
        for p in RATES:
            ops = implementations(name, p, device)
            for size in sizes if p == RATES[0] else sizes[-1:]:
                x = backend.asarray(np.random.default_rng(1).random(size, dtype=np.float32), device=device)
                timed = interleaved_medians({label: partial(op, x) for label, op in ops.items()})
                copy_label = next(label for label in ops if "copy" in label or "clone" in label)
                for label, seconds in timed.items():
                    rows.append(
                        {
                            "backend": name,
                            "implementation": label,
                            "p": p,
                            "size": size,
                            "ms": seconds * 1e3,
                            "gb_per_s": 2 * 4 * size / seconds / 1e9,
                            "ratio_to_copy": seconds / timed[copy_label],
                        }
                    )
    return rows


COLUMNS: list[Column] = [
    ("implementation", lambda r: r["implementation"]),
    ("p", lambda r: f"{r['p']:.1f}"),
    ("elements", lambda r: f"2^{r['size'].bit_length() - 1}"),
    ("ms", lambda r: f"{r['ms']:.3f}"),
    ("GB/s", lambda r: f"{r['gb_per_s']:.2f}"),
    ("x copy", lambda r: f"{r['ratio_to_copy']:.2f}"),
]


def main(argv: list[str] | None = None) -> None:
    args = script_parser(__doc__).parse_args(argv)
    rows = run(args.backends, device=args.device, quick=args.quick)
    print_table(rows, COLUMNS)
    if args.out:
        write_json_atomic(args.out, {"dropout": rows})


if __name__ == "__main__":
    main()
