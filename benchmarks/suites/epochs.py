"""Training throughput: epochs of every backend x variant x loop style through ``fit``, against
the yardsticks (the machine's best matmul and each framework's own at the MLP's shapes, measured
first at the same matmul precision), with the host's time per step beside each.

The first epoch (compilation, caches) is reported apart; the figure of record is the median of
the epochs after it, computed by ``dropout_ports.benchmarks.results.throughput`` as for ``compare``.
A port's loops are timed where it has them on the device: "step" (the host issues each step) and
"device" (the device runs the epoch's steps: JAX's lax.scan, torch's CUDA graph, GPU only). The host
cost per step is the host's time until the epoch's last step was issued, over the steps: on a CPU,
where the host computes too, it is most of the step; on a GPU it is what the host adds.
Run: python -m dropout_ports.benchmarks.suites.epochs [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

import math

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.results.store import write_json_atomic
from dropout_ports.benchmarks.results.tables import Column, markdown_table
from dropout_ports.benchmarks.results.throughput import COLUMNS as THROUGHPUT_COLUMNS
from dropout_ports.benchmarks.results.throughput import add_shares, steady, throughput
from dropout_ports.benchmarks.runs.machine import combine_yardsticks, framework_yardsticks, in_fresh_process
from dropout_ports.benchmarks.suites.script_args import script_parser
from dropout_ports.common.config import MATMUL_PRECISIONS, Config
from dropout_ports.common.data import load_fashion_mnist, synthetic_dataset
from dropout_ports.common.fit import fit
from dropout_ports.common.flops import epoch_flops


def run(
    names: list[str], *, device: str = "cpu", quick: bool = False, matmul_precision: str = "highest"
) -> dict:
    """Rows with epoch seconds, host µs per step, samples/s, GFLOP/s and its shares of the
    yardsticks; each framework's yardsticks and epochs measured in a fresh process of its own. A
    framework with no variant that trains at this precision on the device is left out."""
    epochs = 2 if quick else 4  # the first epoch, then the timed ones
    cfg = Config(epochs=epochs, matmul_precision=matmul_precision)
    plans = {name: runs_on(name, cfg, device) for name in names}
    parts = {
        name: in_fresh_process(measure_framework, name, cfg, device, quick) for name in names if plans[name]
    }
    if not parts:
        raise ValueError(f"no port here trains at matmul precision {matmul_precision!r} on {device!r}")
    sticks = combine_yardsticks({name: part["yardsticks"] for name, part in parts.items()}, cfg, quick)
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


def measure_framework(name: str, cfg: Config, device: str, quick: bool) -> dict:
    """One framework's yardsticks, then an epoch-timed fit of each of its variants in each loop."""
    data = synthetic_dataset(4096, 256) if quick else load_fashion_mnist()
    sticks = framework_yardsticks(name, cfg, device, quick)
    steps = math.ceil(len(data.train_y) / cfg.batch_size)
    backend = get_backend(name)
    rows = []
    for variant, loop in runs_on(name, cfg, device):
        result = fit(backend, cfg.replace(loop=loop), data, variant=variant, device=device, progress=False)
        seconds = [row["seconds"] for row in result.history]
        host_seconds = steady([row["host_seconds"] for row in result.history])
        row = {"backend": name, "variant": variant, "loop": loop}
        row.update(throughput(cfg, len(data.train_y), seconds), host_us_per_step=host_seconds / steps * 1e6)
        rows.append(row)
    return {"yardsticks": sticks, "rows": rows, "examples": len(data.train_y)}


def _host_cost(row: dict) -> str:
    return f"{row['host_us_per_step']:,.0f}" if "host_us_per_step" in row else "n/a"


COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    ("loop", lambda r: r.get("loop", "n/a")),
    *THROUGHPUT_COLUMNS[:2],
    ("host µs/step", _host_cost),
    *THROUGHPUT_COLUMNS[2:],
]


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--matmul-precision", default=Config().matmul_precision, choices=MATMUL_PRECISIONS)
    args = parser.parse_args(argv)
    result = run(args.backends, device=args.device, quick=args.quick, matmul_precision=args.matmul_precision)
    peak, gflop = result["peak_gflops"], result["epoch_gflop"]
    print(f"machine peak: {peak:.1f} GFLOP/s; an epoch is {gflop:.1f} GFLOP")
    print(markdown_table(result["rows"], COLUMNS))
    if args.out:
        write_json_atomic(args.out, {"training": result})


if __name__ == "__main__":
    main()
