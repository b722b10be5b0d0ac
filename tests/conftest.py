"""Shared fixtures: every available backend x variant, the real data set, GPU devices."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dropout_ports.backends import available_backends, get_backend, prepare_host_devices
from dropout_ports.common.data import load_fashion_mnist, synthetic_dataset

prepare_host_devices(4)  # the data-parallel tests' replicas as JAX's CPU devices: before JAX starts
BACKENDS = available_backends()


def _cases(variants_of=lambda backend: backend.VARIANTS) -> list:
    """(backend, variant, device) for every available pair, on the CPU and (marked gpu) the GPU."""
    cases = []
    for name in BACKENDS:
        for variant in variants_of(get_backend(name)):
            cases.append(pytest.param((name, variant, "cpu"), id=f"{name}-{variant}"))
            cases.append(
                pytest.param((name, variant, "gpu"), id=f"{name}-{variant}-gpu", marks=pytest.mark.gpu)
            )
    return cases


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest):
    return get_backend(request.param)


@pytest.fixture(params=_cases())
def backend_variant(request: pytest.FixtureRequest):
    """(backend module, variant, device name); GPU cases skip where there is no GPU."""
    name, variant, device = request.param
    backend = get_backend(name)
    return backend, variant, gpu_device(backend) if device == "gpu" else device


def _dropouts(backend) -> tuple[str, ...]:
    """The dropout ops a backend has: ours, and the framework's own layer where it has one."""
    return ("scratch",) if backend.builtin_dropout is None else ("scratch", "builtin")


@pytest.fixture(params=_cases(_dropouts))
def backend_dropout(request: pytest.FixtureRequest):
    """(backend module, "scratch" or "builtin", device name); GPU cases skip where there is no GPU."""
    name, kind, device = request.param
    backend = get_backend(name)
    return backend, kind, gpu_device(backend) if device == "gpu" else device


def dropout_of(backend, kind: str):
    """The dropout under test: ours ("scratch") or the framework's own layer ("builtin")."""
    return backend.dropout if kind == "scratch" else backend.builtin_dropout


@pytest.fixture(scope="session")
def fashion():
    """The real Fashion-MNIST; the set-up installs it, and tests never download."""
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def synthetic():
    return synthetic_dataset()


def gpu_device(backend) -> str:
    """The backend's GPU device name, or skip the test."""
    try:
        backend.resolve_device("gpu")
    except ValueError as err:
        pytest.skip(f"no GPU for {backend.NAME} on this machine: {err}")
    return "gpu"


def five_sigma(p: float, n: int) -> float:
    """Five standard deviations of a keep fraction over n Bernoulli(1 - p) draws."""
    return 5 * np.sqrt(p * (1 - p) / n)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked network run only when asked for by name (`-m network`): no test reaches out
    on its own, since an offline download attempt hangs for minutes."""
    if "network" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="reaches the internet: run with -m network")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


# The console script, for the end-to-end tests (tests/test_cli*.py)
SCRIPT = Path(sys.executable).with_name("dropout-ports")


def interruptible(command: list[str], **kwargs) -> subprocess.Popen:
    """The command in a process that Ctrl-C reaches, as from a terminal: a test run started in the
    background by a shell inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""

    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return subprocess.Popen(command, **pipes, preexec_fn=default_sigint, **kwargs)


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def assert_valid_png(path: Path) -> None:
    image = plt.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


@pytest.fixture(scope="session")
def compared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    done = cli(
        "compare", "--data-source", "synthetic", "--epochs", "2", "--seeds", "0", "1", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    return out


SMALL_RUN = ["--data-source", "synthetic", "--backends", "numpy", "--epochs", "1"]  # one quick run
