"""Training throughput: epochs of every backend x variant x loop style, each timed in interleaved
rounds beside its framework's floor (its own matmuls of one training step at the MLP's shapes),
with the host's time per step, the ratios between ports over the rounds, and where each epoch's
time goes (``breakdown``).

Each port runs in a process of its own that lives for the whole suite (``rounds.workers``); the
ports take their rounds in turn, and within a round every epoch comes right after a floor burst
(``contenders``), so floor and epoch, and port and port, see the same machine. The first epoch
(compilation, caches) is reported apart; the figure of record is the median over the rounds,
computed by ``dropout_ports.benchmarks.results.throughput`` as for ``compare``. A port's loops are
timed where it has them on the device: "step" (the host issues each step) and "device" (the device
runs the epoch's steps: JAX's lax.scan, torch's CUDA graph, GPU only). The host cost per step is
the host's time until the epoch's last step was issued, over the steps. Every timed part records
the machine's load before and after it.
Run: python -m dropout_ports.benchmarks.suites.epochs [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

import os
import statistics

from dropout_ports.benchmarks.results.store import write_json_atomic
from dropout_ports.benchmarks.results.tables import Column, markdown_table
from dropout_ports.benchmarks.results.throughput import COLUMNS as THROUGHPUT_COLUMNS
from dropout_ports.benchmarks.results.throughput import (
    FLAGS_COLUMN,
    FLOOR_COLUMN,
    add_shares,
    load_summary,
    ratio_spread,
    throughput,
)
from dropout_ports.benchmarks.runs.machine import FLOOR_STEPS, combine_yardsticks
from dropout_ports.benchmarks.suites.breakdown import breakdown_rows
from dropout_ports.benchmarks.suites.contenders import EPOCH, FLOOR, STAGES, prepare, runs_on, timed_round
from dropout_ports.benchmarks.suites.rounds import in_turns, workers
from dropout_ports.benchmarks.suites.script_args import script_parser
from dropout_ports.common.config import MATMUL_PRECISIONS, Config
from dropout_ports.common.flops import epoch_flops, gemm_flops, gemm_shapes

ROUNDS = 7  # a verdict of "every round agrees" between equals: 2 / 2^7 = 1.6% by chance
QUICK_ROUNDS = 3


def run(
    names: list[str], *, device: str = "cpu", quick: bool = False, matmul_precision: str = "highest"
) -> dict:
    """Rows with epoch seconds, host µs per step, samples/s, GFLOP/s and its shares of the peak
    and of the floor measured beside it; the ports' speed ratios over the rounds; each variant's
    time breakdown; the machine's load. A framework with no variant that trains at this precision
    on the device is left out."""
    rounds = QUICK_ROUNDS if quick else ROUNDS
    cfg = Config(epochs=rounds + 1, matmul_precision=matmul_precision)  # each trainer's epochs
    names = [name for name in names if runs_on(name, cfg, device)]
    if not names:
        raise ValueError(f"no port here trains at matmul precision {matmul_precision!r} on {device!r}")
    plans: dict[str, dict] = {name: {"plan": []} for name in names}
    records: dict[str, dict[str, list[dict]]] = {name: {} for name in names}
    with workers(names) as pools:
        for stage in STAGES:
            for name in names:
                prepared = pools[name].submit(prepare, name, stage, cfg, device, quick).result()
                plans[name]["plan"] += prepared.pop("plan")
                plans[name].update(prepared)
            for name, timed in in_turns(pools, timed_round, rounds, stage).items():
                for record in (record for round_ in timed for record in round_):
                    records[name].setdefault(record["label"], []).append(record)
    return training(cfg, plans, records, device, quick)


def training(
    cfg: Config, plans: dict[str, dict], records: dict[str, dict[str, list[dict]]], device: str, quick: bool
) -> dict:
    """The training entry of bench.json from the ports' plans and timed records."""
    rows, breakdown, by_backend = [], [], {}
    for name, plan in plans.items():
        bursts = [record for label, rs in records[name].items() if label.endswith(FLOOR) for record in rs]
        floors = floor_gflops(bursts, cfg)
        by_backend[name] = {"square_gflops": plan["square_gflops"], "mlp_gflops": statistics.median(floors)}
        rows += [
            epoch_row(name, entry, records[name], cfg, plan)
            for entry in plan["plan"]
            if entry["kind"] == EPOCH
        ]
        floor_s = statistics.median(burst["seconds"] for burst in bursts)
        scale = {"steps": plan["steps"], "batches": plan["examples"] / cfg.batch_size, "floor_s": floor_s}
        breakdown += breakdown_rows(name, plan["plan"], records[name], scale)
    sticks = combine_yardsticks(by_backend, cfg, quick)
    peak = add_shares(rows, sticks)
    every = [record for by_label in records.values() for rs in by_label.values() for record in rs]
    return {
        "peak_gflops": peak,
        "yardsticks": sticks,
        "epoch_gflop": epoch_flops(cfg, next(iter(plans.values()))["examples"]) / 1e9,
        "examples": next(iter(plans.values()))["examples"],
        "floor_steps": FLOOR_STEPS,
        "device": device,
        "config": cfg.to_dict(),
        "rounds": len(next(iter(rows))["rounds"]["epoch_s"]),
        "rows": rows,
        "speed": speed_rows(rows),
        "breakdown": breakdown,
        "load": load_summary(every, os.cpu_count() or 1),
    }


