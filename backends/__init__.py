"""The backend registry: one module per framework, each with the names of ``Backend``.

Nothing here imports a port until it is asked for (like einops' ``_backends``), so the floor
(``common``) and the harness (``benchmarks``) can name backends without loading frameworks.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

# backend name -> (module, the extra that installs its framework)
_BACKENDS = {
    "numpy": ("dropout_ports.backends.numpy", None),
    "torch": ("dropout_ports.backends.torch", "torch"),
    "jax": ("dropout_ports.backends.jax", "jax"),
}

EXTRA_BACKENDS_ENV = "DROPOUT_PORTS_BACKENDS"  # "name=module[,name=module]": ports kept elsewhere
# A folder where a port whose compiler can keep programs on disk keeps them (the JAX port), so that
# runs in other processes reuse them; the run engine gives the runs of one command a fresh one.
COMPILE_CACHE_ENV = "DROPOUT_PORTS_COMPILE_CACHE"
VARIANT_NAMES = (
    "scratch",
    "builtin",
    "compiled",
    "nnx",
)  # every variant any port has; each port's VARIANTS is a subset


@runtime_checkable
class Backend(Protocol):
    """What every backend module defines; ``tests/test_contract.py`` checks each one against it.

    Devices are names: "cpu" everywhere, "gpu" (and torch's "cuda", "cuda:N") where there is one.
    A port may also define ``DataParallelTrainer``: its Trainer over Config.replicas replicas
    (common.fit.make_trainer picks it), saying with PROCESS_PER_REPLICA whether the run engine
    launches a process per replica; every port here does.
    """

    NAME: str  # the registry name
    VARIANTS: tuple[str, ...]  # "scratch" (the chapter's hand-written dropout) first
    DTYPES: tuple[str, ...]  # dtype names asarray and dropout accept
    PRNG_IMPLS: tuple[str, ...]  # random-bit generators make_rng can build; the first is the default
    MATMUL_PRECISIONS: tuple[str, ...]  # Config.matmul_precision values matmul_precision can set
    KERAS_BACKEND: str | None  # Keras 3's backend on this framework (bench --peers), None if none
    PEERS: dict[str, Callable[..., dict]]  # other code's training on this framework: (cfg, data) ->
    # {"seconds": per epoch, "test_acc"}, run by bench --peers
    Trainer: type  # Trainer(cfg, params, *, variant="scratch", device="cpu"): a common.trainer.TrainerBase
    builtin_dropout: Callable[..., Any] | None  # the framework's own dropout behind dropout's signature

    def versions(self) -> dict[str, str]: ...  # package -> version, for reports
    def devices(self) -> list[str]: ...  # the devices present, described
    def resolve_device(self, device: str) -> Any: ...  # the framework's device, or a ValueError
    def make_rng(self, seed: int, device: str = "cpu", *, impl: str | None = None) -> Any: ...
    def asarray(self, a: object, dtype: str | None = None, device: str | None = None) -> Any: ...
    def to_numpy(self, x: Any) -> Any: ...
    def dropout(self, x: Any, p: float, rng: Any, *, training: bool = True, broadcast_dims=()) -> Any: ...
    def chapter_dropout(self, x: Any, p: float, rng: Any) -> Any: ...  # D2L's own recipe, for benchmarks
    def copy(self, x: Any) -> Any: ...  # the framework's own copy: the memory-bound yardstick
    def matmul(self, a: Any, b: Any) -> Any: ...  # the framework's own matmul: the compute yardstick
    def matmul_precision(self, precision: str) -> AbstractContextManager: ...  # float32 matmuls at it inside
    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]: ...  # its compiler, or fn itself
    def ready(self, x: Any) -> Any: ...  # x once computed (waits for asynchronous devices)
    def peak_device_memory(self, device: str) -> int | None: ...  # accelerator bytes at peak, None on a CPU


def _registry() -> dict[str, tuple[str, str | None]]:
    """The built-in ports, and any named in $DROPOUT_PORTS_BACKENDS (inherited by worker processes)."""
    extra = {}
    for entry in filter(None, os.environ.get(EXTRA_BACKENDS_ENV, "").split(",")):
        name, _, module = entry.partition("=")
        if not name or not module:
            raise ValueError(f"${EXTRA_BACKENDS_ENV} entries are name=module, got {entry!r}")
        extra[name.strip()] = (module.strip(), None)
    return {**_BACKENDS, **extra}


HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"  # XLA's CPU devices, read when JAX starts


def host_device_count() -> int:
    """The CPU devices XLA_FLAGS gives JAX (1 unless it says otherwise)."""
    found = re.findall(rf"{HOST_DEVICES_FLAG}=(\d+)", os.environ.get("XLA_FLAGS", ""))
    return int(found[-1]) if found else 1


def prepare_host_devices(replicas: int) -> None:
    """Before any port loads: let the ports that keep replicas as devices of one process see at
    least `replicas` on the host (JAX on the CPU: XLA_FLAGS, which it reads once, when it starts).
    Framework-free, so the run engine can call it for a run's fresh process."""
    if replicas > host_device_count():
        flags = re.sub(rf"{HOST_DEVICES_FLAG}=\d+", "", os.environ.get("XLA_FLAGS", "")).split()
        os.environ["XLA_FLAGS"] = " ".join([*flags, f"{HOST_DEVICES_FLAG}={replicas}"])


def get_backend(name: str) -> ModuleType:
    """The backend module for name; a missing framework says which extra to install."""
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(registry)}")
    module, extra = registry[name]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name is None or err.name.startswith("dropout_ports"):
            raise
        raise ImportError(
            f"backend {name!r} needs {err.name}, which is not installed: pip install 'dropout-ports[{extra}]'"
        ) from err


def known_backends() -> tuple[str, ...]:
    return tuple(_registry())


def missing_names(module: ModuleType) -> list[str]:
    """The names of ``Backend`` a module lacks (empty when it keeps the contract)."""
    names = {*Backend.__annotations__, *(n for n in vars(Backend) if not n.startswith("_"))}
    return sorted(n for n in names if not hasattr(module, n))


def available_backends() -> list[str]:
    """The backends whose framework imports here."""
    available = []
    for name in _registry():
        try:
            get_backend(name)
        except ImportError:
            continue
        available.append(name)
    return available
