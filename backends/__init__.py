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
    "tensorflow": ("dropout_ports.backends.tensorflow", "tensorflow"),
}

# Ports kept elsewhere: "name=module[,name=module]", e.g. DROPOUT_PORTS_BACKENDS=myport=mypkg.myport,
# the module importable here (on PYTHONPATH or installed), its NAME the name it is registered under,
# which no built-in port has (docs/porting.md). `dropout-ports check mypkg.myport` registers it for
# the run itself (``register``).
EXTRA_BACKENDS_ENV = "DROPOUT_PORTS_BACKENDS"
BUILTIN_BACKENDS = tuple(_BACKENDS)
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
    launches a process per replica; every port here does. A port whose framework differentiates
    may define ``output_and_gradient(fn, x)``: fn(x) and the gradient of its sum with respect to
    x, for the conformance kit's gradient check (benchmarks/conformance).

    ``dropout`` (and ``builtin_dropout``) take the port's own floating-point array (asarray's
    type; another framework's is a TypeError, never converted), a rate in [0, 1], the port's own
    rng, a bool ``training``; they return x itself (not a copy) when not training or at p = 0,
    zeros at p = 1 (even for inf and nan), and otherwise x / (1 - p) where kept, in x's dtype,
    shape and device. One without broadcast dims refuses them with a ValueError naming them.
    ``benchmarks/conformance`` checks all of it (``dropout-ports check``).
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
    # fn(*args) steps times in one call of its own loop (each pass afresh; the last outputs), or from the host
    def device_loop(self, fn: Callable[..., Any], steps: int) -> Callable[..., Any]: ...
    def ready(self, x: Any) -> Any: ...  # x once computed (waits for asynchronous devices)
    def peak_device_memory(self, device: str) -> int | None: ...  # accelerator bytes at peak, None on a CPU


def _extra_ports() -> tuple[dict[str, str], list[str]]:
    """The ports $DROPOUT_PORTS_BACKENDS registers (name -> module), and a line for each entry it
    cannot take: read afresh on each call, so worker processes inherit what a command registered."""
    extra: dict[str, str] = {}
    problems = []
    for entry in filter(None, (e.strip() for e in os.environ.get(EXTRA_BACKENDS_ENV, "").split(","))):
        name, _, module = (part.strip() for part in entry.partition("="))
        if not name or not module:
            problems.append(
                f"${EXTRA_BACKENDS_ENV} entry {entry!r} is not name=module: write it as myport=mypkg.myport"
            )
        elif name in _BACKENDS and module != _BACKENDS[name][0]:
            problems.append(
                f"${EXTRA_BACKENDS_ENV} entry {entry!r} would replace the built-in port {name!r}: "
                "register your port under a name of its own, and set its NAME to that name"
            )
        elif extra.get(name, module) != module:
            problems.append(
                f"${EXTRA_BACKENDS_ENV} registers {name!r} twice ({extra[name]}, {module}): keep one entry"
            )
        elif name not in _BACKENDS:
            extra[name] = module
    return extra, problems


def _registry() -> dict[str, tuple[str, str | None]]:
    """The built-in ports, and any named in $DROPOUT_PORTS_BACKENDS (inherited by worker processes);
    an entry that cannot be taken is left out here and reported by ``registry_problems``."""
    return {**_BACKENDS, **{name: (module, None) for name, module in _extra_ports()[0].items()}}


def registry_problems() -> list[str]:
    """One line per $DROPOUT_PORTS_BACKENDS entry that is left out, saying how to fix it."""
    return _extra_ports()[1]


def check_registry() -> None:
    """A ValueError with the first registry problem: commands call it before any work."""
    problems = registry_problems()
    if problems:
        raise ValueError(problems[0])


class PortError(ImportError):
    """A registered port that cannot be used, said in one line naming the port and the fix."""


