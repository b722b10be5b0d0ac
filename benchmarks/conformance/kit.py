"""The kit's machinery: each check as data (what it checks, the bound it uses and why, where to
look when it fails) and a runner that gives every check of a port a verdict with the figure it
measured.

A check is a function of a Target (the port, the part of it checked, the settings) that returns
what it measured, or raises Failed (what was seen instead) or Skipped (why it does not apply).
Anything else it raises is a failure too: a port that crashes a check fails it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from types import ModuleType
from typing import Any

from dropout_ports.backends import PortError, get_backend, known_backends, load_port, register
from dropout_ports.benchmarks.runs.spec import DataSpec
from dropout_ports.benchmarks.suites.lockstep import REFERENCE
from dropout_ports.common.data import Dataset

SIGMAS = 5  # statistical bounds: a false alarm once in 1.7 million (two-sided normal tail)
# The dropout each variant trains with, where the port exposes it with dropout's signature: the
# kit checks it once per variant that uses it (compiled and nnx reuse or hide theirs).
DROPOUT_OF = {"scratch": "dropout", "builtin": "builtin_dropout"}
GROUPS = ("contract", "inputs", "semantics", "masks", "training")  # a subject's checks in this order


class Failed(AssertionError):  # noqa: N818  (a verdict, as pytest.fail.Exception)
    """The port is off the bound: seen says what was observed, measured the figure."""

    def __init__(self, seen: str, measured: str = ""):
        super().__init__(seen)
        self.seen, self.measured = seen, measured


class Skipped(Exception):  # noqa: N818  (a verdict, as pytest's Skipped)
    """The check does not apply to this port; the message says why."""


@dataclass(frozen=True)
class Check:
    id: str  # group.name, e.g. masks.keep_rate
    scope: str  # "port" (once), "dropout" (each dropout op a variant uses), "variant" (each variant)
    what: str  # what it checks
    bound: str  # the bound it holds the port to
    why: str  # why that bound
    where: str  # where to look when it fails
    run: Callable[[Target], str]
    full: bool = False  # only with --full (it trains to the end, over seeds)


CHECKS: dict[str, Check] = {}


def check(
    id: str, scope: str, *, what: str, bound: str, why: str, where: str, full: bool = False
) -> Callable[[Callable[[Target], str]], Callable[[Target], str]]:
    """Register the decorated function as a check (its order is the report's)."""

    def register_check(run: Callable[[Target], str]) -> Callable[[Target], str]:
        CHECKS[id] = Check(id, scope, what, bound, why, where, run, full)
        return run

    return register_check


@dataclass
class Settings:
    """What the checks run with: the device, the reference port, the data the training checks
    use (where to load it from, or the data itself; a small synthetic set unless said), and with
    full, the seeds trained to the end."""

    device: str = "cpu"
    reference: str = REFERENCE[0]
    data: DataSpec | Dataset = field(default_factory=lambda: DataSpec("synthetic"))
    full: bool = False
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    cache: dict = field(default_factory=dict, repr=False)  # draws and reference runs, shared by checks

    @cached_property
    def dataset(self) -> Dataset:
        return self.data if isinstance(self.data, Dataset) else self.data.load()

    @cached_property
    def reference_port(self) -> ModuleType:
        return get_backend(self.reference)

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """compute(), once per key for these settings (the checks share draws and reference runs)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def forget(self, port: ModuleType) -> None:
        """Drop what was kept for the port (keys that start with it): its checks are done."""
        for key in [key for key in self.cache if key[0] is port]:
            del self.cache[key]


@dataclass(frozen=True)
class Target:
    """What one check looks at: the port, and the subject: "port", a dropout op, or a variant."""

    port: ModuleType
    subject: str
    settings: Settings

    @property
    def op(self) -> Callable[..., Any]:
        return getattr(self.port, self.subject)

    @property
    def device(self) -> str:
        return self.settings.device


@dataclass
class Result:
    id: str
    subject: str
    verdict: str  # pass, fail or skipped
    measured: str  # the figure, or why skipped
    what: str
    bound: str
    why: str
    where: str
    seen: str = ""  # on failure, what was seen instead
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def load(port: str | ModuleType) -> ModuleType:
    """The port to check: a module, a registered port's name, or a module path (registered under its
    NAME for this process and those it starts); it may lack names of the contract (a check says so)."""
    if isinstance(port, ModuleType):
        return port
    if port in known_backends():
        return load_port(port)
    try:
        return load_port(register(port))
    except PortError as err:
        if "." in port:
            raise
        raise PortError(f"{err}; the registered ports are {', '.join(known_backends())}") from err


def variants_of(port: ModuleType) -> tuple[str, ...]:
    """The port's variants as it declares them (scratch alone where it declares none)."""
    declared = getattr(port, "VARIANTS", None)
    if not isinstance(declared, tuple) or not all(isinstance(v, str) for v in declared):
        return ("scratch",)
    return declared


def plan(
    port: ModuleType, variants: Sequence[str] | None = None, checks: Collection[str] | None = None
) -> list[tuple[Check, str]]:
    """Every (check, subject), in order: the port's own checks, then for each variant (every one by
    default) the checks of the dropout it uses, where the port exposes it, and of its training;
    checks, if given, picks some by id (masks.keep_rate) or group (masks)."""
    subjects = [("port", "port")]
    for variant in variants or variants_of(port):
        op = DROPOUT_OF.get(variant)
        if op is not None and callable(getattr(port, op, None)):
            subjects.append((op, "dropout"))
        subjects.append((variant, "variant"))
    ordered = sorted(CHECKS.values(), key=lambda item: GROUPS.index(item.id.split(".")[0]))
    if checks is not None:
        ordered = [item for item in ordered if item.id in checks or item.id.split(".")[0] in checks]
    return [(item, subject) for subject, scope in subjects for item in ordered if item.scope == scope]


def run_one(item: Check, subject: str, port: ModuleType, settings: Settings) -> Result:
    """One check's verdict; a crash inside the port is a failure that says what was raised."""
    start = time.perf_counter()
    verdict, seen = "pass", ""
    try:
        if item.full and not settings.full:
            raise Skipped("needs --full: it trains to the end over seeds")
        measured = item.run(Target(port, subject, settings))
    except Skipped as why:
        verdict, measured = "skipped", str(why)
    except Failed as failure:
        verdict, measured, seen = "fail", failure.measured, failure.seen
    except Exception as err:
        verdict, measured, seen = "fail", "", f"raised {type(err).__name__}: {err}"
    return Result(
        item.id,
        subject,
        verdict,
        measured,
        item.what,
        item.bound,
        item.why,
        item.where,
        seen,
        time.perf_counter() - start,
    )


def run_checks(
    port: str | ModuleType,
    *,
    variants: Sequence[str] | None = None,
    checks: Collection[str] | None = None,
    settings: Settings | None = None,
    on_result: Callable[[Result], None] | None = None,
    on_start: Callable[[Check, str], None] | None = None,
) -> list[Result]:
    """Every check of the plan against the port, in order; on_start and on_result see each one
    begin and end (the command's progress)."""
    module = load(port)
    settings = settings or Settings()
    results = []
    for item, subject in plan(module, variants, checks):
        if on_start is not None:
            on_start(item, subject)
        results.append(run_one(item, subject, module, settings))
        if on_result is not None:
            on_result(results[-1])
    settings.forget(module)
    return results
