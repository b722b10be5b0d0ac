"""The JAX port's data parallelism: one process over N devices with jax.sharding (a Mesh of one
axis, "batch", made by backends.jax.mesh), each replica's step under jax.shard_map with an
explicit psum of the gradients.

A global batch is laid out as N equal blocks, replica r's shard (common.replicas) at the front of
block r and padding after it: padded rows weigh 0 in the loss, so uneven shards sum exactly.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from dropout_ports.backends.jax.masks import keep_mask
from dropout_ports.backends.jax.mesh import (
    AXIS,
    REPLICATED,
    SHARDED,
    STEP_SHARDED,
    allreduce_seconds,
    gathered,
    mesh_for,
    on_mesh,
)
from dropout_ports.backends.jax.models import BuiltinNet, ScratchNet
from dropout_ports.backends.jax.ops import matmul_precision
from dropout_ports.backends.jax.trainer import StepSettings, Trainer, TrainState
from dropout_ports.common.config import Config
from dropout_ports.common.example_masks import example_keep
from dropout_ports.common.params import Params
from dropout_ports.common.replicas import ReplicaFigures, ReplicaMasks, replica_seed, shard_slices


class ReplicaState(NamedTuple):
    params: Any  # replicated
    opt_state: optax.OptState  # replicated
    keys: jax.Array  # (replicas,), sharded: each replica splits its own key every step
    step: jax.Array  # uint32, replicated: the global step, the example masks' counter


class ReplicaSettings(NamedTuple):
    """The static side of a replica's step (hashable: the jit's static argument)."""

    net: StepSettings
    seeding: str
    seed: int
    widths: tuple[int, ...]
    mesh: Mesh
    keep: bool  # return each step's masks (N > 1: the mask agreement)


def replica_forward(
    settings: ReplicaSettings, params: Any, x: jax.Array, key: jax.Array, masks: tuple
) -> tuple[jax.Array, list, list | None]:
    """Logits, this replica's keep-masks (when kept) and, for a framework layer, where they show."""
    net = settings.net
    if net.variant == "builtin":
        if not settings.keep:
            return net.apply(params, x, key), [], None
        logits, sown = BuiltinNet(net.hiddens, net.rates, net.outputs).apply(
            {"params": params}, x, train=True, rngs={"dropout": key},
            capture_intermediates=True, mutable=["intermediates"],
        )  # fmt: skip
        caught = sown["intermediates"]
        layers = range(len(net.rates))
        keep = [caught[f"Dropout_{i}"]["__call__"][0] != 0 for i in layers]
        return logits, keep, [caught[f"Dense_{i}"]["__call__"][0] > 0 for i in layers]
    model = ScratchNet(net.rates, net.noise)
    if masks:
        return model(params, x, masks=list(masks))[0], list(masks), None
    logits = model(params, x, key=key)[0]
    if not settings.keep:
        return logits, [], None
    shapes = [(x.shape[0], width) for width in settings.widths]
    keep = [  # what ScratchNet drew: the same pure function of the same key
        keep_mask(jax.random.fold_in(key, i), shape, p) if 0 < p < 1 else jnp.full(shape, p == 0)
        for i, (shape, p) in enumerate(zip(shapes, net.rates, strict=True), start=1)
    ]
    return logits, keep, None


