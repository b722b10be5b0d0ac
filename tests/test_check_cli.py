"""`dropout-ports check` as a user meets it: a port in a folder of its own (on the path, as
PYTHONPATH puts it) is checked by module path and then compared; the exit codes say pass (0),
fail (1), cannot load (2); the template port of docs/porting.md passes every check."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from dropout_ports.backends import EXTRA_BACKENDS_ENV
from dropout_ports.benchmarks.cli.main import main
from dropout_ports.benchmarks.conformance import CHECKS, run_checks

DOCS = Path(__file__).parents[1] / "docs"
ON_NUMPY = "from dropout_ports.backends.numpy import *  # noqa: F403\n"
SYNTHETIC = ["--data-source", "synthetic", "--quiet"]


def write_package(root: Path, package: str, modules: dict[str, str]) -> Path:
    """A package of modules under root (put on PYTHONPATH by the caller)."""
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    for name, text in modules.items():
        (root / package / f"{name}.py").write_text(text)
    importlib.invalidate_caches()
    return root


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test registers is forgotten after it."""
    monkeypatch.setenv(EXTRA_BACKENDS_ENV, "")


def test_a_port_outside_the_repo_is_checked_by_module_path_then_compared(tmp_path, monkeypatch, registry):
    """The commands themselves (cli.main), in this process, whose frameworks are loaded already."""
    site = write_package(tmp_path / "site", "mypkg", {"myport": f'{ON_NUMPY}NAME = "myport"\n'})
    monkeypatch.syspath_prepend(str(site))
    assert main(["check", "mypkg.myport", *SYNTHETIC, "--out", str(tmp_path / "check")]) == 0
    doc = json.loads((tmp_path / "check" / "check.json").read_text())
    assert doc["passed"] and doc["port"] == "myport" and "inputs.rng" in {c["id"] for c in doc["checks"]}
    assert "passes every check" in (tmp_path / "check" / "check.md").read_text()
    compare = ["compare", "--backends", "numpy", "mypkg.myport", *SYNTHETIC, "--epochs", "1", "--inline"]
    assert main([*compare, "--out", str(tmp_path / "compare")]) == 0
    runs = json.loads((tmp_path / "compare" / "results.json").read_text())["runs"]
    assert {run["backend"] for run in runs} == {"numpy", "myport"} and all(r["status"] == "ok" for r in runs)


def test_exit_codes_fail_and_cannot_load_and_a_used_folder(tmp_path, monkeypatch, capsys, registry):
    half = "from dropout_ports.backends import numpy as ours\n\n\ndef dropout(x, p, rng, **kwargs):\n"
    half += "    return ours.dropout(x, p / 2, rng, **kwargs)  # keeps too many\n"
    monkeypatch.syspath_prepend(
        str(write_package(tmp_path, "badpkg", {"half": f'{ON_NUMPY}{half}NAME = "half"\n'}))
    )
    out = tmp_path / "out"
    assert main(["check", "badpkg.half", "--variant", "scratch", *SYNTHETIC, "--out", str(out)]) == 1
    report = (out / "check.md").read_text()
    assert "fails" in report and all(part in report for part in ("expected:", "seen:", "look at:"))
    assert json.loads((out / "check.json").read_text())["passed"] is False
    assert main(["check", "numpy", *SYNTHETIC, "--out", str(out)]) == 2  # never overwritten
    assert "already holds check.json" in capsys.readouterr().err
    assert main(["check", "badpkg.nosuch", "--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert "no module named 'badpkg.nosuch'" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "other").exists()


def test_the_template_port_passes_every_check(monkeypatch, registry):
    monkeypatch.syspath_prepend(str(DOCS))
    failed = [r for r in run_checks("template_port") if r.verdict == "fail"]
    assert not failed, failed


def test_the_porting_guide_names_every_check():
    guide = (DOCS / "porting.md").read_text()
    assert [check for check in CHECKS if f"`{check}`" not in guide] == []
