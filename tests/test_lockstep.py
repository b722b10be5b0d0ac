"""The ports compute the same run: same init, same batches, same injected masks, same numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import BACKENDS

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.conformance import CHECKS, Settings
from dropout_ports.benchmarks.conformance.kit import run_one
from dropout_ports.benchmarks.conformance.report import explain
from dropout_ports.benchmarks.suites.lockstep import FLOAT32_STEPS as STEPS
from dropout_ports.benchmarks.suites.lockstep import FLOAT32_TOLERANCE as TOLERANCE
from dropout_ports.benchmarks.suites.lockstep import run_lockstep
from dropout_ports.common.batches import batch_order
from dropout_ports.common.config import Config


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
        assert min(losses) < losses[0] - 0.3  # it leaves the plateau (then lr 0.5 throws it back)


def test_lockstep_needs_two_backends():
    if len(BACKENDS) < 2:
        pytest.skip("only one backend installed: nothing to compare")


# Every variant that takes injected masks (torch's compiled one too), port by port.
MASKED = [(name, variant) for name in BACKENDS for variant in get_backend(name).Trainer.SCRATCH_VARIANTS]


def trainers(cfg: Config):
    """Every available backend x variant, from the same initial parameters."""
    from dropout_ports.backends import get_backend
    from dropout_ports.common.params import init_params

    return {
        f"{name}/{variant}": get_backend(name).Trainer(cfg, init_params(cfg), variant=variant)
        for name in BACKENDS
        for variant in get_backend(name).VARIANTS
    }


@pytest.mark.slow  # a whole epoch in every port
def test_weight_decay_is_one_computation_in_every_port_and_variant(fashion):
    """Without dropout every variant draws nothing, so the chapter's penalty (scratch) and the
    frameworks' own weight decay (torch SGD's weight_decay, optax.add_decayed_weights) must agree.
    Without dropout the loss leaves its plateau sooner, and float32 rounding with it: float64."""
    cfg = Config(dropouts=(0.0, 0.0), weight_decay=0.05, dtype="float64")
    runs = trainers(cfg)
    losses = {label: [] for label in runs}
    steps = batch_order(len(fashion.train_y), cfg.batch_size, cfg.seed, 0)[:40]
    for idx in steps:
        for label, trainer in runs.items():
            losses[label].append(trainer.train_step(fashion.train_x[idx], fashion.train_y[idx]))
    params = {label: trainer.get_params() for label, trainer in runs.items()}
    first = next(iter(runs))
    for label in runs:
        np.testing.assert_allclose(losses[label], losses[first], rtol=0, atol=1e-9, err_msg=label)
        for name in params[first]:
            np.testing.assert_allclose(params[label][name], params[first][name], rtol=0, atol=1e-9)
    plain = trainers(cfg.replace(weight_decay=0.0))[first]
    for idx in steps:
        plain.train_step(fashion.train_x[idx], fashion.train_y[idx])
    decayed, undecayed = params[first]["W1"], plain.get_params()["W1"]
    assert np.linalg.norm(decayed) < 0.95 * np.linalg.norm(undecayed)  # the decay did shrink the weights
    np.testing.assert_allclose(params[first]["b1"], plain.get_params()["b1"], atol=0.05)  # biases: no decay


@pytest.fixture(scope="module")
def on_fashion(fashion) -> Settings:
    """The conformance kit's settings on the chapter's data: its reference run is made once."""
    return Settings(data=fashion)


@pytest.mark.slow  # a whole epoch per variant
@pytest.mark.parametrize(("name", "variant"), MASKED, ids=[f"{name}-{variant}" for name, variant in MASKED])
def test_a_whole_epoch_in_float64_is_one_computation(on_fashion, name, variant):
    """The kit's lockstep check over a whole Fashion-MNIST epoch (235 steps, the short last batch
    included), where tests/test_check.py runs it over the small synthetic set: in float64
    rounding is 2^29 times smaller, so the ports stay within 1e-9 where float32 runs part after
    about 60 steps."""
    result = run_one(CHECKS["training.lockstep"], variant, get_backend(name), on_fashion)
    assert result.verdict == "pass" and "235 steps" in result.measured, explain(result)


def test_the_divergence_benchmark_draws_every_pair_and_numpy_against_itself(tmp_path):
    from dropout_ports.benchmarks.suites import lockstep

    rows, curves = lockstep.run(BACKENDS, [5])
    itself = f"{BACKENDS[0]} vs {lockstep.SELF}"
    assert itself in curves and all(len(diffs) == 5 for diffs in curves.values())
    assert max(curves[itself]) < 1e-5 and len(rows) == len(curves)
    lockstep.divergence_plot(curves, tmp_path / "lockstep.png")
    assert (tmp_path / "lockstep.png").stat().st_size > 10_000


@pytest.mark.slow  # a whole epoch in every port
@pytest.mark.parametrize("noise", ["gaussian", "dropconnect"])
def test_every_noise_is_one_computation_in_every_port(fashion, noise):
    """The same injected multipliers (gaussian) or weight masks (dropconnect) through every port, in
    float64 (these noises leave the plateau sooner, and float32 rounding with them)."""
    cfg = Config(noise=noise, dtype="float64")
    runs = {
        f"{name}/{variant}": run_lockstep(name, cfg, fashion, 100, variant=variant)
        for name, variant in MASKED
    }
    first = next(iter(runs))
    assert np.mean(runs[first][0][-10:]) < runs[first][0][0] - 0.3  # it trains
    for name in runs:
        np.testing.assert_allclose(runs[name][0], runs[first][0], rtol=0, atol=1e-9, err_msg=name)
        for key, value in runs[first][1].items():
            np.testing.assert_allclose(runs[name][1][key], value, rtol=0, atol=1e-9, err_msg=key)
