"""Every backend's scratch dropout and every framework's own, through the conformance kit's checks
of dropout's semantics and masks; the named tests are the checks docs/differences.md cites."""

from __future__ import annotations

from conftest import BACKENDS

from dropout_ports.benchmarks.conformance import CHECKS, Settings, parametrize_with_checks

SETTINGS = Settings()  # one set of draws for every test here
NAMED = ("semantics.scale", "semantics.broadcast")


@parametrize_with_checks(BACKENDS, checks=["semantics.scale"], settings=SETTINGS)
def test_kept_values_are_x_over_keep_probability(check):
    check()


@parametrize_with_checks(BACKENDS, checks=["semantics.broadcast"], settings=SETTINGS)
def test_broadcast_dims_share_one_mask_value(check):
    check()


@parametrize_with_checks(BACKENDS, checks=["inputs.rate"], settings=SETTINGS)
def test_invalid_rate_is_a_value_error(check):
    """Also in tests/test_inputs.py, with the other bad input: a check of a few tiny calls."""
    check()


@parametrize_with_checks(
    BACKENDS, checks=[i for i in CHECKS if i.split(".")[0] in ("semantics", "masks") and i not in NAMED],
    settings=SETTINGS,
)  # fmt: skip
def test_dropout_keeps_every_other_rule(check):
    check()
