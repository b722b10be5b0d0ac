"""The TensorFlow port's keep masks and their application: 32-bit thresholds, exact to 2^-32.

Masks are drawn from a ``tf.random.Generator`` (Philox, its state a tf.Variable) rather than from
stateless seeds, for three reasons:

- it is the rng the other stateful ports hand around (a torch.Generator, NumPy's Generator): one
  object, made from the run's seed, that advances with every draw, so two calls give fresh masks
  and nothing has to count steps or fold in layers by hand;
- it is one of the two ways TF's random-number guide (tensorflow.org/guide/random_numbers) gives
  to control randomness, the one "for cases where you want each RNG call to produce different
  results"; the legacy ops (``tf.nn.dropout`` under global and op seeds) are discouraged in TF's
  own docstrings, and their sequence restarts in every new tf.function. A tf.function that
  captures a Generator draws, call after call, the numbers eager code draws (its state is a
  variable the graph reads and advances);
- ``uniform_full_int(shape, tf.uint32)`` gives raw 32-bit words, so the mask is the integer compare
  with ``keep_threshold(p)`` every port shares, exact to 2^-32 (``tf.random.uniform`` in float32
  resolves 2^-23, and TF's own dropout draws its uniforms in x's dtype).

Measured on TF 2.21 (CPU): a Generator's uint32 words are the same under XLA as in eager code and
in a tf.function, but its normals (gaussian noise) are not, and TF documents no XLA guarantee
(tensorflow#121243); so the compiled variant draws outside XLA and hands its step the masks.
"""

from __future__ import annotations

import tensorflow as tf

from dropout_ports.common.masks import keep_threshold


def keep_mask(rng: tf.random.Generator, shape: tuple[int, ...] | tf.Tensor, p: float) -> tf.Tensor:
    """Bool mask, True with probability 1 - p to within 2^-32, from 32 random bits per element
    (rng advances); shape may be a tensor (a size tf.function leaves unknown until it runs)."""
    bits = rng.uniform_full_int(shape, dtype=tf.uint32)
    return bits < tf.constant(keep_threshold(p), tf.uint32)


def apply_keep(x: tf.Tensor, keep: tf.Tensor, p: float) -> tf.Tensor:
    """The chapter's ``mask * X / (1 - p)`` in x's dtype (the chapter's float32 cast would fail on
    float64 x); GradientTape gives mask / (1 - p)."""
    return x * tf.cast(keep, x.dtype) / tf.constant(1.0 - p, x.dtype)
