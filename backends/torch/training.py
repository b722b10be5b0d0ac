"""The PyTorch port's training: the chapter's Net and its concise nn.Sequential, and the Trainer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from backends.torch.ops import VARIANTS, apply_keep, dropout, keep_mask, make_rng, resolve_device, to_numpy
from common.config import Config
from common.masks import noise_std
from common.params import Params
from common.trainer import TrainerBase


@torch.no_grad()
def load_params(linears: list[nn.Linear], params: Params) -> None:
    """The common layout's W1, b1, ... into torch's Linear layers (weights stored (out, in))."""
    for i, linear in enumerate(linears, start=1):
        linear.weight.copy_(torch.from_numpy(params[f"W{i}"]).T)
        linear.bias.copy_(torch.from_numpy(params[f"b{i}"]))


class ScratchNoise(nn.Module):
    """The chapter's ``dropout_layer`` as a module (or gaussian noise at the same rate): on in
    ``train()``, off in ``eval()``. Under dropconnect it passes activations through, and the net
    draws the masks of the weights that read them from its generator."""

    def __init__(self, p: float, generator: torch.Generator, noise: str):
        super().__init__()
        self.p, self.generator, self.noise = p, generator, noise

    def draw(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor | None:
        """This layer's noise for a tensor of shape (activations; under dropconnect, the weights that
        read them): gaussian multipliers or a bool keep-mask, None where the rate draws nothing."""
        if self.noise != "dropconnect" and not 0.0 < self.p < 1.0:
            return None
        if self.noise == "gaussian":
            return 1 + noise_std(self.p) * torch.randn(
                shape, generator=self.generator, device=device, dtype=dtype
            )
        return keep_mask(self.generator, shape, self.p, device)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training or self.noise == "dropconnect":
            return x
        if mask is None:
            mask = self.draw(tuple(x.shape), x.device, x.dtype)
        if mask is None:  # rate 0 or 1: no draw
            return dropout(x, self.p, self.generator)
        return x * mask if self.noise == "gaussian" else apply_keep(x, mask, self.p)


class ScratchNet(nn.Module):
    """The chapter's ``Net``: Linear-ReLU-noise twice, then Linear; the noise follows self.training."""

    def __init__(self, cfg: Config, generator: torch.Generator):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(fan_in, fan_out) for fan_in, fan_out in cfg.layer_shapes)
        self.dropouts = nn.ModuleList(ScratchNoise(p, generator, cfg.noise) for p in cfg.dropouts)
        self.dropconnect = cfg.noise == "dropconnect"

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None) -> torch.Tensor:
        activation_masks = None if self.dropconnect else masks
        for i, layer in enumerate(self.dropouts):
            x = layer(
                F.relu(self.linear(i, x, masks)), None if activation_masks is None else activation_masks[i]
            )
        return self.linear(len(self.dropouts), x, masks)

    def draw_masks(self, batch: int, device: torch.device, dtype: torch.dtype) -> list[torch.Tensor | None]:
        """The masks forward would draw, drawn now in the same order from the same generator, in
        the injected layout (None where a rate draws nothing): the compiled variant draws them
        eagerly, because a graph cannot hold a torch.Generator, and computes the same run."""
        masks: list[torch.Tensor | None] = []
        for noise, reader in zip(self.dropouts, self.linears[1:], strict=True):
            if noise.noise == "dropconnect":  # drawn as the weight is laid out, (out, in)
                masks.append(noise.draw(tuple(reader.weight.shape), device, dtype).T)
            else:
                masks.append(noise.draw((batch, reader.in_features), device, dtype))
        return masks

    def linear(self, i: int, x: torch.Tensor, masks: list[torch.Tensor] | None) -> torch.Tensor:
        """Layer i; under dropconnect in training, a layer reading a hidden layer keeps each weight
        with that layer's rate (injected masks are in the common (in, out) layout)."""
        linear = self.linears[i]
        if not (self.dropconnect and self.training and i > 0):
            return linear(x)
        noise = self.dropouts[i - 1]
        keep = (
            masks[i - 1].T if masks is not None else noise.draw(tuple(linear.weight.shape), x.device, x.dtype)
        )
        return F.linear(x, apply_keep(linear.weight, keep, noise.p), linear.bias)


def builtin_net(cfg: Config) -> nn.Sequential:
    """The chapter's concise version, with nn.Dropout drawing from torch's global generator."""
    *hidden, (fan_in, fan_out) = cfg.layer_shapes
    layers: list[nn.Module] = []
    for (hidden_in, hidden_out), p in zip(hidden, cfg.dropouts, strict=True):
        layers += [nn.Linear(hidden_in, hidden_out), nn.ReLU(), nn.Dropout(p)]
    layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


# The scratch forward with its masks given, compiled once per process: parameters are graph inputs
# (dynamo inlines nn.Modules), so every Trainer of a shape reuses the graph; autograd runs the
# compiled backward.
compiled_forward = torch.compile(ScratchNet.forward)

EVAL_STREAM = 0x5EED  # offset of the seed evaluation's noise draws from


class Trainer(TrainerBase):
    """torch.optim.SGD on the batch-mean cross-entropy, parameters imported from the common layout."""

    VARIANTS = VARIANTS
    SCRATCH_VARIANTS = ("scratch", "compiled")
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
        load_params(self.linears, self.initial_params)
        weights = [linear.weight for linear in self.linears]
        biases = [linear.bias for linear in self.linears]
        # builtin: SGD's own weight_decay, on the weights' group only; scratch, compiled: the penalty
        decay = cfg.weight_decay if variant == "builtin" else 0.0
        groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
        self.optimizer = torch.optim.SGD(groups, lr=cfg.lr)

    def put(self, array: np.ndarray) -> torch.Tensor:
        """Floating arrays in the trainer's dtype on its device; labels, indices and masks as they are."""
        tensor = torch.from_numpy(array)
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
        objective = loss
        if self.variant != "builtin" and self.cfg.weight_decay:
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
