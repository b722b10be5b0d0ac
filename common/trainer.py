"""The part of every backend's Trainer that is not framework-specific: checks and the epoch loop."""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from dropout_ports.common.batches import check_batch, check_inputs
from dropout_ports.common.calibration import log_mean_exp, summarize
from dropout_ports.common.checks import check_precision
from dropout_ports.common.config import PORT_LOOP, Config
from dropout_ports.common.masks import check_masks
from dropout_ports.common.params import Params, check_params
from dropout_ports.common.replicas import check_data_parallel


class TrainerBase(abc.ABC):
    """Host-side API over a backend's step: NumPy in, Python numbers out, checks done once here.

    A backend's ``__init__`` sets ``self.device`` (its module's ``resolve_device``); it implements
    ``put`` (host array -> its array on its device), ``_step`` (one SGD step,
    returning the batch-mean loss and the count of correct predictions as backend scalars, so the
    host need not wait), ``_log_probs`` and ``_hidden`` (forward passes without an update) and
    ``get_params``. ``self.cfg`` is the configuration with its loop resolved ("default" becomes
    the port's own), so results record the loop that ran; a port with several loops chooses
    between them in ``_epoch_sums``.
    """

    VARIANTS: tuple[str, ...] = ("scratch",)
    # Variants built on the hand-written noise: every noise kind, and masks can be injected.
    SCRATCH_VARIANTS: tuple[str, ...] = ("scratch",)
    TRAIN_DTYPES: tuple[str, ...] = ("float32",)  # the Config.dtype values the backend trains in
    LOOPS: tuple[str, ...] = ("step",)  # the Config.loop styles it has; the first is its default
    MATMUL_PRECISIONS: tuple[str, ...] = ("highest",)  # the Config.matmul_precision values it can set
    # Per variant, the Config.replica_seeding values its data-parallel trainer (the port's
    # DataParallelTrainer) draws; a variant not named has no data-parallel path.
    REPLICA_SEEDINGS: ClassVar[dict[str, tuple[str, ...]]] = {}
    DATA_PARALLEL = False  # True in a port's DataParallelTrainer, the one that trains replicas
    mask_agreement: float | None = None  # a data-parallel trainer's, over its steps so far

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        self.check_support(cfg, variant, device)
        if cfg.data_parallel and not self.DATA_PARALLEL:
            raise ValueError(
                "replicas and replica_seeding need the port's DataParallelTrainer (common.fit.make_trainer)"
            )
        self.cfg = cfg.replace(loop=self.resolve_loop(cfg))
        self.variant = variant
        self.initial_params = check_params(cfg, params)
        self.host_seconds = 0.0  # the last train_epoch's time until its last step was issued

    @classmethod
    def resolve_loop(cls, cfg: Config) -> str:
        """The loop style cfg asks for, the port's own (LOOPS[0]) for "default"."""
        return cls.LOOPS[0] if cfg.loop == PORT_LOOP else cfg.loop

    @classmethod
    def check_support(cls, cfg: Config, variant: str, device: str = "cpu") -> None:
        """A ValueError saying why, if this backend's variant cannot train cfg on device."""
        if variant not in cls.VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; this backend has {cls.VARIANTS}")
        check_precision(cfg.matmul_precision, cls.MATMUL_PRECISIONS)
        if cls.resolve_loop(cfg) not in cls.LOOPS:
            raise ValueError(f"this backend has the loops {cls.LOOPS}; got loop {cfg.loop!r}")
        if variant not in cls.SCRATCH_VARIANTS and cfg.noise != "bernoulli":
            raise ValueError(
                f"the {variant!r} variant uses the framework's own Dropout layer, which has no {cfg.noise} "
                f"noise; the {' and '.join(map(repr, cls.SCRATCH_VARIANTS))} variants implement every noise"
            )
        if cfg.dtype not in cls.TRAIN_DTYPES:
            raise ValueError(f"this backend trains in {', '.join(cls.TRAIN_DTYPES)}; got dtype {cfg.dtype!r}")
        if cfg.data_parallel:
            check_data_parallel(cfg, variant, cls.REPLICA_SEEDINGS.get(variant, ()))

    def _scoped(self) -> contextlib.AbstractContextManager:
        """The process-wide settings this trainer computes under, set around each of its calls and
        restored after (torch's float32 matmul precision); none by default."""
        return contextlib.nullcontext()

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
        with self._scoped():
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
        with self._scoped():
            if mc_samples == 0:
                return self._log_probs(data, noisy=False, sample=0)
            passes = [self._log_probs(data, noisy=True, sample=t) for t in range(mc_samples)]
        return log_mean_exp(np.stack(passes))

    def activation_stats(self, x: np.ndarray, *, training: bool = False) -> list[dict[str, float]]:
        """mean and var of each hidden layer's output as the next layer receives it."""
        x = check_inputs(self.cfg, x)
        with self._scoped():
            hidden = self._hidden(self.put(x), training)
        return [{"mean": float(h.mean()), "var": float(h.var())} for h in hidden]

    def epoch_figures(self) -> dict[str, float]:
        """What the trainer measured over the epochs since the last call beside loss and accuracy
        (a data-parallel trainer: its mask agreement); fit adds it to the epoch's history row."""
        return {}

    def rows(self, array: Any, idx: Any) -> Any:
        """array[idx] along the first axis: a batch; a port whose framework gathers faster says so."""
        return array[idx]

    def train_epoch(self, x: Any, y: Any, batches: list[np.ndarray]) -> tuple[float, float]:
        """Train on x[idx], y[idx] for each index batch (x, y from ``put``); mean loss and accuracy.

        Sums stay backend scalars until the end, so the host syncs once per epoch; the time until
        then, the host's share of the epoch, is kept in ``host_seconds``.
        """
        with self._scoped():
            start = time.perf_counter()
            loss_sum, correct = self._epoch_sums(x, y, batches)
            self.host_seconds = time.perf_counter() - start
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
