"""One contract for bad input in every port (common/checks.py): the same call fails the same way."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS

from dropout_ports.backends import get_backend
from dropout_ports.common.checks import SEED_LIMIT


@pytest.fixture(params=BACKENDS)
def port(request: pytest.FixtureRequest):
    return get_backend(request.param)


def dropouts(port) -> list:
    """Every dropout the port exposes with the (x, p, rng) signature."""
    return [port.dropout, port.chapter_dropout, *([port.builtin_dropout] if port.builtin_dropout else [])]


@pytest.mark.parametrize("rng", [None, 0, "key", np.random.default_rng(0).bit_generator])
def test_an_rng_that_is_not_the_ports_own_is_a_type_error(port, rng):
    """torch's dropout never falls back to its global generator, NumPy's never to a bare attribute
    lookup: the error names the generator or key the port takes."""
    x = port.asarray(np.ones((4, 3), np.float32))
    for dropout in dropouts(port):
        with pytest.raises(TypeError, match="rng must be"):
            dropout(x, 0.5, rng)


def test_another_ports_generator_is_refused(port):
    others = [name for name in BACKENDS if name != port.NAME]
    x = port.asarray(np.ones((4, 3), np.float32))
    for other in others:
        with pytest.raises(TypeError, match="rng must be"):
            port.dropout(x, 0.5, get_backend(other).make_rng(0))


@pytest.mark.parametrize("seed", [-1, SEED_LIMIT, 2**70])
def test_a_seed_out_of_range_is_a_value_error(port, seed):
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\^32\)"):
        port.make_rng(seed)


@pytest.mark.parametrize("seed", ["a", 1.5, True, None])
def test_a_seed_that_is_not_an_int_is_a_type_error(port, seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        port.make_rng(seed)


def test_the_seed_range_is_the_same_in_every_port(port):
    for seed in (0, SEED_LIMIT - 1, np.uint32(7)):
        port.make_rng(seed)


def test_repeated_broadcast_dims_are_a_value_error(port):
    x = port.asarray(np.ones((4, 3), np.float32))
    for dims in ((0, 0), (1, -1)):
        with pytest.raises(ValueError, match="twice"):
            port.dropout(x, 0.5, port.make_rng(0), broadcast_dims=dims)


@pytest.mark.parametrize(("p", "error"), [(True, TypeError), ("0.5", TypeError), (1.5, ValueError)])
def test_a_bad_rate_is_the_same_error_everywhere(port, p, error):
    x = port.asarray(np.ones((4, 3), np.float32))
    for dropout in (port.dropout, *([port.builtin_dropout] if port.builtin_dropout else [])):
        with pytest.raises(error, match="dropout rate"):
            dropout(x, p, port.make_rng(0))
