"""What one port's process times in bench's rounds (``rounds.in_turns`` calls ``prepare`` once and
``timed_round`` every round), all through the Backend contract, so every port is timed alike:

- its floor: training steps' matmuls at the MLP's shapes (``runs.machine.step_matmuls``: FLOOR_STEPS
  in one call of the framework's loop, timed a step), right before each epoch, so that floor and
  epoch see the same machine;
- an epoch of each of its variants in each of its loops, as ``fit`` trains them;
- the ablations that split each variant's epoch (in its own loop) into parts: the same epoch with
  every rate 0 (no mask drawn, none applied), the update's arithmetic alone (w - lr * g over the
  parameters, FLOOR_STEPS times in one call of the framework's loop, as the floor), and, in a
  stage of its own after the others, the same steps at hidden widths of TINY_WIDTH: what a step
  costs whatever its size, with the floor and the update at that width too (what their calls cost
  whatever their size: where the framework runs them from the host, the per-step overhead holds
  that cost already). That stage comes last because a compiler that
  specialises on shapes (torch.compile) would otherwise recompile the full-size step for any shape.
"""

from __future__ import annotations

import functools
import itertools
import math
from types import ModuleType
from typing import Any

import numpy as np

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.runs.machine import FLOOR_STEPS, square_gflops, step_matmuls
from dropout_ports.benchmarks.suites.rounds import Part, burst, time_parts
from dropout_ports.common.batches import batch_order
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset, load_fashion_mnist, synthetic_dataset
from dropout_ports.common.fit import make_trainer
from dropout_ports.common.params import init_params

STAGES = ("epochs", "overhead")
EPOCH, RATES_0, TINY = "epoch", "rates 0", "tiny"  # an epoch part's kind
TINY_WIDTH = 8
FLOOR, UPDATE = "floor", "update"
FLOOR_TINY, UPDATE_TINY = f"{FLOOR} {TINY}", f"{UPDATE} {TINY}"  # labels: at TINY_WIDTH
QUICK_EXAMPLES = 4096
_PARTS: dict[str, list[tuple[str, Part]]] = {}  # this process's parts, by stage (one port a process)


@functools.cache
def bench_data(quick: bool) -> Dataset:
    """The data every stage of this process trains on, loaded once."""
    return synthetic_dataset(QUICK_EXAMPLES, 256) if quick else load_fashion_mnist()


def runs_on(name: str, cfg: Config, device: str) -> list[tuple[str, str]]:
    """The (variant, loop) pairs of a framework that train cfg on device."""
    trainer = get_backend(name).Trainer
    pairs = []
    for variant in trainer.VARIANTS:
        for loop in trainer.LOOPS:
            try:
                trainer.check_support(cfg.replace(loop=loop), variant, device)
            except ValueError:
                continue
            pairs.append((variant, loop))
    return pairs


