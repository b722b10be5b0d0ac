"""The conformance kit can fail: a port with one classic bug fails exactly the checks that name
the bug, passes every other, and the report says what was expected, seen, and where to look."""

from __future__ import annotations

import numpy as np
import pytest
from faulty_port import BUGS, numpy_copy, with_bug

from dropout_ports.backends import numpy as numpy_port
from dropout_ports.benchmarks.conformance import CHECKS, Settings, run_checks
from dropout_ports.benchmarks.conformance.kit import run_one
from dropout_ports.benchmarks.conformance.report import explain
from dropout_ports.common.data import synthetic_dataset

# Shared, so the reference's lockstep run is made once; two steps of it (512 examples) show a
# nudged weight or learning rate.
SETTINGS = Settings(data=synthetic_dataset(num_train=512, num_test=256))


@pytest.mark.parametrize("bug", BUGS)
def test_a_bug_fails_exactly_the_checks_that_name_it(bug):
    results = run_checks(with_bug(bug), settings=SETTINGS)
    failed = {result.id: explain(result) for result in results if result.verdict == "fail"}
    assert set(failed) == BUGS[bug], failed
    for text in failed.values():
        assert all(f"{part}:" in text for part in ("expected", "seen", "look at")), text


def test_full_holds_the_trained_accuracy_to_the_references():
    """--full's check over 3 seeds of a small set (4 steps an epoch): NumPy against itself is
    equivalent; a port that never learns is shown to differ; too few seeds for a small difference
    is undecided, never a failure."""
    tiny = Settings(data=synthetic_dataset(1024, 512), full=True, seeds=(0, 1, 2))
    same = run_one(CHECKS["training.accuracy"], "scratch", numpy_port, tiny)
    assert same.verdict == "pass" and "difference +0.00%" in same.measured, same
    still = run_one(CHECKS["training.accuracy"], "scratch", with_bug("no learning"), tiny)
    assert still.verdict == "fail" and "shown to differ by more than" in still.seen, still


def test_full_calls_an_interval_across_the_margin_undecided(monkeypatch):
    """What a correct port gives over 5 seeds of the real data (TensorFlow's scratch, seen here):
    +0.25% [-1.20%, +1.69%], TOST p = 0.165, neither equivalent nor shown to differ: a skip."""
    from dropout_ports.benchmarks.conformance import training

    row = {
        "interval": (-0.0120, 0.0169),
        "mean_difference": 0.0025,
        "seeds": 5,
        "sd": 0.012,
        "p_value": 0.165,
    }
    monkeypatch.setattr(training, "equivalence", lambda *args: [row])
    tiny = Settings(data=synthetic_dataset(256, 256), full=True, seeds=(0, 1, 2))
    result = run_one(CHECKS["training.accuracy"], "scratch", numpy_port, tiny)
    assert (
        result.verdict == "skipped"
        and "undecided at these seeds (TOST p = 0.165)" in result.measured + str(result)
    ), result


def shared_pairs(x, p, rng, **kwargs):
    """Neighbours share one draw: the keep rate is right, neighbouring bits are not independent."""
    keep = np.repeat(rng.random((x.size + 1) // 2) >= p, 2)[: x.size].reshape(x.shape)
    return x * keep / x.dtype.type(1 - p)


SLIPS = {  # a check -> a dropout that breaks only the rule it names
    "contract.keywords": lambda x, p, key, **kwargs: numpy_port.dropout(x, p, key, **kwargs),
    "inputs.training": lambda x, p, rng, training=True, **kw: numpy_port.dropout(
        x, p, rng, training=bool(training), **kw
    ),
    "semantics.identity": lambda x, p, rng, **kwargs: numpy_port.dropout(x, p, rng, **kwargs).copy(),
    "masks.lags": shared_pairs,
}


@pytest.mark.parametrize("check", SLIPS)
def test_a_dropout_that_breaks_one_rule_fails_the_check_of_that_rule(check):
    port = numpy_copy("slipped")
    port.dropout = SLIPS[check]
    subject = "port" if CHECKS[check].scope == "port" else "dropout"
    assert run_one(CHECKS[check], subject, port, Settings()).verdict == "fail"
