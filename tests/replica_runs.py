"""What the data-parallel tests train, in this process or as launched replicas (importable by
name, so a launched replica can run it): a run's per-epoch losses, final parameters, masks and
test accuracy, and targets that fail on purpose."""

from __future__ import annotations

import os
import time

from dropout_ports.backends import get_backend
from dropout_ports.common.batches import batch_order
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset
from dropout_ports.common.params import init_params


def train_replicas(name: str, cfg: Config, variant: str, data: Dataset) -> dict:
    """cfg.epochs of the port's DataParallelTrainer, keeping every step's global masks."""
    trainer = get_backend(name).DataParallelTrainer(cfg, init_params(cfg), variant=variant, keep_masks=True)
    x, y = trainer.put(data.train_x), trainer.put(data.train_y)
    losses, epochs = [], []
    for epoch in range(cfg.epochs):
        losses.append(
            trainer.train_epoch(x, y, batch_order(len(data.train_y), cfg.batch_size, cfg.seed, epoch))[0]
        )
        epochs.append(trainer.epoch_figures().get("mask_agreement"))
    return {
        "losses": losses,
        "params": trainer.get_params(),
        "masks": trainer.replica_masks.log,
        "test_acc": trainer.evaluate(data.test_x, data.test_y)["accuracy"],
        "agreement": trainer.mask_agreement,
        "epoch_agreement": epochs,
    }


def fail_on_rank_one(how: str, data: Dataset) -> int:
    """Rank 0 answers; rank 1 raises, exits or hangs, as asked."""
    rank = int(os.environ["RANK"])
    if rank == 1 and how == "raise":
        raise RuntimeError("replica 1 fails on purpose")
    if rank == 1 and how == "exit":
        os._exit(3)
    if rank == 1 and how == "hang":
        time.sleep(3600)
    return rank