def register(module: str) -> str:
    """Register the port in a module (a dotted path) under its NAME for this process and the
    processes it starts; the NAME. A built-in port's module is its built-in name."""
    builtin = {path: name for name, (path, _) in _BACKENDS.items()}
    if module in builtin:
        return builtin[module]
    port = _import_port(module, module, None)
    name = getattr(port, "NAME", None)
    if not isinstance(name, str) or not name or any(c in name for c in ",= "):
        raise PortError(f"port {module}: NAME must be a short name (no ',', '=' or spaces), got {name!r}")
    if name in _BACKENDS:
        raise PortError(
            f"port {module} says NAME = {name!r}, the built-in port's name: give your port a NAME of its own"
        )
    registered = _registry().get(name, (module,))[0]
    if registered != module:
        raise PortError(f"port {module} says NAME = {name!r}, which {registered} is registered as already")
    entries = os.environ.get(EXTRA_BACKENDS_ENV, "")
    if name not in _extra_ports()[0]:
        os.environ[EXTRA_BACKENDS_ENV] = ",".join(filter(None, [entries, f"{name}={module}"]))
    return name


def _import_port(name: str, module: str, extra: str | None) -> ModuleType:
    """The port's module; what keeps it from importing, said in one line (a PortError)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        missing = err.name or ""
        if missing and (module == missing or module.startswith(f"{missing}.")):
            raise PortError(
                f"port {name!r}: no module named {missing!r} (registered as {module}): check the spelling, "
                "and that the folder holding it is on PYTHONPATH"
            ) from err
        if extra is not None and missing and not missing.startswith("dropout_ports"):
            install = f"pip install 'dropout-ports[{extra}]'"
            raise PortError(f"backend {name!r} needs {missing}, which is not installed: {install}") from err
        if extra is not None:
            raise  # a built-in port's own import is broken: a bug, not a setting
        raise PortError(
            f"port {name!r} ({module}) needs {missing or 'a name'}, which does not import here ({err}): "
            "install it, or fix the port's import"
        ) from err
    except Exception as err:
        if extra is not None or name in _BACKENDS:
            raise
        raise PortError(
            f"port {name!r} ({module}) raised {type(err).__name__} on import: {err}; "
            f"python -c 'import {module}' shows where"
        ) from err


def load_port(name: str) -> ModuleType:
    """The registered port's module, whatever it lacks of the contract (the conformance kit reports
    that); a ValueError for an unknown name, a PortError for a port that cannot be used."""
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(registry)}")
    module, extra = registry[name]
    port = _import_port(name, module, extra)
    declared = getattr(port, "NAME", name)
    if declared != name:
        raise PortError(
            f"port {name!r} ({module}) says NAME = {declared!r}: set NAME = {name!r} in it, or register "
            f"it as {declared}={module} (a copied port must not import the original's NAME)"
        )
    return port


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
    """The backend module for name, checked against the contract's names; a missing framework says
    which extra to install, a port that cannot be used why (PortError)."""
    port = load_port(name)
    missing = missing_names(port)
    if missing:
        raise PortError(
            f"port {name!r} ({port.__name__}) lacks {', '.join(missing)} of the Backend contract: "
            "add them (docs/porting.md; dropout-ports check says what else is off)"
        )
    return port


def known_backends() -> tuple[str, ...]:
    return tuple(_registry())


def missing_names(module: ModuleType) -> list[str]:
    """The names of ``Backend`` a module lacks (empty when it keeps the contract)."""
    names = {*Backend.__annotations__, *(n for n in vars(Backend) if not n.startswith("_"))}
    return sorted(n for n in names if not hasattr(module, n))


def port_errors() -> dict[str, str]:
    """Each registered port that cannot be used here, with why (a framework not installed, a
    module that does not import, names of the contract it lacks)."""
    errors = {}
    for name in _registry():
        try:
            get_backend(name)
        except ImportError as err:
            errors[name] = str(err)
    return errors


def available_backends() -> list[str]:
    """The backends whose framework imports here."""
    errors = port_errors()
    return [name for name in _registry() if name not in errors]
