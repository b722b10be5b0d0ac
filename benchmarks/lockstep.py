"""How close the ports stay: the same init, batches and injected masks through every port, step
by step; max differences of per-step loss and of parameters per pair (float32 throughout).
Run: python -m benchmarks.lockstep [--steps 60 235 1000] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

import itertools

import numpy as np

from backends import get_backend
from benchmarks.script_args import script_parser
from benchmarks.store import write_json_atomic
from benchmarks.tables import Column, markdown_table
from common.batches import batch_order
from common.config import Config
from common.data import Dataset, load_fashion_mnist
from common.masks import random_keep_masks
from common.params import Params, init_params


def run_lockstep(
    name: str, cfg: Config, data: Dataset, steps: int, device: str = "cpu"
) -> tuple[list[float], Params]:
    """Per-step losses and final parameters of the scratch variant over the first steps of
    cfg.seed's batch order (continuing into later epochs), with masks drawn from cfg.seed + 1."""
    trainer = get_backend(name).Trainer(cfg, init_params(cfg), device=device)
    mask_rng = np.random.default_rng(cfg.seed + 1)
    losses: list[float] = []
    epoch = 0
    while len(losses) < steps:
        for idx in batch_order(len(data.train_y), cfg.batch_size, cfg.seed, epoch)[: steps - len(losses)]:
            masks = random_keep_masks(cfg, len(idx), mask_rng)
            losses.append(trainer.train_step(data.train_x[idx], data.train_y[idx], masks))
        epoch += 1
    return losses, trainer.get_params()


def run(names: list[str], steps: list[int], device: str = "cpu") -> list[dict]:
    data = load_fashion_mnist()
    runs = {name: run_lockstep(name, Config(), data, max(steps), device) for name in names}
    rows = []
    for a, b in itertools.combinations(names, 2):
        for count in steps:
            loss_gap = np.abs(np.subtract(runs[a][0][:count], runs[b][0][:count])).max()
            rows.append({"pair": f"{a} vs {b}", "steps": count, "max_loss_diff": float(loss_gap)})
        params_a, params_b = runs[a][1], runs[b][1]
        rows[-1]["max_param_diff"] = max(float(np.abs(params_a[k] - params_b[k]).max()) for k in params_a)
    return rows


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
    rows = run(args.backends, [60] if args.quick else sorted(args.steps), args.device)
    print(markdown_table(rows, COLUMNS))
    if args.out:
        write_json_atomic(args.out, {"lockstep": rows})


if __name__ == "__main__":
    main()
