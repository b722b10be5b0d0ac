"""What the conformance kit found in our own ports and what is not one of its checks: DropConnect
at rate 1 is refused up front, and torch's dropout names the dtype it cannot take. (NumPy's
training at rate 1, JAX's `rng` keyword, foreign arrays, builtin_dropout's checks, training="no"
and x itself at p = 0 are the kit's training.rate_one, contract.keywords, inputs.array,
inputs.*, inputs.training and semantics.identity checks, run on every port by tests/.)"""

from __future__ import annotations

import numpy as np
import pytest

from dropout_ports.common.config import Config


def test_dropconnect_at_rate_one_is_refused_up_front():
    with pytest.raises(ValueError, match="dropconnect needs rates below 1"):
        Config(noise="dropconnect", dropouts=(0.5, 1.0))
    Config(noise="dropconnect", dropouts=(0.5, 0.99))


def test_torchs_dropout_names_the_dtype_and_the_type_it_cannot_take():
    torch = pytest.importorskip("torch")
    from dropout_ports.backends import torch as tb

    with pytest.raises(TypeError, match="floating-point array, got dtype torch.int64"):
        tb.dropout(torch.arange(4), 0.5, tb.make_rng(0))
    with pytest.raises(TypeError, match=r"takes a torch.Tensor \(asarray\), got numpy.ndarray"):
        tb.builtin_dropout(np.ones(4, np.float32), 0.5, tb.make_rng(0))
