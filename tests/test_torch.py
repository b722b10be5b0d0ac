"""What is particular to the PyTorch port: autograd, devices, the chapter's Net and its layout."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from backends import torch as tb  # noqa: E402
from common.config import Config  # noqa: E402
from common.params import init_params  # noqa: E402


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_autograd_gives_mask_over_keep_probability(p):
    x = (1 + torch.rand(10_000, dtype=torch.float64)).requires_grad_()
    out = tb.dropout(x, p, tb.make_rng(0))
    out.sum().backward()
    expected = (out.detach() != 0).double() / (1 - p)
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)


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
