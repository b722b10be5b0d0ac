"""The PyTorch port's models: the chapter's ``Net`` (its noise as modules) and its concise
``nn.Sequential``, and the compiled variant's forward pass."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dropout_ports.backends.torch.masks import apply_keep, keep_mask
from dropout_ports.backends.torch.ops import dropout
from dropout_ports.common.config import Config
from dropout_ports.common.masks import noise_std
from dropout_ports.common.params import Params


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
        return keep_mask(self.generator, shape, self.p)

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
        eagerly, because dynamo breaks its graph at Tensor.random_ (and at the CPU tie pass's
        data-dependent nonzero), and computes the same run."""
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
# compiled backward. Rates stay constants (specialize_float): trainers of other rates in one process
# (bench's rates-0 ablation) would otherwise make the rate a symbolic float, which the rate checks
# cannot read, and dynamo would fall back to eager for the forward and compile its layers apart.
compiled_forward = torch._dynamo.config.patch(specialize_float=True)(torch.compile(ScratchNet.forward))
