"""The part of every backend's Trainer that is not framework-specific: checks and the epoch loop."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from common.batches import check_batch, check_inputs
from common.calibration import log_mean_exp, summarize
from common.config import Config
from common.masks import check_masks
from common.params import Params, check_params


class TrainerBase(abc.ABC):
    """Host-side API over a backend's step: NumPy in, Python numbers out, checks done once here.

    A backend's ``__init__`` sets ``self.device`` (its module's ``resolve_device``); it implements
    ``put`` (host array -> its array on its device), ``_step`` (one SGD step,
    returning the batch-mean loss and the count of correct predictions as backend scalars, so the
    host need not wait), ``_log_probs`` and ``_hidden`` (forward passes without an update) and
    ``get_params``.
    """

    VARIANTS: tuple[str, ...] = ("scratch",)
    # Variants built on the hand-written noise: every noise kind, and masks can be injected.
    SCRATCH_VARIANTS: tuple[str, ...] = ("scratch",)
    TRAIN_DTYPES: tuple[str, ...] = ("float32",)  # the Config.dtype values the backend trains in

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch"):
        self.check_support(cfg, variant)
        self.cfg = cfg
        self.variant = variant
        self.initial_params = check_params(cfg, params)

    @classmethod
    def check_support(cls, cfg: Config, variant: str) -> None:
        """A ValueError saying why, if this backend's variant cannot train cfg."""
        if variant not in cls.VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; this backend has {cls.VARIANTS}")
        if variant not in cls.SCRATCH_VARIANTS and cfg.noise != "bernoulli":
            raise ValueError(
                f"the {variant!r} variant uses the framework's own Dropout layer, which has no {cfg.noise} "
                f"noise; the {' and '.join(map(repr, cls.SCRATCH_VARIANTS))} variants implement every noise"
            )
        if cfg.dtype not in cls.TRAIN_DTYPES:
            raise ValueError(f"this backend trains in {', '.join(cls.TRAIN_DTYPES)}; got dtype {cfg.dtype!r}")

    @abc.abstractmethod
    def put(self, array: np.ndarray) -> Any:
        """A host array as the backend's array on the trainer's device."""

    @abc.abstractmethod
    def _step(self, x: Any, y: Any, masks: list[np.ndarray] | None) -> tuple[Any, Any]:
        """One SGD step; returns (batch-mean loss, number correct) of the training forward pass."""

    @abc.abstractmethod
    def _log_probs(self, x: Any, noisy: bool, sample: int) -> np.ndarray:
        """float64 log-softmax of one forward pass (no update): deterministic, or with the noise
        on, drawn from a stream of its own (pass `sample` of it) so training masks are untouched."""

    @abc.abstractmethod
    def _hidden(self, x: Any, noisy: bool) -> list[np.ndarray]:
        """Each hidden layer's output as the next layer receives it (after the noise when on)."""

    @abc.abstractmethod
    def get_params(self) -> Params:
        """The current parameters in the common layout as NumPy arrays: float64 when training in
        float64, float32 otherwise (bfloat16 widened)."""

    def train_step(self, x: np.ndarray, y: np.ndarray, masks: Sequence[np.ndarray] | None = None) -> float:
        """One SGD step on a NumPy batch; masks (bool, one (B, hidden_i) per layer) replace drawing."""
        x, y = check_batch(self.cfg, x, y)
        if masks is not None:
            if self.variant not in self.SCRATCH_VARIANTS:
                raise ValueError(
                    f"masks can be injected only into the {'/'.join(self.SCRATCH_VARIANTS)} variants: "
                    f"{self.variant!r} "
                    "draws its masks inside the framework's own Dropout layer"
                )
            masks = check_masks(self.cfg, masks, len(x))
        loss, _ = self._step(self.put(x), self.put(y), masks)
        return float(loss)

    def evaluate(self, x: np.ndarray, y: np.ndarray, *, mc_samples: int = 0) -> dict[str, float]:
        """loss (NLL), accuracy and ece (15 bins). mc_samples=0: dropout off; T > 0: the noise
        stays on and the prediction is the mean of T softmax outputs (MC dropout)."""
        x, y = check_batch(self.cfg, x, y)
        return summarize(self._predict(x, mc_samples), y)

    def predict_log_probs(self, x: np.ndarray, *, mc_samples: int = 0) -> np.ndarray:
        """float64 log-probabilities of the classes, as ``evaluate`` predicts them."""
        return self._predict(check_inputs(self.cfg, x), mc_samples)

    def _predict(self, x: np.ndarray, mc_samples: int) -> np.ndarray:
        if isinstance(mc_samples, bool) or not isinstance(mc_samples, int) or mc_samples < 0:
            raise ValueError(f"mc_samples must be an int >= 0, got {mc_samples!r}")
        data = self.put(x)
        if mc_samples == 0:
            return self._log_probs(data, noisy=False, sample=0)
        return log_mean_exp(
            np.stack([self._log_probs(data, noisy=True, sample=t) for t in range(mc_samples)])
        )

    def activation_stats(self, x: np.ndarray, *, training: bool = False) -> list[dict[str, float]]:
        """mean and var of each hidden layer's output as the next layer receives it."""
        x = check_inputs(self.cfg, x)
        return [{"mean": float(h.mean()), "var": float(h.var())} for h in self._hidden(self.put(x), training)]

    def rows(self, array: Any, idx: Any) -> Any:
        """array[idx] along the first axis: a batch; a port whose framework gathers faster says so."""
        return array[idx]

    def train_epoch(self, x: Any, y: Any, batches: list[np.ndarray]) -> tuple[float, float]:
        """Train on x[idx], y[idx] for each index batch (x, y from ``put``); mean loss and accuracy.

        Sums stay backend scalars until the end, so the host syncs once per epoch.
        """
        loss_sum, correct = self._epoch_sums(x, y, batches)
        count = sum(len(idx) for idx in batches)
        return float(loss_sum) / count, float(correct) / count

    def _epoch_sums(self, x: Any, y: Any, batches: list[np.ndarray]) -> tuple[Any, Any]:
        """(sum of per-example losses, number correct) over the batches, step by step.

        The epoch's indices go to the data's device in one transfer: a transfer per step would
        make an asynchronous device wait for the host at every step.
        """
        loss_sum: Any = 0.0
        correct: Any = 0
        if not batches:
            return loss_sum, correct
        order = self.put(np.concatenate(batches))
        start = 0
        for size in map(len, batches):
            idx = order[start : start + size]
            start += size
            loss, hits = self._step(self.rows(x, idx), self.rows(y, idx), None)
            loss_sum = loss_sum + loss * size
            correct = correct + hits
        return loss_sum, correct
