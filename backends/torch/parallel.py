"""The PyTorch port's data parallelism: torch.distributed with DistributedDataParallel, a process
per replica (gloo on the CPU, NCCL on CUDA).

A replica joins the process group it finds: one already set up (Ray Train's TorchTrainer makes
one), one a launcher describes in the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT:
``torchrun``, or the run engine's dropout_ports.benchmarks.runs.distributed), or, for a single
replica, one of its own in memory. Every replica sees the whole global batch and takes its shard
(common.replicas); DDP averages the gradients over the replicas, so each one's objective is its
shard's summed loss times replicas / global batch size, and their average is the global mean.
"""

from __future__ import annotations

import atexit
import datetime
import os
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dropout_ports.backends.torch.models import builtin_net
from dropout_ports.backends.torch.ops import make_rng, resolve_device
from dropout_ports.backends.torch.trainer import Trainer
from dropout_ports.common.config import Config
from dropout_ports.common.example_masks import example_masks
from dropout_ports.common.params import Params, param_shapes
from dropout_ports.common.replicas import ReplicaFigures, ReplicaMasks, replica_seed, shard_slices
from dropout_ports.common.timing import median_seconds

COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=10)  # a replica that stops answering ends the run
ALLREDUCE_REPEATS = 50


def join_process_group(replicas: int) -> None:
    """Join the process group (see the module's docstring); a ValueError if it has another size."""
    if not dist.is_initialized():
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        if "WORLD_SIZE" in os.environ:
            dist.init_process_group(backend, init_method="env://", timeout=COLLECTIVE_TIMEOUT)
        elif replicas == 1:
            dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
        else:
            raise ValueError(
                f"torch runs a replica per process: {replicas} replicas need {replicas} processes "
                "(the run engine launches them for a run; or torchrun --standalone --nproc-per-node N)"
            )
        # A group left to the interpreter's shutdown can abort the process (SIGABRT: gloo's
        # threads free tensors after Python is gone, pytorch/pytorch#179291), so leave it first.
        atexit.register(dist.destroy_process_group)
    if dist.get_world_size() != replicas:
        size = dist.get_world_size()
        raise ValueError(f"replicas is {replicas}, but the process group has {size} processes")


def replica_device(device: str) -> torch.device:
    """The replica's device: on CUDA, its local rank's GPU when a launcher says which that is."""
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None and "LOCAL_RANK" in os.environ:
        dev = resolve_device(f"cuda:{os.environ['LOCAL_RANK']}")
    return dev


def allreduce_seconds(cfg: Config, device: str = "cpu") -> float:
    """Median seconds of one all-reduce of the gradients across the process group: DDP sends
    this MLP's gradients (about 1 MB in float32) as one bucket."""
    join_process_group(cfg.replicas)
    size = sum(int(np.prod(shape)) for shape in param_shapes(cfg).values())
    dev = replica_device(device)
    buffer = torch.zeros(size, dtype=getattr(torch, cfg.dtype), device=dev)

    def once() -> None:
        dist.all_reduce(buffer)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    return median_seconds(once, min_repeats=ALLREDUCE_REPEATS, min_total=0.0)


