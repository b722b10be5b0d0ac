"""The checks every port's public functions share, so bad input is the same error in each.

- a dropout rate is a real number in [0, 1] (``check_rate``);
- a seed is an int in [0, 2^32) (``check_seed``): the range of NumPy's and JAX's 32-bit seeds;
- an rng is the port's own generator or key (``check_rng``);
- broadcast dims are distinct axes of the input (``common.masks.mask_shape``);
- a matmul precision is one the port can set (``check_precision``);
- dropout's input is the port's own floating-point array (``check_input``): another framework's
  array is refused, never converted behind the caller's back;
- ``training`` is a bool (``check_training``): "no" is not False.
A value of the wrong kind is a TypeError and a value out of range a ValueError; a bool is never a
number.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

SEED_LIMIT = 2**32  # seeds are in [0, SEED_LIMIT) in every port


def check_rate(p: object) -> float:
    """Return a dropout rate as a float in [0, 1]; anything else is a clear error, never an assert."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout rate must be a real number, got {type(p).__name__}")
    rate = float(p)
    if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout rate must be in [0, 1], got {p!r}")
    return rate


def check_seed(seed: object, name: str = "seed") -> int:
    """Return seed as an int in [0, 2^32)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(seed).__name__}")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{name} must be in [0, 2^32), got {seed}")
    return int(seed)


def check_rng(rng: object, kind: type | tuple[type, ...], expected: str) -> None:
    """A TypeError naming the expected generator or key unless rng is one (None included: a port
    never falls back to a global generator)."""
    if not isinstance(rng, kind):
        raise TypeError(f"rng must be {expected}, got {type(rng).__name__}")


def check_input(
    x: object, kind: type | tuple[type, ...], expected: str, floating: Callable[[Any], bool]
) -> None:
    """A TypeError unless x is the port's own array (kind, made by its asarray) of a floating-point
    dtype; the error names the type or the dtype that is wrong."""
    if not isinstance(x, kind):
        raise TypeError(f"dropout takes {expected}, got {type(x).__module__}.{type(x).__name__}")
    if not floating(x):
        raise TypeError(f"dropout needs a floating-point array, got dtype {x.dtype}")


def check_training(training: object) -> bool:
    """training as a bool (NumPy's included); anything else is a TypeError, since any non-empty
    string, "no" included, would otherwise switch dropout on."""
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be a bool, got {training!r}")
    return bool(training)


def check_number(name: str, value: object, *, integer: bool = False) -> None:
    """A TypeError unless value is a number (an int where integer), never a bool."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}")


def check_precision(precision: object, supported: tuple[str, ...]) -> str:
    """precision if the port can compute float32 matmuls at it; else a ValueError naming those it can."""
    if precision not in supported:
        raise ValueError(
            f"this port computes float32 matmuls at {', '.join(supported)} only; "
            f"got matmul_precision {precision!r}"
        )
    return str(precision)
