"""The chapter's hyper-parameters, validated once so that no backend has to."""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from dataclasses import dataclass

PRNG_IMPLS = ("threefry2x32", "rbg")
DTYPE_NAMES = ("float32", "float64", "bfloat16")
# bernoulli: the chapter's inverted dropout; gaussian: activations times N(1, p/(1-p)) (Srivastava
# et al. 2014, sec. 10); dropconnect: inverted Bernoulli masks on the weights that read each hidden layer
NOISES = (
    "bernoulli",
    "gaussian",
    "dropconnect",
)  # what a Trainer may compute in; each port says which it can


def check_rate(p: object) -> float:
    """Return a dropout rate as a float in [0, 1]; anything else is a clear error, never an assert."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout rate must be a real number, got {type(p).__name__}")
    rate = float(p)
    if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout rate must be in [0, 1], got {p!r}")
    return rate


@dataclass(frozen=True)
class Config:
    """The D2L dropout chapter's settings; every port trains from the same values."""

    num_inputs: int = 784
    num_hiddens: tuple[int, ...] = (256, 256)
    num_outputs: int = 10
    dropouts: tuple[float, ...] = (0.2, 0.5)
    lr: float = 0.5
    batch_size: int = 256
    epochs: int = 10
    seed: int = 0
    init_std: float = 0.01
    weight_decay: float = 0.0  # L2 on the weights (not the biases): loss + weight_decay / 2 * sum ||W||^2
    prng_impl: str = "threefry2x32"  # JAX only: NumPy and PyTorch have one generator each
    dtype: str = "float32"  # parameters, activations and gradients (float64 turns on JAX's x64 mode)
    noise: str = "bernoulli"  # what the rates in `dropouts` are rates of (NOISES)
    mc_samples: int = 0  # T > 0: the final epoch is also evaluated by MC dropout over T passes

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_hiddens", tuple(self.num_hiddens))
        object.__setattr__(self, "dropouts", tuple(check_rate(p) for p in self.dropouts))
        for name in ("num_inputs", "num_outputs", "batch_size", "epochs"):
            _check_positive_int(name, getattr(self, name))
        for size in self.num_hiddens:
            _check_positive_int("num_hiddens", size)
        if len(self.dropouts) != len(self.num_hiddens):
            raise ValueError(
                f"need one dropout rate per hidden layer: {len(self.num_hiddens)} hidden "
                f"layers but {len(self.dropouts)} rates"
            )
        for name in ("lr", "init_std", "weight_decay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if isinstance(self.mc_samples, bool) or not isinstance(self.mc_samples, int) or self.mc_samples < 0:
            raise ValueError(f"mc_samples must be an int >= 0, got {self.mc_samples!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an int in [0, 2^32), got {self.seed!r}")
        if self.noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {self.noise!r}")
        if self.noise == "gaussian" and 1.0 in self.dropouts:
            raise ValueError("gaussian noise needs rates below 1: its variance p/(1-p) is infinite at 1")
        if self.dtype not in DTYPE_NAMES:
            raise ValueError(f"dtype must be one of {DTYPE_NAMES}, got {self.dtype!r}")
        if self.prng_impl not in PRNG_IMPLS:
            raise ValueError(f"prng_impl must be one of {PRNG_IMPLS}, got {self.prng_impl!r}")

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Widths from input to output, e.g. (784, 256, 256, 10)."""
        return (self.num_inputs, *self.num_hiddens, self.num_outputs)

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of each Linear layer, input first."""
        return list(itertools.pairwise(self.layer_sizes))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        return cls(**values)

    def replace(self, **changes: object) -> Config:
        return dataclasses.replace(self, **changes)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
