"""What is particular to the TensorFlow port: a Generator that advances, tf.function and XLA drawing
or taking the eager masks, GradientTape, Keras's Dropout, traced steps shared between trainers."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
from conftest import five_sigma  # noqa: E402

from dropout_ports.backends import tensorflow as tb  # noqa: E402
from dropout_ports.backends.tensorflow import trainer as tf_trainer  # noqa: E402
from dropout_ports.benchmarks.runs.spec import DataSpec  # noqa: E402
from dropout_ports.benchmarks.suites.lockstep import TOLERANCE, lockstep_gaps, one_epoch_in_float64  # noqa: E402
from dropout_ports.common.batches import batch_order  # noqa: E402
from dropout_ports.common.config import Config  # noqa: E402
from dropout_ports.common.data import first_examples  # noqa: E402
from dropout_ports.common.fit import make_trainer  # noqa: E402
from dropout_ports.common.masks import keep_threshold  # noqa: E402
from dropout_ports.common.params import init_params  # noqa: E402

SMALL = Config(num_hiddens=(32, 16), batch_size=64)


def kept(out) -> np.ndarray:
    return tb.to_numpy(out) != 0


def test_the_generator_advances_and_its_seed_repeats_it():
    x = tb.asarray(np.ones(4096, np.float32))
    rng = tb.make_rng(0)
    first, second = kept(tb.dropout(x, 0.5, rng)), kept(tb.dropout(x, 0.5, rng))
    again = kept(tb.dropout(x, 0.5, tb.make_rng(0)))
    assert np.array_equal(first, again) and abs(np.mean(first == second) - 0.5) < five_sigma(0.5, 4096)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_tf_function_and_xla_draw_the_eager_words(jit_compile):
    """A Generator captured or passed into a tf.function advances call by call and gives eager's
    uint32 words (measured under XLA too on TF 2.21; the compiled variant does not rely on it)."""
    x = tb.asarray(np.ones(4099, np.float32))
    compiled = tf.function(lambda x, rng: tb.dropout(x, 0.3, rng), jit_compile=jit_compile)
    eager_rng, graph_rng = tb.make_rng(7), tb.make_rng(7)
    for _ in range(2):
        assert np.array_equal(kept(tb.dropout(x, 0.3, eager_rng)), kept(compiled(x, graph_rng)))
    assert np.array_equal(eager_rng.state.numpy(), graph_rng.state.numpy())


def test_masks_are_32_bit_integer_compares():
    """The mask is the generator's uint32 words below keep_threshold(p): exact to 2^-32."""
    p, shape = 0.5 - 2**-9, (1 << 16,)
    words = tb.make_rng(3).uniform_full_int(shape, dtype=tf.uint32).numpy()
    np.testing.assert_array_equal(tb.keep_mask(tb.make_rng(3), shape, p).numpy(), words < keep_threshold(p))


@pytest.mark.parametrize("p", [0.2, 0.5, 1.0])
def test_gradient_tape_gives_mask_over_keep_probability(p):
    x = tb.asarray(np.r_[np.inf, 1 + np.arange(4095) / 4096].astype(np.float32))
    out, grad = tb.output_and_gradient(lambda x: tb.dropout(x, p, tb.make_rng(3)), x)
    expected = kept(out) / np.float32(1 - p) if p < 1 else np.zeros(4096)
    np.testing.assert_allclose(grad.numpy()[1:], expected[1:], rtol=2**-23)
    assert grad.numpy()[0] in (0.0, np.float32(1 / (1 - p)) if p < 1 else 0.0)  # never nan, even for inf


def test_float64_is_kept_where_the_chapters_float32_cast_fails():
    x = tb.asarray(1 + np.arange(1000.0))
    out = tb.dropout(x, 0.2, tb.make_rng(0))
    assert out.dtype == tf.float64 and np.allclose(
        tb.to_numpy(out)[kept(out)], (1 + np.arange(1000.0))[kept(out)] / 0.8
    )
    with pytest.raises(tf.errors.InvalidArgumentError):  # D2L's tab, verbatim: cast to float32
        tb.chapter_dropout(x, 0.2, tb.make_rng(0))


def test_builtin_dropout_is_keras_seeded_from_the_rng():
    x = tb.asarray(np.ones((64, 64), np.float32))
    same = [kept(tb.builtin_dropout(x, 0.5, tb.make_rng(5))) for _ in range(2)]
    rng = tb.make_rng(5)
    first, second = kept(tb.builtin_dropout(x, 0.5, rng)), kept(tb.builtin_dropout(x, 0.5, rng))
    assert np.array_equal(*same) and np.array_equal(first, same[0]) and not np.array_equal(first, second)
    shared = kept(tb.builtin_dropout(x, 0.5, rng, broadcast_dims=(0,)))
    assert (shared == shared[:1]).all()  # Keras's noise_shape


def test_builtin_is_the_chapters_keras_sequential_with_seeded_dropouts():
    trainer = tb.Trainer(Config(), init_params(Config()), variant="builtin")
    layers = trainer.model.layers
    assert [type(layer).__name__ for layer in layers] == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert [layer.rate for layer in layers[1::2]] == [0.2, 0.5]
    seeds = [layer.seed for layer in layers[1::2]]
    assert seeds == [tb.models.keras_seed(0, 1), tb.models.keras_seed(0, 2)] and seeds[0] != seeds[1]
    np.testing.assert_array_equal(trainer.get_params()["W1"], init_params(Config())["W1"])


