"""The dropout conformance suite: every backend's scratch dropout and every framework's own."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import dropout_of, five_sigma

N = 2**20
RATES = [0.1, 0.2, 0.5, 0.8]


def draw(backend, variant, device, x, p, seed=0, **kwargs):
    dropout = dropout_of(backend, variant)
    out = dropout(backend.asarray(x, device=device), p, backend.make_rng(seed, device), **kwargs)
    return backend.to_numpy(out)


def positive(n=N, seed=1, dtype=np.float32):
    """Values in [1, 2): never zero, so out != 0 marks exactly the kept elements."""
    return (1 + np.random.default_rng(seed).random(n)).astype(dtype)


@pytest.mark.parametrize("p", RATES)
def test_keep_fraction_within_five_sigma(backend_dropout, p):
    backend, variant, device = backend_dropout
    kept = draw(backend, variant, device, positive(), p) != 0
    assert abs(kept.mean() - (1 - p)) < five_sigma(p, N)


def test_keep_probability_is_resolved_below_one_byte(backend_dropout):
    """At p = 0.5 - 2^-9 the uint32 threshold is 2^31 + 2^23: the NumPy and CPU torch ports
    decide on the top byte and draw more bits for ties (1 in 256), which keep with probability
    1/2. Resolving ties all one way, or 8-bit masks, would shift the keep fraction by 2^-9."""
    backend, variant, device = backend_dropout
    p, n = 0.5 - 2**-9, 2**23
    kept = draw(backend, variant, device, np.ones(n, np.float32), p) != 0
    assert abs(kept.mean() - (1 - p)) < five_sigma(p, n) < 0.5 * 2**-9


@pytest.mark.parametrize("p", RATES)
def test_kept_values_are_x_over_keep_probability(backend_dropout, p):
    backend, variant, device = backend_dropout
    x = positive()
    out = draw(backend, variant, device, x, p)
    kept = out != 0
    expected = x[kept] / np.float32(1 - p)
    if variant == "scratch" and backend.NAME != "jax" and device == "cpu":
        np.testing.assert_array_equal(out[kept], expected)
    else:
        # The frameworks' own layers multiply by 1/(1-p), and XLA (and CUDA torch) rewrite
        # x / c into x * (1/c) even in our code: equal to within one rounding (docs/differences.md).
        np.testing.assert_allclose(out[kept], expected, rtol=2**-23, atol=0)


@pytest.mark.parametrize("p", RATES)
def test_mean_is_preserved_within_five_sigma(backend_dropout, p):
    backend, variant, device = backend_dropout
    x = positive()
    out = draw(backend, variant, device, x, p).astype(np.float64)
    # Var(out_i) = x_i^2 p / (1-p); the mean over N has that over N.
    sigma = math.sqrt(np.mean(x.astype(np.float64) ** 2) * p / (1 - p) / N)
    assert abs(out.mean() - x.mean()) < 5 * sigma


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_evaluation_passes_data_through(backend_dropout, p):
    backend, variant, device = backend_dropout
    x = positive(1000)
    np.testing.assert_array_equal(draw(backend, variant, device, x, p, training=False), x)


def test_rate_zero_is_identity(backend_dropout):
    backend, variant, device = backend_dropout
    x = positive(1000)
    np.testing.assert_array_equal(draw(backend, variant, device, x, 0.0), x)


def test_rate_one_gives_zeros(backend_dropout):
    backend, variant, device = backend_dropout
    out = draw(backend, variant, device, positive(1000), 1.0)
    assert out.shape == (1000,) and not out.any()


def test_rate_one_gives_zeros_even_for_inf_and_nan(backend):
    x = np.array([np.inf, -np.inf, np.nan, 1.0], np.float32)
    out = backend.to_numpy(backend.dropout(backend.asarray(x), 1.0, backend.make_rng(0)))
    np.testing.assert_array_equal(out, np.zeros(4, np.float32))


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan, math.inf, -math.inf])
def test_invalid_rate_is_a_value_error(backend_dropout, p):
    backend, variant, device = backend_dropout
    with pytest.raises(ValueError, match="dropout rate"):
        draw(backend, variant, device, positive(10), p)


@pytest.mark.parametrize("p", ["0.5", None, [0.5], True])
def test_non_number_rate_is_a_type_error(backend_dropout, p):
    backend, variant, device = backend_dropout
    with pytest.raises((TypeError, ValueError)):
        draw(backend, variant, device, positive(10), p)


def test_dtypes_are_kept(backend_dropout):
    backend, variant, device = backend_dropout
    dropout = dropout_of(backend, variant)
    for dtype in backend.DTYPES:
        x = backend.asarray(positive(4096), dtype=dtype, device=device)
        out = dropout(x, 0.5, backend.make_rng(0, device))
        assert out.dtype == x.dtype and tuple(out.shape) == (4096,)
        kept = backend.to_numpy(out) != 0
        assert 0.4 < kept.mean() < 0.6


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2)])
def test_zero_dimensional_and_empty(backend_dropout, shape):
    backend, variant, device = backend_dropout
    x = np.full(shape, 1.5, np.float32)
    out = draw(backend, variant, device, x, 0.5)
    assert out.shape == shape
    assert np.all((out == 0) | (out == 3.0))


def test_same_seed_same_mask_other_seed_other_mask(backend_dropout):
    backend, variant, device = backend_dropout
    x = positive(4096)
    first, again, other = (draw(backend, variant, device, x, 0.5, seed=s) != 0 for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert (first != other).mean() > 0.4  # independent masks disagree on about half


def test_neighbouring_mask_bits_are_uncorrelated(backend_dropout):
    backend, variant, device = backend_dropout
    for p in (0.2, 0.5):
        kept = (draw(backend, variant, device, positive(), p) != 0).astype(np.float64)
        for lag in (1, 2, 8, 32):
            corr = np.corrcoef(kept[:-lag], kept[lag:])[0, 1]
            assert abs(corr) < 5 / math.sqrt(N - lag), (p, lag, corr)


def test_broadcast_dims_share_one_mask_value(backend_dropout):
    backend, variant, device = backend_dropout
    if backend.NAME == "torch" and variant == "builtin":
        with pytest.raises(ValueError, match="broadcast_dims"):
            draw(backend, variant, device, positive(64).reshape(8, 8), 0.5, broadcast_dims=(0,))
        return
    x = np.ones((64, 512, 4), np.float32)
    out = draw(backend, variant, device, x, 0.5, broadcast_dims=(0, -1))
    kept = out != 0
    assert (kept == kept[:1, :, :1]).all()  # constant along dims 0 and 2
    assert abs(kept[0, :, 0].mean() - 0.5) < five_sigma(0.5, 512)


def test_broadcast_dims_out_of_range(backend):
    with pytest.raises(ValueError, match="out of range"):
        backend.dropout(
            backend.asarray(np.ones((2, 3), np.float32)), 0.5, backend.make_rng(0), broadcast_dims=(2,)
        )


def test_integer_input_is_a_type_error(backend):
    with pytest.raises(TypeError, match="floating"):
        backend.dropout(backend.asarray(np.arange(4)), 0.5, backend.make_rng(0))
