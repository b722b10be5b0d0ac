"""The chapter's own PyTorch training as D2L runs it, for the bench's peers: a per-sample Dataset
that turns uint8 images into float tensors, ``DataLoader(batch_size=256, shuffle=True,
num_workers=4)``, the scratch Net with ``torch.rand(X.shape) > p`` masks drawn on the CPU, and
SGD on the batch-mean loss. It starts from the common initial parameters, so only speed differs.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from dropout_ports.backends.torch.models import load_params
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset
from dropout_ports.common.params import init_params

LOADER_WORKERS = 4  # as the chapter's data module


class ImageDataset(torch.utils.data.Dataset):
    """One example at a time, converted as torchvision's ToTensor does: uint8 -> float / 255."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.images[i]).float() / 255, int(self.labels[i])


def dropout_layer(x: torch.Tensor, dropout: float) -> torch.Tensor:
    """The chapter's, verbatim but for its assert."""
    if dropout == 1:
        return torch.zeros_like(x)
    mask = (torch.rand(x.shape) > dropout).float()
    return mask * x / (1.0 - dropout)


class Net(nn.Module):
    """The chapter's from-scratch Net."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.lins = nn.ModuleList(nn.Linear(fan_in, fan_out) for fan_in, fan_out in cfg.layer_shapes)
        self.dropouts = cfg.dropouts
        load_params(list(self.lins), init_params(cfg))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape((x.shape[0], -1))
        for lin, p in zip(self.lins, self.dropouts, strict=False):
            h = torch.relu(lin(h))
            if self.training:
                h = dropout_layer(h, p)
        return self.lins[-1](h)


def train_chapter_recipe(cfg: Config, data: Dataset) -> dict:
    """Train as the chapter does; each epoch's seconds (loading included) and the test accuracy."""
    images = np.rint(data.train_x * 255).astype(np.uint8)  # the stored bytes, as the files hold them
    loader = DataLoader(
        ImageDataset(images, data.train_y),
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=LOADER_WORKERS,
    )
    torch.manual_seed(cfg.seed)
    model = Net(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    seconds = []
    for _ in range(cfg.epochs):
        model.train()
        start = time.perf_counter()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(data.test_x)).argmax(dim=1).numpy()
    return {"seconds": seconds, "test_acc": float(np.mean(predicted == data.test_y))}
