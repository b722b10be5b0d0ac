"""The port's contract: the names and types of ``Backend``, the keywords its functions take, the
benchmark ops, and the bad-input contract of common/checks.py (the same call fails the same way
in every port)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from dropout_ports.backends import VARIANT_NAMES, available_backends, get_backend, missing_names
from dropout_ports.benchmarks.conformance.kit import Failed, Target, check
from dropout_ports.common.checks import SEED_LIMIT
from dropout_ports.common.trainer import TrainerBase

CONTRACT = "the Backend Protocol in backends/__init__.py, and docs/porting.md"


def fail_on(problems: Sequence[str | None], measured: str) -> str:
    """measured if there are no problems (None: none found there), else a Failed listing three."""
    found = [problem for problem in problems if problem]
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise Failed("; ".join(found[:3]) + more, f"{len(found)} problem(s)")
    return measured


def refused(error: type[Exception], pattern: str, call: Callable[[], Any], label: str) -> str | None:
    """None if call raises error with a message matching pattern; else what happened instead."""
    try:
        call()
    except error as err:
        return None if re.search(pattern, str(err)) else f"{label}: {type(err).__name__} {str(err)!r}"
    except Exception as err:
        return f"{label}: {type(err).__name__} {str(err)!r}, not a {error.__name__}"
    return f"{label}: no {error.__name__}"


def ops(port: ModuleType) -> dict[str, Callable[..., Any]]:
    """Every dropout the port exposes with the (x, p, rng) signature."""
    found = {"dropout": port.dropout, "chapter_dropout": port.chapter_dropout}
    if port.builtin_dropout is not None:
        found["builtin_dropout"] = port.builtin_dropout
    return found


@check(
    "contract.names",
    "port",
    what="the module defines every name of Backend, with the type the Protocol gives it",
    bound="no name missing or of another type; VARIANTS starts with scratch and names known variants; "
    "Trainer is a TrainerBase with the port's VARIANTS",
    why="the commands look these names up; a missing one fails in the middle of a run instead",
    where=CONTRACT,
)
def names(target: Target) -> str:
    port = target.port
    problems = [f"missing {name}" for name in missing_names(port)]
    if problems:
        return fail_on(problems, "")
    for name in ("VARIANTS", "DTYPES", "PRNG_IMPLS", "MATMUL_PRECISIONS"):
        value = getattr(port, name)
        if not isinstance(value, tuple) or not value or not all(isinstance(v, str) for v in value):
            problems.append(f"{name} must be a non-empty tuple of str, got {value!r}")
    if not isinstance(port.NAME, str):
        problems.append(f"NAME must be a str, got {port.NAME!r}")
    variants = port.VARIANTS if isinstance(port.VARIANTS, tuple) else ()
    if variants[:1] != ("scratch",) or set(variants) - set(VARIANT_NAMES):
        problems.append(f"VARIANTS must start with 'scratch' and be among {VARIANT_NAMES}, got {variants}")
    if not (isinstance(port.Trainer, type) and issubclass(port.Trainer, TrainerBase)):
        problems.append("Trainer must be a subclass of common.trainer.TrainerBase")
    elif port.Trainer.VARIANTS != port.VARIANTS:
        problems.append(f"Trainer.VARIANTS {port.Trainer.VARIANTS} differs from VARIANTS {port.VARIANTS}")
    if port.builtin_dropout is not None and not callable(port.builtin_dropout):
        problems.append("builtin_dropout must be a function or None")
    if port.KERAS_BACKEND is not None and not isinstance(port.KERAS_BACKEND, str):
        problems.append(f"KERAS_BACKEND must be a str or None, got {port.KERAS_BACKEND!r}")
    if not isinstance(port.PEERS, dict):
        problems.append(f"PEERS must be a dict, got {type(port.PEERS).__name__}")
    devices, versions = port.devices(), port.versions()
    if not isinstance(devices, list) or not devices:
        problems.append(f"devices() must list the devices present, got {devices!r}")
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        problems.append(f"versions() must map packages to version strings, got {versions!r}")
    if port.resolve_device(target.device) is None:
        problems.append(f"resolve_device({target.device!r}) gave None")
    return fail_on(problems, f"{len(port.VARIANTS)} variants, dtypes {', '.join(port.DTYPES)}")


@check(
    "contract.keywords",
    "port",
    what="the functions take their arguments by the Protocol's names (rng, not key; x, p, training...)",
    bound="every call by keyword works",
    why="callers may name arguments: a port whose dropout calls its generator `key` breaks them",
    where="the parameter names of dropout, chapter_dropout, builtin_dropout, make_rng and asarray",
)
def keywords(target: Target) -> str:
    port, device = target.port, target.device
    x = port.asarray(a=np.ones((4, 3), np.float32), dtype=None, device=device)
    calls = {
        name: lambda op=op: op(x=x, p=0.5, rng=port.make_rng(seed=0, device=device, impl=None))
        for name, op in ops(port).items()
    }
    calls["dropout"] = lambda: port.dropout(
        x=x, p=0.5, rng=port.make_rng(seed=0, device=device), training=True, broadcast_dims=()
    )
    problems = [accepted(call, f"{name}(x=, p=, rng=...)", TypeError) for name, call in calls.items()]
    return fail_on(problems, f"{len(calls)} functions called by keyword")


def accepted(call: Callable[[], Any], label: str, error: type[Exception] = Exception) -> str | None:
    """None if call runs; else what it raised (errors of other kinds propagate: a crash)."""
    try:
        call()
    except error as err:
        return f"{label}: raised {type(err).__name__} {err}"
    return None


@check(
    "contract.ops",
    "port",
    what="the benchmark ops compute what they say: copy, matmul, jit, device_loop, ready, "
    "chapter_dropout, matmul_precision",
    bound="copy exact, matmul within float32 rounding (rtol 1e-6), the chapter's dropout keeping about "
    "half at p = 0.5",
    why="the benchmarks time these as yardsticks: a wrong one makes every ratio wrong",
    where="copy, matmul, jit, device_loop, ready, chapter_dropout and matmul_precision in the port",
)
def benchmark_ops(target: Target) -> str:
    port = target.port
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = port.asarray(a, device=target.device)
    problems = []
    if not np.array_equal(port.to_numpy(port.ready(port.jit(port.copy)(x))), a):
        problems.append("jit(copy)(x) is not x")
    looped = port.device_loop(lambda x: [port.matmul(x, x), port.copy(x)], 3)(port.asarray(a[:3, :3]))
    if not np.allclose(port.to_numpy(port.ready(looped[0])), a[:3, :3] @ a[:3, :3], rtol=1e-6, atol=0):
        problems.append("device_loop(fn, 3)(x) does not give fn(x)'s outputs")
    with port.matmul_precision(port.MATMUL_PRECISIONS[0]):
        product = port.to_numpy(port.ready(port.matmul(x, port.asarray(a.T, device=target.device))))
    if not np.allclose(product, a @ a.T, rtol=1e-6, atol=0):
        problems.append("matmul(a, a.T) is not a @ a.T")
    ones = port.asarray(np.ones(4096, np.float32), device=target.device)
    out = port.to_numpy(port.chapter_dropout(ones, 0.5, port.make_rng(0, target.device)))
    if not set(np.unique(out)) <= {0.0, 2.0} or not 0.4 < (out != 0).mean() < 0.6:
        problems.append(
            f"chapter_dropout(ones, 0.5) gave values {np.unique(out)[:4]}, kept {(out != 0).mean():.3f}"
        )
    return fail_on(problems, "copy, matmul, device_loop, chapter_dropout as expected")


def foreign(port: ModuleType, make: Callable[[ModuleType], object]) -> dict[str, object]:
    """make(other) for each other installed port where its type is unrelated to make(port)'s (a
    port built on NumPy takes NumPy's generator and arrays: those are its own)."""
    own = make(port)
    found = {}
    for name in available_backends():
        other = get_backend(name)
        if other is port or name == getattr(port, "NAME", None):
            continue
        value = make(other)
        if not isinstance(value, type(own)) and not isinstance(own, type(value)):
            found[f"{name}'s"] = value
    return found


