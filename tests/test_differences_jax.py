"""docs/differences.md's claims about JAX and Flax, each shown on the installed versions (jax 0.10.2
and flax 0.12.8 when written); the guide names each test beside its sentence. GPU claims are
gpu-marked."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import flax.linen as linen  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from conftest import gpu_device  # noqa: E402
from flax import nnx  # noqa: E402
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

from dropout_ports.backends import jax as jb  # noqa: E402

X = 1 + jnp.arange(4096, dtype=jnp.float32) / 4096  # never zero: out != 0 marks the kept elements


def kept(out: jax.Array) -> np.ndarray:
    return np.asarray(out) != 0


class Twice(linen.Module):
    """One Dropout layer called twice in one apply."""

    @linen.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        layer = linen.Dropout(0.5, deterministic=False)
        return layer(x), layer(x)


# §1: keys and streams


def test_linen_folds_the_key_it_is_given_with_the_layer_and_a_call_count(monkeypatch):
    """Its mask is a bernoulli draw, but not from the key passed: from make_rng's fold of it with
    the module path and a per-apply counter. Same key, same masks only across separate applies."""
    keys = []
    bernoulli = jax.random.bernoulli

    def recording(key: jax.Array, *args, **kwargs) -> jax.Array:
        keys.append(key)
        return bernoulli(key, *args, **kwargs)

    monkeypatch.setattr(jax.random, "bernoulli", recording)
    key = jb.make_rng(0)
    first, second = Twice().apply({}, X, rngs={"dropout": key})
    assert len(keys) == 2 and not np.array_equal(kept(first), kept(second))
    assert not np.array_equal(kept(first), np.asarray(bernoulli(key, 0.5, X.shape)))
    np.testing.assert_array_equal(Twice().apply({}, X, rngs={"dropout": key})[0], first)


def test_linen_falls_back_to_the_params_rng_without_a_dropout_one():
    out = linen.Dropout(0.5, deterministic=False).apply({}, X, rngs={"params": jb.make_rng(0)})
    assert 0 < kept(out).mean() < 1


def test_nnx_dropout_forks_a_stream_and_draws_fold_in_of_its_count():
    rngs = nnx.Rngs(dropout=0)
    layer = nnx.Dropout(0.5, rngs=rngs)
    assert int(rngs.dropout.count[...]) == 1  # the fork drew once from the stream it was given
    key = layer.rngs.key[...]
    for count in range(2):
        np.testing.assert_array_equal(
            kept(layer(X)), jax.random.bernoulli(jax.random.fold_in(key, count), 0.5, X.shape)
        )
    assert int(layer.rngs.count[...]) == 2


def test_a_key_closed_over_under_jit_is_a_constant():
    key = jb.make_rng(0)
    step = jax.jit(lambda x: jb.dropout(x, 0.5, key))
    np.testing.assert_array_equal(step(X), step(X))


def test_threefry_and_rbg_draw_other_bits_from_one_seed():
    threefry, rbg = (
        jax.random.bits(jax.random.key(0, impl=i), (64,), jnp.uint32) for i in ("threefry2x32", "rbg")
    )
    assert not np.array_equal(threefry, rbg)


# §2-§6: masks, evaluation, layouts, division, edge cases


def test_jax_lowers_threefry_as_a_rolled_loop_on_the_cpu_only():
    """JAX's own lowering rule for the CPU, not XLA's choice: other platforms get the unrolled hash."""
    lowered = jax.jit(lambda k: jax.random.bits(k, (1024,), jnp.uint32)).trace(jb.make_rng(0))
    for platform, rolled in (("cpu", True), ("cuda", False)):
        assert ("stablehlo.while" in lowered.lower(lowering_platforms=(platform,)).as_text()) == rolled, (
            platform
        )


def test_nnx_dropout_is_on_until_eval():
    """nnx.Dropout defaults to deterministic=False; Module.eval() / .train() set every Dropout's."""
    model = nnx.Sequential(nnx.Dropout(0.5, rngs=nnx.Rngs(dropout=0)))
    assert model.layers[0].deterministic is False and kept(model(X)).mean() < 0.9
    model.eval()
    assert model.layers[0].deterministic is True and model(X) is X
    model.train()
    assert model.layers[0].deterministic is False


def test_flax_dense_kernels_are_in_by_out_lecun_normal_with_zero_biases():
    layer = linen.Dense(256)
    params = layer.init(jb.make_rng(0), jnp.ones((1, 784)))["params"]
    assert params["kernel"].shape == (784, 256) and not params["bias"].any()
    assert abs(float(params["kernel"].std()) - 784**-0.5) < 2e-3  # lecun_normal: variance 1 / fan_in


