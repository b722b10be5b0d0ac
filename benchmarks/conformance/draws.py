"""What the dropout checks draw: positive inputs, so that out != 0 marks exactly the kept elements,
through the dropout under check; a draw that several checks read is made once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dropout_ports.benchmarks.conformance.kit import SIGMAS, Target

N = 2**20  # draws per statistical check: 5 sigma of a keep rate is then about 0.002


def positive(shape: int | tuple[int, ...], seed: int = 1) -> np.ndarray:
    """float32 values in [1, 2): never zero, and exact at every dtype's scale."""
    return (1 + np.random.default_rng(seed).random(shape)).astype(np.float32)


def call(target: Target, x: np.ndarray, p: object, seed: int = 0, **kwargs: Any) -> Any:
    """The dropout under check on x (as the port's array) with a fresh make_rng(seed)."""
    port = target.port
    return target.op(port.asarray(x, device=target.device), p, port.make_rng(seed, target.device), **kwargs)


@dataclass(frozen=True)
class Draw:
    """What the checks read of one call on positive values: the keep mask, and how the kept values
    compare with x / (1 - p) (the largest relative error and the median ratio out / x)."""

    kept: np.ndarray
    scale_error: float
    ratio: float


def draw(target: Target, n: int, p: float, seed: int = 0) -> Draw:
    """The dropout under check on n positive values at rate p, drawn once per settings and port."""

    def make() -> Draw:
        x = positive(n)
        out = target.port.to_numpy(call(target, x, p, seed))
        kept = out != 0
        expected = x[kept] / np.float32(1 - p)
        error = float(np.max(np.abs(out[kept] - expected) / expected, initial=0.0))
        return Draw(kept, error, float(np.median(out[kept] / x[kept])) if kept.any() else 0.0)

    return target.settings.memo((target.port, target.subject, n, p, seed), make)


def kept(target: Target, n: int, p: float, seed: int = 0) -> np.ndarray:
    """The keep mask of ``draw``."""
    return draw(target, n, p, seed).kept


def keep_bound(p: float, n: int) -> float:
    """SIGMAS standard deviations of a fraction over n Bernoulli draws of probability p (or 1 - p)."""
    return SIGMAS * float(np.sqrt(p * (1 - p) / n))