def replica_epoch(settings: ReplicaSettings, state: ReplicaState, x, y, idx, weights, rows, totals, masks):
    """One replica's steps (shard_map's local view): its rows of each step, its gradients psum'd."""
    net = settings.net

    def step(state: ReplicaState, inputs: tuple) -> tuple[ReplicaState, tuple]:
        idx_t, weight, rows_t, total, masks_t = inputs
        key, step_key = jax.random.split(state.keys[0])
        if not masks_t and settings.seeding == "example":
            masks_t = tuple(
                example_keep(jnp, settings.seed, state.step, layer, rows_t, width, p)
                for layer, (width, p) in enumerate(zip(settings.widths, net.rates, strict=True), start=1)
            )
        xb, yb = x[idx_t], y[idx_t]

        def loss_fn(params: Any) -> tuple[jax.Array, tuple]:
            logits, keep, seen = replica_forward(settings, params, xb, step_key, masks_t)
            losses = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
            loss_sum = jnp.sum(weight * losses)
            correct = jnp.sum(jnp.where(weight > 0, jnp.argmax(logits, axis=1) == yb, False))
            return loss_sum / total, (loss_sum, correct, keep, seen)

        # The replica's own copy (varying over the axis), so that grad gives its own gradients and
        # the all-reduce is the psum below (a replicated input's gradient would be summed implicitly).
        local = jax.lax.pcast(state.params, AXIS, to="varying")
        (_, (loss_sum, correct, keep, seen)), grads = jax.value_and_grad(loss_fn, has_aux=True)(local)
        grads = jax.lax.psum(grads, AXIS)
        if net.variant == "scratch" and net.weight_decay:
            grads = jax.tree_util.tree_map(jnp.add, grads, jax.grad(net.penalty)(state.params))
        updates, opt_state = net.optimizer().update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new = ReplicaState(params, opt_state, key[None], state.step + 1)
        return new, (jax.lax.psum(loss_sum, AXIS), jax.lax.psum(correct, AXIS), keep, seen or [])

    state, (losses, corrects, keep, seen) = jax.lax.scan(step, state, (idx, weights, rows, totals, masks))
    return state, jnp.sum(losses), jnp.sum(corrects), keep, seen


@partial(jax.jit, static_argnums=0)
def train_replicas(settings: ReplicaSettings, state: ReplicaState, *arrays: Any) -> tuple:
    """replica_epoch on every device of the mesh: (state, loss sum, number correct, masks, seen),
    traced at the run's matmul precision as the Trainer's steps are."""
    state_spec = ReplicaState(REPLICATED, REPLICATED, SHARDED, REPLICATED)
    steps = P(None, AXIS, None)
    run = jax.shard_map(
        partial(replica_epoch, settings),
        mesh=settings.mesh,
        in_specs=(state_spec, REPLICATED, REPLICATED, STEP_SHARDED, STEP_SHARDED, STEP_SHARDED, P(), steps),
        out_specs=(state_spec, REPLICATED, REPLICATED, steps, steps),
    )
    with matmul_precision(settings.net.matmul_precision):
        return run(state, *arrays)


