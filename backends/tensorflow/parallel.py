"""The TensorFlow port's data parallelism: ``tf.distribute.MirroredStrategy`` over N devices of one
process (logical CPU devices here, made before TF's first operation: ``host_devices``), the
parameters MirroredVariables, each replica's gradient of its shard summed by the strategy's
all-reduce and applied once, in cross-replica context, to every copy.

Each replica's masks come in with its rows, drawn beside the step: by example
(common.example_masks, the bits every port draws) or from the replica's own Generator ("rank",
"same"), in the order its forward pass would draw them. A replica's loss is its shard's summed
loss over the global batch (common.replicas), so the summed gradients are the batch-mean gradient.
"""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from dropout_ports.backends import host_device_count
from dropout_ports.backends.tensorflow.ops import seeded_generator
from dropout_ports.backends.tensorflow.trainer import ZERO, Trainer
from dropout_ports.common.config import Config
from dropout_ports.common.example_masks import example_masks
from dropout_ports.common.params import Params, param_shapes
from dropout_ports.common.replicas import ReplicaFigures, ReplicaMasks, replica_seed, shard_slices
from dropout_ports.common.timing import median_seconds

SUM = tf.distribute.ReduceOp.SUM


def host_devices(count: int) -> None:
    """count logical CPU devices, if TF has not started (they are fixed at its first operation)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    if count > len(tf.config.get_logical_device_configuration(cpu) or [cpu]):
        with contextlib.suppress(RuntimeError):  # TF has started: strategy_for says how to get more
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


host_devices(host_device_count())  # backends.prepare_host_devices: set before a port loads


def strategy_for(replicas: int, device: str) -> tf.distribute.MirroredStrategy:
    """A MirroredStrategy over `replicas` devices of the device's kind; a ValueError saying how to
    get them if this process has too few."""
    kind = "CPU" if device == "cpu" else "GPU"
    found = [d.name for d in tf.config.list_logical_devices(kind)]
    if len(found) < replicas:
        hint = (
            f"; TensorFlow started in this process with {len(found)}: run it in a fresh process (the "
            "default executor does), or call dropout_ports.backends.prepare_host_devices("
            f"{replicas}) before the port loads"
            if kind == "CPU"
            else ""
        )
        raise ValueError(f"{replicas} replicas need {replicas} {kind} devices{hint}")
    reduction = tf.distribute.ReductionToOneDevice() if kind == "CPU" else None  # NCCL is GPU-only
    return tf.distribute.MirroredStrategy(found[:replicas], cross_device_ops=reduction)


def allreduce_seconds(cfg: Config, device: str = "cpu") -> float:
    """Median seconds of one all-reduce (a sum) of the gradients' size over the strategy's devices."""
    strategy = strategy_for(cfg.replicas, device)
    size = sum(int(np.prod(shape)) for shape in param_shapes(cfg).values())
    dtype = tf.float32 if cfg.dtype == "bfloat16" else tf.dtypes.as_dtype(cfg.dtype)
    grads = strategy.experimental_distribute_values_from_function(lambda _: tf.zeros(size, dtype))
    reduce = tf.function(lambda: strategy.reduce(SUM, grads, axis=None))
    return median_seconds(lambda: reduce().numpy(), min_repeats=50, min_total=0.0)


class DataParallelTrainer(ReplicaFigures, Trainer):
    """cfg.replicas replicas over a MirroredStrategy, a step's replicas in one tf.function."""

    DATA_PARALLEL = True
    LOOPS = ("step",)  # a tf.function a step, its replicas on their devices
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
        self.strategy = strategy_for(cfg.replicas, device)
        super().__init__(cfg, params, variant=variant, device=device)
        with self.strategy.scope():
            self.params = {name: tf.Variable(tf.cast(value, self.dtype), name=name)
                           for name, value in self.initial_params.items()}  # fmt: skip
        self.replica_rngs = [
            seeded_generator(replica_seed(cfg, rank), self.device) for rank in range(cfg.replicas)
        ]
        self.steps = 0  # global steps taken: the example masks' counter
        self.replica_masks = ReplicaMasks(keep=keep_masks)
        self.keep = cfg.replicas > 1 or keep_masks
        self.replicated_fn = tf.function(self._replicated_step, reduce_retracing=True)

    allreduce_seconds = staticmethod(allreduce_seconds)  # bench: one all-reduce of the gradients

    def evaluated_params(self) -> Params:
        """The parameters' values: a tf.function traced with one trainer's MirroredVariables reads
        them when handed another's of the same shapes (docs/differences.md, section 11)."""
        return {name: variable.read_value() for name, variable in self.params.items()}

    def _step(
        self, x: tf.Tensor, y: tf.Tensor, masks: list[np.ndarray] | None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        total = int(x.shape[0])
        shards = shard_slices(total, self.cfg.replicas)
        local = [self.replica_step_masks(rank, part, masks) for rank, part in enumerate(shards)]

        def replica_inputs(context: tf.distribute.experimental.ValueContext) -> tuple:
            rank = context.replica_id_in_sync_group
            return x[shards[rank]], y[shards[rank]], local[rank]

        inputs = self.strategy.experimental_distribute_values_from_function(replica_inputs)
        loss_sum, hits = self.replicated_fn(inputs, tf.constant(total, self.dtype))
        if self.keep:
            self.replica_masks.add([[m.numpy() for m in step] for step in local])
        self.steps += 1
        return loss_sum / total, hits

    def replica_step_masks(
        self, rank: int, part: slice, injected: list[np.ndarray] | None
    ) -> list[tf.Tensor]:
        """Replica rank's keep-masks for its rows of this step: injected, keyed by example, or drawn
        from its own generator as its forward pass would draw them (all-kept where a rate draws none)."""
        rows = part.stop - part.start
        if injected is not None:
            chosen = [mask[part] for mask in injected]
        elif self.cfg.mask_seeding == "example":
            chosen = example_masks(self.cfg, self.steps, np.arange(part.start, part.stop))
        else:
            drawn = self.settings.net.draw_masks(self.replica_rngs[rank], self.params, tf.constant(rows))
            chosen = [np.ones((rows, width), bool) if m is None else m
                      for m, width in zip(drawn, self.cfg.num_hiddens, strict=True)]  # fmt: skip
        with tf.device(self.device):
            return [tf.convert_to_tensor(mask) for mask in chosen]

    def _replicated_step(self, inputs: tuple, total: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Every replica's gradient of its rows, their sum (with the penalty once), and one update."""
        variables = list(self.params.values())

        def replica(x: tf.Tensor, y: tf.Tensor, masks: list[tf.Tensor]) -> tuple:
            with tf.GradientTape() as tape:
                logits, _ = self.settings.net(self.params, x, masks)
                wide = tf.float64 if logits.dtype == tf.float64 else tf.float32
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=y, logits=tf.cast(logits, wide)
                )
                loss_sum = tf.reduce_sum(losses)
                objective = tf.cast(loss_sum, self.dtype) / total
            grads = tape.gradient(objective, variables, unconnected_gradients=ZERO)
            hits = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.int64))
            return grads, loss_sum, hits

        grads, loss_sum, hits = self.strategy.reduce(SUM, self.strategy.run(replica, args=inputs), axis=None)
        lr, weight_decay = self.hyper
        for name, variable, grad in zip(self.params, variables, grads, strict=True):
            decay = weight_decay * variable if name.startswith("W") and self.cfg.weight_decay else 0
            variable.assign_sub(lr * (grad + decay))
        return loss_sum, hits
