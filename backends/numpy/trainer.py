"""The NumPy port's Trainer: the scratch MLP stepped in place, masks from NumPy's generators."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dropout_ports.backends.numpy.models import QUIET_OVERFLOW, ScratchNet
from dropout_ports.backends.numpy.ops import MATMUL_PRECISIONS, VARIANTS, make_rng, resolve_device
from dropout_ports.common.config import Config
from dropout_ports.common.params import Params
from dropout_ports.common.streams import EVAL_STREAM
from dropout_ports.common.trainer import TrainerBase


class Trainer(TrainerBase):
    """SGD on the chapter's MLP with hand-written backprop; parameters updated in place."""

    VARIANTS = VARIANTS
    TRAIN_DTYPES = ("float32", "float64")  # NumPy has no bfloat16
    MATMUL_PRECISIONS = MATMUL_PRECISIONS
    REPLICA_SEEDINGS: ClassVar = {"scratch": ("example", "rank", "same")}  # DataParallelTrainer, parallel.py

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant, device=device)
        self.device = resolve_device(device)
        self.dtype = np.dtype(cfg.dtype)
        self.net = ScratchNet(
            cfg, {name: value.astype(self.dtype) for name, value in self.initial_params.items()}
        )
        self.rng = make_rng(cfg.seed)
        self.eval_rng = np.random.default_rng([cfg.seed, EVAL_STREAM])  # MC dropout's own masks

    def put(self, array: np.ndarray) -> np.ndarray:
        """Floating arrays in the trainer's dtype; labels and indices as they are."""
        return array.astype(self.dtype, copy=False) if array.dtype.kind == "f" else array

    def get_params(self) -> Params:
        return {name: value.copy() for name, value in self.net.params.items()}

    def _step(self, x: np.ndarray, y: np.ndarray, masks: list[np.ndarray] | None) -> tuple[float, int]:
        return self.net.sgd_step(x, y, masks, self.rng)

    def _evaluation_pass(self, x: np.ndarray, noisy: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits and hidden outputs without an update; evaluation's noise has a generator of its own."""
        logits, inputs, _, _ = self.net.forward(x, None, noisy, self.eval_rng)
        return logits, inputs[1:]

    @QUIET_OVERFLOW
    def _log_probs(self, x: np.ndarray, noisy: bool, sample: int) -> np.ndarray:
        logits = self._evaluation_pass(x, noisy)[0].astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def _hidden(self, x: np.ndarray, noisy: bool) -> list[np.ndarray]:
        return self._evaluation_pass(x, noisy)[1]
