"""docs/differences.md's claims about TensorFlow's seeds (§25), each shown on the installed
TensorFlow (2.21.0 when written); the guide names each test beside its sentence."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
from conftest import five_sigma  # noqa: E402

N = 1 << 14  # mask elements: two independent masks agree on 0.5 +- 5 sigma = 0.020 of them at p = 0.5


def kept(out) -> np.ndarray:
    return np.asarray(out) != 0


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


@pytest.fixture
def global_seed():
    """tf.random.set_seed is process-wide: cleared after the test."""
    yield tf.random.set_seed
    tf.random.set_seed(None)


def test_an_op_seed_draws_anew_each_call_and_set_seed_restarts_the_sequence(global_seed):
    x = tf.ones(N)
    global_seed(1)
    first, second = kept(tf.nn.dropout(x, 0.5, seed=7)), kept(tf.nn.dropout(x, 0.5, seed=7))
    global_seed(1)
    again = kept(tf.nn.dropout(x, 0.5, seed=7))
    assert np.array_equal(first, again) and abs(agreement(first, second) - 0.5) < five_sigma(0.5, N)


def test_each_tf_function_replays_the_seeded_sequence_from_its_start(global_seed):
    """tf.function acts like a re-run of the program: two functions draw the same first mask; one
    function called twice draws two."""
    x = tf.ones(N)
    global_seed(1)
    one = tf.function(lambda x: tf.nn.dropout(x, 0.5, seed=7))
    other = tf.function(lambda x: tf.nn.dropout(x, 0.5, seed=7))
    first, second = kept(one(x)), kept(one(x))
    assert np.array_equal(first, kept(other(x)))
    assert abs(agreement(first, second) - 0.5) < five_sigma(0.5, N)


def test_the_uniforms_are_drawn_in_the_inputs_dtype():
    """The same seed gives independent masks for float32 and float64 input."""
    seed = tf.constant([1, 2])
    single = kept(tf.nn.experimental.stateless_dropout(tf.ones(N, tf.float32), 0.5, seed))
    double = kept(tf.nn.experimental.stateless_dropout(tf.ones(N, tf.float64), 0.5, seed))
    assert abs(agreement(single, double) - 0.5) < five_sigma(0.5, N)


def test_dropout_keeps_uniforms_at_or_above_the_rate_and_multiplies_by_the_reciprocal():
    seed, rate = tf.constant([3, 4]), 0.3
    x = tf.constant(1 + np.arange(N) / N, tf.float32)
    out = tf.nn.experimental.stateless_dropout(x, rate, seed).numpy()
    uniforms = tf.random.stateless_uniform([N], seed, dtype=tf.float32).numpy()
    np.testing.assert_array_equal(out != 0, uniforms >= rate)
    scaled = x.numpy() * np.float32(1 / (1 - rate))
    np.testing.assert_array_equal(out[out != 0], scaled[out != 0])
    divided = x.numpy() / np.float32(1 - rate)
    assert np.any(out[out != 0] != divided[out != 0])  # the chapter's x / (1 - p) differs in the last bit


@pytest.mark.parametrize("alg", ["auto_select", "philox"])
def test_xla_draws_other_stateless_floats_than_eager_unless_philox_is_named(alg):
    """Under jit_compile, the default algorithm draws other numbers from one seed than eager and
    graph do (tensorflow/tensorflow#121243, open); naming "philox" gives eager's numbers here (TF
    2.21, CPU), though #121243 reports otherwise elsewhere."""
    draw = lambda: tf.random.stateless_uniform([N], [1, 2], alg=alg)  # noqa: E731
    eager, graph = draw().numpy(), tf.function(draw)().numpy()
    xla = tf.function(draw, jit_compile=True)().numpy()
    assert np.array_equal(eager, graph)
    if alg == "philox":
        np.testing.assert_array_equal(xla, eager)
    else:
        assert abs(agreement(eager < 0.5, xla < 0.5) - 0.5) < five_sigma(0.5, N)


