"""docs/differences.md's claims about NumPy, and the guide's own promises: each test is named beside
the sentence it shows, so a framework upgrade that changes a behaviour says which sentence is false.
The torch, JAX and Keras claims are in tests/test_differences_{torch,jax,keras,tensorflow}.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from test_layout import CODE_REFERENCE

from dropout_ports.backends import numpy as nb

ROOT = Path(__file__).parents[1]
GUIDE = (ROOT / "docs" / "differences.md").read_text()


def test_the_guide_names_the_versions_constraints_pins():
    """The guide says which versions its tests showed it on: the ones the set-up installs."""
    pinned = (ROOT / "constraints.txt").read_text()
    pins = dict(re.findall(r"^(torch|jax|flax|keras|tensorflow-cpu)==(\S+)$", pinned, re.M))
    assert len(pins) == 5
    for package, version in pins.items():
        assert f"{package} {version}" in GUIDE, package


def test_every_framework_test_the_guide_names_exists():
    """References to these files name tests that exist (the layout test resolves the rest)."""
    named = [(path, name) for path, name in CODE_REFERENCE.findall(GUIDE) if "test_differences" in path]
    assert len(named) > 40
    missing = [f"{p}::{n}" for p, n in named if not n or f"def {n}(" not in (ROOT / p).read_text()]
    assert not missing, missing


def test_numpy_masks_depend_on_the_draws_before():
    x = np.ones(4096, np.float32)
    rng, fresh = nb.make_rng(0), nb.make_rng(0)
    first = nb.dropout(x, 0.5, rng)
    np.testing.assert_array_equal(first, nb.dropout(x, 0.5, fresh))
    assert not np.array_equal(nb.dropout(x, 0.5, rng), first)  # the same call, one draw later


def test_numpy_has_no_bfloat16_of_its_own():
    """ml_dtypes (which JAX loads) registers one with NumPy; the NumPy port refuses it all the same."""
    assert not hasattr(np, "bfloat16") and "bfloat16" not in nb.DTYPES


def test_numpy_asks_the_kernel_for_huge_pages():
    from numpy._core.multiarray import _get_madvise_hugepage

    assert _get_madvise_hugepage()


def test_a_dropped_inf_is_nan_in_numpy():
    """The NumPy port multiplies by its mask: a dropped inf is 0 * inf = nan (a kept one stays inf)."""
    with np.errstate(invalid="ignore"):
        out = nb.dropout(np.full(1024, np.inf, np.float32), 0.5, nb.make_rng(0))
    assert np.isnan(out).any() and not (out == 0).any()


def test_numpy_dropout_returns_the_input_itself_at_rate_zero_and_in_evaluation():
    x = np.ones(8, np.float32)
    assert nb.dropout(x, 0.0, nb.make_rng(0)) is x
    assert nb.dropout(x, 0.5, nb.make_rng(0), training=False) is x


def test_spawned_generators_depend_on_the_seed_not_the_draws_before():
    """Generator.spawn derives children from the seed sequence, so replica r's stream is fixed by
    (seed, r) whatever the parent drew, and differs from every other replica's."""
    rng = np.random.default_rng(0)
    rng.random(100)
    children = [child.integers(2**32, size=4) for child in rng.spawn(3)]
    fresh = [child.integers(2**32, size=4) for child in np.random.default_rng(0).spawn(3)]
    np.testing.assert_array_equal(children, fresh)
    assert len({tuple(c) for c in children}) == 3
    assert type(rng.bit_generator).__name__ == "PCG64"
