"""Registering a port through $DROPOUT_PORTS_BACKENDS, as a new user would get it wrong: each
mistake is one line naming the port and the fix, before any work, and never a traceback."""

from __future__ import annotations

import importlib
import types

import pytest

from dropout_ports.backends import (
    EXTRA_BACKENDS_ENV,
    PortError,
    available_backends,
    get_backend,
    missing_names,
    register,
    registry_problems,
)
from dropout_ports.backends import numpy as numpy_port
from dropout_ports.benchmarks.cli.main import backends_on, main
from dropout_ports.benchmarks.conformance.kit import CHECKS, Settings, run_one

ON_NUMPY = "from dropout_ports.backends.numpy import *  # noqa: F403\n"
FLOAT32_ONLY = f"""{ON_NUMPY}from dropout_ports.backends.numpy import Trainer as NumpyTrainer
NAME = "f32"


class Trainer(NumpyTrainer):
    TRAIN_DTYPES = ("float32",)
"""
QUICK = ["--data-source", "synthetic", "--epochs", "1", "--quiet"]


@pytest.fixture
def site(tmp_path, monkeypatch):
    """write(module, text): a module on sys.path; register(entries): $DROPOUT_PORTS_BACKENDS."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(EXTRA_BACKENDS_ENV, "")

    def write(module: str, text: str) -> str:
        (tmp_path / f"{module}.py").write_text(text)
        importlib.invalidate_caches()
        return module

    return types.SimpleNamespace(write=write, register=lambda v: monkeypatch.setenv(EXTRA_BACKENDS_ENV, v))


def one_line_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_malformed_entry_leaves_help_and_info_working_and_stops_other_commands(site, capsys):
    site.register("bogus")
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert main(["info"]) == 0
    assert "ignored $DROPOUT_PORTS_BACKENDS entry 'bogus' is not name=module" in capsys.readouterr().out
    assert main(["compare", *QUICK]) == 2
    assert "myport=mypkg.myport" in one_line_error(capsys)


def test_the_reference_port_is_never_replaced(site, capsys):
    site.register("numpy=mymodule")
    assert get_backend("numpy") is numpy_port
    assert main(["train", "--backend", "numpy", *QUICK]) == 2
    assert "would replace the built-in port 'numpy'" in one_line_error(capsys)


def test_a_misspelt_module_says_so_and_suggests_no_extra(site):
    site.register("myport=mypkg_nosuch.port")
    with pytest.raises(PortError, match="no module named 'mypkg_nosuch'") as raised:
        get_backend("myport")
    assert "[None]" not in str(raised.value) and "PYTHONPATH" in str(raised.value)
    assert "myport" not in available_backends()


def test_a_port_raising_on_import_leaves_info_and_a_plain_compare_standing(site, capsys):
    module = site.write("reg_raises", 'raise RuntimeError("boom")')
    site.register(f"broken={module}")
    assert main(["info"]) == 0
    assert "broken port 'broken' (reg_raises) raised RuntimeError on import: boom" in capsys.readouterr().out
    assert "broken" not in backends_on("cpu", None)  # the ports a plain compare trains
    assert "skipping broken: port 'broken'" in capsys.readouterr().err


def test_a_port_whose_name_is_not_its_registered_name_is_one_line(site, capsys):
    site.register(f"mine={site.write('reg_copied', ON_NUMPY)}")  # a copy still saying NAME = "numpy"
    assert main(["compare", "--backends", "mine", *QUICK]) == 2
    assert "says NAME = 'numpy': set NAME = 'mine' in it" in one_line_error(capsys)


def test_missing_contract_names_are_reported(site, capsys):
    assert "dropout" in missing_names(types.ModuleType("empty"))
    module = site.write("reg_partial", 'NAME = "partial"')
    site.register(f"partial={module}")
    with pytest.raises(PortError, match="lacks .*Trainer.*dropout"):
        get_backend("partial")
    assert main(["info"]) == 0
    assert "partial port 'partial' (reg_partial) lacks" in capsys.readouterr().out


def test_verdict_with_a_float32_only_port_names_it_before_any_work(site, tmp_path, capsys):
    site.write("reg_f32", FLOAT32_ONLY)
    out = tmp_path / "out"
    assert main(["compare", "--verdict", "--backends", "numpy", "reg_f32", *QUICK, "--out", str(out)]) == 2
    assert "f32/scratch cannot" in one_line_error(capsys)
    assert not out.exists()


def test_a_module_path_registers_its_port_under_its_name_once(site):
    module = site.write("reg_named", f'{ON_NUMPY}NAME = "named"\n')
    assert register(module) == "named" == register(module)
    assert get_backend("named").NAME == "named" and not registry_problems()
    with pytest.raises(PortError, match="give your port a NAME of its own"):
        register(site.write("reg_numpy_named", ON_NUMPY))


def test_a_correct_port_built_on_numpy_shares_its_generator_and_passes(site):
    """Another port's generator is refused only where its type is not the port's own."""
    port = importlib.import_module(site.write("reg_on_numpy", f'{ON_NUMPY}NAME = "onnumpy"\n'))
    for check in ("inputs.rng", "inputs.array"):
        result = run_one(CHECKS[check], "port" if check == "inputs.rng" else "dropout", port, Settings())
        assert result.verdict == "pass", result
