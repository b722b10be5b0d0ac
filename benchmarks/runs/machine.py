"""What a result was measured on (CPU, versions, BLAS and threads), and the matmul yardsticks."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_info

from dropout_ports.backends import get_backend
from dropout_ports.common.config import Config
from dropout_ports.common.flops import gemm_flops, gemm_shapes
from dropout_ports.common.timing import median_seconds

T = TypeVar("T")
SQUARE = 2048  # the machine-peak matmul's size (float32, square)
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
    OpenMP library in the process with its kernel and thread count, and the pinning variables."""
    versions = {"python": platform.python_version()}
    for name in names:
        versions.update(get_backend(name).versions())
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer")
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "threadpools": [{k: pool[k] for k in keep if k in pool} for pool in threadpool_info()],
        "pins": {name: os.environ[name] for name in PINS if name in os.environ},
    }


def describe_threads(env: dict) -> str:
    """One line: the BLAS libraries, their kernels and threads, and any pinning variable."""
    pools = [
        f"{p['internal_api']} {p.get('version') or ''} ({p.get('architecture') or 'default'} kernel, "
        f"{p['num_threads']} threads)".replace("  ", " ")
        for p in env.get("threadpools", [])
        if p["user_api"] == "blas"
    ]
    line = "BLAS: " + ("; ".join(pools) or "none found")
    pins = env.get("pins", {})
    if pins:
        line += "; set in the environment: " + ", ".join(f"{k}={v}" for k, v in pins.items())
    if "OPENBLAS_CORETYPE" in pins:
        line += " (OPENBLAS_CORETYPE holds OpenBLAS to that kernel, slower than this CPU's own)"
    return line


def gemm_gflops(
    name: str, shapes: list[tuple[int, int, int]], device: str, repeats: int, precision: str = "highest"
) -> float:
    """The framework's float32 rate over these matmuls at a Config.matmul_precision, run as one
    (compiled where it compiles)."""
    backend = get_backend(name)
    rng = np.random.default_rng(0)
    pairs = [
        tuple(
            backend.asarray(rng.random(shape, dtype=np.float32), device=device) for shape in ((m, k), (k, n))
        )
        for m, k, n in shapes
    ]
    products = backend.jit(lambda pairs: [backend.matmul(a, b) for a, b in pairs])
    with backend.matmul_precision(precision):  # where it compiles, it compiles at this precision
        seconds = median_seconds(
            lambda: [backend.ready(out) for out in products(pairs)], min_repeats=repeats, min_total=0.2
        )
    return gemm_flops(shapes) / seconds / 1e9


def in_fresh_process(function: Callable[..., T], *args: Any) -> T:
    """function(*args) in a spawned process holding no framework but the one it loads, so that no
    other framework's threads or allocator state sit in its timing."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def framework_yardsticks(name: str, cfg: Config, device: str = "cpu", quick: bool = False) -> dict:
    """One framework's square matmul rate and its rate over the MLP's matmuls, in this process, at
    cfg's matmul precision (the one its runs compute at)."""
    size = QUICK_SQUARE if quick else SQUARE
    repeats = 3 if quick else 7
    precision = cfg.matmul_precision
    return {
        "square_gflops": gemm_gflops(name, [(size, size, size)], device, repeats, precision),
        "mlp_gflops": gemm_gflops(name, gemm_shapes(cfg), device, repeats, precision),
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