def test_float64_needs_x64_which_enable_x64_scopes():
    assert jnp.asarray(np.float64(1)).dtype == jnp.float32
    with jax.enable_x64(True):
        assert jnp.asarray(np.float64(1)).dtype == jnp.float64
    assert not jax.config.jax_enable_x64


def test_xla_turns_division_by_a_scalar_into_a_reciprocal_multiply():
    """Eagerly, with the scalar as a runtime argument, and in linen's ``inputs / keep_prob``;
    array by array stays a division."""
    x = np.asarray(X)
    reciprocal, quotient = x * (1 / np.float32(0.9)), x / np.float32(0.9)
    assert 0.2 < (reciprocal != quotient).mean() < 0.3  # one rounding apart in a quarter of them
    np.testing.assert_array_equal(X / 0.9, reciprocal)
    np.testing.assert_array_equal(jax.jit(lambda a, c: a / c)(X, jnp.float32(0.9)), reciprocal)
    np.testing.assert_array_equal(X / jnp.full_like(X, 0.9), quotient)
    out = np.asarray(jb.builtin_dropout(X, 0.1, jb.make_rng(0)))
    np.testing.assert_array_equal(out[out != 0], reciprocal[out != 0])


def test_linen_returns_zeros_for_rates_it_should_refuse_and_for_inf_at_rate_one():
    for p in (1.5, float("nan")):
        assert not linen.Dropout(p, deterministic=False).apply({}, X, rngs={"dropout": jb.make_rng(0)}).any()
    out = jb.builtin_dropout(jnp.array([jnp.inf, jnp.nan]), 1.0, jb.make_rng(0))
    np.testing.assert_array_equal(out, [0.0, 0.0])


# §10-§11: precision, data parallelism


def test_matmul_precision_changes_nothing_on_the_cpu():
    a = jnp.asarray(np.random.default_rng(0).standard_normal((256, 256), np.float32))
    products = []
    for precision in ("tensorfloat32", "highest"):
        with jax.default_matmul_precision(precision):
            products.append(jax.jit(lambda a: a @ a)(a))
    np.testing.assert_array_equal(*products)


@pytest.mark.gpu
def test_float32_matmuls_default_to_tf32_on_a_gpu():
    device = jb.resolve_device(gpu_device(jb))
    rng = np.random.default_rng(0)
    a, b = (jax.device_put(rng.standard_normal((1024, 1024), np.float32), device) for _ in range(2))
    exact = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
    errors = [np.abs(np.asarray(jnp.matmul(a, b, precision=p)) - exact).max() for p in (None, "highest")]
    assert errors[0] > 10 * errors[1]


def test_a_replicated_key_draws_one_mask_on_every_device_under_shard_map():
    mesh = Mesh(np.array(jax.devices()[:4]), ("batch",))
    if mesh.size < 4:
        pytest.skip("needs 4 host devices (conftest asks for them before JAX starts)")

    def bits(key: jax.Array, fold: bool) -> jax.Array:
        key = jax.random.fold_in(key, jax.lax.axis_index("batch")) if fold else key
        return jax.random.bits(key, (1, 64), jnp.uint32)

    for fold, rows in ((False, 1), (True, 4)):
        out = jax.shard_map(lambda k, f=fold: bits(k, f), mesh=mesh, in_specs=P(), out_specs=P("batch"))
        assert len({tuple(row) for row in np.asarray(out(jax.random.key(0)))}) == rows
    sharded = jax.jit(
        lambda k: jax.random.bits(k, (8, 64), jnp.uint32), out_shardings=NamedSharding(mesh, P("batch"))
    )
    assert jax.config.jax_threefry_partitionable
    np.testing.assert_array_equal(
        sharded(jax.random.key(0)), jax.random.bits(jax.random.key(0), (8, 64), jnp.uint32)
    )