@check(
    "inputs.rng",
    "port",
    what="an rng that is not the port's own generator or key is a TypeError, in every dropout "
    "(None included: a port never falls back to a global generator)",
    bound="a TypeError matching 'rng must be' for None, 0, 'key', a NumPy BitGenerator and another "
    "port's generator",
    why="a dropout that falls back to a global generator silently loses reproducibility",
    where="check_rng in common/checks.py, called first in every dropout",
)
def bad_rng(target: Target) -> str:
    port = target.port
    x = port.asarray(np.ones((4, 3), np.float32), device=target.device)
    bad: dict[str, object] = {
        "None": None,
        "0": 0,
        "'key'": "key",
        "a NumPy BitGenerator": np.random.default_rng(0).bit_generator,
    }
    bad.update({f"{name} make_rng(0)": rng for name, rng in foreign(port, lambda p: p.make_rng(0)).items()})
    problems = [
        refused(TypeError, "rng must be", lambda op=op, rng=rng: op(x, 0.5, rng), f"{name} with {label}")
        for name, op in ops(port).items()
        for label, rng in bad.items()
    ]
    return fail_on(problems, f"{len(bad)} bad generators refused by {len(ops(port))} dropouts")


@check(
    "inputs.seed",
    "port",
    what="make_rng takes every int seed in [0, 2^32) and refuses the rest",
    bound="0, 2^32 - 1 and numpy.uint32(7) accepted; -1, 2^32, 2^70 a ValueError 'seed must be in "
    "[0, 2^32)'; 'a', 1.5, True, None a TypeError 'seed must be an int'",
    why="one seed range in every port, so a run's seed means the same everywhere",
    where="check_seed in common/checks.py, called in make_rng",
)
def seeds(target: Target) -> str:
    make_rng, device = target.port.make_rng, target.device
    out_of_range = r"seed must be in \[0, 2\^32\)"
    problems = [
        refused(ValueError, out_of_range, lambda s=s: make_rng(s, device), f"seed {s}")
        for s in (-1, SEED_LIMIT, 2**70)
    ]
    problems += [
        refused(TypeError, "seed must be an int", lambda s=s: make_rng(s, device), f"seed {s!r}")
        for s in ("a", 1.5, True, None)
    ]
    for seed in (0, SEED_LIMIT - 1, np.uint32(7)):
        problems.append(accepted(lambda seed=seed: make_rng(seed, device), f"seed {seed!r}"))
    return fail_on(problems, "10 seeds")


@check(
    "inputs.device",
    "port",
    what="an unknown device or generator kind is a ValueError that says so",
    bound="resolve_device('tpu:7') a ValueError mentioning the device; make_rng(0, impl='no-such') one "
    "mentioning impl",
    why="never a silent fall-back to the CPU or to another generator",
    where="resolve_device and make_rng",
)
def devices(target: Target) -> str:
    port = target.port
    problems = [
        refused(ValueError, "device", lambda: port.resolve_device("tpu:7"), "resolve_device('tpu:7')"),
        refused(ValueError, "impl", lambda: port.make_rng(0, impl="no-such-generator"), "make_rng(impl=...)"),
    ]
    return fail_on(problems, "unknown device and generator refused")
