"""Training throughput: epochs of every backend x variant through ``fit``, against the yardsticks
(the machine's best matmul and each framework's own at the MLP's shapes, measured first).

The first epoch (compilation, caches) is reported apart; the figure of record is the median of
the epochs after it, computed by ``benchmarks.throughput`` as for ``compare``.
Run: python -m benchmarks.training [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

from backends import get_backend
from benchmarks.machine import yardsticks
from benchmarks.script_args import script_parser
from benchmarks.store import write_json_atomic
from benchmarks.tables import Column, markdown_table
from benchmarks.throughput import COLUMNS as THROUGHPUT_COLUMNS
from benchmarks.throughput import add_shares, throughput
from common.config import Config
from common.data import Dataset, load_fashion_mnist, synthetic_dataset
from common.flops import epoch_flops
from common.training import fit


def run(
    names: list[str],
    *,
    device: str = "cpu",
    quick: bool = False,
    data: Dataset | None = None,
) -> dict:
    """Rows with epoch seconds, samples/s, GFLOP/s and its shares of the yardsticks."""
    if data is None:
        data = synthetic_dataset(4096, 256) if quick else load_fashion_mnist()
    cfg = Config(epochs=2 if quick else 4)  # the first epoch, then the timed ones
    sticks = yardsticks(names, cfg, device, quick=quick)
    rows = []
    for name in names:
        for variant in get_backend(name).VARIANTS:
            result = fit(name, cfg, data, variant=variant, device=device, progress=False)
            seconds = [row["seconds"] for row in result.history]
            rows.append({"backend": name, "variant": variant, **throughput(cfg, len(data.train_y), seconds)})
    peak = add_shares(rows, sticks)
    flops = epoch_flops(cfg, len(data.train_y))
    return {
        "peak_gflops": peak,
        "yardsticks": sticks,
        "epoch_gflop": flops / 1e9,
        "device": device,
        "config": cfg.to_dict(),
        "rows": rows,
    }


COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    *THROUGHPUT_COLUMNS,
]


def main(argv: list[str] | None = None) -> None:
    args = script_parser(__doc__).parse_args(argv)
    result = run(args.backends, device=args.device, quick=args.quick)
    peak, gflop = result["peak_gflops"], result["epoch_gflop"]
    print(f"machine peak: {peak:.1f} GFLOP/s; an epoch is {gflop:.1f} GFLOP")
    print(markdown_table(result["rows"], COLUMNS))
    if args.out:
        write_json_atomic(args.out, {"training": result})


if __name__ == "__main__":
    main()
