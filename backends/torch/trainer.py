"""The PyTorch port's Trainer: torch.optim.SGD over the models, in the common layout; its loops
are eager steps driven by the host ("step") and, on CUDA, replays of a CUDA graph of the step
("device", graphs.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dropout_ports.backends.torch.graphs import StepGraph
from dropout_ports.backends.torch.models import (
    ScratchNet,
    ScratchNoise,
    builtin_net,
    compiled_forward,
    load_params,
)
from dropout_ports.backends.torch.ops import (
    MATMUL_PRECISIONS,
    VARIANTS,
    default_generator,
    make_rng,
    matmul_precision,
    resolve_device,
    seeded_generator,
    to_numpy,
)
from dropout_ports.common.batches import full_and_short
from dropout_ports.common.config import Config
from dropout_ports.common.params import Params
from dropout_ports.common.streams import EVAL_STREAM, stream_seed
from dropout_ports.common.trainer import TrainerBase


class Trainer(TrainerBase):
    """torch.optim.SGD on the batch-mean cross-entropy, parameters imported from the common layout."""

    VARIANTS = VARIANTS
    SCRATCH_VARIANTS = ("scratch", "compiled")
    TRAIN_DTYPES = ("float32", "float64", "bfloat16")
    LOOPS = ("step", "device")
    MATMUL_PRECISIONS = MATMUL_PRECISIONS
    # DataParallelTrainer (parallel.py); nn.Dropout draws from torch's generator, not by example
    REPLICA_SEEDINGS: ClassVar = {"scratch": ("example", "rank", "same"), "builtin": ("rank", "same")}

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant, device=device)
        self.device = resolve_device(device)
        self.dtype = getattr(torch, cfg.dtype)
        if variant == "builtin":
            torch.manual_seed(cfg.seed)  # nn.Dropout has no generator argument: seed the global ones
            self.model: nn.Module = builtin_net(cfg)
            self.generators = [default_generator(self.device)]  # what the device loop must know
        else:
            generator = make_rng(cfg.seed, self.device)
            self.model = ScratchNet(cfg, generator)
            self.generators = [generator]
        self.eval_generator = seeded_generator(
            stream_seed(cfg.seed, EVAL_STREAM), torch.device("cpu")
        )  # MC dropout
        self.model.to(self.device, self.dtype)
        self.linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        load_params(self.linears, self.initial_params)
        weights = [linear.weight for linear in self.linears]
        biases = [linear.bias for linear in self.linears]
        # builtin: SGD's own weight_decay, on the weights' group only; scratch, compiled: the penalty
        decay = cfg.weight_decay if variant == "builtin" else 0.0
        groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
        self.optimizer = torch.optim.SGD(groups, lr=cfg.lr)
        self.step_graph: StepGraph | None = None  # the device loop's, captured at its first epoch

    @classmethod
    def check_support(cls, cfg: Config, variant: str, device: str = "cpu") -> None:
        super().check_support(cfg, variant, device)
        if cls.resolve_loop(cfg) == "device" and resolve_device(device).type != "cuda":
            raise ValueError(
                "torch's device loop replays a CUDA graph of the step, so it needs a CUDA device "
                "(--device gpu); on the CPU use --loop step"
            )

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    def _scoped(self) -> contextlib.AbstractContextManager:
        """torch's float32 matmul precision is process-wide: this trainer's, for its calls only."""
        return matmul_precision(self.cfg.matmul_precision)

    def put(self, array: np.ndarray) -> torch.Tensor:
        """Floating arrays in the trainer's dtype on its device; labels, indices and masks as they are.
        To CUDA from pinned memory, asynchronously: the host need not wait for the device."""
        tensor = torch.from_numpy(array)
        if self.on_cuda:
            dtype = self.dtype if tensor.is_floating_point() else tensor.dtype
            return tensor.pin_memory().to(self.device, dtype, non_blocking=True)
        return tensor.to(self.device, self.dtype) if tensor.is_floating_point() else tensor.to(self.device)

    def rows(self, array: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """index_select: 4x faster than indexing (x[idx]) for a batch of 784-pixel rows on the CPU."""
        return array.index_select(0, idx)

    def get_params(self) -> Params:
        params = {}
        for i, linear in enumerate(self.linears, start=1):
            params[f"W{i}"] = to_numpy(linear.weight.T).copy()
            params[f"b{i}"] = to_numpy(linear.bias).copy()
        return params

    def _step(
        self, x: torch.Tensor, y: torch.Tensor, masks: list[np.ndarray] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.train()
        injected = None if masks is None else [self.put(m) for m in masks]
        if self.variant == "compiled":
            drawn = injected or self.model.draw_masks(len(x), self.device, self.dtype)
            logits = compiled_forward(self.model, x, drawn)
        else:
            logits = self.model(x) if injected is None else self.model(x, injected)
        loss = F.cross_entropy(logits, y)
        penalty = self._penalty()
        objective = loss if penalty is None else loss + penalty
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()
        return loss.detach(), (logits.detach().argmax(dim=1) == y).sum()

    def _epoch_sums(self, x: torch.Tensor, y: torch.Tensor, batches: list[np.ndarray]) -> tuple[Any, Any]:
        """The loop: "step", every batch an eager step from the host (the base class's loop);
        "device", the full batches by replays of a CUDA graph of the step, then the short one eagerly."""
        if self.cfg.loop == "step":
            return super()._epoch_sums(x, y, batches)
        full, short = full_and_short(batches, self.cfg.batch_size)
        loss_sum: Any = 0.0
        correct: Any = 0
        if full:
            shape = (len(full), self.cfg.batch_size)
            if self.step_graph is None or not self.step_graph.fits(x, y, *shape):
                self.step_graph = StepGraph(
                    lambda xb, yb: self._step(xb, yb, None), x, y, *shape,
                    parameters=list(self.model.parameters()), optimizer=self.optimizer,
                    generators=self.generators,
                )  # fmt: skip
            loss_sum, correct = self.step_graph.run(self.put(np.stack(full)))
        short_loss, short_correct = super()._epoch_sums(x, y, short)
        return loss_sum + short_loss, correct + short_correct

    def _penalty(self) -> torch.Tensor | None:
        """The scratch variants' L2 term, weight_decay / 2 * sum ||W||^2 (builtin: SGD's weight_decay)."""
        if self.variant == "builtin" or not self.cfg.weight_decay:
            return None
        return self.cfg.weight_decay / 2 * sum((linear.weight**2).sum() for linear in self.linears)

    @torch.no_grad()
    def _evaluation_pass(self, x: torch.Tensor, noisy: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and each dropout layer's output, from a pass with the noise on or off."""
        hidden: list[torch.Tensor] = []
        layers = [m for m in self.model.modules() if isinstance(m, (nn.Dropout, ScratchNoise))]
        hooks = [m.register_forward_hook(lambda _m, _i, out: hidden.append(out)) for m in layers]
        self.model.train(noisy)
        try:
            with self._evaluation_noise(layers) if noisy else contextlib.nullcontext():
                logits = self.model(x)
        finally:
            for hook in hooks:
                hook.remove()
        return logits, hidden

    @contextlib.contextmanager
    def _evaluation_noise(self, layers: list[nn.Module]) -> Iterator[None]:
        """Masks from evaluation's own stream; the training generators are left as they were."""
        seed = int(torch.randint(0, 2**62, (), generator=self.eval_generator))
        scratch = [m for m in layers if isinstance(m, ScratchNoise)]
        generators = [m.generator for m in scratch]
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)  # nn.Dropout's global generator (and every GPU's: fork_rng restores one)
            for m in scratch:
                m.generator = seeded_generator(seed, self.device)
            try:
                yield
            finally:
                for m, generator in zip(scratch, generators, strict=True):
                    m.generator = generator

    def _log_probs(self, x: torch.Tensor, noisy: bool, sample: int) -> np.ndarray:
        return F.log_softmax(self._evaluation_pass(x, noisy)[0].double(), dim=1).cpu().numpy()

    def _hidden(self, x: torch.Tensor, noisy: bool) -> list[np.ndarray]:
        return [h.double().cpu().numpy() for h in self._evaluation_pass(x, noisy)[1]]
