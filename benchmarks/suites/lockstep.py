"""How close the ports stay: the same init, batches and injected masks through every port, step
by step; max differences of per-step loss and of parameters per pair (float32 throughout), and a
figure of the loss difference per step for every pair beside the first port (NumPy by default)
against itself with one thread (another summation order: the float32 floor any pair can reach).
Run: python -m dropout_ports.benchmarks.suites.lockstep [--steps 60 235 1000] [--device cpu|gpu]
[--out FILE.json]
(the figure goes beside the JSON, as FILE.png)
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import ModuleType

import numpy as np
from threadpoolctl import threadpool_limits

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.report.figures import plt
from dropout_ports.benchmarks.results.store import write_json_atomic
from dropout_ports.benchmarks.results.tables import Column, markdown_table
from dropout_ports.benchmarks.runs.machine import in_fresh_process
from dropout_ports.benchmarks.runs.spec import DataSpec
from dropout_ports.benchmarks.suites.script_args import script_parser
from dropout_ports.common.batches import batch_order
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset, first_examples, load_fashion_mnist
from dropout_ports.common.fit import make_trainer
from dropout_ports.common.masks import random_masks
from dropout_ports.common.params import Params, init_params


def run_lockstep(
    name: str | ModuleType,
    cfg: Config,
    data: Dataset,
    steps: int,
    device: str = "cpu",
    variant: str = "scratch",
) -> tuple[list[float], Params]:
    """Per-step losses and final parameters of a variant that takes masks (scratch by default) over
    the first steps of cfg.seed's batch order (continuing into later epochs), with masks drawn
    from cfg.seed + 1 (a data-parallel cfg: its replicas take their rows of them); with every rate 0
    there is nothing to inject, so any variant runs (builtin ones too). name: a
    registered port's, or the port's module itself (the conformance kit's port under check)."""
    backend = get_backend(name) if isinstance(name, str) else name
    trainer = make_trainer(backend, cfg, init_params(cfg), device=device, variant=variant)
    mask_rng = np.random.default_rng(cfg.seed + 1)
    losses: list[float] = []
    epoch = 0
    while len(losses) < steps:
        for idx in batch_order(len(data.train_y), cfg.batch_size, cfg.seed, epoch)[: steps - len(losses)]:
            masks = random_masks(cfg, len(idx), mask_rng) if any(cfg.dropouts) else None
            losses.append(trainer.train_step(data.train_x[idx], data.train_y[idx], masks))
        epoch += 1
    return losses, trainer.get_params()


REFERENCE = ("numpy", "scratch")  # the framework-free port every other is checked against
TOLERANCE = 1e-9  # float64: the ports stay this close through an epoch (tests/test_lockstep.py)
# float32 ports part where the loss leaves its plateau (about step 65 on Fashion-MNIST, in every pair
# and with one BLAS thread: docs/runs/lockstep.png); up to step 30 they stay within 1e-6, 100x below
# FLOAT32_TOLERANCE, whatever the kernel's summation order. A port that trains in float32 only is
# held to this band (the conformance kit); longer runs are compared in float64.
FLOAT32_STEPS = 30
FLOAT32_TOLERANCE = 1e-4


def lockstep_gaps(
    run: tuple[list[float], Params], reference: tuple[list[float], Params], tolerance: float = TOLERANCE
) -> dict:
    """The largest |loss difference| over the steps, the largest |parameter difference| at the end,
    and the first step (from 1) whose loss differs by more than tolerance (None if none does)."""
    diffs = np.abs(np.subtract(run[0], reference[0]))
    over = np.flatnonzero(diffs > tolerance)
    return {
        "max_loss_diff": float(diffs.max()),
        "max_param_diff": max(float(np.abs(run[1][k] - reference[1][k]).max()) for k in reference[1]),
        "first_step_over": int(over[0]) + 1 if over.size else None,
    }


def check_lockstep_support(names: list[str], base: Config, device: str = "cpu") -> None:
    """compare --verdict, before any work: a ValueError naming the first port whose variant that
    takes injected masks cannot train base in float64 on device (a float32-only port, say)."""
    for name in names:
        trainer = get_backend(name).Trainer
        for variant in trainer.SCRATCH_VARIANTS:
            try:
                trainer.check_support(base.replace(dtype="float64"), variant, device)
            except ValueError as err:
                raise ValueError(
                    f"compare --verdict trains every port in float64 lockstep, and {name}/{variant} cannot: "
                    f"{err}; leave {name} out of --backends, or drop --verdict (dropout-ports check "
                    f"{name} compares a float32 port in float32)"
                ) from None


def one_epoch_in_float64(name: str, variant: str, base: Config, data: DataSpec, device: str) -> tuple:
    """run_lockstep over one epoch in float64 (the last, short batch included), in this process, on
    the examples the runs train on (the first cfg.train_subset, if set)."""
    cfg = base.replace(dtype="float64")
    dataset = data.load()
    if cfg.train_subset:
        dataset = first_examples(dataset, cfg.train_subset)
    steps = len(batch_order(len(dataset.train_y), cfg.batch_size, cfg.seed, 0))
    return run_lockstep(name, cfg, dataset, steps, device, variant)


def check_one_computation(names: list[str], base: Config, data: DataSpec, device: str = "cpu") -> dict:
    """compare --verdict: every variant of the named ports that takes injected masks, against NumPy,
    each in a fresh process: one epoch in float64 from the same initial weights, batches and masks;
    the largest loss and parameter differences, passed when both are within TOLERANCE."""
    reference_losses, reference_params = in_fresh_process(one_epoch_in_float64, *REFERENCE, base, data, "cpu")
    rows = []
    for name in names:
        trainer = get_backend(name).Trainer
        for variant in trainer.SCRATCH_VARIANTS:
            if (name, variant) == REFERENCE:
                continue
            run = in_fresh_process(one_epoch_in_float64, name, variant, base, data, device)
            gaps = lockstep_gaps(run, (reference_losses, reference_params))
            passed = max(gaps["max_loss_diff"], gaps["max_param_diff"]) <= TOLERANCE
            rows.append({"port": f"{name}/{variant}", "max_loss_diff": gaps["max_loss_diff"],
                         "max_param_diff": gaps["max_param_diff"], "passed": passed})  # fmt: skip
    return {"reference": "/".join(REFERENCE), "dtype": "float64", "steps": len(reference_losses),
            "tolerance": TOLERANCE, "rows": rows}  # fmt: skip


SELF = "1 thread"  # the first port again, with one thread: another summation order


def run(names: list[str], steps: list[int], device: str = "cpu") -> tuple[list[dict], dict[str, list[float]]]:
    """Rows of max differences per pair, and each pair's per-step |loss difference|."""
    data = load_fashion_mnist()
    runs = {name: run_lockstep(name, Config(), data, max(steps), device) for name in names}
    with threadpool_limits(1):
        runs[SELF] = run_lockstep(names[0], Config(), data, max(steps))
    pairs = [*itertools.combinations(names, 2), (names[0], SELF)]
    curves = {f"{a} vs {b}": np.abs(np.subtract(runs[a][0], runs[b][0])).tolist() for a, b in pairs}
    rows = []
    for a, b in pairs:
        for count in steps:
            loss_gap = np.abs(np.subtract(runs[a][0][:count], runs[b][0][:count])).max()
            rows.append({"pair": f"{a} vs {b}", "steps": count, "max_loss_diff": float(loss_gap)})
        params_a, params_b = runs[a][1], runs[b][1]
        rows[-1]["max_param_diff"] = max(float(np.abs(params_a[k] - params_b[k]).max()) for k in params_a)
    return rows, curves


def divergence_plot(curves: dict[str, list[float]], path: Path) -> None:
    """|loss difference| per step for every pair, log scale; the port against itself dashed."""
    fig, ax = plt.subplots(figsize=(9, 5))
    for label, diffs in curves.items():
        steps = np.arange(1, len(diffs) + 1)
        ax.plot(steps, np.maximum(diffs, 1e-12), "--" if SELF in label else "-", lw=1.2, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step (same initial parameters, batches and masks)")
    ax.set_ylabel("|loss difference| (float32; floor 1e-12)")
    ax.set_title("Lockstep: how far the ports drift apart, against one port with another thread count")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


COLUMNS: list[Column] = [
    ("pair", lambda r: r["pair"]),
    ("steps", lambda r: str(r["steps"])),
    ("max |loss difference|", lambda r: f"{r['max_loss_diff']:.2e}"),
    (
        "max |parameter difference| at the end",
        lambda r: f"{r['max_param_diff']:.2e}" if "max_param_diff" in r else "",
    ),
]


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--steps", nargs="+", type=int, default=[60, 235, 1000])
    args = parser.parse_args(argv)
    rows, curves = run(args.backends, [60] if args.quick else sorted(args.steps), args.device)
    print(markdown_table(rows, COLUMNS))
    if args.out:
        write_json_atomic(args.out, {"lockstep": rows, "curves": curves})
        divergence_plot(curves, Path(args.out).with_suffix(".png"))


if __name__ == "__main__":
    main()