class DataParallelTrainer(ReplicaFigures, Trainer):
    """This process's replica of a DDP run; the host API (train_step, train_epoch) reports the
    global batch's figures, summed over the replicas."""

    DATA_PARALLEL = True
    LOOPS = ("step",)  # eager DDP steps (no CUDA graph of an all-reduce)
    PROCESS_PER_REPLICA = True  # the run engine launches cfg.replicas processes
    RAY_TRAINER = ("ray.train.torch", "TorchTrainer")  # one Ray Train worker per replica

    def __init__(
        self,
        cfg: Config,
        params: Params,
        *,
        variant: str = "scratch",
        device: str = "cpu",
        keep_masks: bool = False,
    ):
        """keep_masks: also keep every step's global masks (replica_masks.log, on every replica,
        as of the last sync), for tests."""
        join_process_group(cfg.replicas)
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        super().__init__(cfg, params, variant=variant, device=str(replica_device(device)))
        seed = replica_seed(cfg, self.rank)
        if variant == "builtin" and seed != cfg.seed:
            torch.manual_seed(seed)  # the global generator as a script leaves it: seeded, then the
            builtin_net(cfg)  # model built (its layers' own initialisation draws from it)
        elif variant != "builtin":
            generator = make_rng(seed, self.device)
            for layer in self.model.dropouts:
                layer.generator = generator
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.replica = DistributedDataParallel(self.model, device_ids=ids, forward_sync_buffers=False)
        self.steps = 0  # global steps taken: the example masks' counter
        self.replica_masks = ReplicaMasks(keep=keep_masks)
        self.watch = self.world > 1 or keep_masks  # whether the masks are kept until the next sync
        self.pending: list[list[tuple]] = []  # this replica's masks since the last sync, packed
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # builtin: each Dropout's (input, output)
        if variant == "builtin" and self.watch:
            for layer in (m for m in self.model.modules() if isinstance(m, nn.Dropout)):
                layer.register_forward_hook(self._see)

    allreduce_seconds = staticmethod(allreduce_seconds)  # bench: one all-reduce of the gradients

    def epoch_figures(self) -> dict[str, float]:
        """Collective: every replica calls it once an epoch, as fit does (the mask agreement is
        over the steps synced so far)."""
        self.sync_masks()
        return super().epoch_figures()

    def train_step(self, x: np.ndarray, y: np.ndarray, masks: list[np.ndarray] | None = None) -> float:
        loss = super().train_step(x, y, masks)
        return loss if self.world == 1 else float(self._sum_replicas(loss)[0])

    def _epoch_sums(self, x: Any, y: Any, batches: list[np.ndarray]) -> tuple[Any, Any]:
        loss_sum, correct = super()._epoch_sums(x, y, batches)
        return (loss_sum, correct) if self.world == 1 else tuple(self._sum_replicas(loss_sum, correct))

    def _sum_replicas(self, *values: Any) -> torch.Tensor:
        total = torch.stack([torch.as_tensor(v, dtype=torch.float64).to(self.device) for v in values])
        dist.all_reduce(total)
        return total.cpu()

    def _step(
        self, x: torch.Tensor, y: torch.Tensor, masks: list[np.ndarray] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        part = shard_slices(len(x), self.world)[self.rank]
        xs, ys = x[part], y[part]
        self.model.train()
        local = self._replica_masks(part, masks)
        logits = self.replica(xs) if local is None else self.replica(xs, local)
        loss_sum = F.cross_entropy(logits, ys, reduction="sum")
        objective = loss_sum * (self.world / len(x))
        penalty = self._penalty()
        objective = objective if penalty is None else objective + penalty
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()
        if self.watch:
            self._keep_masks(local, len(xs))
        self.steps += 1
        return loss_sum.detach() / len(x), (logits.detach().argmax(dim=1) == ys).sum()

    def _replica_masks(self, part: slice, injected: list[np.ndarray] | None) -> list[Any] | None:
        """This replica's masks for its rows: injected, keyed by example, or drawn now from its
        generator as forward would draw them (so they can be compared); builtin: drawn by nn.Dropout."""
        if self.variant == "builtin":
            return None
        if injected is not None:
            return [self.put(mask[part]) for mask in injected]
        if self.cfg.mask_seeding == "example":
            rows = np.arange(part.start, part.stop)
            return [self.put(mask) for mask in example_masks(self.cfg, self.steps, rows)]
        return self.model.draw_masks(part.stop - part.start, self.device, self.dtype)

    def _see(self, module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        if module.training and torch.is_grad_enabled():
            self.seen.append((inputs[0].detach() != 0, output.detach() != 0))

    def _keep_masks(self, local: list[Any] | None, rows: int) -> None:
        """This step's masks, packed, until the next sync; builtin: what nn.Dropout let through
        where its input was not zero (elsewhere its mask cannot be seen)."""
        if local is None:
            pairs, self.seen = [(keep, seen) for seen, keep in self.seen], []
        else:
            pairs = [
                (torch.full((rows, w), p == 0.0) if mask is None else mask, None)
                for mask, w, p in zip(local, self.cfg.num_hiddens, self.cfg.dropouts, strict=True)
            ]
        self.pending.append([(_pack(keep), None if seen is None else _pack(seen)) for keep, seen in pairs])

    def sync_masks(self) -> None:
        """Gather every replica's masks since the last sync (collective) into the agreement."""
        if not self.pending and self.world == 1:
            return
        gathered: list[Any] = [self.pending]
        if self.world > 1:
            gathered = [None] * self.world
            dist.all_gather_object(gathered, self.pending)
        self.pending = []
        for step in zip(*gathered, strict=True):
            masks = [[_unpack(keep) for keep, _ in replica] for replica in step]
            seen = [[_unpack(s) for _, s in replica] for replica in step] if step[0][0][1] else None
            self.replica_masks.add(masks, seen)


def _pack(mask: torch.Tensor) -> tuple[bytes, tuple[int, ...]]:
    array = mask.cpu().numpy()
    return np.packbits(array).tobytes(), array.shape


def _unpack(packed: tuple[bytes, tuple[int, ...]]) -> np.ndarray:
    data, shape = packed
    size = int(np.prod(shape))
    return np.unpackbits(np.frombuffer(data, np.uint8), count=size).astype(bool).reshape(shape)
