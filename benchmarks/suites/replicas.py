"""Data-parallel throughput: samples/s of training at 1 and 2 replicas in every port, through the
run engine (a fresh process per run; torch's replicas as processes of the run's threads / N each,
JAX's as host devices of one process, NumPy's in turn), and the cost of one all-reduce of the
gradients, alone and as a share of a step. No target: on a 2-core CPU two replicas share the
cores one replica already had; the figures say what the machinery costs.
Rows: N=1 on the chapter's path, N=1 on the data-parallel path (one seed, so the masks are the
chapter's: only the machinery differs), N=2 with masks by example (the default at N > 1).
Run: python -m dropout_ports.benchmarks.suites.replicas [--quick] [--device cpu|gpu] [--out FILE.json]
"""

from __future__ import annotations

from dropout_ports.backends import get_backend, prepare_host_devices
from dropout_ports.benchmarks.results.tables import Column
from dropout_ports.benchmarks.results.throughput import throughput
from dropout_ports.benchmarks.runs.distributed import launch_local
from dropout_ports.benchmarks.runs.engine import LocalExecutor
from dropout_ports.benchmarks.runs.machine import in_fresh_process
from dropout_ports.benchmarks.runs.spec import DataSpec, RunSpec
from dropout_ports.benchmarks.suites.script_args import table_script
from dropout_ports.common.config import Config
from dropout_ports.common.data import synthetic_dataset

SETTINGS = (
    ("1, chapter's path", {}),
    ("1, data-parallel", {"replica_seeding": "same"}),
    ("2", {"replicas": 2}),
)


def run(
    names: list[str], *, device: str = "cpu", quick: bool = False, matmul_precision: str = "highest"
) -> list[dict]:
    """A row per (port, setting): epoch figures, samples/s, and at 2 replicas the all-reduce; the
    ports that have a data-parallel path and the matmul precision."""
    cfg = Config(epochs=2 if quick else 4, matmul_precision=matmul_precision)
    data = DataSpec("synthetic" if quick else "auto")
    specs = [
        RunSpec(name, "scratch", 0, device, cfg.replace(**changes), label)
        for name in names
        for label, changes in SETTINGS
        if getattr(get_backend(name), "DataParallelTrainer", None) is not None
        and matmul_precision in get_backend(name).DataParallelTrainer.MATMUL_PRECISIONS
    ]
    records: list[dict] = []
    LocalExecutor(data, jobs=1).run(specs, records.append)
    rows = []
    for spec, record in zip(specs, _by_key(records, specs), strict=True):
        row = {"backend": spec.backend, "replicas": spec.setting, "status": record["status"]}
        if record["status"] != "ok":
            rows.append({**row, "error": record["error"]})
            continue
        seconds = [h["seconds"] for h in record["history"]]
        row.update(throughput(spec.config, examples(quick), seconds))
        if spec.config.replicas > 1:
            step_s = row["epoch_s"] / -(-examples(quick) // spec.config.batch_size)
            row["allreduce_ms"] = 1e3 * allreduce_seconds(spec.backend, spec.config, device)
            row["allreduce_share"] = row["allreduce_ms"] / 1e3 / step_s
        rows.append(row)
    chapter = {
        r["backend"]: r["samples_per_s"] for r in rows if r["replicas"] == SETTINGS[0][0] and "epoch_s" in r
    }
    for row in rows:
        if row["backend"] in chapter and "samples_per_s" in row:
            row["of_chapter"] = row["samples_per_s"] / chapter[row["backend"]]
    return rows


def examples(quick: bool) -> int:
    return len(synthetic_dataset().train_y) if quick else 60_000


def _by_key(records: list[dict], specs: list[RunSpec]) -> list[dict]:
    found = {(r["backend"], r.get("setting", "")): r for r in records}
    return [found[spec.backend, spec.setting] for spec in specs]


def allreduce_seconds(name: str, cfg: Config, device: str) -> float:
    """One all-reduce of the gradients over cfg.replicas, where the port's replicas live."""
    trainer = get_backend(name).DataParallelTrainer
    if trainer.PROCESS_PER_REPLICA:
        return launch_local(_allreduce, (name, cfg, device), cfg.replicas, synthetic_dataset(16, 16))[0]
    return in_fresh_process(_allreduce, name, cfg, device, None)


def _allreduce(name: str, cfg: Config, device: str, data: object) -> float:
    prepare_host_devices(cfg.replicas)
    return get_backend(name).DataParallelTrainer.allreduce_seconds(cfg, device)


COLUMNS: list[Column] = [
    ("backend", lambda r: r["backend"]),
    ("replicas", lambda r: r["replicas"]),
    ("epoch s", lambda r: f"{r['epoch_s']:.2f}" if "epoch_s" in r else r.get("error", "-")),
    ("samples/s", lambda r: f"{r['samples_per_s']:,.0f}" if "samples_per_s" in r else "-"),
    ("of the chapter's path", lambda r: f"{r['of_chapter']:.0%}" if "of_chapter" in r else "-"),
    ("all-reduce ms", lambda r: f"{r['allreduce_ms']:.3f}" if "allreduce_ms" in r else "-"),
    ("of a step", lambda r: f"{r['allreduce_share']:.0%}" if "allreduce_share" in r else "-"),
]


def main(argv: list[str] | None = None) -> None:
    table_script(__doc__, run, COLUMNS, "replicas", argv)


if __name__ == "__main__":
    main()
