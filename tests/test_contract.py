"""Every registered backend keeps the contract of ``dropout_ports.backends.Backend``, name for name."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from conftest import BACKENDS

from dropout_ports.backends import VARIANT_NAMES, Backend, get_backend, known_backends, missing_names
from dropout_ports.common.config import Config
from dropout_ports.common.params import init_params
from dropout_ports.common.trainer import TrainerBase


@pytest.mark.parametrize("name", BACKENDS)
def test_backend_module_has_every_name_of_the_contract(name):
    backend = get_backend(name)
    assert missing_names(backend) == []
    assert isinstance(backend, Backend)
    assert (
        backend.NAME == name
        and backend.VARIANTS[0] == "scratch"
        and set(backend.VARIANTS) <= set(VARIANT_NAMES)
    )
    assert issubclass(backend.Trainer, TrainerBase) and backend.Trainer.VARIANTS == backend.VARIANTS
    assert backend.resolve_device("cpu") is not None and backend.devices()


def test_missing_names_finds_a_gap():
    import types

    assert "dropout" in missing_names(types.ModuleType("empty"))
    assert set(known_backends()) >= set(BACKENDS)


@pytest.mark.parametrize("name", BACKENDS)
def test_unknown_device_and_generator_are_value_errors(name):
    backend = get_backend(name)
    with pytest.raises(ValueError, match="device"):
        backend.resolve_device("tpu:7")
    with pytest.raises(ValueError, match="impl"):
        backend.make_rng(0, impl="no-such-generator")


@pytest.mark.parametrize("name", BACKENDS)
def test_benchmark_ops_compute_what_they_say(name):
    backend = get_backend(name)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = backend.asarray(a)
    np.testing.assert_array_equal(backend.to_numpy(backend.ready(backend.jit(backend.copy)(x))), a)
    product = backend.to_numpy(backend.ready(backend.matmul(x, backend.asarray(a.T))))
    np.testing.assert_allclose(product, a @ a.T, rtol=1e-6)
    ones = backend.asarray(np.ones(4096, np.float32))
    out = backend.to_numpy(backend.chapter_dropout(ones, 0.5, backend.make_rng(0)))
    assert set(np.unique(out)) <= {0.0, 2.0} and 0.4 < (out != 0).mean() < 0.6


def test_fifty_trainers_share_compiled_code_and_are_freed():
    """JAX's steps are jitted module functions with the net's shape as the static argument: trainers
    of one config compile once, and a dropped trainer leaves nothing behind in the jit cache."""
    jb = pytest.importorskip("dropout_ports.backends.jax")
    cfg = Config(num_hiddens=(24, 12), batch_size=32, lr=0.321)
    x, y = np.random.rand(32, 784).astype(np.float32), np.arange(32) % 10
    first = jb.Trainer(cfg, init_params(cfg))
    first.train_step(x, y)
    first.evaluate(x, y)
    sizes = jb.train_step._cache_size(), jb.forward_pass._cache_size()
    refs = []
    for seed in range(50):
        trainer = jb.Trainer(cfg.replace(seed=seed), init_params(cfg.replace(seed=seed)))
        trainer.train_step(x, y)
        trainer.evaluate(x, y)
        refs.append(weakref.ref(trainer))
        del trainer
    gc.collect()
    assert (jb.train_step._cache_size(), jb.forward_pass._cache_size()) == sizes
    assert not [ref for ref in refs if ref() is not None]
