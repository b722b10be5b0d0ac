"""A minimal complete port of the chapter, to copy: every name of the Backend contract, written
in NumPy. Put your framework's calls where NumPy's are, rename NAME, and check it:

    PYTHONPATH=docs dropout-ports check template_port

(docs/porting.md says what each check wants; tests/test_check_cli.py keeps this file passing).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from dropout_ports.common.checks import (
    check_input,
    check_precision,
    check_rate,
    check_rng,
    check_seed,
    check_training,
)
from dropout_ports.common.config import Config
from dropout_ports.common.masks import mask_shape
from dropout_ports.common.params import Params
from dropout_ports.common.timing import host_loop
from dropout_ports.common.trainer import TrainerBase

NAME = "template"  # the name it is registered under: make it yours
VARIANTS = ("scratch",)  # the chapter's hand-written dropout; add "builtin" for a framework's own layer
DTYPES = ("float32", "float64")  # the dtypes asarray and dropout take
PRNG_IMPLS = ("pcg64",)  # the generators make_rng can build; the first is the default
MATMUL_PRECISIONS = ("highest",)  # float32 matmuls in full float32
KERAS_BACKEND = None  # Keras 3's backend on this framework, if it has one
PEERS: dict = {}  # other code training this MLP on this framework, for bench --peers
builtin_dropout = None  # the framework's own dropout behind dropout's signature, if it has one
RNG = "a numpy.random.Generator (make_rng)"


def versions() -> dict[str, str]:
    return {"numpy": np.__version__}


def devices() -> list[str]:
    return ["cpu"]


def resolve_device(device: str) -> str:
    if device != "cpu":
        raise ValueError(f"this port has one device, 'cpu'; got device {device!r}")
    return device


def make_rng(seed: int, device: str = "cpu", *, impl: str | None = None) -> np.random.Generator:
    seed = check_seed(seed)
    resolve_device(device)
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"this port's generator is {PRNG_IMPLS[0]}; got impl {impl!r}")
    return np.random.default_rng(seed)


def asarray(a: object, dtype: str | None = None, device: str | None = None) -> np.ndarray:
    resolve_device(device or "cpu")
    if dtype is not None and dtype not in DTYPES:
        raise TypeError(f"this port has no dtype {dtype!r}; supported: {DTYPES}")
    return np.asarray(a, dtype=dtype)


def to_numpy(x: np.ndarray) -> np.ndarray:
    return np.asarray(x)


def dropout(
    x: np.ndarray, p: float, rng: np.random.Generator, *, training: bool = True, broadcast_dims: tuple = ()
) -> np.ndarray:
    """Inverted dropout: check every argument, x itself when off, zeros at p = 1, else x / (1 - p)
    where a uniform draw is >= p."""
    p = check_rate(p)
    check_rng(rng, np.random.Generator, RNG)
    check_input(x, np.ndarray, "a numpy.ndarray (asarray)", lambda a: np.issubdtype(a.dtype, np.floating))
    shape = mask_shape(x.shape, broadcast_dims)
    if not check_training(training) or p == 0.0:
        return x
    if p == 1.0:
        return np.zeros_like(x)
    return x * (rng.random(shape) >= p) / x.dtype.type(1.0 - p)


def chapter_dropout(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """D2L's recipe as the chapter writes it, for the benchmarks."""
    check_rng(rng, np.random.Generator, RNG)
    return (rng.random(x.shape) > p).astype(np.float32) * x / np.float32(1.0 - p)


copy = np.copy
matmul = np.matmul


def matmul_precision(precision: str) -> contextlib.AbstractContextManager:
    check_precision(precision, MATMUL_PRECISIONS)
    return contextlib.nullcontext()


def jit(fn: Callable) -> Callable:
    return fn  # no compiler


device_loop = host_loop  # from the host; a framework with a loop of its own runs the steps in one call


def ready(x: np.ndarray) -> np.ndarray:
    return x  # computed when returned


def peak_device_memory(device: str) -> int | None:
    return None  # no accelerator


class Trainer(TrainerBase):
    """SGD on the chapter's MLP, forward and backward by hand; masks drawn from the run's seed, or
    injected (the lockstep check injects the reference's)."""

    VARIANTS = VARIANTS
    TRAIN_DTYPES = ("float32", "float64")  # float64 lets the kit check one computation at 1e-9

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant, device=device)  # checks cfg and params
        self.device = resolve_device(device)
        self.dtype = np.dtype(cfg.dtype)
        self.params = {name: value.astype(self.dtype) for name, value in self.initial_params.items()}
        self.rng = make_rng(cfg.seed)  # training's masks: a fresh draw every step and layer
        self.eval_rng = np.random.default_rng([cfg.seed, 1])  # MC dropout's, apart from training's

    @classmethod
    def check_support(cls, cfg: Config, variant: str, device: str = "cpu") -> None:
        super().check_support(cfg, variant, device)
        if cfg.noise != "bernoulli":
            raise ValueError(f"this port has bernoulli noise only; got noise {cfg.noise!r}")

    def put(self, array: np.ndarray) -> np.ndarray:
        return array.astype(self.dtype) if array.dtype.kind == "f" else array

    def get_params(self) -> Params:
        return {name: value.copy() for name, value in self.params.items()}

    def _forward(self, x: np.ndarray, masks: list | None, noisy: bool, rng: np.random.Generator) -> tuple:
        """Logits, each layer's input, and the factor each hidden output was multiplied by
        (ReLU's 0/1 times dropout's keep / (1 - p)): backpropagation multiplies by the same."""
        inputs, factors = [x], []
        for i, p in enumerate(self.cfg.dropouts, start=1):
            z = inputs[-1] @ self.params[f"W{i}"] + self.params[f"b{i}"]
            factor = (z > 0).astype(z.dtype)
            if noisy and p == 1.0:
                factor = np.zeros_like(z)
            elif noisy and p > 0:
                keep = masks[i - 1] if masks is not None else rng.random(z.shape) >= p
                factor = factor * keep / z.dtype.type(1.0 - p)
            factors.append(factor)
            inputs.append(z * factor)
        last = len(inputs)
        return inputs[-1] @ self.params[f"W{last}"] + self.params[f"b{last}"], inputs, factors

    def _step(self, x: np.ndarray, y: np.ndarray, masks: list | None) -> tuple[float, int]:
        logits, inputs, factors = self._forward(x, masks, True, self.rng)
        rows = np.arange(len(y))
        shifted = logits - logits.max(axis=1, keepdims=True)
        sums = np.exp(shifted).sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, y]))
        grad = np.exp(shifted) / sums
        grad[rows, y] -= 1.0
        grad /= len(y)
        for i in range(len(inputs), 0, -1):
            weights = self.params[f"W{i}"]
            grad_input = grad @ weights.T
            update = inputs[i - 1].T @ grad + self.cfg.weight_decay * weights  # L2 on the weights only
            self.params[f"b{i}"] -= self.cfg.lr * grad.sum(axis=0)
            self.params[f"W{i}"] -= self.cfg.lr * update
            if i > 1:
                grad = grad_input * factors[i - 2]
        return loss, int(np.count_nonzero(logits.argmax(axis=1) == y))

    def _log_probs(self, x: np.ndarray, noisy: bool, sample: int) -> np.ndarray:
        logits = self._forward(x, None, noisy, self.eval_rng)[0].astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def _hidden(self, x: np.ndarray, noisy: bool) -> list[np.ndarray]:
        return self._forward(x, None, noisy, self.eval_rng)[1][1:]
