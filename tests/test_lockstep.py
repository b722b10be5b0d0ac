"""The ports compute the same run: same init, same batches, same injected masks, same numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import BACKENDS

from benchmarks.lockstep import run_lockstep
from common.config import Config

STEPS = 60
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def runs(fashion):
    return {name: run_lockstep(name, Config(), fashion, STEPS) for name in BACKENDS}


@pytest.mark.parametrize("pair", list(itertools.combinations(BACKENDS, 2)), ids="-".join)
def test_backends_agree_step_by_step(runs, pair):
    (losses_a, params_a), (losses_b, params_b) = runs[pair[0]], runs[pair[1]]
    np.testing.assert_allclose(losses_a, losses_b, rtol=0, atol=TOLERANCE)
    for name in params_a:
        np.testing.assert_allclose(params_a[name], params_b[name], rtol=0, atol=TOLERANCE, err_msg=name)


def test_loss_actually_falls(runs):
    """Guards the lockstep test against agreeing on a run that does nothing."""
    for losses, _ in runs.values():
        assert np.mean(losses[-10:]) < losses[0] - 0.3


def test_lockstep_needs_two_backends():
    if len(BACKENDS) < 2:
        pytest.skip("only one backend installed: nothing to compare")
