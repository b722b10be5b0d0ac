"""The PyTorch port's training: the chapter's Net and its concise nn.Sequential, and the Trainer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.ops import VARIANTS, apply_keep, dropout, make_rng, resolve_device, to_numpy
from common.config import Config
from common.params import Params
from common.trainer import TrainerBase


class ScratchDropout(nn.Module):
    """The chapter's ``dropout_layer`` as a module: on in ``train()``, off in ``eval()``."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        if keep is not None and self.training:
            return apply_keep(x, keep, self.p)
        return dropout(x, self.p, self.generator, training=self.training)


class ScratchNet(nn.Module):
    """The chapter's ``Net``: Linear-ReLU-dropout twice, then Linear; dropout follows self.training."""

    def __init__(self, cfg: Config, generator: torch.Generator):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(fan_in, fan_out) for fan_in, fan_out in cfg.layer_shapes)
        self.dropouts = nn.ModuleList(ScratchDropout(p, generator) for p in cfg.dropouts)

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None) -> torch.Tensor:
        for i, layer in enumerate(self.dropouts):
            x = layer(F.relu(self.linears[i](x)), None if masks is None else masks[i])
        return self.linears[-1](x)


def builtin_net(cfg: Config) -> nn.Sequential:
    """The chapter's concise version, with nn.Dropout drawing from torch's global generator."""
    *hidden, (fan_in, fan_out) = cfg.layer_shapes
    layers: list[nn.Module] = []
    for (hidden_in, hidden_out), p in zip(hidden, cfg.dropouts, strict=True):
        layers += [nn.Linear(hidden_in, hidden_out), nn.ReLU(), nn.Dropout(p)]
    layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


EVAL_STREAM = 0x5EED  # offset of the seed evaluation's noise draws from


class Trainer(TrainerBase):
    """torch.optim.SGD on the batch-mean cross-entropy, parameters imported from the common layout."""

    VARIANTS = VARIANTS
    TRAIN_DTYPES = ("float32", "float64", "bfloat16")

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant)
        self.device = resolve_device(device)
        self.dtype = getattr(torch, cfg.dtype)
        if variant == "builtin":
            torch.manual_seed(cfg.seed)  # nn.Dropout has no generator argument: seed the global ones
            self.model: nn.Module = builtin_net(cfg)
        else:
            self.model = ScratchNet(cfg, make_rng(cfg.seed, self.device))
        self.eval_generator = make_rng(cfg.seed + EVAL_STREAM, "cpu")  # MC dropout's own stream
        self.model.to(self.device, self.dtype)
        self.linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for i, linear in enumerate(self.linears, start=1):
                linear.weight.copy_(torch.from_numpy(self.initial_params[f"W{i}"]).T)  # (out, in)
                linear.bias.copy_(torch.from_numpy(self.initial_params[f"b{i}"]))
        weights = [linear.weight for linear in self.linears]
        biases = [linear.bias for linear in self.linears]
        # builtin: SGD's own weight_decay, on the weights' group only; scratch: the chapter's penalty
        decay = cfg.weight_decay if variant == "builtin" else 0.0
        groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
        self.optimizer = torch.optim.SGD(groups, lr=cfg.lr)

    def put(self, array: np.ndarray) -> torch.Tensor:
        """Floating arrays in the trainer's dtype on its device; labels, indices and masks as they are."""
        tensor = torch.from_numpy(array)
        return tensor.to(self.device, self.dtype) if tensor.is_floating_point() else tensor.to(self.device)

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
        if masks is None:
            logits = self.model(x)
        else:
            logits = self.model(x, [self.put(m) for m in masks])
        loss = F.cross_entropy(logits, y)
        objective = loss
        if self.variant == "scratch" and self.cfg.weight_decay:
            objective = loss + self.cfg.weight_decay / 2 * sum(
                (linear.weight**2).sum() for linear in self.linears
            )
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()
        return loss.detach(), (logits.detach().argmax(dim=1) == y).sum()

    @torch.no_grad()
    def _outputs(self, x: torch.Tensor, noisy: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and each dropout layer's output, from a pass with the noise on or off."""
        hidden: list[torch.Tensor] = []
        layers = [m for m in self.model.modules() if isinstance(m, (nn.Dropout, ScratchDropout))]
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
        scratch = [m for m in layers if isinstance(m, ScratchDropout)]
        generators = [m.generator for m in scratch]
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)  # nn.Dropout's global generator
            for m in scratch:
                m.generator = make_rng(seed, self.device)
            try:
                yield
            finally:
                for m, generator in zip(scratch, generators, strict=True):
                    m.generator = generator

    def _log_probs(self, x: torch.Tensor, noisy: bool, sample: int) -> np.ndarray:
        return F.log_softmax(self._outputs(x, noisy)[0].double(), dim=1).cpu().numpy()

    def _hidden(self, x: torch.Tensor, noisy: bool) -> list[np.ndarray]:
        return [h.double().cpu().numpy() for h in self._outputs(x, noisy)[1]]
