"""What a result was measured on (CPU, versions, BLAS and threads), and the matmul yardsticks."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_info

from dropout_ports.backends import get_backend
from dropout_ports.common.config import Config
from dropout_ports.common.flops import gemm_flops, gemm_shapes
from dropout_ports.common.timing import median_seconds

T = TypeVar("T")
SQUARE = 2048  # the machine-peak matmul's size (float32, square)
FLOOR_STEPS = 32  # steps a floor call computes, in one call of the framework's loop: no call cost in it
QUICK_SQUARE = 512
# Environment variables that change which kernels or how many threads the numbers came from.
PINS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(names: Sequence[str]) -> dict:
    """CPU, versions, and (from threadpoolctl, once the frameworks are loaded) every BLAS and
    OpenMP library in the process with its kernel and thread count, and the pinning variables.
    threadpoolctl finds shared libraries only: a port whose framework links its BLAS in statically
    (torch's MKL) describes it with an optional ``blas_libraries()``, in threadpoolctl's terms."""
    versions = {"python": platform.python_version()}
    linked_in = []
    for name in names:
        backend = get_backend(name)
        versions.update(backend.versions())
        linked_in += getattr(backend, "blas_libraries", list)()
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer")
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "threadpools": [{k: pool[k] for k in keep if k in pool} for pool in threadpool_info()] + linked_in,
        "pins": {name: os.environ[name] for name in PINS if name in os.environ},
    }


def describe_threads(env: dict) -> str:
    """One line: the BLAS libraries, their kernels (or the framework they are linked into) and
    threads, and any pinning variable."""
    pools = [_describe_blas(p) for p in env.get("threadpools", []) if p["user_api"] == "blas"]
    line = "BLAS: " + ("; ".join(pools) or "none found")
    pins = env.get("pins", {})
    if pins:
        line += "; set in the environment: " + ", ".join(f"{k}={v}" for k, v in pins.items())
    if "OPENBLAS_CORETYPE" in pins:
        line += " (OPENBLAS_CORETYPE holds OpenBLAS to that kernel, slower than this CPU's own)"
    return line


def _describe_blas(pool: dict) -> str:
    """One library: "openblas 0.3.30 (SkylakeX kernel, 2 threads)", "mkl 2024.2 (in torch, 2 threads)"."""
    kernel = f"{pool.get('architecture') or 'default'} kernel"
    where = f"in {pool['linked_into']}" if pool.get("linked_into") else kernel
    version = f" {pool['version']}" if pool.get("version") else ""
    return f"{pool['internal_api']}{version} ({where}, {pool['num_threads']} threads)"


Pairs = list[tuple[Any, Any]]


def matmul_call(backend: ModuleType, pairs: Pairs, precision: str, steps: int = 1) -> Callable:
    """A call computing a @ b for every pair of the framework's arrays steps times, at a
    Config.matmul_precision, in the fastest form the framework offers here: into outputs allocated
    once where its matmul writes into one (``out=``), else in one call of its own loop
    (``device_loop``: a compiler's loop keeps its buffers and pays one call for all the steps); the
    call waits for them."""
    with backend.matmul_precision(precision):
        outs = [backend.matmul(a, b) for a, b in pairs]
        try:
            backend.matmul(*pairs[0], out=outs[0])
        except TypeError:  # no out=: its loop allocates (and reuses) the outputs
            looped = backend.device_loop(lambda pairs: [backend.matmul(a, b) for a, b in pairs], steps)

            def run() -> None:
                with backend.matmul_precision(precision):  # where it compiles, it compiles at this one
                    for out in looped(pairs):
                        backend.ready(out)

            return run

    def run_into() -> None:
        with backend.matmul_precision(precision):
            for _ in range(steps):
                for (a, b), out in zip(pairs, outs, strict=True):
                    backend.ready(backend.matmul(a, b, out=out))

    return run_into


def step_operands(cfg: Config) -> Pairs:
    """The operands of one full batch's training-step matmuls (common.flops.gemm_shapes' order), as
    backprop by hand lays them out: per layer x @ w, x.T @ g and, past the first, g @ w.T, with x
    its input, w its weight (the common (in, out) layout) and g its output's gradient; the
    transposes are NumPy views, which a framework that keeps strides (NumPy, torch) hands its
    BLAS as transposes, and one that does not copies into its own layout."""
    rng = np.random.default_rng(0)
    pairs = []
    for i, (n_in, n_out) in enumerate(cfg.layer_shapes):
        x, w, g = (rng.random(shape, np.float32) for shape in ((cfg.batch_size, n_in), (n_in, n_out),
                                                                (cfg.batch_size, n_out)))  # fmt: skip
        pairs += [(x, w), (x.T, g)] + ([(g, w.T)] if i else [])
    return pairs


def step_matmuls(backend: ModuleType, cfg: Config, device: str = "cpu") -> Callable:
    """The framework's floor: a call computing FLOOR_STEPS full batches' training-step matmuls at
    the MLP's shapes, at cfg's matmul precision (``floor_flops`` a call)."""
    pairs = [tuple(backend.asarray(a, device=device) for a in pair) for pair in step_operands(cfg)]
    return matmul_call(backend, pairs, cfg.matmul_precision, FLOOR_STEPS)


def floor_flops(cfg: Config) -> int:
    """The FLOPs of one ``step_matmuls`` call."""
    return FLOOR_STEPS * gemm_flops(gemm_shapes(cfg))


def gflops_of(call: Callable, flops: int, quick: bool = False) -> float:
    """call's rate, from the median of its timed repeats (fewer at --quick)."""
    return flops / median_seconds(call, min_repeats=3 if quick else 7, min_total=0.2) / 1e9


def square_gflops(backend: ModuleType, cfg: Config, device: str = "cpu", quick: bool = False) -> float:
    """The framework's square float32 matmul rate at cfg's matmul precision: the machine-peak yardstick."""
    size = QUICK_SQUARE if quick else SQUARE
    square = backend.asarray(np.ones((size, size), np.float32), device=device)
    call = matmul_call(backend, [(square, square)], cfg.matmul_precision)
    return gflops_of(call, gemm_flops([(size, size, size)]), quick)


def in_fresh_process(function: Callable[..., T], *args: Any) -> T:
    """function(*args) in a spawned process holding no framework but the one it loads, so that no
    other framework's threads or allocator state sit in its timing."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def framework_yardsticks(name: str, cfg: Config, device: str = "cpu", quick: bool = False) -> dict:
    """One framework's square matmul rate and its rate over the MLP's matmuls, in this process, at
    cfg's matmul precision (the one its runs compute at)."""
    backend = get_backend(name)
    return {
        "square_gflops": square_gflops(backend, cfg, device, quick),
        "mlp_gflops": gflops_of(step_matmuls(backend, cfg, device), floor_flops(cfg), quick),
    }


def combine_yardsticks(by_backend: dict[str, dict], cfg: Config, quick: bool = False) -> dict:
    """The frameworks' yardsticks, and the machine's peak: the best square rate of them all."""
    return {
        "square": QUICK_SQUARE if quick else SQUARE,
        "matmul_precision": cfg.matmul_precision,
        "peak_gflops": max(b["square_gflops"] for b in by_backend.values()),
        "by_backend": by_backend,
    }


def yardsticks(names: Sequence[str], cfg: Config, device: str = "cpu", quick: bool = False) -> dict:
    """Each framework's yardsticks, each measured in a fresh process of its own."""
    by_backend = {name: in_fresh_process(framework_yardsticks, name, cfg, device, quick) for name in names}
    return combine_yardsticks(by_backend, cfg, quick)


def descendants_cpu_s() -> float:
    """CPU seconds of this process's live descendants (with their reaped children's), from Linux's
    /proc/<pid>/task/<tid>/children; 0 where it cannot be read. A run's replica processes are
    its own work, not other processes'."""
    tick, total, pending = os.sysconf("SC_CLK_TCK"), 0.0, [os.getpid()]
    while pending:
        pid = pending.pop()
        for child in _children(pid):
            try:
                with open(f"/proc/{child}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            total += sum(int(field) for field in fields[11:15]) / tick  # utime stime cutime cstime
            pending.append(child)
    return total


def _children(pid: int) -> list[int]:
    """pid's child processes, over its threads (each lists the children it started); a thread or
    process that ends while it is read is passed over."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listed:
                children += [int(child) for child in listed.read().split()]
        except (OSError, ValueError):
            continue
    return children


def load_snapshot() -> dict:
    """The machine's load now: the 1-minute load average, and (where /proc/stat is, Linux) the CPU
    seconds every process has used and this process tree's own (its reaped children's and live
    descendants' included), so that two snapshots say what other processes took between them."""
    own = os.times()
    snapshot = {
        "at": time.perf_counter(),
        "load1": os.getloadavg()[0],
        "own_cpu_s": own.user + own.system + own.children_user + own.children_system + descendants_cpu_s(),
    }
    try:
        with open("/proc/stat") as stat:
            ticks = [int(field) for field in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return snapshot
    idle, iowait = ticks[3], ticks[4]
    return {**snapshot, "cpu_s": (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")}


def load_between(before: dict, after: dict) -> dict:
    """The load averages at both ends, the seconds between them, and the cores other processes kept
    busy on average (None where /proc/stat was not read; as measured: the kernel counts in ticks of
    10 ms, so over a short interval it can read below 0 or above the cores)."""
    wall = after["at"] - before["at"]
    others = None
    if "cpu_s" in before and "cpu_s" in after and wall > 0:
        others = ((after["cpu_s"] - before["cpu_s"]) - (after["own_cpu_s"] - before["own_cpu_s"])) / wall
    return {"load1": [before["load1"], after["load1"]], "others_cores": others, "wall_s": wall}
