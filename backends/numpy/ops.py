"""The NumPy port's contract operations: generators, arrays, and the hand-written dropout."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from dropout_ports.backends.numpy.masks import keep_chunks, keep_mask
from dropout_ports.common.checks import (
    check_input,
    check_precision,
    check_rate,
    check_rng,
    check_seed,
    check_training,
)
from dropout_ports.common.masks import mask_shape
from dropout_ports.common.timing import host_loop

NAME = "numpy"
VARIANTS = ("scratch",)
DTYPES = ("float16", "float32", "float64")
PRNG_IMPLS = ("pcg64",)
MATMUL_PRECISIONS = ("highest",)  # a BLAS computes float32 matmuls in float32: nothing to lower
builtin_dropout = None  # NumPy has no dropout of its own
KERAS_BACKEND = None  # Keras' NumPy backend cannot train


def versions() -> dict[str, str]:
    return {"numpy": np.__version__}


def devices() -> list[str]:
    return ["cpu"]


def matmul_precision(precision: str) -> contextlib.AbstractContextManager:
    """Nothing to set: NumPy has one float32 matmul precision, the highest."""
    check_precision(precision, MATMUL_PRECISIONS)
    return contextlib.nullcontext()


def resolve_device(device: str) -> str:
    if device != "cpu":
        raise ValueError(f"the NumPy backend has one device, 'cpu'; got device {device!r}")
    return device


def make_rng(seed: int, device: str = "cpu", *, impl: str | None = None) -> np.random.Generator:
    seed = check_seed(seed)
    resolve_device(device)
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"NumPy's generator here is {PRNG_IMPLS[0]}; got impl {impl!r}")
    return np.random.default_rng(seed)


RNG = "a numpy.random.Generator (make_rng)"  # what every draw here takes


def asarray(a: object, dtype: str | None = None, device: str | None = None) -> np.ndarray:
    resolve_device(device or "cpu")
    if dtype is not None and dtype not in DTYPES:
        raise TypeError(f"NumPy has no dtype {dtype!r} here; supported: {DTYPES}")
    return np.asarray(a, dtype=dtype)


def to_numpy(x: np.ndarray) -> np.ndarray:
    return np.asarray(x)


copy = np.copy
matmul = np.matmul


def jit(fn: Callable) -> Callable:
    """NumPy runs eagerly: nothing to compile."""
    return fn


device_loop = host_loop  # every op runs from the host


def ready(x: np.ndarray) -> np.ndarray:
    return x


def peak_device_memory(device: str) -> int | None:
    return None  # host memory only: the run's peak RSS covers it


def chapter_dropout(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """D2L's recipe in NumPy: a float uniform per element, compared, cast and multiplied."""
    check_rng(rng, np.random.Generator, RNG)
    mask = (rng.random(x.shape, dtype=np.float32) > p).astype(np.float32)
    return mask * x / np.float32(1.0 - p)


def dropout(
    x: np.ndarray,
    p: float,
    rng: np.random.Generator,
    *,
    training: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> np.ndarray:
    """Inverted dropout: keep with probability 1 - p and divide the kept by 1 - p; x itself when
    not training or at p = 0."""
    p = check_rate(p)
    check_rng(rng, np.random.Generator, RNG)
    check_input(x, np.ndarray, "a numpy.ndarray (asarray)", lambda a: np.issubdtype(a.dtype, np.floating))
    shape = mask_shape(x.shape, broadcast_dims)
    if not check_training(training) or p == 0.0:
        return x
    if p == 1.0:
        return np.zeros_like(x)
    keep_probability = x.dtype.type(1.0 - p)
    if shape != x.shape:  # a smaller mask, shared by broadcasting
        out = np.multiply(x, keep_mask(rng, shape, p), out=np.empty_like(x))
        return np.divide(out, keep_probability, out=out)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    for part, keep in keep_chunks(rng, flat.size, p):  # piece by piece, in cache
        np.divide(flat[part], keep_probability, out=out[part])
        np.multiply(out[part], keep, out=out[part])
    return out.reshape(x.shape)
