"""The NumPy port's model: the chapter's MLP with its forward and backward passes by hand."""

from __future__ import annotations

import numpy as np

from dropout_ports.backends.numpy.masks import keep_mask
from dropout_ports.common.config import Config
from dropout_ports.common.masks import noise_std
from dropout_ports.common.params import Params

QUIET_OVERFLOW = np.errstate(over="ignore", invalid="ignore")  # a diverging run: fit reports it once


class ScratchNet:
    """Linear-ReLU-noise per hidden layer, then Linear, over parameters updated in place by SGD."""

    def __init__(self, cfg: Config, params: Params):
        self.cfg = cfg
        self.params = params

    def forward(
        self, x: np.ndarray, masks: list[np.ndarray] | None, training: bool, rng: np.random.Generator
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Logits, each layer's input, the factor each hidden output was multiplied by (ReLU's mask
        times the noise's multiplier: backprop multiplies by the same), and dropconnect's scaled
        weight masks; masks are drawn from rng unless injected."""
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
            factors.append(_factor(z, p, noise, injected, rng))
            inputs.append(np.multiply(z, factors[-1], out=z))
        last = len(inputs)
        logits = inputs[-1] @ weights(last)
        logits += self.params[f"b{last}"]
        return logits, inputs, factors, weight_masks

    @QUIET_OVERFLOW
    def sgd_step(
        self, x: np.ndarray, y: np.ndarray, masks: list[np.ndarray] | None, rng: np.random.Generator
    ) -> tuple[float, int]:
        """One SGD step on the batch-mean loss, backpropagated layer by layer; (loss, number correct)."""
        loss, correct, grads = self.gradients(x, y, masks, rng)
        self.sgd_update(self.with_weight_decay(grads))
        return loss, correct

    @QUIET_OVERFLOW
    def gradients(
        self,
        x: np.ndarray,
        y: np.ndarray,
        masks: list[np.ndarray] | None,
        rng: np.random.Generator,
        total: int | None = None,
    ) -> tuple[float, int, Params]:
        """The loss summed over the batch and divided by total (default the batch size: its mean),
        the number correct, and that loss's gradients, backpropagated layer by layer."""
        logits, inputs, factors, weight_masks = self.forward(x, masks, True, rng)
        loss, grad, correct = softmax_cross_entropy(logits, y, total)
        grads: Params = {}
        for i in range(len(inputs), 0, -1):
            weights = self.params[f"W{i}"]
            weight_mask = weight_masks[i - 2] if weight_masks and i > 1 else None
            if i > 1:
                grad_input = grad @ (weights if weight_mask is None else weights * weight_mask).T
            grads[f"W{i}"] = inputs[i - 1].T @ grad
            if weight_mask is not None:  # dropconnect: only the kept weights took part
                grads[f"W{i}"] *= weight_mask
            grads[f"b{i}"] = grad.sum(axis=0)
            if i > 1:
                grad = np.multiply(grad_input, factors[i - 2], out=grad_input)
        return loss, correct, grads

    def with_weight_decay(self, grads: Params) -> Params:
        """grads plus d/dW of weight_decay / 2 * ||W||^2, in place (the biases are not decayed)."""
        if self.cfg.weight_decay:
            for i in range(1, len(self.cfg.dropouts) + 2):
                grads[f"W{i}"] += self.cfg.weight_decay * self.params[f"W{i}"]
        return grads

    def sgd_update(self, grads: Params) -> None:
        for name, grad in grads.items():
            self.params[name] -= self.cfg.lr * grad


def _factor(z: np.ndarray, p: float, noise: str | None, mask: np.ndarray | None, rng: np.random.Generator):
    """ReLU's mask, times inverted dropout's keep / (1 - p) or gaussian noise's multiplier."""
    active = z > 0
    if noise == "bernoulli" and p == 1.0:
        return np.zeros_like(z)  # nothing kept, and no draw: active / (1 - p) would be 0 / 0
    if noise == "bernoulli" and p > 0:
        active &= mask if mask is not None else keep_mask(rng, z.shape, p)
        return active / z.dtype.type(1.0 - p)
    if noise == "gaussian" and p > 0:
        multiplier = mask if mask is not None else 1 + noise_std(p) * rng.standard_normal(z.shape, z.dtype)
        return active * multiplier.astype(z.dtype, copy=False)
    return active


def softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, total: int | None = None
) -> tuple[float, np.ndarray, int]:
    """Summed loss over total (default the batch size: the batch mean), its gradient wrt logits,
    and the count of correct argmaxes (stable: max-shifted)."""
    total = len(y) if total is None else total
    rows = np.arange(len(y))
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    loss = float(np.sum(np.log(sums[:, 0]) - shifted[rows, y]) / total)  # np.mean's own operations
    grad = exp / sums
    grad[rows, y] -= 1.0
    grad /= grad.dtype.type(total)
    correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
    return loss, grad, correct
