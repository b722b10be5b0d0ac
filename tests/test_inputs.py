"""One contract for bad input in every port (common/checks.py): the same call fails the same way
(the conformance kit's inputs checks: rng, seed, device, and each dropout's x, p, training and
broadcast_dims)."""

from __future__ import annotations

from conftest import BACKENDS

from dropout_ports.benchmarks.conformance import parametrize_with_checks


@parametrize_with_checks(BACKENDS, checks=["inputs"])
def test_bad_input_is_the_same_error_in_every_port(check):
    check()