def test_host_devices_are_fixed_when_jax_starts():
    """XLA_FLAGS' device count is read when JAX starts; jax_num_cpu_devices overrides it until
    JAX's first operation, and then refuses to change."""
    code = (
        "import os; os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=2'\n"
        "import jax; jax.config.update('jax_num_cpu_devices', 3); assert len(jax.devices()) == 3\n"
        "try: jax.config.update('jax_num_cpu_devices', 4)\n"
        "except RuntimeError: print('refused')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split()[-1:] == ["refused"], done.stderr[-2000:]


def test_a_replicated_parameters_gradient_under_shard_map_is_already_summed():
    mesh = Mesh(np.array(jax.devices()[:2]), ("batch",))
    w, x = jnp.ones(3), jnp.arange(12.0).reshape(4, 3)
    whole = jax.grad(lambda w: (x @ w).sum())(w)

    def grad(w: jax.Array, x: jax.Array, cast: bool, psum: bool) -> jax.Array:
        w = jax.lax.pcast(w, "batch", to="varying") if cast else w
        g = jax.grad(lambda w: (x @ w).sum())(w)
        return jax.lax.psum(g, "batch") if psum else g

    for cast, psum, times in ((False, False, 1), (False, True, 2), (True, True, 1)):
        step = jax.shard_map(
            lambda w, x, c=cast, s=psum: grad(w, x, c, s),
            mesh=mesh,
            in_specs=(P(), P("batch")),
            out_specs=P(),
        )
        np.testing.assert_array_equal(step(w, x), times * whole)


# The sections on what the chapter leaves out


def test_rbg_under_vmap_draws_the_batch_from_the_first_key_alone():
    """Threefry is exact under vmap: the mapped draws are the draws key by key."""
    for impl in ("threefry4x32", "philox2x32", "philox4x32"):  # offered too
        assert impl in str(jax.random.key_impl(jax.random.key(0, impl=impl)))
    for impl in ("threefry2x32", "rbg", "unsafe_rbg"):
        keys = jax.random.split(jax.random.key(1, impl=impl), 4)
        mapped = jax.vmap(lambda k: jax.random.bits(k, (8,), jnp.uint32))(keys)
        if impl == "threefry2x32":
            np.testing.assert_array_equal(
                mapped, jax.lax.map(lambda k: jax.random.bits(k, (8,), jnp.uint32), keys)
            )
        else:
            np.testing.assert_array_equal(mapped, jax.random.bits(keys[0], (4, 8), jnp.uint32))


def test_dropout_under_vmap_draws_one_mask_per_example_only_with_split_rngs():
    class Layer(linen.Module):
        @linen.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            return linen.Dropout(0.5, deterministic=False)(x)

    rows = jnp.ones((4, 64))
    for split, distinct in ((True, 4), (False, 1)):
        mapped = linen.vmap(Layer, variable_axes={}, split_rngs={"dropout": split})()
        out = mapped.apply({}, rows, rngs={"dropout": jb.make_rng(0)})
        assert len({tuple(row) for row in kept(out)}) == distinct
    layer = nnx.Dropout(0.5, rngs=nnx.Rngs(dropout=0))
    shared = nnx.vmap(lambda layer, x: layer(x), in_axes=(None, 0))(layer, rows)
    split = nnx.split_rngs(splits=4)(nnx.vmap(lambda layer, x: layer(x), in_axes=(0, 0)))(layer, rows)
    assert len({tuple(row) for row in kept(shared)}) == 1 and len({tuple(row) for row in kept(split)}) == 4


def test_the_key_reuse_checker_catches_the_chapters_one_key_for_typed_keys_only():
    def twice(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        return jb.chapter_dropout(X, 0.5, key), jb.chapter_dropout(X, 0.5, key)

    with jax.debug_key_reuse(True):
        with pytest.raises(jax.errors.KeyReuseError):
            jax.jit(twice)(jax.random.key(0))
        jax.jit(lambda key: (jax.random.bits(key), jax.random.bits(key)))(jax.random.PRNGKey(0))


def test_bfloat16_linen_dropout_scales_by_a_rounded_reciprocal():
    out = jb.builtin_dropout(jnp.ones(4096, jnp.bfloat16), 0.1, jb.make_rng(0))
    assert np.unique(np.asarray(out, np.float32)).tolist() == [0.0, 1.109375]


def test_a_dropped_inf_or_nan_is_zero_in_jax_and_linen():
    """linen selects, and the JAX port's ``x * keep`` with a bool mask is a select too."""
    x = jnp.array([jnp.inf, jnp.nan] * 512)
    for dropout in (jb.dropout, jb.builtin_dropout):
        out = np.asarray(dropout(x, 0.5, jb.make_rng(0)))
        assert (out == 0).any() and np.isnan(out[1::2]).sum() == (out[1::2] != 0).sum()
        assert not np.isnan(out[::2]).any()
    assert jnp.inf * jnp.bool_(False) == 0


def test_jax_dropout_returns_the_input_itself_at_rate_zero_and_in_evaluation():
    key = jb.make_rng(0)
    assert jb.dropout(X, 0.0, key) is X and jb.dropout(X, 0.5, key, training=False) is X
    assert jb.builtin_dropout(X, 0.0, key) is X and jb.builtin_dropout(X, 0.5, key, training=False) is X
