"""How close the ports stay: max differences of per-step loss and of parameters, per pair,
after growing numbers of lockstep steps (same init, batches and masks; float32 throughout).
Run: python -m benchmarks.lockstep [--steps 60 235 1000] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

import itertools

import numpy as np

from benchmarks.cli import script_parser
from common.config import Config
from common.data import load_fashion_mnist
from common.lockstep import run_lockstep
from common.report import Column, print_table, write_json_atomic


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
    print_table(rows, COLUMNS)
    if args.out:
        write_json_atomic(args.out, {"lockstep": rows})


if __name__ == "__main__":
    main()
