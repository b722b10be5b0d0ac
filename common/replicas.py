"""Data parallelism's common rules: how a global batch is split across replicas, which generator
each replica draws from, what a port must support, and how far the replicas' masks agree.

Every port's data-parallel trainer follows these, so a run means the same in each:
- the global batch (``Config.batch_size`` rows; the epoch's last may be short) is split into
  contiguous shards in replica order, the first ``rows % replicas`` one row longer
  (``shard_slices``);
- each replica's loss is its shard's summed loss over the global batch size, so the replicas'
  summed gradients are the global batch-mean gradient whatever the shard sizes; an L2 penalty
  counts once;
- masks follow ``Config.mask_seeding``: "example" (``common.example_masks``), "rank" (a generator
  seeded ``seed + rank``, as most scripts do) or "same" (``seed`` on every replica).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from dropout_ports.common.checks import SEED_LIMIT
from dropout_ports.common.config import Config

STREAM_SEEDINGS = ("rank", "same")  # drawn from a generator per replica, as the port draws today


def shard_slices(rows: int, replicas: int) -> list[slice]:
    """Each replica's rows of a global batch: contiguous, in replica order, the first
    rows % replicas one longer. Fashion-MNIST's 60,000 = 234 x 256 + 96 ends in a batch of 96: 48
    and 48 on two replicas, 24 each on four, 20, 19, 19, 19, 19 on five; a batch shorter than the
    replica count leaves the last replicas empty (they add nothing to the gradient)."""
    base, extra = divmod(rows, replicas)
    bounds = [rank * base + min(rank, extra) for rank in range(replicas + 1)]
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]


def replica_seed(cfg: Config, rank: int) -> int:
    """The seed of replica rank's own generator: seed + rank for "rank" (wrapping at 2^32), seed
    otherwise ("same", and the chapter's single stream)."""
    return (cfg.seed + rank) % SEED_LIMIT if cfg.mask_seeding == "rank" else cfg.seed


def check_data_parallel(cfg: Config, variant: str, seedings: Sequence[str]) -> None:
    """A ValueError saying why, unless a variant whose data-parallel path supports `seedings`
    can train cfg."""
    if not seedings:
        raise ValueError(f"the {variant!r} variant has no data-parallel path (replicas, replica_seeding)")
    if cfg.mask_seeding not in seedings:
        asked = "" if cfg.replica_seeding != "auto" else " (what auto means with replicas > 1)"
        why = (
            ": its masks are drawn inside the framework's Dropout layer, which cannot key them by example"
            if cfg.mask_seeding == "example"
            else ""
        )
        raise ValueError(
            f"the {variant!r} variant cannot draw replica_seeding {cfg.mask_seeding!r}{asked}{why}; "
            f"it has {', '.join(map(repr, seedings))}"
        )
    if cfg.noise != "bernoulli":
        raise ValueError(f"data-parallel runs draw bernoulli masks only, not {cfg.noise!r} noise")
    if cfg.mask_seeding == "example" and 1.0 in cfg.dropouts:
        raise ValueError("masks keyed by example need rates below 1 (a rate of 1 keeps nothing to key)")


class ReplicaMasks:
    """The masks the replicas applied, step by step: their agreement (the fraction of mask elements
    equal between two replicas at the same local position, over every pair, layer and step) and,
    when asked to keep them, each step's global masks (the replicas' shards stacked in order)."""

    def __init__(self, keep: bool = False):
        self.counts = np.zeros(2, np.int64)  # equal, compared: the whole run
        self.epoch = np.zeros(2, np.int64)  # since the last take_epoch
        self.log: list[list[np.ndarray]] | None = [] if keep else None

    def add(
        self, masks: Sequence[Sequence[np.ndarray]], observed: Sequence[Sequence[np.ndarray]] | None = None
    ) -> None:
        """One step's masks[replica][layer], bool (local rows, width); observed, where given, says
        which elements a mask shows (a framework's Dropout layer: where its input was not zero,
        the mask being independent of the input), and only those are compared."""
        for layer in range(len(masks[0])):
            for r, s in itertools.combinations(range(len(masks)), 2):
                rows = min(len(masks[r][layer]), len(masks[s][layer]))
                same = masks[r][layer][:rows] == masks[s][layer][:rows]
                if observed is None:
                    counted = np.array([np.count_nonzero(same), same.size])
                else:
                    seen = observed[r][layer][:rows] & observed[s][layer][:rows]
                    counted = np.array([np.count_nonzero(same & seen), np.count_nonzero(seen)])
                self.counts += counted
                self.epoch += counted
        if self.log is not None:
            self.log.append([np.concatenate([m[layer] for m in masks]) for layer in range(len(masks[0]))])

    @property
    def agreement(self) -> float | None:
        """Over the run so far; None with fewer than two replicas."""
        return float(self.counts[0] / self.counts[1]) if self.counts[1] else None

    def take_epoch(self) -> float | None:
        """The agreement since the last call, which starts the next epoch's count."""
        equal, compared = self.epoch
        self.epoch[:] = 0
        return float(equal / compared) if compared else None


class ReplicaFigures:
    """What a port's DataParallelTrainer reports of its masks, from its ``replica_masks``: their
    agreement over the run, and each epoch's for fit's history row. Listed before the Trainer in
    the bases, so that these replace TrainerBase's."""

    replica_masks: ReplicaMasks

    @property
    def mask_agreement(self) -> float | None:
        return self.replica_masks.agreement

    def epoch_figures(self) -> dict[str, float]:
        agreement = self.replica_masks.take_epoch()
        return {} if agreement is None else {"mask_agreement": agreement}
