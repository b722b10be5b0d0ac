"""The run engine: one function turns a run description into a record; executors schedule runs.

A run is one training (backend, variant, seed, every Config setting, device, data). ``execute``
trains it and returns its record, never raising for a failed run. Executors:
- ``InlineExecutor``: in the calling process (debugging, tests);
- ``LocalExecutor``: worker processes, each loading the data once and forking a fresh child per
  run, so no framework shares a process with another, a crash or hang ends only its run, and
  the run's peak memory is its own process's;
- ``benchmarks.ray_executor.RayExecutor``: Ray tasks on a cluster.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from queue import Empty
from typing import Protocol

from backends import get_backend
from benchmarks.probes import PROBES
from benchmarks.results import RunKey, run_key
from common.config import Config
from common.data import Dataset, first_examples, load_fashion_mnist, synthetic_dataset
from common.training import fit

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
    probe: str = ""  # a name in benchmarks.probes: what a study measures after each epoch

    @property
    def key(self) -> RunKey:
        return self.backend, self.variant, self.seed, self.setting


def execute(
    spec: RunSpec, data: Dataset, *, progress: bool = False, on_epoch: OnRecord | None = None
) -> dict:
    """Train one run and return its record: the history and final figures, or the error; and the
    process's peak resident memory (the kernel's high-water mark) and the device's peak."""
    record = _identity(spec)
    started = time.perf_counter()
    try:
        result = fit(spec.backend, spec.config, data, variant=spec.variant, device=spec.device,
                     progress=progress, on_epoch=on_epoch, probe=PROBES[spec.probe])  # fmt: skip
        record.update(result.to_dict(), status="ok", setting=spec.setting)
        record["device_peak_bytes"] = get_backend(spec.backend).peak_device_memory(spec.device)
    except Exception as err:  # a failed run is a record, and the others go on
        record.update(failed(spec, f"{type(err).__name__}: {err}", traceback.format_exc(limit=-3)))
    record["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    record["wall_s"] = time.perf_counter() - started
    return record


def failed(spec: RunSpec, error: str, detail: str = "") -> dict:
    """The record of a run that produced no result."""
    return {
        **_identity(spec),
        "config": spec.config.to_dict(),
        "history": [],
        "diverged": False,
        "test_accuracy": None,
        "status": "failed",
        "error": error,
        "error_detail": detail,
    }


def _identity(spec: RunSpec) -> dict:
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


class Executor(Protocol):
    """Runs specs and hands each record to on_record as it finishes, in any order."""

    name: str
    where: str  # in words, for reports

    def run(self, specs: Sequence[RunSpec], on_record: OnRecord) -> None: ...


class InlineExecutor:
    """Every run in the calling process, one after another: for debugging and tests. Memory
    figures are then the whole process's, which holds every framework loaded so far."""

    name = "inline"
    where = "in the calling process, one after another"

    def __init__(self, data: Dataset, *, progress: bool = False, on_epoch: OnRecord | None = None):
        self.data, self.progress, self.on_epoch = data, progress, on_epoch

    def run(self, specs: Sequence[RunSpec], on_record: OnRecord) -> None:
        for spec in specs:
            on_record(execute(spec, self.data, progress=self.progress, on_epoch=self.on_epoch))


class LocalExecutor:
    """`jobs` worker processes on this machine; each run in a fresh process of its own."""

    name = "local"
    where = "each in a fresh process on this machine"

    def __init__(
        self, data: DataSpec, *, jobs: int = 1, threads: int | None = None, run_timeout: float | None = None
    ):
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {jobs}")
        self.data, self.jobs, self.run_timeout = data, jobs, run_timeout
        self.threads = threads or max(1, (os.cpu_count() or 1) // jobs)  # the cores, shared out

    def run(self, specs: Sequence[RunSpec], on_record: OnRecord) -> None:
        context = mp.get_context("spawn")  # workers start clean: no framework of this process
        tasks, results = context.Queue(), context.Queue()
        for spec in specs:
            tasks.put(spec)
        workers = [
            context.Process(target=_worker, args=(self.data, self.threads, self.run_timeout, tasks, results))
            for _ in range(min(self.jobs, len(specs)))
        ]
        for worker in workers:
            tasks.put(None)
            worker.start()
        waiting = {spec.key: spec for spec in specs}
        try:
            while waiting:
                record = _next_result(results, workers)
                if record is None:  # every worker is gone: what they held will not come back
                    for spec in waiting.values():
                        on_record(failed(spec, "its worker process died before the run ended"))
                    return
                waiting.pop(run_key(record), None)
                on_record(record)
        finally:
            for worker in workers:  # on Ctrl-C too: each worker kills its run's process, then exits
                if worker.is_alive():
                    worker.terminate()
            for worker in workers:
                worker.join()


def _next_result(results: mp.Queue, workers: list) -> dict | None:
    """The next record, or None once no worker is left to send one."""
    while True:
        try:
            return results.get(timeout=0.5)
        except Empty:
            if not any(worker.is_alive() for worker in workers):
                return None


def _worker(
    data: DataSpec, threads: int, run_timeout: float | None, tasks: mp.Queue, results: mp.Queue
) -> None:
    """A worker process: loads the data once, then runs each task in a child forked from itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it terminates us
    limit_threads(threads)
    try:
        dataset = data.load()
    except Exception as err:  # every run this worker takes fails, saying why
        while (spec := tasks.get()) is not None:
            results.put(failed(spec, f"the worker could not load the data: {type(err).__name__}: {err}"))
        return
    child: list = []

    def stop(signum: int, frame: object) -> None:
        for process in child:
            process.kill()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    while (spec := tasks.get()) is not None:
        results.put(run_in_child(spec, dataset, run_timeout, child))


def run_in_child(
    spec: RunSpec, data: Dataset, run_timeout: float | None, current: list | None = None
) -> dict:
    """Run spec in a process forked from this one (sharing the data); a run that raises, dies or
    passes run_timeout gives a failed record."""
    context = mp.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(spec, data, sender))
    process.start()
    sender.close()
    if current is not None:
        current[:] = [process]
    try:
        if receiver.poll(run_timeout):
            return receiver.recv()
        process.kill()
        return failed(spec, f"timed out after {run_timeout:g} s (--run-timeout)")
    except EOFError:  # the process ended without sending its record
        process.join()
        return failed(spec, f"the run's process died: {describe_exit(process.exitcode)}")
    finally:
        process.join()
        receiver.close()


def _child(spec: RunSpec, data: Dataset, sender: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()

    def orphaned() -> None:  # never outlive the worker, even one killed outright
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    sender.send(execute(spec, data))


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (the kernel's out-of-memory killer, or a kill)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"
