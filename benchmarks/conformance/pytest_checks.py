"""The kit in pytest: one test per check, as scikit-learn's ``parametrize_with_checks`` does for
estimators, so that a port kept in another repository runs the checks in its own CI."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from dropout_ports.benchmarks.conformance.kit import Check, Result, Settings, load, plan, run_one
from dropout_ports.benchmarks.conformance.report import explain


@dataclass(frozen=True)
class BoundCheck:
    """One check of one subject of one port: calling it runs the check under pytest."""

    item: Check
    subject: str
    port: ModuleType
    settings: Settings

    def __call__(self) -> Result:
        """The result of a pass; a skip or a failure (with what was expected, seen and where to
        look) otherwise."""
        import pytest

        result = run_one(self.item, self.subject, self.port, self.settings)
        if result.verdict == "skipped":
            pytest.skip(result.measured)
        if result.verdict == "fail":
            pytest.fail(explain(result), pytrace=False)
        return result


def parametrize_with_checks(
    ports: str | ModuleType | Sequence[str | ModuleType],
    *,
    variants: Sequence[str] | None = None,
    checks: Collection[str] | None = None,
    settings: Settings | None = None,
    marks: Sequence[Any] = (),
) -> Any:
    """A ``pytest.mark.parametrize`` over every check of each port (a module, a registered name or
    a module path), one test per check, named port-subject-check::

        @parametrize_with_checks("mypkg.myport")
        def test_conformance(check):
            check()

    checks picks some by id or group (kit.plan). The checks of one call share their settings
    (device, reference, data; Settings()), so draws and the reference's runs are made once;
    marks go on every test (pytest.mark.gpu, say)."""
    import pytest

    settings = settings or Settings()
    cases = []
    for port in [ports] if isinstance(ports, (str, ModuleType)) else ports:
        module = load(port)
        name = getattr(module, "NAME", module.__name__)
        for item, subject in plan(module, variants, checks):
            case = BoundCheck(item, subject, module, settings)
            cases.append(pytest.param(case, id=f"{name}-{subject}-{item.id}", marks=marks))
    return pytest.mark.parametrize("check", cases)
