"""Run engine benchmark: what running each run in a process of its own costs, and what local
workers gain on a sweep. Figures and ratios from one run of this script.

- overhead per run: (wall time of N small runs through an executor - the same runs inline, warm)
  / N, less the compilation a fresh process repeats (its first epoch's extra time over the
  inline runs'): process start, framework imports, data and (for Ray) scheduling, per run;
- sweep speed-up: an 8-run accuracy sweep (torch and JAX, both variants, seeds 0 and 1, 2 epochs
  of Fashion-MNIST) with --jobs 2 against --jobs 1.
Run: python -m dropout_ports.benchmarks.suites.executors [--quick] [--no-ray] [--out FILE.json]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.results.store import write_json_atomic
from dropout_ports.benchmarks.results.tables import Column, markdown_table
from dropout_ports.benchmarks.runs.engine import Executor, InlineExecutor, LocalExecutor
from dropout_ports.benchmarks.runs.spec import DataSpec, RunSpec
from dropout_ports.benchmarks.suites.script_args import script_parser
from dropout_ports.common.config import Config


def specs_for(names: Sequence[str], seeds: Sequence[int], cfg: Config) -> list[RunSpec]:
    return [
        RunSpec(name, variant, seed, "cpu", cfg.replace(seed=seed))
        for seed in seeds
        for name in names
        for variant in get_backend(name).VARIANTS
    ]


def wall(executor: Executor, specs: list[RunSpec]) -> tuple[float, list[dict]]:
    records: list[dict] = []
    start = time.perf_counter()
    executor.run(specs, records.append)
    seconds = time.perf_counter() - start
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        raise RuntimeError(f"a benchmark run failed: {failed[0]['error']}")
    return seconds, records


def warmup(records: list[dict]) -> float:
    """Mean extra time of a run's first epoch over its second: compilation and first-touch costs."""
    return sum(r["history"][0]["seconds"] - r["history"][1]["seconds"] for r in records) / len(records)


def overhead(names: Sequence[str], runs: int, ray: bool) -> list[dict]:
    """Seconds per run that each executor adds to the same small runs done inline."""
    data_spec = DataSpec("synthetic")
    data = data_spec.load()
    specs = specs_for(names, range(runs), Config(epochs=2, batch_size=256))
    executors: dict[str, Executor] = {
        "inline": InlineExecutor(data),
        "local, --jobs 1": LocalExecutor(data_spec, jobs=1),
    }
    if ray:
        from dropout_ports.benchmarks.runs.ray_executor import RayExecutor

        executors["ray, local instance"] = RayExecutor(data)
    wall(executors["inline"], specs)  # warm: imports and compilation paid before the inline timing
    timed = {label: wall(executor, specs) for label, executor in executors.items()}
    inline_s, inline_records = timed["inline"]
    rows = []
    for label, (seconds, records) in timed.items():
        compile_s = warmup(records) - warmup(inline_records)
        rows.append(
            {
                "executor": label,
                "runs": len(specs),
                "seconds": seconds,
                "per_run_s": seconds / len(specs),
                "compile_per_run_s": compile_s,
                "overhead_per_run_s": (seconds - inline_s) / len(specs) - compile_s,
            }
        )
    return rows


def sweep(names: Sequence[str], quick: bool) -> dict:
    """The same 8-run sweep with one local worker and with two; the accuracies must agree."""
    data = DataSpec("synthetic" if quick else "auto")
    specs = specs_for(names, (0, 1), Config(epochs=1 if quick else 2))
    seconds, accuracies = {}, {}
    for jobs in (1, 2):  # threads per run: the cores shared out, as a user gets them
        seconds[jobs], records = wall(LocalExecutor(data, jobs=jobs), specs)
        accuracies[jobs] = sorted(
            (r["backend"], r["variant"], r["seed"], r["test_accuracy"]) for r in records
        )
    return {
        "runs": len(specs),
        "jobs_1_s": seconds[1],
        "jobs_2_s": seconds[2],
        "speedup": seconds[1] / seconds[2],
        "same_accuracies": accuracies[1] == accuracies[2],
    }


COLUMNS: list[Column] = [
    ("executor", lambda r: r["executor"]),
    ("runs", lambda r: str(r["runs"])),
    ("s in all", lambda r: f"{r['seconds']:.1f}"),
    ("s per run", lambda r: f"{r['per_run_s']:.2f}"),
    ("compilation again per run s", lambda r: f"{r['compile_per_run_s']:.2f}"),
    ("overhead per run s", lambda r: f"{r['overhead_per_run_s']:.2f}"),
]


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--no-ray", action="store_true", help="leave the Ray executor out")
    args = parser.parse_args(argv)
    names = [name for name in ("torch", "jax") if name in args.backends] or args.backends[:1]
    rows = overhead(names, 1 if args.quick else 2, not args.no_ray and _has_ray())
    print(markdown_table(rows, COLUMNS))
    result = sweep(names, args.quick)
    print(
        f"sweep of {result['runs']} runs: --jobs 1 {result['jobs_1_s']:.1f} s, --jobs 2 "
        f"{result['jobs_2_s']:.1f} s, speed-up {result['speedup']:.2f}x; "
        f"same accuracies: {result['same_accuracies']}"
    )
    if args.out:
        write_json_atomic(args.out, {"overhead": rows, "sweep": result})


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
