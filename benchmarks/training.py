"""Training throughput: epochs of every backend x variant through ``fit``, against the yardsticks
(the machine's best matmul and each framework's own at the MLP's shapes, measured first).

The first epoch (compilation, caches) is reported apart; the figure of record is the median of
the epochs after it, computed by ``benchmarks.throughput`` as for ``compare``.
Run: python -m benchmarks.training [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

from backends import get_backend
from benchmarks.machine import combine_yardsticks, framework_yardsticks, in_fresh_process
from benchmarks.script_args import script_parser
from benchmarks.store import write_json_atomic
from benchmarks.tables import Column, markdown_table
from benchmarks.throughput import COLUMNS as THROUGHPUT_COLUMNS
from benchmarks.throughput import add_shares, throughput
from common.config import Config
from common.data import load_fashion_mnist, synthetic_dataset
from common.flops import epoch_flops
from common.training import fit


def run(names: list[str], *, device: str = "cpu", quick: bool = False) -> dict:
    """Rows with epoch seconds, samples/s, GFLOP/s and its shares of the yardsticks; each
    framework's yardsticks and epochs measured in a fresh process of its own."""
    cfg = Config(epochs=2 if quick else 4)  # the first epoch, then the timed ones
    parts = {name: in_fresh_process(measure_framework, name, cfg, device, quick) for name in names}
    sticks = combine_yardsticks({name: part["yardsticks"] for name, part in parts.items()}, quick)
    rows = [row for part in parts.values() for row in part["rows"]]
    peak = add_shares(rows, sticks)
    flops = epoch_flops(cfg, next(iter(parts.values()))["examples"])
    return {
        "peak_gflops": peak,
        "yardsticks": sticks,
        "epoch_gflop": flops / 1e9,
        "device": device,
        "config": cfg.to_dict(),
        "rows": rows,
    }


def measure_framework(name: str, cfg: Config, device: str, quick: bool) -> dict:
    """One framework's yardsticks, then an epoch-timed fit of each of its variants."""
    data = synthetic_dataset(4096, 256) if quick else load_fashion_mnist()
    sticks = framework_yardsticks(name, cfg, device, quick)
    rows = []
    for variant in get_backend(name).VARIANTS:
        result = fit(name, cfg, data, variant=variant, device=device, progress=False)
        seconds = [row["seconds"] for row in result.history]
        rows.append({"backend": name, "variant": variant, **throughput(cfg, len(data.train_y), seconds)})
    return {"yardsticks": sticks, "rows": rows, "examples": len(data.train_y)}


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
