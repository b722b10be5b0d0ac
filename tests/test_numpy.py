"""What is particular to the NumPy port: masks from 8 random bits per element, exact to 2^-32."""

from __future__ import annotations

import numpy as np

from dropout_ports.backends import numpy as nb
from dropout_ports.backends.numpy.masks import CHUNK
from dropout_ports.common.masks import keep_threshold


def test_threshold_is_within_two_to_the_minus_32():
    for p in (1e-12, 0.1, 0.2, 1 / 3, 0.5, 0.9, 1 - 1e-12):
        assert abs(keep_threshold(p) / 2**32 - (1 - p)) <= 2**-32


def test_dropout_draws_the_mask_that_keep_mask_draws():
    x = np.random.default_rng(0).random((3, CHUNK + 5), dtype=np.float32) + 1
    out = nb.dropout(x, 0.3, nb.make_rng(4))
    np.testing.assert_array_equal(out != 0, nb.keep_mask(nb.make_rng(4), x.shape, 0.3))
