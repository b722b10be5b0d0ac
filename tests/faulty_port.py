"""A test port that fails on purpose, registered through $DROPOUT_PORTS_BACKENDS as "faulty".

It is the NumPy port, except that its Trainer dies by seed: 1 exits the process outright, 2
raises, 3 hangs. Seed 0 trains as NumPy does. ``with_bug`` makes the NumPy port with one classic
bug instead, for the conformance kit to catch.
"""

from __future__ import annotations

import os
import time
import types

import numpy as np

from dropout_ports.backends import numpy as numpy_port
from dropout_ports.backends.numpy import *  # noqa: F403  (every name of the contract)
from dropout_ports.backends.numpy import Trainer as NumpyTrainer
from dropout_ports.backends.numpy import make_rng
from dropout_ports.common.checks import check_input, check_rate, check_rng, check_training
from dropout_ports.common.masks import mask_shape

NAME = "faulty"


class Trainer(NumpyTrainer):
    def __init__(self, cfg, params, **options):
        super().__init__(cfg, params, **options)
        if cfg.seed == 1:
            os._exit(3)
        if cfg.seed == 2:
            raise RuntimeError("this port fails on seed 2")
        if cfg.seed == 3:
            time.sleep(3600)


# Ports with one classic bug each, for proving the conformance kit can fail: bug -> the checks
# that name it (tests/test_check_faulty.py). Each is the NumPy port but for that bug.
BUGS = {
    "scale by 1/p": {"semantics.scale"},
    "keep with probability p": {"masks.keep_rate"},
    "a global generator, the rng ignored": {"masks.seeds"},
    "dropout left on in evaluation": {"semantics.identity"},
    "one mask reused every step": {"training.fresh_masks"},
    "the Trainer's evaluation left noisy": {"training.evaluation"},
    "initial weights nudged": {"training.lockstep"},
    "learning rate nudged": {"training.lockstep"},
}


def faulty_dropout(bug: str):
    """A hand-written NumPy dropout keeping every rule of the contract but the bug's."""

    def dropout(x, p, rng, *, training=True, broadcast_dims=()):
        p = check_rate(p)
        check_rng(rng, np.random.Generator, "a numpy.random.Generator")
        check_input(x, np.ndarray, "a numpy.ndarray", lambda a: np.issubdtype(a.dtype, np.floating))
        shape = mask_shape(x.shape, broadcast_dims)
        if (not check_training(training) and bug != "dropout left on in evaluation") or p == 0.0:
            return x
        if p == 1.0:
            return np.zeros_like(x)
        draws = np.random.random(shape) if bug == "a global generator, the rng ignored" else rng.random(shape)
        keep = draws < p if bug == "keep with probability p" else draws >= p
        return x * keep / x.dtype.type(p if bug == "scale by 1/p" else 1 - p)

    return dropout


def faulty_trainer(bug: str) -> type:
    class Trainer(NumpyTrainer):
        def __init__(self, cfg, params, **options):
            if bug in ("learning rate nudged", "no learning"):
                cfg = cfg.replace(lr=cfg.lr * 1.001 if bug == "learning rate nudged" else 0.0)
            super().__init__(cfg, params, **options)
            if bug == "initial weights nudged":
                self.net.params["W1"] += self.dtype.type(1e-6)

        def _step(self, x, y, masks):
            if bug == "one mask reused every step":
                self.rng = make_rng(self.cfg.seed)  # the chapter's JAX bug: one key for every step
            return super()._step(x, y, masks)

        def _log_probs(self, x, noisy, sample):
            return super()._log_probs(x, noisy or bug == "the Trainer's evaluation left noisy", sample)

    return Trainer


def numpy_copy(name: str) -> types.ModuleType:
    """A module of its own holding the NumPy port's names, for a test to change some of them."""
    port = types.ModuleType(name)
    port.__dict__.update({name: getattr(numpy_port, name) for name in numpy_port.__all__})
    return port


def with_bug(bug: str) -> types.ModuleType:
    """The NumPy port with the bug."""
    port = numpy_copy(f"faulty_port.{bug}")
    port.NAME, port.dropout, port.Trainer = "faulty", faulty_dropout(bug), faulty_trainer(bug)
    return port
