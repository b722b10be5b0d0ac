"""Loop styles and matmul precision: each port declares what it has, the options reach every
command, both loops compute one run, and a precision is set only around its trainer's work."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS, gpu_device

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.cli.main import build_parser
from dropout_ports.benchmarks.cli.options import config_from
from dropout_ports.benchmarks.runs.compare import plan_runs, supported_runs
from dropout_ports.common.batches import batch_order
from dropout_ports.common.config import LOOPS, MATMUL_PRECISIONS, PORT_LOOP, Config
from dropout_ports.common.params import init_params

SMALL = Config(num_hiddens=(32, 16), batch_size=100)


def test_every_port_declares_its_loops_and_precisions():
    for name in BACKENDS:
        backend = get_backend(name)
        trainer = backend.Trainer
        assert trainer.LOOPS and set(trainer.LOOPS) <= set(LOOPS) - {PORT_LOOP}
        assert trainer.MATMUL_PRECISIONS == backend.MATMUL_PRECISIONS
        assert trainer.MATMUL_PRECISIONS[0] == "highest" and set(trainer.MATMUL_PRECISIONS) <= set(
            MATMUL_PRECISIONS
        )
        resolved = trainer(SMALL, init_params(SMALL)).cfg.loop
        assert resolved == trainer.LOOPS[0]  # "default" is the port's own, recorded as what ran


@pytest.mark.parametrize("command", ["train --backend numpy", "compare", "study rates"])
def test_the_options_reach_every_training_command(command):
    args = build_parser().parse_args([*command.split(), "--loop", "step", "--matmul-precision", "tf32"])
    assert (args.loop, args.matmul_precision) == ("step", "tf32")  # Config fields, by the names of Config
    if command != "study rates":  # a study's epochs are its own until it runs
        assert config_from(args).replace(epochs=1) == Config(epochs=1, loop="step", matmul_precision="tf32")
    assert build_parser().parse_args(["bench", "--matmul-precision", "tf32"]).matmul_precision == "tf32"


@pytest.mark.parametrize(
    ("changes", "message"), [({"loop": "scan"}, "loop"), ({"matmul_precision": "fp16"}, "matmul")]
)
def test_unknown_loops_and_precisions_are_value_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        Config(**changes)


def test_a_port_refuses_what_it_lacks_clearly():
    numpy_trainer = get_backend("numpy").Trainer
    with pytest.raises(ValueError, match="highest only; got matmul_precision 'tf32'"):
        numpy_trainer(SMALL.replace(matmul_precision="tf32"), init_params(SMALL))
    with pytest.raises(ValueError, match="loops"):
        numpy_trainer.check_support(SMALL.replace(loop="device"), "scratch")
    if "torch" in BACKENDS:
        with pytest.raises(ValueError, match="CUDA graph .* needs a CUDA device"):
            get_backend("torch").Trainer.check_support(SMALL.replace(loop="device"), "scratch", "cpu")


def test_compare_leaves_out_the_ports_that_cannot_train_its_settings():
    plan, skipped = supported_runs(plan_runs(BACKENDS, [0]), Config(matmul_precision="tf32"), "cpu")
    assert "numpy" not in {key[0] for key in plan} and any(
        line.startswith("numpy/scratch:") for line in skipped
    )
    assert {key[0] for key in plan} == set(BACKENDS) - {"numpy"}


def epochs_in(trainer, data, epochs: int = 2) -> tuple[list[tuple[float, float]], dict]:
    x, y = trainer.put(data.train_x), trainer.put(data.train_y)
    figures = [
        trainer.train_epoch(x, y, batch_order(len(data.train_y), trainer.cfg.batch_size, 0, epoch))
        for epoch in range(epochs)
    ]
    return figures, trainer.get_params()


def jax_variants() -> list:
    if "jax" not in BACKENDS:
        return []
    cases = [pytest.param(v, "cpu", id=v) for v in get_backend("jax").VARIANTS]
    return cases + [
        pytest.param(v, "gpu", id=f"{v}-gpu", marks=pytest.mark.gpu) for v in get_backend("jax").VARIANTS
    ]


@pytest.mark.parametrize(("variant", "device"), jax_variants())
def test_jax_step_and_device_loops_are_one_run_in_float64(variant, device, synthetic):
    """The jitted step called per batch from the host and the epoch's lax.scan draw the same masks
    (the key is split the same way) and compute the same steps, the short last batch included."""
    jb = get_backend("jax")
    device = gpu_device(jb) if device == "gpu" else device
    cfg = SMALL.replace(dtype="float64", dropouts=(0.5, 0.5))
    runs = {
        loop: epochs_in(
            jb.Trainer(cfg.replace(loop=loop), init_params(cfg), variant=variant, device=device), synthetic
        )
        for loop in ("step", "device")
    }
    (step_figures, step_params), (device_figures, device_params) = runs["step"], runs["device"]
    np.testing.assert_allclose(step_figures, device_figures, rtol=0, atol=1e-12)
    for name, value in step_params.items():
        assert value.dtype == np.float64
        np.testing.assert_allclose(value, device_params[name], rtol=0, atol=1e-12, err_msg=name)
    assert not np.allclose(step_params["W1"], init_params(cfg)["W1"], rtol=0, atol=1e-3)  # it trained


def test_the_step_loop_compiles_each_batch_shape_once(synthetic):
    jb = pytest.importorskip("dropout_ports.backends.jax")
    trainer = jb.Trainer(SMALL.replace(loop="step", lr=0.123), init_params(SMALL))
    epochs_in(trainer, synthetic, epochs=1)
    size = jb.train_batch._cache_size()
    epochs_in(trainer, synthetic, epochs=2)
    assert jb.train_batch._cache_size() == size


def test_jax_compiles_its_steps_at_the_configured_precision(synthetic):
    """The precision is a static setting: each compiles a step of its own, whose dots carry it."""
    jb = pytest.importorskip("dropout_ports.backends.jax")
    x, y = synthetic.train_x[:100], synthetic.train_y[:100]
    texts = {}
    for precision, mark in (("highest", "HIGHEST"), ("tf32", "HIGH")):
        trainer = jb.Trainer(SMALL.replace(matmul_precision=precision), init_params(SMALL))
        text = jb.train_step.lower(trainer.net, trainer.state, trainer.put(x), trainer.put(y), None).as_text()
        assert f"precision = [{mark}, {mark}]" in text
        texts[precision] = trainer.train_step(x, y), trainer.get_params()
    assert texts["highest"][0] == texts["tf32"][0]  # on a CPU, TF32 is float32: the same numbers
    assert (
        get_backend("jax").Trainer(SMALL, init_params(SMALL), variant="nnx").model.linears[0].precision
        == "highest"
    )


def test_torch_sets_its_precision_around_the_trainers_work_only(monkeypatch, synthetic):
    torch = pytest.importorskip("torch")
    tb = get_backend("torch")
    seen = []
    forward = tb.ScratchNet.forward
    monkeypatch.setattr(
        tb.ScratchNet,
        "forward",
        lambda *a, **k: seen.append(torch.get_float32_matmul_precision()) or forward(*a, **k),
    )
    x, y = synthetic.train_x[:100], synthetic.train_y[:100]
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")  # a setting of the caller's, which no trainer may change
    try:
        losses = {}
        for precision in ("tf32", "highest"):
            trainer = tb.Trainer(SMALL.replace(matmul_precision=precision), init_params(SMALL))
            losses[precision] = trainer.train_step(x, y), trainer.evaluate(x, y)
            assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(previous)
    assert seen == ["high", "high", "highest", "highest"]  # a step and an evaluation each
    assert losses["tf32"] == losses["highest"]  # on a CPU, TF32 is float32: the same numbers


@pytest.mark.gpu
@pytest.mark.parametrize("name", [n for n in ("torch", "jax") if n in BACKENDS])
def test_on_a_gpu_highest_is_float32_and_tf32_is_not(name):
    backend = get_backend(name)
    device = gpu_device(backend)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1024, 1024), np.float32), rng.standard_normal((1024, 1024), np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    errors = {}
    for precision in ("highest", "tf32"):
        with backend.matmul_precision(precision):
            product = backend.jit(backend.matmul)(
                backend.asarray(a, device=device), backend.asarray(b, device=device)
            )
            errors[precision] = (
                np.abs(backend.to_numpy(backend.ready(product)) - exact).max() / np.abs(exact).max()
            )
    assert errors["highest"] < 1e-5
    torch = pytest.importorskip("torch")  # asked for the GPU's generation, for either framework
    if torch.cuda.is_available() and torch.cuda.get_device_capability()[0] < 8:
        pytest.skip("TF32 needs an NVIDIA GPU since Ampere")
    assert errors["tf32"] > 10 * errors["highest"]  # TF32 keeps 10 mantissa bits