def test_keras_on_another_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tf.keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow"):
        tb.Trainer(SMALL, init_params(SMALL), variant="builtin")


def epochs(trainer, data, count: int = 2) -> tuple[list[tuple[float, float]], dict]:
    x, y = trainer.put(data.train_x), trainer.put(data.train_y)
    order = [batch_order(len(data.train_y), trainer.cfg.batch_size, 0, e) for e in range(count)]
    return [trainer.train_epoch(x, y, batches) for batches in order], trainer.get_params()


@pytest.mark.parametrize("variant", tb.VARIANTS)
def test_the_device_loop_is_the_step_loop(variant, synthetic):
    """One graph for an epoch's full batches draws the step loop's masks: the same run."""
    data = first_examples(synthetic, 2000)  # 31 full batches of SMALL's 64 and a short one
    step = tb.Trainer(SMALL.replace(loop="step"), init_params(SMALL), variant=variant)
    device = tb.Trainer(SMALL.replace(loop="device"), init_params(SMALL), variant=variant)
    (step_figures, step_params), (device_figures, device_params) = epochs(step, data), epochs(device, data)
    np.testing.assert_allclose(device_figures, step_figures, rtol=0, atol=1e-6)
    for name, value in device_params.items():
        np.testing.assert_allclose(value, step_params[name], rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("noise", ["bernoulli", "gaussian", "dropconnect"])
def test_compiled_is_the_scratch_run_with_its_own_masks(noise, synthetic):
    """XLA is handed the masks the scratch step draws, from the same generator in the same order."""
    cfg = SMALL.replace(noise=noise, dtype="float64")
    runs = [tb.Trainer(cfg, init_params(cfg), variant=v) for v in ("scratch", "compiled")]
    figures = [epochs(trainer, synthetic, 1) for trainer in runs]
    np.testing.assert_allclose(figures[1][0], figures[0][0], rtol=0, atol=1e-12)
    for name, value in figures[1][1].items():
        np.testing.assert_allclose(value, figures[0][1][name], rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("variant", ["scratch", "compiled"])
def test_an_epoch_in_float64_is_numpys_computation(variant):
    """The library's lockstep (compare --verdict's): one epoch of the synthetic set in float64
    with the same initial weights, batches and injected masks as NumPy, within TOLERANCE."""
    data = DataSpec("synthetic")
    reference = one_epoch_in_float64("numpy", "scratch", Config(), data, "cpu")
    gaps = lockstep_gaps(one_epoch_in_float64("tensorflow", variant, Config(), data, "cpu"), reference)
    assert max(gaps["max_loss_diff"], gaps["max_param_diff"]) <= TOLERANCE, gaps


def tracings() -> tuple[int, int]:
    return tuple(
        step.experimental_get_tracing_count() for step in (tf_trainer.train_step, tf_trainer.compiled_step)
    )


def test_trainers_of_one_shape_share_their_traced_steps(synthetic):
    """The scratch steps are module functions with the net's settings static and the variables, the
    learning rate and the decay as arguments: another trainer of the shape traces nothing new, and
    one of another width (the same rates) traces its own step rather than reuse a wrong one."""
    x, y = synthetic.train_x[:64], synthetic.train_y[:64]
    for variant in ("scratch", "compiled"):
        tb.Trainer(SMALL, init_params(SMALL), variant=variant).train_step(x, y)
    counts = tracings()
    for seed, lr in ((1, 0.4321), (2, 0.0)):
        cfg = SMALL.replace(seed=seed, lr=lr)
        for variant in ("scratch", "compiled"):
            tb.Trainer(cfg, init_params(cfg), variant=variant).train_step(x, y)
    assert tracings() == counts
    wider = SMALL.replace(num_hiddens=(48, 24))
    for variant in ("scratch", "compiled"):
        assert np.isfinite(tb.Trainer(wider, init_params(wider), variant=variant).train_step(x, y))
    assert tracings() == (counts[0] + 1, counts[1] + 1)


def test_tensor_float_32_is_set_only_around_the_trainers_work(synthetic):
    before = tf.config.experimental.tensor_float_32_execution_enabled()
    trainer = tb.Trainer(SMALL.replace(matmul_precision="highest"), init_params(SMALL))
    seen = []
    original = trainer._step

    def recording(*args):
        seen.append(tf.config.experimental.tensor_float_32_execution_enabled())
        return original(*args)

    trainer._step = recording
    trainer.train_step(synthetic.train_x[:64], synthetic.train_y[:64])
    assert seen == [False] and tf.config.experimental.tensor_float_32_execution_enabled() == before


def test_keras_dropout_has_no_data_parallel_path_and_too_few_devices_say_how_to_get_them():
    cfg = SMALL.replace(replicas=2)
    with pytest.raises(ValueError, match="no data-parallel path"):
        make_trainer(tb, cfg, init_params(cfg), variant="builtin")
    many = SMALL.replace(replicas=64)  # more than the test session's logical CPUs (conftest)
    with pytest.raises(ValueError, match=r"64 replicas need 64 CPU devices.*prepare_host_devices\(64\)"):
        make_trainer(tb, many, init_params(many))


def test_gpu_without_gpu_is_a_clear_error():
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="has none"):
        tb.Trainer(SMALL, init_params(SMALL), device="gpu")
