"""What is particular to the JAX port: explicit keys, purity under jit, no retracing."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from conftest import five_sigma  # noqa: E402

from dropout_ports.backends import jax as jb  # noqa: E402
from dropout_ports.backends.jax import masks as jax_masks  # noqa: E402
from dropout_ports.backends.jax import models as jax_models  # noqa: E402
from dropout_ports.common.config import Config  # noqa: E402
from dropout_ports.common.masks import keep_threshold, random_masks  # noqa: E402
from dropout_ports.common.params import init_params  # noqa: E402

SMALL = Config(num_hiddens=(32, 16), batch_size=64)


def test_jit_with_the_key_as_argument_matches_eager():
    x = jnp.ones(4096)
    key = jb.make_rng(0)
    jitted = jax.jit(lambda x, k: jb.dropout(x, 0.5, k))
    same = jax.random.clone  # the same key on purpose (the key-reuse checker allows a clone)
    np.testing.assert_array_equal(jitted(x, same(key)), jb.dropout(x, 0.5, same(key)))
    first, second = jax.random.split(key)
    assert (np.asarray(jitted(x, first)) != np.asarray(jitted(x, second))).mean() > 0.4


def test_invalid_rate_fails_at_trace_time():
    with pytest.raises(ValueError, match="dropout rate"):
        jax.jit(lambda x, k: jb.dropout(x, 1.5, k))(jnp.ones(3), jb.make_rng(0))
    with pytest.raises(TypeError, match="real number"):
        jax.jit(lambda x, k, p: jb.dropout(x, p, k))(jnp.ones(3), jb.make_rng(0), 0.5)


TIED = 1 - (0xC8 + 0.5) / 256  # threshold 0xC8800000: a tie with the top byte keeps with probability 1/2


@pytest.mark.parametrize("buffered", [True, False])
def test_ties_keep_exactly_whether_buffered_or_spilled(monkeypatch, buffered):
    """Ties resolved all one way would move the keep fraction by 1/512, 2.7 times five sigma here."""
    shape, key = (jax_masks.CHUNK * 32,), jb.make_rng(5)
    assert keep_threshold(TIED) == 0xC8800000
    buffered_mask = np.asarray(jax_masks.keep_mask(jax.random.clone(key), shape, TIED))  # the same key twice
    if not buffered:  # one slot: every chunk overflows and its ties draw from the spill array
        monkeypatch.setattr(jax_masks, "tie_slots", lambda size: 1)
    kept = np.asarray(jax_masks.keep_mask(key, shape, TIED))
    assert abs(kept.mean() - (1 - TIED)) < five_sigma(TIED, kept.size) < 2**-9 / 2
    assert buffered == np.array_equal(kept, buffered_mask)  # the spill path did run


def test_byte_draws_on_the_cpu_for_threefry_only():
    """Threefry keys draw a byte per element (in chunks, a key each); rbg keys 32 bits."""
    shape, p = (jax_masks.CHUNK + 100,), 0.2
    for impl, bytes_drawn in (("threefry2x32", True), ("rbg", False)):
        key = jb.make_rng(0, impl=impl)
        same = jax.random.clone  # one key three ways, on purpose
        words = np.asarray(jax.random.bits(same(key), shape, jnp.uint32) < np.uint32(keep_threshold(p)))
        kept = np.asarray(jax_masks.keep_mask(same(key), shape, p))
        np.testing.assert_array_equal(
            kept, jax.jit(jax_masks.keep_mask, static_argnums=(1, 2))(key, shape, p)
        )
        assert np.array_equal(kept, words) != bytes_drawn
    head, tail = kept[: jax_masks.CHUNK], kept[jax_masks.CHUNK :]
    assert not np.array_equal(head[: tail.size], tail)  # chunks draw from keys of their own


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_prng_implementations(impl):
    key = jb.make_rng(0, impl=impl)
    assert impl in str(jax.random.key_impl(key))
    trainer = jb.Trainer(SMALL.replace(prng_impl=impl), init_params(SMALL))
    assert np.isfinite(trainer.train_step(np.random.rand(64, 784).astype(np.float32), np.arange(64) % 10))


def test_every_layer_and_step_gets_its_own_key(monkeypatch):
    """The chapter's JAX code reused one key: every step drew the same mask. Record the keys."""
    seen = []
    original = jb.dropout

    def recording(x, p, key, **kwargs):
        jax.debug.callback(lambda k: seen.append(bytes(np.asarray(k))), jax.random.key_data(key))
        return original(x, p, key, **kwargs)

    monkeypatch.setattr(jax_models, "dropout", recording)  # the name ScratchNet calls
    cfg = SMALL.replace(lr=0.4321)  # a net no other test compiled, so the step is traced anew
    trainer = jb.Trainer(cfg, init_params(cfg))
    x, y = np.random.rand(64, 784).astype(np.float32), np.arange(64) % 10
    trainer.train_step(x, y)
    trainer.train_step(x, y)
    assert len(seen) == 4 and len(set(seen)) == 4  # 2 layers x 2 steps, all distinct


