"""The TensorFlow port's models: the chapter's hand-written net over tf.Variables in the common
layout, and its concise Keras 3 ``Sequential`` with ``tf.keras.layers.Dropout``."""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

from dropout_ports.backends.tensorflow.masks import apply_keep, keep_mask
from dropout_ports.backends.tensorflow.ops import keras
from dropout_ports.common.config import Config
from dropout_ports.common.masks import noise_std
from dropout_ports.common.params import Params
from dropout_ports.common.streams import stream_seed

Masks = list[tf.Tensor | None]


class ScratchNet(NamedTuple):
    """The chapter's ``Net`` as a function of the common params dict (tf.Variables: W{i} is
    (in, out), as x @ W): Linear-ReLU-noise per hidden layer, then Linear. Its fields are static: the
    shared steps (trainer.py) trace once per value, the variables being arguments."""

    rates: tuple[float, ...]
    noise: str = "bernoulli"

    def __call__(
        self, params: Params, x: tf.Tensor, masks: Masks | None = None
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """Logits and each hidden layer's output; the noise is on when masks are given (``draw_masks``'s,
        None where a rate draws nothing, or injected: the layout of common.masks.mask_shapes). Under
        dropconnect they mask the weights that read each hidden layer instead of the layer."""

        def weights(i: int) -> tf.Tensor:
            """W{i}, under dropconnect (noise on, a layer reading a hidden one) with its kept weights."""
            if masks is None or self.noise != "dropconnect" or i == 1:
                return params[f"W{i}"]
            return apply_keep(params[f"W{i}"], masks[i - 2], self.rates[i - 2])

        hidden = []
        for i, p in enumerate(self.rates, start=1):
            x = tf.nn.relu(x @ weights(i) + params[f"b{i}"])
            if masks is not None and self.noise != "dropconnect":
                x = self.apply(x, masks[i - 1], p)
            hidden.append(x)
        last = len(self.rates) + 1
        return x @ weights(last) + params[f"b{last}"], hidden

    def apply(self, x: tf.Tensor, mask: tf.Tensor | None, p: float) -> tf.Tensor:
        """Layer noise at rate p: gaussian multipliers, or inverted dropout (zeros at p = 1, x at 0)."""
        if self.noise == "gaussian":
            return x * tf.cast(mask, x.dtype) if mask is not None and p > 0 else x
        if p == 1.0:
            return tf.zeros_like(x)
        return x if p == 0.0 else apply_keep(x, mask, p)

    def draw_masks(self, rng: tf.random.Generator, params: Params, batch: tf.Tensor) -> Masks:
        """One step's masks for a batch of that many rows, drawn from rng layer by layer (gaussian
        multipliers or bool keep-masks; None where a rate draws nothing), in the injected layout.
        Dropconnect draws at every rate (Config refuses 1), as in the other ports."""
        masks: Masks = []
        for i, p in enumerate(self.rates, start=1):
            reader = params[f"W{i + 1}"]
            shape = tuple(reader.shape) if self.noise == "dropconnect" else tf.stack([batch, reader.shape[0]])
            if self.noise == "gaussian":
                masks.append(1 + noise_std(p) * rng.normal(shape, dtype=reader.dtype) if p > 0 else None)
            elif self.noise == "bernoulli" and not 0.0 < p < 1.0:
                masks.append(None)
            else:
                masks.append(keep_mask(rng, shape, p))
        return masks

    def penalty(self, params: Params, weight_decay: tf.Tensor) -> tf.Tensor:
        """The chapter's L2 term, weight_decay / 2 * sum ||W||^2 (the biases are not decayed)."""
        weights = [params[f"W{i}"] for i in range(1, len(self.rates) + 2)]
        return weight_decay / 2 * tf.add_n([tf.reduce_sum(w**2) for w in weights])


# Each Dropout layer's Keras seed: a stream of the run's seed of its own (common.streams), so no two
# layers and no two seeds share one. Keras keeps [seed, counter] in a variable, bumps the counter
# at every call and folds both into int32 for TF's stateless dropout. Without seed=, Keras would
# take one from Python's `random` (which keras.utils.set_random_seed seeds).
KERAS_SEED_STREAM = 100
KERAS_SEEDS = 2**31 - 1  # the int32 range Keras folds seeds into


def keras_seed(seed: int, layer: int) -> int:
    return stream_seed(seed, KERAS_SEED_STREAM + layer) % KERAS_SEEDS


def builtin_net(cfg: Config) -> Any:
    """The chapter's concise version: Dense-ReLU-Dropout per hidden layer, then Dense, in cfg.dtype
    (a Keras dtype policy: variables and computation), each Dropout seeded explicitly."""
    layers = keras().layers
    model: list = [layers.Input((cfg.num_inputs,), dtype=cfg.dtype)]
    for i, (width, p) in enumerate(zip(cfg.num_hiddens, cfg.dropouts, strict=True), start=1):
        model += [
            layers.Dense(width, activation="relu", dtype=cfg.dtype),
            layers.Dropout(p, seed=keras_seed(cfg.seed, i), dtype=cfg.dtype),
        ]
    model.append(layers.Dense(cfg.num_outputs, dtype=cfg.dtype))
    return keras().Sequential(model)


def dense_layers(model: Any) -> list[Any]:
    return [layer for layer in model.layers if isinstance(layer, keras().layers.Dense)]


def dropout_layers(model: Any) -> list[Any]:
    return [layer for layer in model.layers if isinstance(layer, keras().layers.Dropout)]


def load_params(model: Any, params: Params) -> None:
    """The common layout's W1, b1, ... into the Dense layers (Keras kernels are (in, out) too)."""
    for i, dense in enumerate(dense_layers(model), start=1):
        dense.kernel.assign(tf.cast(params[f"W{i}"], dense.kernel.dtype))
        dense.bias.assign(tf.cast(params[f"b{i}"], dense.bias.dtype))


def keras_layers(model: Any, x: tf.Tensor, training: bool) -> tuple[tf.Tensor, list[tf.Tensor]]:
    """The model's logits and each Dropout layer's output, layer by layer (as model(x) computes it)."""
    hidden = []
    for layer in model.layers:
        x = layer(x, training=training)
        if isinstance(layer, keras().layers.Dropout):
            hidden.append(x)
    return x, hidden
