"""What is particular to the PyTorch port: autograd, devices, the chapter's Net and its layout."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from dropout_ports.backends import torch as tb  # noqa: E402
from dropout_ports.common.config import Config  # noqa: E402
from dropout_ports.common.params import init_params  # noqa: E402


def test_rate_one_gives_zero_gradient_where_torch_gives_nan():
    x = torch.tensor([float("inf"), 1.0, float("nan")], requires_grad=True)
    out = tb.dropout(x, 1.0, tb.make_rng(0))
    out.sum().backward()
    assert torch.equal(out.detach(), torch.zeros(3)) and torch.equal(x.grad, torch.zeros(3))
    # Why the special case: torch's own p=1 multiplies by zero.
    assert torch.isnan(F.dropout(x.detach(), 1.0, training=True)).any()


def test_generator_state_advances():
    rng = tb.make_rng(0)
    x = torch.ones(4096)
    assert not torch.equal(tb.dropout(x, 0.5, rng), tb.dropout(x, 0.5, rng))


def test_scratch_net_switches_with_train_and_eval():
    cfg = Config()
    trainer = tb.Trainer(cfg, init_params(cfg))
    x = torch.rand(16, 784)
    trainer.model.eval()
    assert torch.equal(trainer.model(x), trainer.model(x))
    trainer.model.train()
    assert not torch.equal(trainer.model(x), trainer.model(x))


def test_builtin_is_the_chapters_sequential():
    cfg = Config()
    model = tb.Trainer(cfg, init_params(cfg), variant="builtin").model
    assert [type(m).__name__ for m in model] == [
        "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"
    ]  # fmt: skip
    assert [m.p for m in model if isinstance(m, torch.nn.Dropout)] == [0.2, 0.5]


def test_weights_are_stored_out_by_in_and_exported_in_by_out():
    cfg = Config()
    params = init_params(cfg)
    trainer = tb.Trainer(cfg, params)
    assert trainer.linears[0].weight.shape == (256, 784)
    np.testing.assert_array_equal(trainer.get_params()["W1"], params["W1"])


def test_cuda_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA device"):
        tb.make_rng(0, "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        tb.Trainer(Config(), init_params(Config()), device="gpu")


GPU_SMALL = Config(num_hiddens=(32, 16), batch_size=200, dropouts=(0.5, 0.5))  # 10 full batches, 1 short


def cuda_trainer(variant: str, **changes) -> tb.Trainer:
    from conftest import gpu_device

    device = gpu_device(tb)
    cfg = GPU_SMALL.replace(**changes)
    return tb.Trainer(cfg, init_params(cfg), variant=variant, device=device)


def cuda_epochs(trainer: tb.Trainer, data, epochs: int = 2) -> list[tuple[float, float]]:
    from dropout_ports.common.batches import batch_order

    x, y = trainer.put(data.train_x), trainer.put(data.train_y)
    return [trainer.train_epoch(x, y, batch_order(len(data.train_y), 200, 0, e)) for e in range(epochs)]


@pytest.mark.gpu
@pytest.mark.parametrize("variant", tb.VARIANTS)
def test_the_eager_step_never_waits_for_the_device(variant, synthetic):
    """An epoch of eager steps issues no host sync (the epoch's sums are read once, after it)."""
    from dropout_ports.common.batches import batch_order

    trainer = cuda_trainer(variant)
    x, y = trainer.put(synthetic.train_x), trainer.put(synthetic.train_y)
    batches = batch_order(len(synthetic.train_y), 200, 0, 0)
    trainer.train_epoch(x, y, batches)  # warm-up: compilation, cuBLAS handles, allocator pools
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # raises at each operation that syncs with the host
    try:
        loss_sum, _ = trainer._epoch_sums(x, y, batches)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(loss_sum)


@pytest.mark.gpu
def test_a_cuda_graph_draws_the_eager_masks_from_its_registered_generator():
    from conftest import gpu_device

    from dropout_ports.backends.torch.graphs import AUTOMATIC_REGISTRATION

    gpu_device(tb)
    shape, p = (4099,), 0.3
    eager_rng = tb.make_rng(7, "cuda")
    eager = [tb.keep_mask(eager_rng, shape, p) for _ in range(3)]
    tb.keep_mask(tb.make_rng(0, "cuda"), shape, p)  # warm-up: the kernels load outside the capture
    rng, graph = tb.make_rng(7, "cuda"), torch.cuda.CUDAGraph()
    if torch.__version__ < AUTOMATIC_REGISTRATION:
        graph.register_generator_state(rng)
    with torch.cuda.graph(graph):
        drawn = tb.keep_mask(rng, shape, p)
    replays = []
    for _ in range(3):
        graph.replay()
        replays.append(drawn.clone())
    assert all(torch.equal(a, b) for a, b in zip(eager, replays, strict=True))
    assert torch.equal(eager_rng.get_state(), rng.get_state())  # advanced by the same offsets


@pytest.mark.gpu
@pytest.mark.parametrize("variant", tb.VARIANTS)
def test_the_graphed_loop_is_the_eager_loop(variant, synthetic):
    """The CUDA graph of the step draws eager's masks and computes eager's steps: the same figures,
    parameters and generator states after two epochs whose short last batch runs eagerly."""
    eager = cuda_trainer(variant, loop="step")
    eager_figures, eager_params = cuda_epochs(eager, synthetic), eager.get_params()
    eager_states = [g.get_state() for g in eager.generators]
    graphed = cuda_trainer(variant, loop="device")  # made after: builtin reseeds torch's global generators
    graphed_figures = cuda_epochs(graphed, synthetic)
    assert graphed.step_graph is not None and graphed.cfg.loop == "device"
    np.testing.assert_allclose(graphed_figures, eager_figures, rtol=0, atol=1e-6)
    for name, value in graphed.get_params().items():
        np.testing.assert_allclose(value, eager_params[name], rtol=0, atol=1e-6, err_msg=name)
    assert all(torch.equal(a, g.get_state()) for a, g in zip(eager_states, graphed.generators, strict=True))
