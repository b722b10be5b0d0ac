"""Every built-in port passes every check of the conformance kit, variant by variant. The kit
holds what tests/ checked port by port before: tests/test_contract.py, test_inputs.py and
test_dropout.py run its contract, inputs, semantics and masks checks; this file every other group
(training: one computation with NumPy, evaluation, fresh masks, rate 1), and everything on the GPU.
tests/test_check_faulty.py shows each check can fail."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from conftest import BACKENDS, gpu_device

from dropout_ports.benchmarks.conformance import CHECKS, Settings, parametrize_with_checks
from dropout_ports.common.data import synthetic_dataset

ELSEWHERE = ("contract", "inputs", "semantics", "masks")  # the groups the files named above run
# Two steps of lockstep (512 examples): enough for a weight, rate or lr off; tests/test_lockstep.py
# runs a whole Fashion-MNIST epoch (slow).
SMALL = Settings(data=synthetic_dataset(num_train=512, num_test=256))


@pytest.fixture(autouse=True, scope="module")
def jax_x64_as_it_was() -> Iterator[None]:
    """The float64 lockstep turns JAX's x64 mode on, process-wide (backends/jax/trainer.py): the
    test files after this one find it as it was."""
    jax = sys.modules.get("jax")
    before = jax and jax.config.jax_enable_x64
    yield
    if jax is not None:
        jax.config.update("jax_enable_x64", before)


@parametrize_with_checks(
    BACKENDS, checks=[i for i in CHECKS if i.split(".")[0] not in ELSEWHERE], settings=SMALL
)
def test_every_builtin_port_passes_every_other_check(check):
    check()


@parametrize_with_checks(BACKENDS, settings=Settings(device="gpu"), marks=[pytest.mark.gpu])
def test_every_builtin_port_passes_every_check_on_the_gpu(check):
    gpu_device(check.port)
    check()