class DataParallelTrainer(ReplicaFigures, Trainer):
    """cfg.replicas replicas over a device mesh; between steps ``self.state`` holds a local view
    (replica 0's parameters and key, on this process's device) for the Trainer's evaluation."""

    DATA_PARALLEL = True
    LOOPS = ("device",)  # each epoch's steps are one lax.scan under shard_map
    PROCESS_PER_REPLICA = False  # one process drives every device

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
        self.mesh = mesh_for(cfg.replicas, device)
        super().__init__(cfg, params, variant=variant, device=device)
        self.settings = ReplicaSettings(
            self.net, cfg.mask_seeding, cfg.seed, cfg.num_hiddens, self.mesh, cfg.replicas > 1 or keep_masks
        )
        keys = np.stack([
            jax.random.key_data(jax.random.key(replica_seed(cfg, rank), impl=cfg.prng_impl))
            for rank in range(cfg.replicas)
        ])  # fmt: skip
        host = jax.tree_util.tree_map(np.asarray, (self.state.params, self.state.opt_state))
        self.replica_state = ReplicaState(
            *(jax.tree_util.tree_map(partial(on_mesh, self.mesh, REPLICATED), part) for part in host),
            jax.random.wrap_key_data(on_mesh(self.mesh, SHARDED, keys), impl=cfg.prng_impl),
            on_mesh(self.mesh, REPLICATED, np.zeros((), np.uint32)),
        )
        self.replica_masks = ReplicaMasks(keep=keep_masks)
        self.mesh_data: tuple = ()  # (host array, its copy on the mesh), for each of x and y
        self._refresh()

    allreduce_seconds = staticmethod(allreduce_seconds)  # bench: one all-reduce of the gradients

    def _refresh(self) -> None:
        """The local view: replica 0's parameters and key as the Trainer's own state."""
        first = lambda array: array.addressable_data(0)  # noqa: E731
        state = self.replica_state
        self.state = TrainState(jax.tree_util.tree_map(first, state.params), None, first(state.keys)[0])

    def _mesh_arrays(self, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x and y replicated on the mesh, copied once for the arrays fit passes every epoch."""
        if not self.mesh_data or self.mesh_data[0][0] is not x or self.mesh_data[1][0] is not y:
            self.mesh_data = tuple((a, on_mesh(self.mesh, REPLICATED, np.asarray(a))) for a in (x, y))
        return self.mesh_data[0][1], self.mesh_data[1][1]

    def _run(self, x: jax.Array, y: jax.Array, batches: list[np.ndarray], masks: tuple = ()) -> tuple:
        """Equal-sized batches in one call; (loss sum, number correct) as host numbers."""
        replicas, rows = self.cfg.replicas, len(batches[0])
        shards = shard_slices(rows, replicas)
        pad = shards[0].stop
        slots = np.full((len(batches), replicas, pad), -1)
        for rank, part in enumerate(shards):
            slots[:, rank, : part.stop - part.start] = np.arange(part.start, part.stop)
        slots = slots.reshape(len(batches), replicas * pad)
        real = slots >= 0
        positions = np.maximum(slots, 0)
        idx = np.where(real, np.stack(batches)[:, positions[0]], 0).astype(np.int32)
        arrays = (
            on_mesh(self.mesh, STEP_SHARDED, idx),
            on_mesh(self.mesh, STEP_SHARDED, real.astype(self.dtype)),
            on_mesh(self.mesh, STEP_SHARDED, positions.astype(np.uint32)),
            on_mesh(self.mesh, REPLICATED, np.full(len(batches), rows, self.dtype)),
            tuple(on_mesh(self.mesh, P(None, AXIS, None), m[:, positions[0]]) for m in masks),
        )
        self.replica_state, loss, correct, keep, seen = train_replicas(
            self.settings, self.replica_state, x, y, *arrays
        )
        if self.settings.keep:
            self._agree(keep, seen, shards, pad)
        return float(gathered(loss)), int(gathered(correct))

    def _agree(self, keep: list, seen: list, shards: list[slice], pad: int) -> None:
        """Each step's masks per replica (its real rows only) into the agreement."""
        keep, seen = [gathered(k) for k in keep], [gathered(s) for s in seen]

        def split(layers: list[np.ndarray], t: int) -> list[list[np.ndarray]]:
            blocks = [(r * pad, r * pad + part.stop - part.start) for r, part in enumerate(shards)]
            return [[m[t, start:stop] for m in layers] for start, stop in blocks]

        for t in range(len(keep[0])):
            self.replica_masks.add(split(keep, t), split(seen, t) if seen else None)

    def _epoch_sums(self, x: jax.Array, y: jax.Array, batches: list[np.ndarray]) -> tuple[float, int]:
        """Batches of each size (the full ones, then the short last) in one call each."""
        x, y = self._mesh_arrays(x, y)
        loss_sum, correct = 0.0, 0
        for size in dict.fromkeys(len(idx) for idx in batches):
            loss, hits = self._run(x, y, [idx for idx in batches if len(idx) == size])
            loss_sum, correct = loss_sum + loss, correct + hits
        self._refresh()
        return loss_sum, correct

    def _step(self, x: jax.Array, y: jax.Array, masks: list[np.ndarray] | None) -> tuple[float, int]:
        x, y = (on_mesh(self.mesh, REPLICATED, np.asarray(a)) for a in (x, y))
        injected = () if masks is None else tuple(m[None] for m in masks)
        loss, correct = self._run(x, y, [np.arange(len(x))], injected)
        self._refresh()
        return loss / len(x), correct