def test_an_epoch_compiles_once():
    """The short last batch has its own shape: compiled once, never again inside the loop."""
    cfg = SMALL.replace(batch_size=100)
    trainer = jb.Trainer(cfg, init_params(cfg))
    x, y = trainer.put(np.random.rand(1050, 784).astype(np.float32)), trainer.put(np.arange(1050) % 10)
    batches = [np.arange(i, min(i + 100, 1050)) for i in range(0, 1050, 100)]
    trainer.train_epoch(x, y, batches)
    sizes = (jb.train_scan._cache_size(), jb.train_step._cache_size())
    trainer.train_epoch(x, y, batches[::-1][1:] + batches[-1:])
    assert (jb.train_scan._cache_size(), jb.train_step._cache_size()) == sizes


def test_injected_masks_do_not_retrace():
    trainer = jb.Trainer(SMALL, init_params(SMALL))
    rng = np.random.default_rng(0)
    x, y = np.random.rand(64, 784).astype(np.float32), np.arange(64) % 10
    trainer.train_step(x, y, random_masks(SMALL, 64, rng))
    size = jb.train_step._cache_size()
    for _ in range(3):
        trainer.train_step(x, y, random_masks(SMALL, 64, rng))
    assert jb.train_step._cache_size() == size


def test_gpu_without_gpu_is_a_clear_error():
    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="has none"):
        jb.Trainer(SMALL, init_params(SMALL), device="gpu")


def test_nnx_layers_draw_from_streams_of_their_own_which_evaluation_leaves_alone():
    """Each nnx.Dropout advances its own counter once a step; MC evaluation and training-mode
    statistics draw from the trainer's evaluation stream instead."""
    trainer = jb.Trainer(SMALL, init_params(SMALL), variant="nnx")
    x, y = np.random.rand(64, 784).astype(np.float32), np.arange(64) % 10
    trainer.train_step(x, y)
    trainer.train_step(x, y)
    counts = [int(layer.rngs.count[...]) for layer in trainer.model.dropouts]
    trainer.evaluate(x, y, mc_samples=3)
    trainer.activation_stats(x, training=True)
    assert counts == [2, 2] == [int(layer.rngs.count[...]) for layer in trainer.model.dropouts]
    assert int(trainer.eval_rngs.dropout.count[...]) == 3 * 2 + 2  # a draw per layer and pass


def test_nnx_masks_depend_on_the_draws_before_as_torchs_do():
    x, y = np.random.rand(64, 784).astype(np.float32), np.arange(64) % 10
    plain, drawn = (jb.Trainer(SMALL, init_params(SMALL), variant="nnx") for _ in range(2))
    drawn.model(drawn.put(x), train=True)  # one forward pass in training mode: a draw per layer
    assert plain.train_step(x, y) != drawn.train_step(x, y)
