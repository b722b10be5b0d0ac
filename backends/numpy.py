"""NumPy port: the chapter's from-scratch dropout and MLP, with forward and backward by hand."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from common.config import Config, check_rate
from common.masks import keep_threshold, mask_shape, noise_std
from common.params import Params
from common.trainer import TrainerBase

NAME = "numpy"
VARIANTS = ("scratch",)
DTYPES = ("float16", "float32", "float64")
PRNG_IMPLS = ("pcg64",)
builtin_dropout = None  # NumPy has no dropout of its own
KERAS_BACKEND = None  # Keras' NumPy backend cannot train
PEERS: dict = {}


def versions() -> dict[str, str]:
    return {"numpy": np.__version__}


def devices() -> list[str]:
    return ["cpu"]


def resolve_device(device: str) -> str:
    if device != "cpu":
        raise ValueError(f"the NumPy backend has one device, 'cpu'; got device {device!r}")
    return device


def make_rng(seed: int, device: str = "cpu", *, impl: str | None = None) -> np.random.Generator:
    resolve_device(device)
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"NumPy's generator here is {PRNG_IMPLS[0]}; got impl {impl!r}")
    return np.random.default_rng(seed)


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


def ready(x: np.ndarray) -> np.ndarray:
    return x


def peak_device_memory(device: str) -> int | None:
    return None  # host memory only: the run's peak RSS covers it


def chapter_dropout(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """D2L's recipe in NumPy: a float uniform per element, compared, cast and multiplied."""
    mask = (rng.random(x.shape, dtype=np.float32) > p).astype(np.float32)
    return mask * x / np.float32(1.0 - p)


CHUNK = 1 << 18  # elements per piece: a piece's bytes, mask and output stay in cache


