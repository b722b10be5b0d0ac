"""What is particular to the NumPy port: masks from 8 random bits per element, exact to 2^-32."""

from __future__ import annotations

import numpy as np
from conftest import five_sigma

from backends import numpy as nb
from common.masks import keep_threshold


def test_threshold_is_within_two_to_the_minus_32():
    for p in (1e-12, 0.1, 0.2, 1 / 3, 0.5, 0.9, 1 - 1e-12):
        assert abs(keep_threshold(p) / 2**32 - (1 - p)) <= 2**-32


def test_ties_on_the_top_byte_are_resolved_by_the_low_bits():
    """At p = 0.5 - 2^-9 the threshold is 2^31 + 2^23: a tie on the top byte (1 in 256) keeps
    with probability 1/2. Resolving ties all one way would shift the keep fraction by 2^-9."""
    p = 0.5 - 2**-9
    assert keep_threshold(p) == 2**31 + 2**23
    n = 2**23
    kept = nb.keep_mask(nb.make_rng(0), (n,), p)
    assert abs(kept.mean() - (1 - p)) < five_sigma(p, n) < 0.5 * 2**-9


def test_dropout_draws_the_mask_that_keep_mask_draws():
    x = np.random.default_rng(0).random((3, nb.CHUNK + 5), dtype=np.float32) + 1
    out = nb.dropout(x, 0.3, nb.make_rng(4))
    np.testing.assert_array_equal(out != 0, nb.keep_mask(nb.make_rng(4), x.shape, 0.3))
