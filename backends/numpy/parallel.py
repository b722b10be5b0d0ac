"""The NumPy port's data parallelism, the reference the engines of the other ports are held to:
the global batch split into shards (common.replicas), each replica's gradient computed in turn,
summed, and applied once. No framework, no collective: the same arithmetic, one shard after
another, with each replica's masks drawn as it would draw them."""

from __future__ import annotations

import numpy as np

from dropout_ports.backends.numpy.masks import keep_mask
from dropout_ports.backends.numpy.ops import make_rng
from dropout_ports.backends.numpy.trainer import Trainer
from dropout_ports.common.config import Config
from dropout_ports.common.example_masks import example_masks
from dropout_ports.common.params import Params, param_shapes
from dropout_ports.common.replicas import ReplicaFigures, ReplicaMasks, replica_seed, shard_slices
from dropout_ports.common.timing import median_seconds


class DataParallelTrainer(ReplicaFigures, Trainer):
    """cfg.replicas replicas in one process, stepped one after another."""

    DATA_PARALLEL = True
    PROCESS_PER_REPLICA = False  # the engine runs it in the run's own process

    def __init__(
        self,
        cfg: Config,
        params: Params,
        *,
        variant: str = "scratch",
        device: str = "cpu",
        keep_masks: bool = False,
    ):
        """keep_masks: also keep every step's global masks (replica_masks.log), for tests."""
        super().__init__(cfg, params, variant=variant, device=device)
        self.replica_rngs = [make_rng(replica_seed(cfg, rank)) for rank in range(cfg.replicas)]
        self.steps = 0  # global steps taken: the example masks' counter
        self.replica_masks = ReplicaMasks(keep=keep_masks)

    @staticmethod
    def allreduce_seconds(cfg: Config, device: str = "cpu") -> float:
        """Median seconds of the reduction a step does: the replicas' gradients summed in place."""
        grads = [{name: np.ones(shape, cfg.dtype) for name, shape in param_shapes(cfg).items()}
                 for _ in range(cfg.replicas)]  # fmt: skip

        def once() -> None:
            summed = {name: grad.copy() for name, grad in grads[0].items()}
            for replica in grads[1:]:
                for name, grad in replica.items():
                    summed[name] += grad

        return median_seconds(once, min_repeats=50, min_total=0.0)

    def _step(self, x: np.ndarray, y: np.ndarray, masks: list[np.ndarray] | None) -> tuple[float, int]:
        loss, correct, summed, applied = 0.0, 0, None, []
        for rank, part in enumerate(shard_slices(len(x), self.cfg.replicas)):
            local = self.replica_step_masks(rank, part, masks)
            applied.append(local)
            if part.start == part.stop:
                continue  # an empty shard adds nothing
            shard_loss, shard_correct, grads = self.net.gradients(
                x[part], y[part], local, self.replica_rngs[rank], total=len(x)
            )
            loss, correct = loss + shard_loss, correct + shard_correct
            if summed is None:
                summed = grads
            else:
                for name, grad in grads.items():
                    summed[name] += grad
        self.net.sgd_update(self.net.with_weight_decay(summed))
        self.replica_masks.add(applied)
        self.steps += 1
        return loss, correct

    def replica_step_masks(
        self, rank: int, part: slice, injected: list[np.ndarray] | None
    ) -> list[np.ndarray]:
        """Replica rank's masks for its rows of this step: injected, keyed by example, or drawn
        from its own generator in the order its forward pass would draw them."""
        if injected is not None:
            return [mask[part] for mask in injected]
        if self.cfg.mask_seeding == "example":
            return example_masks(self.cfg, self.steps, np.arange(part.start, part.stop))
        rows = part.stop - part.start
        return [
            keep_mask(self.replica_rngs[rank], (rows, width), p) if p > 0 else np.ones((rows, width), bool)
            for width, p in zip(self.cfg.num_hiddens, self.cfg.dropouts, strict=True)
        ]
