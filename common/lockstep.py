"""Lockstep runs: the same init, batches and injected masks through any port, step by step."""

from __future__ import annotations

import numpy as np

from backends import get_backend
from common.batches import batch_order
from common.config import Config
from common.data import Dataset
from common.masks import random_keep_masks
from common.params import Params, init_params


def run_lockstep(
    name: str, cfg: Config, data: Dataset, steps: int, device: str = "cpu"
) -> tuple[list[float], Params]:
    """Per-step losses and final parameters of the scratch variant over the first steps of
    cfg.seed's batch order (continuing into later epochs), with masks drawn from cfg.seed + 1."""
    trainer = get_backend(name).Trainer(cfg, init_params(cfg), device=device)
    mask_rng = np.random.default_rng(cfg.seed + 1)
    losses = []
    epoch = 0
    while len(losses) < steps:
        for idx in batch_order(len(data.train_y), cfg.batch_size, cfg.seed, epoch)[: steps - len(losses)]:
            masks = random_keep_masks(cfg, len(idx), mask_rng)
            losses.append(trainer.train_step(data.train_x[idx], data.train_y[idx], masks))
        epoch += 1
    return losses, trainer.get_params()
