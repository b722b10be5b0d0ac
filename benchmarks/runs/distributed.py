"""Replicas as processes: how the run engine launches a run whose port keeps a replica per process
(torch's DDP: its DataParallelTrainer says PROCESS_PER_REPLICA), on this machine or on a Ray cluster.

``launch_replicas`` starts Config.replicas fresh processes with the environment torchrun gives its
workers (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT;
GLOO_SOCKET_IFNAME=lo keeps gloo on loopback), each held to the run's threads / replicas and
reading the data memory-mapped from one copy; rank 0's record comes back. They fork from a server
process that imported the port once (multiprocessing's forkserver, started clean by this process
and kept for its later launches), so N replicas do not import the framework N times. A replica that fails
or dies ends the others, a run past its time ends whole, and a replica whose launcher goes ends
itself. ``ray_train`` runs the same replicas as Ray Train workers, one per replica. A port whose
trainer joins such a launch from the environment (the JAX port, through jax.distributed) can be
launched the same way by ``launch_local``.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import fields
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import numpy as np

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.runs.spec import RunSpec, describe_exit, limit_threads, train
from dropout_ports.common.data import Dataset

LOOPBACK = "127.0.0.1"
EXIT_GRACE_S = 30.0  # how long a replica that has answered may take to exit before it is ended


def launched_rank() -> int | None:
    """This process's rank when a launcher (ours, torchrun) started it as one of several, else None."""
    return int(os.environ["RANK"]) if "WORLD_SIZE" in os.environ and "RANK" in os.environ else None


def replica_processes(spec: RunSpec) -> bool:
    """Whether the run is replicas > 1 of a port that keeps a replica per process, and this
    process is not already one of them."""
    if spec.config.replicas == 1 or launched_rank() is not None:
        return False
    trainer = getattr(get_backend(spec.backend), "DataParallelTrainer", None)
    return bool(getattr(trainer, "PROCESS_PER_REPLICA", False))


def thread_budget() -> int:
    """The threads this process was given (the run engine sets OMP_NUM_THREADS), else the cores."""
    return int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count() or 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def launch_replicas(spec: RunSpec, data: Dataset, timeout: float | None = None) -> dict:
    """The run trained by Config.replicas local processes: rank 0's record, with every replica's
    peak resident memory."""
    preload = [get_backend(spec.backend).__name__, train.__module__]
    records = launch_local(train, (spec,), spec.config.replicas, data, timeout=timeout, preload=preload)
    return {**records[0], "replica_peak_rss_bytes": [r["peak_rss_bytes"] for r in records]}


