"""The run engine: one function turns a run description into a record; executors schedule runs.

A run is one training (``dropout_ports.benchmarks.runs.spec.RunSpec``: backend, variant, seed, every
Config setting, device, data). ``execute``
trains it and returns its record, never raising for a failed run. Executors:
- ``InlineExecutor``: in the calling process (debugging, tests);
- ``LocalExecutor``: worker processes, each loading the data once and forking a fresh child per
  run, so no framework shares a process with another, a crash or hang ends only its run, and
  the run's peak memory is its own process's. The child is forked from a process of the worker's
  that has imported the run's framework (a ``Preloaded``), so a run does not spend seconds importing
  torch or JAX, yet starts from no other run's state. Its runs share a compile cache that starts
  empty ($DROPOUT_PORTS_COMPILE_CACHE), so a port's first run compiles as a fresh process does;
- ``dropout_ports.benchmarks.runs.ray_executor.RayExecutor``: Ray tasks on a cluster.
A data-parallel run of a port that keeps a replica per process (torch) is launched from the run's
process as replica processes (``dropout_ports.benchmarks.runs.distributed``), or Ray Train workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from queue import Empty
from typing import Protocol

from dropout_ports.backends import COMPILE_CACHE_ENV, get_backend, prepare_host_devices
from dropout_ports.benchmarks.results.document import run_key
from dropout_ports.benchmarks.runs import distributed
from dropout_ports.benchmarks.runs.spec import (
    DataSpec,
    OnRecord,
    RunSpec,
    describe_exit,
    failed,
    limit_threads,
    peak_rss,
    run_identity,
    train,
)
from dropout_ports.common.data import Dataset

Launcher = Callable[[RunSpec, Dataset], dict]  # a run's replica processes -> rank 0's record


def execute(
    spec: RunSpec,
    data: Dataset,
    *,
    progress: bool = False,
    on_epoch: OnRecord | None = None,
    launcher: Launcher | None = None,
) -> dict:
    """Train one run and return its record: the history and final figures, or the error; and the
    process's peak resident memory (the kernel's high-water mark; a run of replica processes: the
    largest of theirs) and the device's peak. Replica processes come from launcher (default: on
    this machine)."""
    record = run_identity(spec)
    started = time.perf_counter()
    try:
        prepare_host_devices(spec.config.replicas)  # before a port whose replicas are devices loads
        if distributed.replica_processes(spec):
            get_backend(spec.backend).Trainer.check_support(spec.config, spec.variant, spec.device)  # first
            trained = (launcher or distributed.launch_replicas)(spec, data)
        else:
            trained = train(spec, data, progress=progress, on_epoch=on_epoch)
        record.update(trained, status="ok", setting=spec.setting)
    except Exception as err:  # a failed run is a record, and the others go on
        record.update(failed(spec, f"{type(err).__name__}: {err}", traceback.format_exc(limit=-3)))
    record["peak_rss_bytes"] = max([peak_rss(), *record.get("replica_peak_rss_bytes", [])])
    record["wall_s"] = time.perf_counter() - started
    return record


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
        """The runs share a compile cache that starts empty (unless $DROPOUT_PORTS_COMPILE_CACHE names
        one), so a port's first run compiles as a fresh process would and the later ones reuse it."""
        with tempfile.TemporaryDirectory(prefix="dropout-ports-compiled-") as fresh:
            self._run(specs, on_record, os.environ.get(COMPILE_CACHE_ENV) or fresh)

    def _run(self, specs: Sequence[RunSpec], on_record: OnRecord, compile_cache: str) -> None:
        context = mp.get_context("spawn")  # workers start clean: no framework of this process
        tasks, results = context.Queue(), context.Queue()
        for spec in specs:
            tasks.put(spec)
        settings = (self.data, self.threads, self.run_timeout, compile_cache)
        workers = [
            context.Process(target=_worker, args=(*settings, tasks, results))
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
    data: DataSpec,
    threads: int,
    run_timeout: float | None,
    compile_cache: str,
    tasks: mp.Queue,
    results: mp.Queue,
) -> None:
    """A worker process: loads the data once, then runs each task in a child forked from itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it terminates us
    limit_threads(threads)
    os.environ[COMPILE_CACHE_ENV] = compile_cache
    try:
        dataset = data.load()
    except Exception as err:  # every run this worker takes fails, saying why
        while (spec := tasks.get()) is not None:
            results.put(failed(spec, f"the worker could not load the data: {type(err).__name__}: {err}"))
        return
    preloaded: dict[tuple[str, int], Preloaded] = {}  # by backend and replicas

    def stop(signum: int, frame: object) -> None:
        for process in preloaded.values():
            process.kill()  # and so its run, which never outlives it
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    while (spec := tasks.get()) is not None:
        slot = (spec.backend, spec.config.replicas)
        if slot not in preloaded or not preloaded[slot].alive:
            preloaded[slot] = Preloaded(*slot, dataset, run_timeout)
        results.put(preloaded[slot].run(spec))
    for process in preloaded.values():
        process.close()


class Preloaded:
    """A process forked from a worker that imports one backend (its framework) and then forks each
    of that backend's runs from itself: the run's process starts with the framework loaded and the
    data shared, and the preloaded process itself never trains. It serves runs of one number of
    replicas: a port that keeps replicas as devices may fix them when it loads (TensorFlow's
    logical CPUs), so the devices are prepared before it imports the backend."""

    def __init__(self, backend: str, replicas: int, data: Dataset, run_timeout: float | None):
        context = mp.get_context("fork")
        self.connection, theirs = context.Pipe()
        args = (backend, replicas, data, run_timeout, theirs)
        self.process = context.Process(target=_preloaded, args=args)
        self.process.start()
        theirs.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def run(self, spec: RunSpec) -> dict:
        try:
            self.connection.send(spec)
            return self.connection.recv()
        except (EOFError, OSError):  # it died before it could send the run's record
            self.process.join()
            return failed(
                spec, f"the process that starts its runs died: {describe_exit(self.process.exitcode)}"
            )

    def close(self) -> None:
        self.connection.send(None)
        self.process.join()

    def kill(self) -> None:
        self.process.kill()


def _preloaded(
    backend: str, replicas: int, data: Dataset, run_timeout: float | None, connection: object
) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    with contextlib.suppress(Exception):  # a backend that cannot load fails in each run's record instead
        prepare_host_devices(replicas)
        get_backend(backend)
    while True:
        while not connection.poll(0.5):
            if os.getppid() != parent:  # never outlive the worker, even one killed outright
                os._exit(1)
        if (spec := connection.recv()) is None:
            return
        connection.send(run_in_child(spec, data, run_timeout))


def run_in_child(spec: RunSpec, data: Dataset, run_timeout: float | None) -> dict:
    """Run spec in a process forked from this one (sharing the data); a run that raises, dies or
    passes run_timeout gives a failed record."""
    context = mp.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(spec, data, sender))
    process.start()
    sender.close()
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

    def orphaned() -> None:  # never outlive the process that started it, even one killed outright
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    sender.send(execute(spec, data))
