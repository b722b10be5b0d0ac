"""docs/differences.md's claims about Keras 3 (3.15.1 when written), each in a fresh process: Keras
reads its backend once, when first imported. Slow: Keras on torch takes seconds to import."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SEEDED = """
import keras, numpy as np
x = np.ones((1, 4096), np.float32)
def mask(layer):
    return keras.ops.convert_to_numpy(layer(x, training=True)) != 0
layer, twin = keras.layers.Dropout(0.5, seed=1), keras.layers.Dropout(0.5, seed=1)
first = mask(layer)
assert not (mask(layer) == first).all(), "each call advances the layer's SeedGenerator"
assert (mask(twin) == first).all(), "one seed, one sequence of masks"
"""
UNSEEDED_ON_TORCH = """
import torch
layer = keras.layers.Dropout(0.5)
torch.manual_seed(0)
first = mask(layer)
torch.manual_seed(0)
assert (mask(layer) == first).all(), "without a seed: F.dropout on torch's global generator"
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_dropout_draws_from_its_seed_generator_or_unseeded_torchs_global_one(backend):
    if not all(importlib.util.find_spec(name) for name in ("keras", backend)):
        pytest.skip(f"needs keras and {backend}")  # importing keras here would pick its backend
    code = SEEDED + (UNSEEDED_ON_TORCH if backend == "torch" else "")
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
