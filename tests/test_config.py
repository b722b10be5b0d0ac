"""Config, initial parameters, the registry, the batch order and the work counts."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import dropout_ports.backends
from dropout_ports.common.batches import batch_order
from dropout_ports.common.checks import check_rate
from dropout_ports.common.config import Config
from dropout_ports.common.flops import epoch_flops, flops_per_example, gemm_shapes
from dropout_ports.common.params import init_params


def test_defaults_are_the_chapters():
    cfg = Config()
    assert (cfg.num_inputs, cfg.num_hiddens, cfg.num_outputs) == (784, (256, 256), 10)
    assert (cfg.dropouts, cfg.lr, cfg.batch_size, cfg.epochs, cfg.init_std) == (
        (0.2, 0.5),
        0.5,
        256,
        10,
        0.01,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": -0.1}, "lr"),
        ({"dropouts": (0.2, 1.5)}, "dropout rate"),
        ({"dropouts": (0.2,)}, "one dropout rate per hidden layer"),
        ({"num_hiddens": (256, 0)}, "num_hiddens"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": -1}, "epochs"),
        ({"init_std": float("nan")}, "init_std"),
        ({"prng_impl": "mt19937"}, "prng_impl"),
        ({"seed": -1}, "seed"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"dtype": "float16"}, "dtype"),
        ({"noise": "uniform"}, "noise"),
        ({"noise": "gaussian", "dropouts": (0.2, 1.0)}, "gaussian noise needs rates below 1"),
        ({"weight_decay": float("inf")}, "weight_decay"),
        ({"seed": 2**32}, "seed"),
        ({"train_subset": -5}, "train_subset"),
    ],
)
def test_invalid_config_is_a_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        Config(**changes)


@pytest.mark.parametrize(
    "changes",
    [{"lr": True}, {"weight_decay": False}, {"num_inputs": 7.5}, {"epochs": True}, {"mc_samples": 1.0},
     {"seed": "a"}, {"seed": 1.5}, {"seed": True}, {"init_std": "0.01"}, {"num_hiddens": (256, True)},
     {"train_subset": 1000.0}, {"train_subset": True}],
)  # fmt: skip
def test_a_value_of_the_wrong_kind_is_a_type_error(changes):
    """A bool is not a number anywhere in Config (True would train at lr 1)."""
    with pytest.raises(TypeError, match=next(iter(changes)).split("_")[0]):
        Config(**changes)


def test_check_rate():
    assert check_rate(np.float32(0.25)) == 0.25 and check_rate(1) == 1.0
    with pytest.raises(TypeError):
        check_rate("0.5")


def test_init_params_layout_and_statistics():
    params = init_params(Config())
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (784, 256), "b1": (256,), "W2": (256, 256), "b2": (256,), "W3": (256, 10), "b3": (10,)
    }  # fmt: skip
    assert all(v.dtype == np.float32 for v in params.values())
    assert not params["b1"].any()
    w = params["W1"]
    assert abs(w.std() - 0.01) < 5 * 0.01 / np.sqrt(2 * w.size) and abs(w.mean()) < 5 * 0.01 / np.sqrt(w.size)
    np.testing.assert_array_equal(init_params(Config())["W2"], params["W2"])
    assert not np.array_equal(init_params(Config(seed=1))["W2"], params["W2"])


def test_batch_order_covers_every_example_once_and_depends_on_epoch():
    batches = batch_order(1000, 256, seed=0, epoch=0)
    assert [len(b) for b in batches] == [256, 256, 256, 232]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    assert not np.array_equal(batches[0], batch_order(1000, 256, seed=0, epoch=1)[0])
    np.testing.assert_array_equal(batches[0], batch_order(1000, 256, seed=0, epoch=0)[0])


def test_epoch_flops_match_the_chapter_count():
    assert flops_per_example(Config()) == 2 * (268_800 + 268_800 + 68_096)
    assert len(gemm_shapes(Config())) == 8  # 3 forward, 3 weight gradients, 2 input gradients
    assert round(epoch_flops(Config(), 60_000) / 1e9, 1) == 72.7


def test_registry():
    assert dropout_ports.backends.get_backend("numpy").NAME == "numpy"
    assert "numpy" in dropout_ports.backends.available_backends()
    with pytest.raises(ValueError, match="numpy, torch, jax, tensorflow"):
        dropout_ports.backends.get_backend("mxnet")


def test_missing_framework_names_the_extra(monkeypatch):
    for module in [
        name
        for name in sys.modules
        if name == "dropout_ports.backends.torch" or name.startswith("dropout_ports.backends.torch.")
    ]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'dropout-ports\[torch\]'"):
        dropout_ports.backends.get_backend("torch")
    assert "torch" not in dropout_ports.backends.available_backends()