def epoch_row(name: str, entry: dict, records: dict[str, list[dict]], cfg: Config, plan: dict) -> dict:
    """One (variant, loop)'s figures over the rounds, its floor the bursts right before its epochs."""
    epochs, floors = records[entry["key"]], records[f"{entry['key']} {FLOOR}"]
    seconds = [record["seconds"] for record in epochs]
    rates = floor_gflops(floors, cfg)
    examples = plan["examples"]
    return {
        "backend": name,
        "variant": entry["variant"],
        "loop": entry["loop"],
        **throughput(cfg, examples, [entry["first_epoch_s"], *seconds]),
        "host_us_per_step": statistics.median(r["host_seconds"] for r in epochs) / plan["steps"] * 1e6,
        "floor_gflops": statistics.median(rates),
        "samples_per_s_range": (examples / max(seconds), examples / min(seconds)),
        "rounds": {"epoch_s": seconds, "floor_gflops": rates},
        "load": load_summary(epochs + floors, os.cpu_count() or 1),
    }


def floor_gflops(bursts: list[dict], cfg: Config) -> list[float]:
    """Each floor burst's rate: one training step's matmul FLOPs over its seconds a step."""
    return [gemm_flops(gemm_shapes(cfg)) / burst["seconds"] / 1e9 for burst in bursts]


def speed_rows(rows: list[dict]) -> list[dict]:
    """Each loop style's epochs against the fastest in that loop, over the rounds (ratio_spread)."""
    speed = []
    for loop in dict.fromkeys(row["loop"] for row in rows):
        rounds = {f"{r['backend']}/{r['variant']}": r["rounds"]["epoch_s"] for r in rows if r["loop"] == loop}
        speed += [{"loop": loop, **row} for row in ratio_spread(rounds)]
    return speed


def _host_cost(row: dict) -> str:
    return f"{row['host_us_per_step']:,.0f}" if "host_us_per_step" in row else "n/a"


COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("variant", lambda r: r["variant"]),
    ("loop", lambda r: r.get("loop", "n/a")),
    *THROUGHPUT_COLUMNS[:2],
    ("host µs/step", _host_cost),
    *THROUGHPUT_COLUMNS[2:4],
    FLOOR_COLUMN,
    *THROUGHPUT_COLUMNS[4:],
    FLAGS_COLUMN,
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
