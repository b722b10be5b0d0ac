"""The TensorFlow port's Trainer: SGD steps as tf.functions over the models, parameters in the
common layout. Its loops: "step", a tf.function call a batch from the host (a TF user's custom
training loop), and "device", an epoch's full batches in one tf.function (a graph while-loop)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np
import tensorflow as tf

from dropout_ports.backends.tensorflow.models import (
    Masks,
    ScratchNet,
    builtin_net,
    dense_layers,
    dropout_layers,
    keras_layers,
    load_params,
)
from dropout_ports.backends.tensorflow.ops import (
    MATMUL_PRECISIONS,
    VARIANTS,
    keras,
    make_rng,
    matmul_precision,
    resolve_device,
    seeded_generator,
    to_numpy,
)
from dropout_ports.common.batches import full_and_short
from dropout_ports.common.config import Config
from dropout_ports.common.params import Params
from dropout_ports.common.streams import EVAL_STREAM, stream_seed
from dropout_ports.common.trainer import TrainerBase

ZERO = tf.UnconnectedGradients.ZERO  # a weight the step cut off (rate 1) gets a zero gradient, not None


class StepSettings(NamedTuple):
    """What a traced scratch step depends on besides its tensors: a static argument of the steps
    below, so every Trainer of one shape, dtype and rate shares their traced (and XLA-compiled)
    code. The variables are arguments (a traced function takes any variables, so their shapes and
    dtype are in here), and so are the learning rate and weight decay (another value, no new trace)."""

    net: ScratchNet
    layer_shapes: tuple[tuple[int, int], ...]
    dtype: str
    decays: bool  # whether the loss has the chapter's penalty

    @classmethod
    def of(cls, cfg: Config) -> StepSettings:
        net = ScratchNet(cfg.dropouts, cfg.noise)
        return cls(net, tuple(cfg.layer_shapes), cfg.dtype, cfg.weight_decay > 0)


def loss_and_hits(logits: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Batch-mean softmax cross-entropy in at least float32 (bfloat16 sums too coarsely), and the
    number of correct argmaxes."""
    wide = tf.float64 if logits.dtype == tf.float64 else tf.float32
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.cast(logits, wide))
    )
    return loss, tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.int64))


