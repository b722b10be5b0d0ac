"""One run: where its data comes from and what it is (DataSpec, RunSpec), its training in this
process (train) and its record, and what a run's process sets up first (its threads) or says of a
child that died. The engine schedules runs and the replica launcher starts their processes; both
build on this."""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.results.document import RunKey
from dropout_ports.benchmarks.runs.probes import PROBES, with_floors
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset, first_examples, load_fashion_mnist, synthetic_dataset
from dropout_ports.common.fit import fit

OnRecord = Callable[[dict], None]
# Thread counts a run's libraries read when they load: BLAS, OpenMP (torch), XLA's CPU client.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class DataSpec:
    """Where a worker finds the data: loaded where the runs are, not shipped with each run."""

    source: str = "auto"  # auto, idx, tfds or synthetic
    data_dir: str | None = None
    train_examples: int | None = None  # the first n training examples only (quick studies)

    def load(self) -> Dataset:
        if self.source == "synthetic":
            data = synthetic_dataset()
        else:  # an explicit folder is the only one read, and never downloaded into by a command
            data = load_fashion_mnist(self.data_dir, source=self.source, download=self.data_dir is None)
        return data if self.train_examples is None else first_examples(data, self.train_examples)


@dataclass(frozen=True)
class RunSpec:
    backend: str
    variant: str
    seed: int
    device: str
    config: Config  # its seed is the run's
    setting: str = ""  # which of a study's settings (its config holds them); "" in compare
    probe: str = ""  # a name in dropout_ports.benchmarks.runs.probes: what a study measures after each epoch
    floors: bool = False  # time the port's floor after each epoch (runs that have the machine alone)

    @property
    def key(self) -> RunKey:
        return self.backend, self.variant, self.seed, self.setting


def train(spec: RunSpec, data: Dataset, *, progress: bool = False, on_epoch: OnRecord | None = None) -> dict:
    """fit's record of the run, in this process (a replica's, where a launcher started several)."""
    backend = get_backend(spec.backend)
    probe = PROBES[spec.probe]
    if spec.floors:
        probe = with_floors(backend, spec.device, probe)
    result = fit(backend, spec.config, data, variant=spec.variant, device=spec.device,
                 progress=progress, on_epoch=on_epoch, probe=probe)  # fmt: skip
    return {**result.to_dict(), "device_peak_bytes": backend.peak_device_memory(spec.device),
            "peak_rss_bytes": peak_rss()}  # fmt: skip


def peak_rss() -> int:
    """This process's peak resident memory, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def failed(spec: RunSpec, error: str, detail: str = "") -> dict:
    """The record of a run that produced no result."""
    return {
        **run_identity(spec),
        "config": spec.config.to_dict(),
        "history": [],
        "diverged": False,
        "test_accuracy": None,
        "status": "failed",
        "error": error,
        "error_detail": detail,
    }


def run_identity(spec: RunSpec) -> dict:
    """What names a run in its record."""
    record = {"backend": spec.backend, "variant": spec.variant, "seed": spec.seed, "device": spec.device}
    return {**record, "setting": spec.setting} if spec.setting else record


def limit_threads(threads: int) -> None:
    """Hold this process's numeric libraries to `threads` threads; call before a framework loads."""
    from threadpoolctl import threadpool_limits

    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if threads == 1:  # XLA's CPU client: one thread for its Eigen ops
        os.environ["XLA_FLAGS"] = (
            f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen=false".strip()
        )
    threadpool_limits(threads)  # the BLAS already loaded (NumPy's, for the data)


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (the kernel's out-of-memory killer, or a kill)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"