def test_op_determinism_refuses_an_unseeded_random_op():
    """In a process of its own: TensorFlow has no switch to turn op determinism off again."""
    code = (
        "import tensorflow as tf\n"
        "tf.config.experimental.enable_op_determinism()\n"
        "try:\n    tf.nn.dropout(tf.ones(8), 0.5)\n"
        "except RuntimeError as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    tail = done.stderr[-2000:]
    assert "Random ops require a seed to be set when determinism is enabled" in done.stdout, tail


MIRRORED_DRAWS = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
reduction = tf.distribute.ReductionToOneDevice()
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=reduction)
def per_replica(draw):
    return [t.numpy() for t in strategy.experimental_local_results(strategy.run(tf.function(draw)))]
with strategy.scope():
    scoped = tf.random.Generator.from_seed(7)
a, b = per_replica(lambda: scoped.uniform_full_int((4096,), tf.uint32))
print("generator", np.mean(a == b))
a, b = per_replica(lambda: tf.nn.dropout(tf.ones((64, 64)), 0.5, seed=1))
print("op-seed", np.mean((a != 0) == (b != 0)))
"""


def test_under_mirrored_strategy_a_scoped_generator_differs_by_replica_an_op_seed_repeats():
    """§11: on two replicas of a MirroredStrategy, a Generator made in the strategy's scope gives
    each replica its own stream, while tf.nn.dropout with an op seed draws the same mask on both
    (a process of its own: logical devices are fixed at TensorFlow's first operation)."""
    done = subprocess.run([sys.executable, "-c", MIRRORED_DRAWS], capture_output=True, text=True, timeout=300)
    found = dict(line.split() for line in done.stdout.splitlines())
    assert set(found) == {"generator", "op-seed"}, done.stderr[-2000:]
    assert float(found["generator"]) < 0.01  # 32-bit words: two streams coincide on about 2^-32
    assert float(found["op-seed"]) == 1.0


def test_keras_dropout_is_off_unless_called_with_training_true():
    """§3: no mode to forget, but an argument: a Keras layer called without training=True is the identity."""
    x = tf.ones((64, 64))
    layer = tf.keras.layers.Dropout(0.5, seed=1)
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    assert (layer(x, training=True).numpy() == 0).any()


def test_keras_dense_kernels_are_in_by_out_glorot_uniform_with_zero_biases():
    """§4: a third default initialisation, std sqrt(2 / (fan_in + fan_out)) = 0.0442 for 784 -> 256."""
    dense = tf.keras.layers.Dense(256)
    dense.build((None, 784))
    kernel, limit = dense.kernel.numpy(), np.sqrt(6 / (784 + 256))
    assert kernel.shape == (784, 256) and not dense.bias.numpy().any()
    assert np.abs(kernel).max() <= limit and abs(kernel.std() - limit / np.sqrt(3)) < 0.01 * limit


def test_tensorflow_allows_tf32_matmuls_by_default():
    """§10: TensorFlow's float32 matmuls may use TF32 where a GPU has it, unless switched off (the
    switch is process-wide; the port sets it around its own work only)."""
    assert tf.config.experimental.tensor_float_32_execution_enabled()


def test_a_tf_function_reads_the_first_mirrored_variables_it_was_handed():
    """§11: a tf.function traced with one set of MirroredVariables, handed another of the same
    shapes, reads the first set (the trace captured it); plain variables are arguments as usual.
    The port's data-parallel evaluation hands its shared forward pass the values instead."""
    forward = tf.function(lambda params, x: x @ params["W"], reduce_retracing=True)
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    x = tf.ones((1, 2))
    with strategy.scope():
        first = {"W": tf.Variable(tf.fill((2, 2), 3.0))}
    assert forward(first, x).numpy().tolist() == [[6.0, 6.0]]
    assert forward({"W": tf.Variable(tf.fill((2, 2), 11.0))}, x).numpy().tolist() == [[22.0, 22.0]]
    with strategy.scope():
        second = {"W": tf.Variable(tf.fill((2, 2), 13.0))}
    assert forward(second, x).numpy().tolist() == [[6.0, 6.0]]  # the first set's value, not 26
    values = {name: v.read_value() for name, v in second.items()}
    assert forward(values, x).numpy().tolist() == [[26.0, 26.0]]