def sgd_step(
    settings: StepSettings,
    params: Params,
    x: tf.Tensor,
    y: tf.Tensor,
    masks: Masks,
    lr: tf.Tensor,
    weight_decay: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """One step of the scratch net with its masks given: the loss plus the chapter's penalty, by
    GradientTape, and SGD written out as the chapter's ``param.assign_sub(lr * grad)``."""
    variables = list(params.values())
    with tf.GradientTape() as tape:
        logits, _ = settings.net(params, x, masks)
        loss, hits = loss_and_hits(logits, y)
        objective = loss + settings.net.penalty(params, weight_decay) if settings.decays else loss
    grads = tape.gradient(objective, variables, unconnected_gradients=ZERO)
    for variable, grad in zip(variables, grads, strict=True):
        variable.assign_sub(lr * grad)
    return loss, hits


train_step = tf.function(sgd_step, reduce_retracing=True)
compiled_step = tf.function(sgd_step, jit_compile=True, reduce_retracing=True)  # XLA: the compiled variant


@tf.function(reduce_retracing=True)
def forward_pass(settings: StepSettings, params: Params, x: tf.Tensor, masks: Masks | None) -> tuple:
    """The scratch net's logits and hidden outputs without an update (the noise on with masks)."""
    return settings.net(params, x, masks)


class Trainer(TrainerBase):
    """SGD on the batch-mean cross-entropy: by hand over the scratch net's variables (scratch,
    compiled: the module's shared steps, handed masks drawn from the trainer's generator), or
    Keras's SGD over the Keras model (builtin: a tf.function of the trainer's own)."""

    VARIANTS = VARIANTS
    SCRATCH_VARIANTS = ("scratch", "compiled")
    TRAIN_DTYPES = ("float32", "float64", "bfloat16")
    LOOPS = ("step", "device")
    MATMUL_PRECISIONS = MATMUL_PRECISIONS
    REPLICA_SEEDINGS: ClassVar = {"scratch": ("example", "rank", "same")}  # DataParallelTrainer, parallel.py

    def __init__(self, cfg: Config, params: Params, *, variant: str = "scratch", device: str = "cpu"):
        super().__init__(cfg, params, variant=variant, device=device)
        self.device = resolve_device(device)
        self.dtype = tf.dtypes.as_dtype(cfg.dtype)
        with tf.device(self.device):
            self.eval_rng = seeded_generator(stream_seed(cfg.seed, EVAL_STREAM), self.device)  # MC dropout
            if variant == "builtin":
                self.model = builtin_net(cfg)
                load_params(self.model, self.initial_params)
                # Keras's own weight decay, on the kernels only (scratch, compiled: the chapter's penalty).
                # Given a Python float, Keras casts it through float32 (tf.cast(0.05, tf.float64) is
                # 0.05000000074505806): as a tensor in the model's dtype a float64 run decays exactly. Its
                # learning rate is a float32 variable: exact for the chapter's 0.5, not for every rate.
                decay = tf.constant(cfg.weight_decay, self.dtype) if cfg.weight_decay else None
                self.optimizer = keras().optimizers.SGD(cfg.lr, weight_decay=decay)
                self.optimizer.exclude_from_weight_decay(var_names=["bias"])
                self.optimizer.build(self.model.trainable_variables)
                self.keras_step_fn = tf.function(self._keras_step, reduce_retracing=True)
            else:
                self.params = {name: tf.Variable(tf.cast(value, self.dtype), name=name)
                               for name, value in self.initial_params.items()}  # fmt: skip
                self.rng = make_rng(cfg.seed, device)  # the training masks' (builtin: Keras's seeds)
                self.settings = StepSettings.of(cfg)
                # the learning rate and weight decay, as the steps take them: tensors in the trainer's dtype
                self.hyper = tuple(tf.constant(value, self.dtype) for value in (cfg.lr, cfg.weight_decay))
                self.step_fn = tf.function(self._drawn_step, reduce_retracing=True)  # captures its generator
        self.epoch_fn = tf.function(self._device_epoch)  # traced at the device loop's first epoch

    @classmethod
    def check_support(cls, cfg: Config, variant: str, device: str = "cpu") -> None:
        super().check_support(cfg, variant, device)
        if variant == "builtin":
            keras()  # Keras 3 on TensorFlow in this process, or a ValueError saying how to get it

    def _scoped(self) -> contextlib.AbstractContextManager:
        """TF's TensorFloat-32 switch is process-wide: this trainer's, for its calls only; and its device."""
        stack = contextlib.ExitStack()
        stack.enter_context(matmul_precision(self.cfg.matmul_precision))
        stack.enter_context(tf.device(self.device))
        return stack

    def put(self, array: np.ndarray) -> tf.Tensor:
        """Floating arrays in the trainer's dtype on its device; labels, indices and masks as they are."""
        with tf.device(self.device):
            tensor = tf.convert_to_tensor(array)
            return tf.cast(tensor, self.dtype) if tensor.dtype.is_floating else tensor

    def rows(self, array: tf.Tensor, idx: tf.Tensor) -> tf.Tensor:
        return tf.gather(array, idx)

    def get_params(self) -> Params:
        if self.variant != "builtin":
            return {name: to_numpy(value).copy() for name, value in self.params.items()}
        params = {}
        for i, dense in enumerate(dense_layers(self.model), start=1):
            params[f"W{i}"] = to_numpy(tf.convert_to_tensor(dense.kernel)).copy()
            params[f"b{i}"] = to_numpy(tf.convert_to_tensor(dense.bias)).copy()
        return params

    def _step(
        self, x: tf.Tensor, y: tf.Tensor, masks: list[np.ndarray] | None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        if self.variant == "builtin":
            return self.keras_step_fn(x, y)
        if masks is None:
            return self.step_fn(x, y)
        injected = [self.put(mask) for mask in masks]
        return self.scratch_step(self.settings, self.params, x, y, injected, *self.hyper)

    @property
    def scratch_step(self) -> Callable[..., tuple[tf.Tensor, tf.Tensor]]:
        """compiled: the step under XLA, its masks drawn outside XLA (TF gives XLA's numbers no
        guarantee), so it is the scratch run; scratch: the same step as a plain tf.function."""
        return compiled_step if self.variant == "compiled" else train_step

    def _drawn_step(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """A step with masks drawn from the trainer's generator (its state advances per call), then
        handed to the shared step: one call from the host."""
        masks = self.settings.net.draw_masks(self.rng, self.params, tf.shape(x)[0])
        return self.scratch_step(self.settings, self.params, x, y, masks, *self.hyper)

    def _keras_step(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The builtin step, as Keras's guide writes a custom training loop on TensorFlow."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss, hits = loss_and_hits(logits, y)
        grads = tape.gradient(loss, variables)  # ZERO would read a Keras variable's dtype, a str
        grads = [
            tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables, strict=True)
        ]
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss, hits

    def _device_epoch(self, x: tf.Tensor, y: tf.Tensor, order: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Every row of order a step, in one graph (AutoGraph turns the loop into a tf.while_loop):
        the steps draw from the generator in the step loop's order, so it is the same run."""
        loss_sum = tf.zeros((), tf.float64 if self.dtype == tf.float64 else tf.float32)
        correct = tf.zeros((), tf.int64)
        for i in tf.range(tf.shape(order)[0]):
            xb, yb = tf.gather(x, order[i]), tf.gather(y, order[i])
            loss, hits = self._keras_step(xb, yb) if self.variant == "builtin" else self._drawn_step(xb, yb)
            loss_sum += loss * tf.cast(tf.shape(xb)[0], loss.dtype)
            correct += hits
        return loss_sum, correct

    def _epoch_sums(self, x: tf.Tensor, y: tf.Tensor, batches: list[np.ndarray]) -> tuple[Any, Any]:
        """The loop: "step", a call a batch from the host (the base class's loop); "device", the full
        batches in one call (_device_epoch), then the short last one from the host."""
        if self.cfg.loop == "step":
            return super()._epoch_sums(x, y, batches)
        full, short = full_and_short(batches, self.cfg.batch_size)
        loss_sum: Any = 0.0
        correct: Any = 0
        if full:
            loss_sum, correct = self.epoch_fn(x, y, self.put(np.stack(full)))
        short_loss, short_correct = super()._epoch_sums(x, y, short)
        return loss_sum + short_loss, correct + short_correct

    def _evaluation_pass(self, x: tf.Tensor, noisy: bool) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """Logits and hidden outputs without an update, the noise drawn from evaluation's own stream
        when on (eagerly: evaluation draws once a pass); builtin runs Keras's layers eagerly."""
        if self.variant == "builtin":
            with self._evaluation_noise() if noisy else contextlib.nullcontext():
                return keras_layers(self.model, x, noisy)
        params = self.evaluated_params()
        masks = self.settings.net.draw_masks(self.eval_rng, params, tf.shape(x)[0]) if noisy else None
        return forward_pass(self.settings, params, x, masks)

    def evaluated_params(self) -> Params:
        """What evaluation's shared forward pass reads: the variables themselves."""
        return self.params

    @contextlib.contextmanager
    def _evaluation_noise(self) -> Iterator[None]:
        """Keras's Dropout layers seeded from evaluation's stream, their training seeds put back after."""
        states = [layer.seed_generator.state for layer in dropout_layers(self.model)]
        saved = [np.array(state.numpy()) for state in states]
        for state in states:
            state.assign(tf.stack([self.eval_rng.uniform_full_int((), tf.int64), tf.constant(0, tf.int64)]))
        try:
            yield
        finally:
            for state, value in zip(states, saved, strict=True):
                state.assign(value)

    def _log_probs(self, x: tf.Tensor, noisy: bool, sample: int) -> np.ndarray:
        return tf.nn.log_softmax(tf.cast(self._evaluation_pass(x, noisy)[0], tf.float64)).numpy()

    def _hidden(self, x: tf.Tensor, noisy: bool) -> list[np.ndarray]:
        return [tf.cast(h, tf.float64).numpy() for h in self._evaluation_pass(x, noisy)[1]]
