"""``dropout-ports bench``: every suite in one run (data load, dropout op, epochs, peers) as one
document, bench.json, and its report: bench.md with the speed ratios, where each epoch's time goes,
the machine's load and the targets table, and the figures. Documents from before a figure was
measured are rendered as they are, the figure said to be "not measured in this run"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dropout_ports.benchmarks.report.figures import breakdown_bars, dropout_plot, throughput_bars
from dropout_ports.benchmarks.results.document import SCHEMA_VERSION
from dropout_ports.benchmarks.results.tables import markdown_table
from dropout_ports.benchmarks.results.throughput import with_shares
from dropout_ports.benchmarks.runs.machine import describe_threads, environment, load_between, load_snapshot
from dropout_ports.benchmarks.suites import breakdown, dropout, epochs, loading, peers, replicas, targets
from dropout_ports.benchmarks.suites.sections import (
    BREAKDOWN_FIGURE,
    breakdown_section,
    distrust_lines,
    floor_words,
    load_section,
    speed_section,
)
from dropout_ports.common.config import Config

T = TypeVar("T")


def run(
    backends: list[str],
    *,
    device: str,
    quick: bool,
    with_peers: bool,
    say: Callable[[str], None],
    matmul_precision: str = "highest",
) -> dict:
    """The bench document: each suite measured in turn, each announced through say, with the
    machine's load before and after each."""
    loads: dict[str, dict] = {}

    def suite(label: str, measure: Callable[[], T]) -> T:
        before = load_snapshot()
        result = measure()
        loads[label] = load_between(before, load_snapshot())
        return result

    say(f"bench: timing the data load{' (quick)' if quick else ''}")
    data = suite("data load", lambda: loading.run(quick))
    say(f"bench: dropout op on {', '.join(backends)} ({device})")
    dropout_rows = suite("dropout op", lambda: dropout.run(backends, device=device, quick=quick))
    say(
        f"bench: training epochs in every loop, each beside its floor, the ports in turn ({matmul_precision})"
    )
    where = {"device": device, "quick": quick, "matmul_precision": matmul_precision}
    train = suite("training epochs", lambda: epochs.run(backends, **where))
    say("bench: 1 and 2 data-parallel replicas, each run in a fresh process, and the all-reduce")
    train["replicas"] = suite("data parallel", lambda: replicas.run(backends, **where))
    if with_peers:
        say("bench: peers (Keras 3, the chapter's recipe), each in a process of its own")
        train["peers"] = suite("peers", lambda: peers.run(backends, Config.from_dict(train["config"]), quick))
        peers.add_speedups(train["peers"], train["rows"], quick)
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": environment(backends),
        "quick": quick,
        "device": device,
        "data": data,
        "dropout": dropout_rows,
        "training": train,
        "load": loads,
    }


def bench_markdown(doc: dict) -> str:
    env = doc["environment"]
    train = doc["training"]
    load = doc["data"]["load_s"]
    return "\n".join(
        [
            f"# dropout-ports bench{' (quick)' if doc['quick'] else ''}",
            "",
            f"{env['cpu']}, {env['cores']} cores; device {doc['device']}; "
            + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
            describe_threads(env) + ".",
            "",
            *distrust_lines(doc),
            f"Loading Fashion-MNIST from {doc['data']['folder']}: "
            + (f"{load:.2f} s (median)." if load is not None else "not found."),
            "",
            "## Dropout op (median ms; GB/s counts one read and one write of the array)",
            "",
            markdown_table(doc["dropout"], dropout.COLUMNS),
            "",
            f"## Training (machine peak {train['peak_gflops']:.0f} GFLOP/s; "
            f"an epoch is {train['epoch_gflop']:.1f} GFLOP; {precision_words(train)})",
            "",
            markdown_table(with_shares(train["rows"], train["yardsticks"]), epochs.COLUMNS),
            "",
            'loop "step": the host issues each step; "device": the device runs the epoch\'s steps '
            "(JAX's lax.scan, torch's CUDA graph). Host µs/step: the host's time until the epoch's last "
            "step was issued, per step (on a CPU the host also computes). " + floor_words(train),
            "",
            *speed_section(train),
            *breakdown_section(train),
            *replicas_section(train),
            *peers_section(train),
            *load_section(doc),
            "## Targets (measured in this run)",
            "",
            markdown_table(targets.target_rows(doc), targets.COLUMNS),
            "",
        ]
    )


def precision_words(train: dict) -> str:
    """The matmul precision the epochs and yardsticks ran at (documents from before it was set: each
    framework's own default, TF32-class for JAX on NVIDIA GPUs)."""
    precision = train.get("config", {}).get("matmul_precision")
    return f"float32 matmuls at {precision}" if precision else "each framework's default matmul precision"


def replicas_section(train: dict) -> list[str]:
    """bench's data-parallel rows (documents from before them have none)."""
    if not train.get("replicas"):
        return []
    return [
        "## Data parallel (samples/s at 1 and 2 replicas; the all-reduce of a step's gradients)",
        "",
        markdown_table(train["replicas"], replicas.COLUMNS),
        "",
        "torch: a process per replica of the run's threads / replicas each (gloo); JAX: replicas as "
        'host devices of one process; NumPy: replicas in turn. "1, data-parallel" draws the '
        "chapter's masks through the data-parallel path: what its machinery costs alone.",
        "",
    ]


def peers_section(train: dict) -> list[str]:
    """bench --peers: the peers' epochs beside the ports' scratch epochs of the same run."""
    if not train.get("peers"):
        return []
    versions = ", ".join(sorted({row["version"] for row in train["peers"] if row.get("version")}))
    return [
        "## Peers (the same MLP, data, batch size and epochs; each in a process of its own)",
        "",
        markdown_table(train["peers"], peers.COLUMNS),
        "",
        f'Measured in this run{f" ({versions})" if versions else ""}; "port faster by" is the peer\'s '
        "epoch over the port's scratch epoch.",
        "",
    ]


def render_bench(doc: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.md").write_text(bench_markdown(doc))
    dropout_plot(doc["dropout"], out_dir / "bench-dropout.png")
    train = doc["training"]
    rows = with_shares(train["rows"], train["yardsticks"])
    whiskers = ROUNDS_WHISKERS if train.get("rounds") else "no whiskers: rounds not measured in this run"
    throughput_bars(rows, out_dir / "bench-training.png", "Training throughput per port", whiskers)
    if train.get("breakdown"):
        title = f"Where each epoch's time goes (by ablation; medians over {train['rounds']} rounds)"
        breakdown_bars(train["breakdown"], breakdown.PARTS, out_dir / BREAKDOWN_FIGURE, title)


ROUNDS_WHISKERS = "whiskers: min..max over the rounds"
