"""Runs as Ray tasks, for sweeps that outgrow one machine (extra ``ray``).

Each run is one task asking for its CPUs (and one GPU with ``--device gpu``); ``max_calls=1``
gives every task a fresh worker process, so no framework shares a process with another, and
``max_retries=0`` records a crashed run as failed instead of running it again. The data is
loaded once by the driver and shared through Ray's object store. Ray schedules; we only submit,
wait, and cancel. A data-parallel run of a port that keeps a replica per process (torch) runs as
Ray Train workers, one per replica with --threads / replicas CPUs, from a task that holds none.
"""

from __future__ import annotations

import _thread
import os
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from dropout_ports.benchmarks.runs.distributed import ray_train, replica_processes
from dropout_ports.benchmarks.runs.engine import Launcher, execute
from dropout_ports.benchmarks.runs.spec import OnRecord, RunSpec, failed, limit_threads
from dropout_ports.common.data import Dataset

LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
TOKEN_FILE = Path.home() / ".ray" / "auth_token"  # where `ray start` and `ray get-auth-token` keep it
GRACE_S = 10.0  # after a timeout, how long a run may take to stop before its process is ended


class RayExecutor:
    name = "ray"
    where = "as Ray tasks, each in a fresh worker process"

    def __init__(
        self,
        data: Dataset,
        *,
        address: str | None = None,
        threads: int | None = None,
        run_timeout: float | None = None,
    ):
        if address is not None and "RAY_AUTH_MODE" not in os.environ and TOKEN_FILE.is_file():
            # `ray start` turns token authentication on when this file exists; connecting by
            # address, Ray's client sends the token only when told to.
            os.environ["RAY_AUTH_MODE"] = "token"
        if address is None or address.rsplit(":", 1)[0] in LOOPBACK:
            # Ray would swap a loopback address (and a local instance's) for this machine's network
            # address; read before Ray is imported, this keeps local traffic on loopback.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError as err:
            raise ImportError("--ray needs Ray: pip install 'dropout-ports[ray]'") from err
        self.ray, self.data, self.run_timeout = ray, data, run_timeout
        self.started_here = not ray.is_initialized() and address is None
        if not ray.is_initialized():
            options = {"log_to_driver": False, "configure_logging": False}
            if address is None:  # a Ray instance for this command alone, stopped at its end
                ray.init(address="local", include_dashboard=False, **options)
            else:
                ray.init(address=address, **options)
        self.threads = threads or os.cpu_count() or 1
        self.jobs = max(1, int(ray.cluster_resources().get("CPU", 1) // self.threads))

    def run(self, specs: Sequence[RunSpec], on_record: OnRecord) -> None:
        ray = self.ray
        pending: dict = {}
        try:
            data = ray.put(self.data)
            task = ray.remote(max_calls=1, max_retries=0, num_cpus=self.threads)(_task)
            for spec in specs:
                if replica_processes(spec):  # the workers hold the CPUs and GPUs; [data]: not fetched
                    per = max(1, self.threads // spec.config.replicas)
                    launcher = partial(ray_train, data_ref=data, threads=per)
                    run = task.options(num_cpus=0).remote(spec, None, per, self.run_timeout, launcher)
                else:
                    gpus = 1 if spec.device != "cpu" else 0
                    run = task.options(num_gpus=gpus).remote(spec, data, self.threads, self.run_timeout)
                pending[run] = spec
            while pending:
                (done,), _ = ray.wait(list(pending), num_returns=1)
                spec = pending.pop(done)
                try:
                    on_record(ray.get(done))
                except ray.exceptions.RayError as err:  # the worker died: out of memory, a segfault
                    on_record(failed(spec, f"the run's Ray worker died: {type(err).__name__}: {err}"))
        finally:
            for ref in pending:  # Ctrl-C, SIGTERM or an error: nothing keeps running
                ray.cancel(ref, force=True)
            if self.started_here:
                ray.shutdown()


def _task(
    spec: RunSpec,
    data: Dataset | None,
    threads: int,
    run_timeout: float | None,
    launcher: Launcher | None = None,
) -> dict:
    """One run in a fresh Ray worker (or its replicas, from launcher); past run_timeout the run is
    interrupted, then ended."""
    limit_threads(threads)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        _thread.interrupt_main()  # a KeyboardInterrupt in the run
        threading.Timer(GRACE_S, os._exit, args=(124,)).start()

    timer = threading.Timer(run_timeout, expire) if run_timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        return execute(spec, data, launcher=launcher)
    except KeyboardInterrupt:
        if not timed_out.is_set():
            raise
        return failed(spec, f"timed out after {run_timeout:g} s (--run-timeout)")
    finally:
        if timer is not None:
            timer.cancel()
