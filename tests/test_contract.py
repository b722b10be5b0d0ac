"""Every registered backend keeps the contract of ``dropout_ports.backends.Backend``, name for name
(the conformance kit's contract checks: names and types, keywords, the benchmark ops)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from conftest import BACKENDS

from dropout_ports.benchmarks.conformance import parametrize_with_checks
from dropout_ports.common.config import Config
from dropout_ports.common.params import init_params


@parametrize_with_checks(BACKENDS, checks=["contract"])
def test_every_port_keeps_the_contract(check):
    check()


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