def own_loops(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each variant once, in the first loop it has here (its Trainer's LOOPS order: the port's own)."""
    first: dict[str, str] = {}
    for variant, loop in pairs:
        first.setdefault(variant, loop)
    return list(first.items())


def key(variant: str, loop: str, kind: str) -> str:
    return f"{variant} {loop} {kind}"


def epoch_part(
    backend: ModuleType, cfg: Config, variant: str, device: str, data: tuple[Any, Any, int]
) -> Part:
    """An epoch of one trainer per call of the part, the batch order moving on as fit's does."""
    trainer = make_trainer(backend, cfg, init_params(cfg), variant=variant, device=device)
    x, y, examples = data
    epochs = itertools.count()

    def part() -> dict:
        trainer.train_epoch(x, y, batch_order(examples, cfg.batch_size, cfg.seed, next(epochs)))
        return {"host_seconds": trainer.host_seconds}

    return part


def update_call(backend: ModuleType, cfg: Config, device: str) -> Any:
    """The SGD update's arithmetic alone, w - lr * g over every parameter, FLOOR_STEPS times in one
    call of the framework's loop (so that, as in the floor, no call cost is counted in it)."""
    shapes = [shape for n_in, n_out in cfg.layer_shapes for shape in ((n_in, n_out), (n_out,))]
    params = [backend.asarray(np.ones(shape, np.float32), device=device) for shape in shapes]
    grads = [backend.asarray(np.ones(shape, np.float32), device=device) for shape in shapes]
    looped = backend.device_loop(
        lambda params, grads: [p - cfg.lr * g for p, g in zip(params, grads, strict=True)], FLOOR_STEPS
    )

    def call() -> None:
        for out in looped(params, grads):
            backend.ready(out)

    return call


def stage_parts(
    name: str, stage: str, cfg: Config, device: str, data: Dataset
) -> list[tuple[str, Part, dict]]:
    """(key, part, what it is) of a stage, in the order a round times them."""
    backend = get_backend(name)
    pairs = runs_on(name, cfg, device)
    variant, loop = pairs[0]  # a trainer's put: the data on the device once, shared by every trainer
    first = make_trainer(backend, cfg.replace(loop=loop), init_params(cfg), variant=variant, device=device)
    arrays = (first.put(data.train_x), first.put(data.train_y), len(data.train_y))
    zero = cfg.replace(dropouts=(0.0,) * len(cfg.dropouts))
    if stage == STAGES[1]:
        tiny = zero.replace(num_hiddens=(TINY_WIDTH,) * len(cfg.num_hiddens))
        return [(key(v, loop, TINY), epoch_part(backend, tiny.replace(loop=loop), v, device, arrays),
                 {"variant": v, "loop": loop, "kind": TINY}) for v, loop in own_loops(pairs)] + [
            (FLOOR_TINY, burst(step_matmuls(backend, tiny, device), FLOOR_STEPS), {"kind": FLOOR}),
            (UPDATE_TINY, burst(update_call(backend, tiny, device), FLOOR_STEPS), {"kind": UPDATE}),
        ]  # fmt: skip
    epochs = [(v, loop, EPOCH, cfg) for v, loop in pairs] + [
        (v, loop, RATES_0, zero) for v, loop in own_loops(pairs)
    ]
    floor = burst(step_matmuls(backend, cfg, device), FLOOR_STEPS)
    parts: list[tuple[str, Part, dict]] = []
    for variant, loop, kind, config in epochs:
        part = epoch_part(backend, config.replace(loop=loop), variant, device, arrays)
        what = {"variant": variant, "loop": loop, "kind": kind}
        parts += [(f"{key(variant, loop, kind)} {FLOOR}", floor, {"kind": FLOOR}), (key(**what), part, what)]
    return [*parts, (UPDATE, burst(update_call(backend, cfg, device), FLOOR_STEPS), {"kind": UPDATE})]


def prepare(name: str, stage: str, cfg: Config, device: str, quick: bool) -> dict:
    """Build a stage's parts in this process and warm each up once (the first epoch: compilation
    and caches); what they are, with each epoch's first time, and (first stage) the square matmul."""
    data = bench_data(quick)
    plan = []
    _PARTS[stage] = []
    for label, part, what in stage_parts(name, stage, cfg, device, data):
        if what["kind"] not in (FLOOR, UPDATE):
            first = time_parts([(label, part)])[0]
            what = {**what, "first_epoch_s": first["seconds"]}
        plan.append({"key": label, **what})
        _PARTS[stage].append((label, part))
    figures = {
        "plan": plan,
        "examples": len(data.train_y),
        "steps": math.ceil(len(data.train_y) / cfg.batch_size),
    }
    if stage == STAGES[0]:
        figures["square_gflops"] = square_gflops(get_backend(name), cfg, device, quick)
    return figures


def timed_round(name: str, stage: str) -> list[dict]:
    """One round of the stage prepare built in this process (name: the port's, as in_turns passes
    it to every port's process)."""
    return time_parts(_PARTS[stage])
