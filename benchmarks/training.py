"""Training throughput: one epoch per backend x variant against the machine's matmul throughput.

The yardstick is NumPy's float32 4096^2 matmul, measured first, before any framework warms up.
The first epoch (compilation, caches) is reported apart; the figure of record is the median of
the timed epochs after it.
Run: python -m benchmarks.training [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

import statistics
import time

from backends import get_backend
from benchmarks.cli import script_parser
from benchmarks.timing import matmul_gflops
from common.batches import batch_order
from common.config import Config
from common.data import Dataset, load_fashion_mnist, synthetic_dataset
from common.metrics import epoch_flops
from common.params import init_params
from common.report import Column, print_table, write_json_atomic


def yardstick(quick: bool) -> float:
    """The matmul throughput to compare against: call it before any framework warms up."""
    return matmul_gflops(repeats=3 if quick else 10)


def time_epochs(name: str, variant: str, cfg: Config, data: Dataset, device: str, timed: int) -> dict:
    backend = get_backend(name)
    trainer = backend.Trainer(cfg, init_params(cfg), variant=variant, device=device)
    x, y = trainer.put(data.train_x), trainer.put(data.train_y)
    seconds = []
    for epoch in range(1 + timed):
        batches = batch_order(len(data.train_y), cfg.batch_size, cfg.seed, epoch)
        start = time.perf_counter()
        trainer.train_epoch(x, y, batches)  # returns host floats: the device has finished
        seconds.append(time.perf_counter() - start)
    return {
        "backend": name,
        "variant": variant,
        "first_epoch_s": seconds[0],
        "epoch_s": statistics.median(seconds[1:]),
    }


def run(
    names: list[str],
    *,
    device: str = "cpu",
    quick: bool = False,
    data: Dataset | None = None,
    peak_gflops: float | None = None,
) -> dict:
    """Rows with epoch seconds, samples/s, GFLOP/s and its share of the matmul throughput."""
    peak = peak_gflops or yardstick(quick)
    if data is None:
        data = synthetic_dataset(4096, 256) if quick else load_fashion_mnist()
    cfg = Config()
    flops = epoch_flops(cfg, len(data.train_y))
    rows = []
    for name in names:
        for variant in get_backend(name).VARIANTS:
            row = time_epochs(name, variant, cfg, data, device, timed=1 if quick else 3)
            row["samples_per_s"] = len(data.train_y) / row["epoch_s"]
            row["gflops"] = flops / row["epoch_s"] / 1e9
            row["fraction_of_matmul_peak"] = row["gflops"] / peak
            rows.append(row)
    return {"matmul_gflops": peak, "epoch_gflop": flops / 1e9, "device": device, "rows": rows}


COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    ("first epoch s", lambda r: f"{r['first_epoch_s']:.2f}"),
    ("epoch s", lambda r: f"{r['epoch_s']:.2f}"),
    ("samples/s", lambda r: f"{r['samples_per_s']:,.0f}"),
    ("GFLOP/s", lambda r: f"{r['gflops']:.1f}"),
    ("of matmul peak", lambda r: f"{r['fraction_of_matmul_peak']:.0%}"),
]


def main(argv: list[str] | None = None) -> None:
    args = script_parser(__doc__).parse_args(argv)
    result = run(args.backends, device=args.device, quick=args.quick)
    peak, gflop = result["matmul_gflops"], result["epoch_gflop"]
    print(f"matmul yardstick: {peak:.1f} GFLOP/s; an epoch is {gflop:.1f} GFLOP")
    print_table(result["rows"], COLUMNS)
    if args.out:
        write_json_atomic(args.out, {"training": result})


if __name__ == "__main__":
    main()