def launch_local(
    target: Callable[..., Any],
    args: tuple,
    replicas: int,
    data: Dataset,
    *,
    timeout: float | None = None,
    preload: Sequence[str] = (),
) -> list[Any]:
    """target(*args, data) in each of `replicas` fresh processes (see the module's docstring),
    forked from a server that imported the modules `preload` (when it first starts); their
    results in rank order. A replica's error is raised here as a RuntimeError."""
    threads = max(1, thread_budget() // replicas)
    context = mp.get_context("forkserver")  # no framework state of this process, only the server's
    context.set_forkserver_preload(list(preload))
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None  # the data's one copy, in RAM where it can
    folder = tempfile.mkdtemp(prefix="dropout-ports-replicas-", dir=memory)
    processes, receivers, grace = [], [], 0.0
    try:
        save_dataset(data, Path(folder))
        env = {"WORLD_SIZE": str(replicas), "MASTER_ADDR": LOOPBACK, "MASTER_PORT": str(free_port()),
               "GLOO_SOCKET_IFNAME": "lo"}  # fmt: skip
        for rank in range(replicas):
            receiver, sender = context.Pipe(duplex=False)
            ranked = {**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}
            process = context.Process(
                target=_replica, args=(target, args, folder, ranked, threads, sender, os.getpid())
            )
            process.start()
            sender.close()
            processes.append(process)
            receivers.append(receiver)
        results = _results(processes, receivers, timeout)
        grace = EXIT_GRACE_S  # every replica answered: let each exit on its own, cleaning up after it
        return results
    finally:
        for process in processes:  # only the processes started here, each by its own handle
            process.join(grace)
            if process.is_alive():
                process.kill()
                process.join()
        shutil.rmtree(folder, ignore_errors=True)


def _results(processes: list, receivers: list, timeout: float | None) -> list[Any]:
    """Every replica's result; the first failure, death or the deadline raises."""
    deadline = None if timeout is None else time.monotonic() + timeout
    results: dict[int, Any] = {}
    while len(results) < len(processes):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError(f"the replicas timed out after {timeout:g} s (--run-timeout)")
        waiting = [r for r in range(len(processes)) if r not in results]
        ready = wait([receivers[r] for r in waiting] + [processes[r].sentinel for r in waiting], left)
        for rank, (receiver, process) in enumerate(zip(receivers, processes, strict=True)):
            if rank in results or (receiver not in ready and process.sentinel not in ready):
                continue
            try:
                status, value = receiver.recv()  # a replica that ended without answering: EOFError
            except EOFError:
                process.join()
                raise RuntimeError(f"replica {rank} died: {describe_exit(process.exitcode)}") from None
            if status != "ok":
                raise RuntimeError(f"replica {rank} failed: {value}")
            results[rank] = value
    return [results[rank] for rank in range(len(processes))]


def _replica(target, args, folder, env, threads, sender, parent) -> None:
    """One replica: its environment and threads first (before any framework loads), then the work."""
    os.environ.update(env)
    limit_threads(threads)

    def orphaned() -> None:  # never outlive the launcher, even one killed outright
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent, 0)  # signal 0: only asks whether the process is there
            except ProcessLookupError:
                os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    try:
        sender.send(("ok", target(*args, load_dataset(Path(folder)))))
    except Exception as err:
        sender.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=-3)}"))


ARRAYS = [f.name for f in fields(Dataset) if f.name != "origin"]


def save_dataset(data: Dataset, folder: Path) -> None:
    for name in ARRAYS:
        np.save(folder / f"{name}.npy", getattr(data, name))
    (folder / "origin.txt").write_text(data.origin)


def load_dataset(folder: Path) -> Dataset:
    """The launcher's copy, memory-mapped copy-on-write: every replica reads the same pages."""
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="c") for name in ARRAYS}
    return Dataset(**arrays, origin=(folder / "origin.txt").read_text())


def ray_train(spec: RunSpec, data: Dataset | None, *, data_ref: Any, threads: int) -> dict:
    """The run as Ray Train workers, one per replica with `threads` CPUs (and a GPU off the CPU),
    through the trainer class the port names (torch: ray.train.torch.TorchTrainer), which sets up
    the process group; rank 0's record comes back through a Ray queue."""
    from ray.train import RunConfig, ScalingConfig
    from ray.util.queue import Queue

    module, name = get_backend(spec.backend).DataParallelTrainer.RAY_TRAINER
    trainer_class = getattr(importlib.import_module(module), name)
    records = Queue(maxsize=1)
    trainer = trainer_class(
        _ray_replica,
        train_loop_config={"spec": spec, "data": [data_ref], "records": records, "threads": threads},
        scaling_config=ScalingConfig(
            num_workers=spec.config.replicas,
            use_gpu=spec.device != "cpu",
            resources_per_worker={"CPU": threads},
        ),
        run_config=RunConfig(f"dropout-ports-{uuid.uuid4().hex[:8]}", storage_path=tempfile.gettempdir()),
    )
    trainer.fit()
    return records.get(timeout=60)


def _ray_replica(config: dict) -> None:
    import ray
    import ray.train

    limit_threads(config["threads"])
    record = train(config["spec"], ray.get(config["data"][0]))
    if ray.train.get_context().get_world_rank() == 0:
        config["records"].put(record)