def _keep_chunks(rng: np.random.Generator, size: int, p: float) -> Iterator[tuple[slice, np.ndarray]]:
    """Bool keep-masks for consecutive pieces of a flat array, True with probability 1 - p to
    within 2^-32, from 8 random bits per element.

    An element's 32-bit draw is compared with the threshold byte by byte: the top byte alone
    decides unless it equals the threshold's (1 time in 256), and only those ties draw 24 more
    bits. That is distributed as a full 32-bit compare at about a quarter of the random bits.
    """
    threshold = keep_threshold(p)
    top, rest = threshold >> 24, threshold & 0xFFFFFF
    for start in range(0, size, CHUNK):
        stop = min(start + CHUNK, size)
        draws = rng.bit_generator.random_raw(-(-(stop - start) // 8)).view(np.uint8)[: stop - start]
        keep = draws < top
        if rest:
            ties = np.flatnonzero(draws == top)
            keep[ties] = (rng.bit_generator.random_raw(ties.size) >> 40) < rest
        yield slice(start, stop), keep


def keep_mask(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """A bool mask of shape, the same one ``dropout`` draws from the same rng state."""
    keep = np.empty(math.prod(shape), bool)
    for part, chunk in _keep_chunks(rng, keep.size, p):
        keep[part] = chunk
    return keep.reshape(shape)


def dropout(
    x: np.ndarray,
    p: float,
    rng: np.random.Generator,
    *,
    training: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> np.ndarray:
    """Inverted dropout: keep with probability 1 - p and divide the kept by 1 - p."""
    p = check_rate(p)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"dropout needs a floating-point array, got dtype {x.dtype}")
    shape = mask_shape(x.shape, broadcast_dims)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return np.zeros_like(x)
    keep_probability = x.dtype.type(1.0 - p)
    if shape != x.shape:  # a smaller mask, shared by broadcasting
        out = np.multiply(x, keep_mask(rng, shape, p), out=np.empty_like(x))
        return np.divide(out, keep_probability, out=out)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    for part, keep in _keep_chunks(rng, flat.size, p):  # piece by piece, in cache
        np.divide(flat[part], keep_probability, out=out[part])
        np.multiply(out[part], keep, out=out[part])
    return out.reshape(x.shape)


EVAL_STREAM = 1  # spawn key of the generator that evaluation's noise draws from
QUIET_OVERFLOW = np.errstate(over="ignore", invalid="ignore")  # a diverging run: fit reports it once


class Trainer(TrainerBase):
    """SGD on the chapter's MLP with hand-written backprop; parameters updated in place."""

    VARIANTS = VARIANTS
    TRAIN_DTYPES = ("float32", "float64")  # NumPy has no bfloat16

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant)
        self.device = resolve_device(device)
        self.dtype = np.dtype(cfg.dtype)
        self.params = {name: value.astype(self.dtype) for name, value in self.initial_params.items()}
        self.rng = make_rng(cfg.seed)
        self.eval_rng = np.random.default_rng([cfg.seed, EVAL_STREAM])  # MC dropout's own masks

    def put(self, array: np.ndarray) -> np.ndarray:
        """Floating arrays in the trainer's dtype; labels and indices as they are."""
        return array.astype(self.dtype, copy=False) if array.dtype.kind == "f" else array

    def get_params(self) -> Params:
        return {name: value.copy() for name, value in self.params.items()}

    def _forward(
        self,
        x: np.ndarray,
        masks: list[np.ndarray] | None,
        training: bool,
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Logits, each layer's input, the factor each hidden output was multiplied by (ReLU's mask
        times the noise's multiplier: backprop multiplies by the same), and dropconnect's scaled
        weight masks; masks are drawn (from rng, else the training generator) unless injected."""
        rng = rng or self.rng
        noise = self.cfg.noise if training else None
        inputs, factors, weight_masks = [x], [], []

        def weights(i: int) -> np.ndarray:
            """W{i}, under dropconnect (training, a layer reading a hidden one) with its kept weights."""
            w = self.params[f"W{i}"]
            if noise != "dropconnect" or i == 1:
                return w
            p = self.cfg.dropouts[i - 2]
            keep = masks[i - 2] if masks is not None else keep_mask(rng, w.shape, p)
            weight_masks.append(keep / w.dtype.type(1.0 - p))
            return w * weight_masks[-1]

        for i, p in enumerate(self.cfg.dropouts, start=1):
            z = inputs[-1] @ weights(i)
            z += self.params[f"b{i}"]
            injected = masks[i - 1] if masks is not None and noise != "dropconnect" else None
            factors.append(self._factor(z, p, noise, injected, rng))
            inputs.append(np.multiply(z, factors[-1], out=z))
        last = len(inputs)
        logits = inputs[-1] @ weights(last)
        logits += self.params[f"b{last}"]
        return logits, inputs, factors, weight_masks

    def _factor(
        self, z: np.ndarray, p: float, noise: str | None, mask: np.ndarray | None, rng: np.random.Generator
    ):
        """ReLU's mask, times inverted dropout's keep / (1 - p) or gaussian noise's multiplier."""
        active = z > 0
        if noise == "bernoulli" and p > 0:
            active &= mask if mask is not None else keep_mask(rng, z.shape, p)
            return active / z.dtype.type(1.0 - p)
        if noise == "gaussian" and p > 0:
            multiplier = (
                mask if mask is not None else 1 + noise_std(p) * rng.standard_normal(z.shape, z.dtype)
            )
            return active * multiplier.astype(z.dtype, copy=False)
        return active

    @QUIET_OVERFLOW
    def _step(self, x: np.ndarray, y: np.ndarray, masks: list[np.ndarray] | None) -> tuple[float, int]:
        logits, inputs, factors, weight_masks = self._forward(x, masks, training=True)
        loss, grad, correct = softmax_cross_entropy(logits, y)
        for i in range(len(inputs), 0, -1):
            weights = self.params[f"W{i}"]
            weight_mask = weight_masks[i - 2] if weight_masks and i > 1 else None
            if i > 1:
                grad_input = grad @ (weights if weight_mask is None else weights * weight_mask).T
            grad_weights = inputs[i - 1].T @ grad
            if weight_mask is not None:  # dropconnect: only the kept weights took part
                grad_weights *= weight_mask
            if self.cfg.weight_decay:  # d/dW of weight_decay / 2 * ||W||^2
                grad_weights += self.cfg.weight_decay * weights
            weights -= self.cfg.lr * grad_weights
            self.params[f"b{i}"] -= self.cfg.lr * grad.sum(axis=0)
            if i > 1:
                grad = np.multiply(grad_input, factors[i - 2], out=grad_input)
        return loss, correct

    @QUIET_OVERFLOW
    def _log_probs(self, x: np.ndarray, noisy: bool, sample: int) -> np.ndarray:
        logits = self._forward(x, None, training=noisy, rng=self.eval_rng)[0].astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def _hidden(self, x: np.ndarray, noisy: bool) -> list[np.ndarray]:
        return self._forward(x, None, training=noisy, rng=self.eval_rng)[1][1:]


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, int]:
    """Batch-mean loss, its gradient wrt logits, and the count of correct argmaxes (stable: max-shifted)."""
    rows = np.arange(len(y))
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
    grad = exp / total
    grad[rows, y] -= 1.0
    grad /= grad.dtype.type(len(y))
    correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
    return loss, grad, correct
