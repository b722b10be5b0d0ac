"""The training loop every port shares: same init, same batch order, same per-epoch metrics."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from types import ModuleType

from tqdm.auto import tqdm

from dropout_ports.common.batches import batch_order
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset, first_examples
from dropout_ports.common.params import Params, init_params
from dropout_ports.common.progress import show_progress
from dropout_ports.common.trainer import TrainerBase

# (trainer, data, epoch from 1) -> figures for that epoch's history row
Probe = Callable[[TrainerBase, Dataset, int], dict]


@dataclass
class RunResult:
    backend: str
    variant: str
    device: str
    config: Config
    history: list[dict[str, float]] = field(default_factory=list)
    diverged: bool = False  # the loss became NaN or infinite; training stopped at that epoch
    mask_agreement: float | None = None  # data parallel with N > 1 replicas: common.replicas.ReplicaMasks

    @property
    def test_accuracy(self) -> float | None:
        """The last epoch's; None for a diverged run (argmax of NaN logits is class 0, not a result)."""
        return None if self.diverged else self.history[-1]["test_acc"]

    def to_dict(self) -> dict:
        record = asdict(self)
        record["test_accuracy"] = self.test_accuracy
        if record["mask_agreement"] is None:
            del record["mask_agreement"]  # one replica: nothing to agree with
        return record


def make_trainer(
    backend: ModuleType, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"
) -> TrainerBase:
    """The backend's Trainer, or for a data-parallel config (Config.data_parallel) its
    DataParallelTrainer, after the checks that say what the port cannot train."""
    if not cfg.data_parallel:
        return backend.Trainer(cfg, params, variant=variant, device=device)
    backend.Trainer.check_support(cfg, variant, device)
    parallel = getattr(backend, "DataParallelTrainer", None)
    if parallel is None:
        raise ValueError(f"backend {backend.NAME!r} has no data-parallel trainer (replicas, replica_seeding)")
    return parallel(cfg, params, variant=variant, device=device)


def fit(
    backend: ModuleType,
    cfg: Config,
    data: Dataset,
    *,
    variant: str = "scratch",
    device: str = "cpu",
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    probe: Probe | None = None,
) -> RunResult:
    """Train a backend module's Trainer (``get_backend(name)``) from init_params(cfg) for
    cfg.epochs; one history row per epoch.

    ``seconds`` is the epoch's training time, host-synced (the first includes any compilation),
    ``host_seconds`` the part of it until the host had issued the last step; train_loss and
    train_acc come from the training forward passes, dropout on, as in D2L. The run's config is
    the trainer's: its loop is the one that ran, never "default". A run whose loss stops being
    finite ends at that epoch, marked diverged. With cfg.mc_samples, the last row adds
    mc_test_loss, mc_test_accuracy and mc_test_ece (MC dropout). cfg.train_subset trains on the
    first examples only (Srivastava et al. 2014, sec. 7.4: small sets). A probe's
    figures, measured after each epoch's evaluation (untimed), join that epoch's row.
    """
    if cfg.train_subset:
        if cfg.train_subset > len(data.train_y):
            raise ValueError(
                f"train_subset {cfg.train_subset} exceeds the {len(data.train_y):,} training examples loaded"
            )
        data = first_examples(data, cfg.train_subset)
    trainer = make_trainer(backend, cfg, init_params(cfg), variant=variant, device=device)
    train_x, train_y = trainer.put(data.train_x), trainer.put(data.train_y)
    result = RunResult(backend.NAME, variant, device, trainer.cfg)
    with tqdm(
        range(cfg.epochs), desc=f"{backend.NAME}/{variant}", unit="epoch", disable=not show_progress(progress)
    ) as bar:
        for epoch in bar:
            batches = batch_order(len(data.train_y), cfg.batch_size, cfg.seed, epoch)
            start = time.perf_counter()
            train_loss, train_acc = trainer.train_epoch(train_x, train_y, batches)
            seconds = time.perf_counter() - start
            test = trainer.evaluate(data.test_x, data.test_y)
            result.history.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": train_loss,
                    "train_acc": train_acc,
                    "test_loss": test["loss"],
                    "test_acc": test["accuracy"],
                    "test_ece": test["ece"],
                    "seconds": seconds,
                    "host_seconds": trainer.host_seconds,
                }
            )
            result.history[-1].update(trainer.epoch_figures())
            result.diverged = not all(map(math.isfinite, (train_loss, test["loss"])))
            if cfg.mc_samples and epoch == cfg.epochs - 1 and not result.diverged:
                mc = trainer.evaluate(data.test_x, data.test_y, mc_samples=cfg.mc_samples)
                result.history[-1].update({f"mc_test_{key}": value for key, value in mc.items()})
            if probe is not None and not result.diverged:
                result.history[-1].update(probe(trainer, data, epoch + 1))
            if on_epoch is not None:
                on_epoch(result.history[-1])
            if result.diverged:
                break
            bar.set_postfix(loss=f"{train_loss:.3f}", test_acc=f"{test['accuracy']:.3f}")
    result.mask_agreement = trainer.mask_agreement
    return result
