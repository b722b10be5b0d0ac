"""docs/differences.md section 12, torch.compile, shown on the installed torch (2.13.0+cpu when
written), and the compiled variant's one graph; the guide names each test beside its sentence."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402
from torch._inductor.utils import run_and_get_code  # noqa: E402

from dropout_ports.backends import torch as tb  # noqa: E402
from dropout_ports.backends.torch.models import compiled_forward  # noqa: E402
from dropout_ports.common.config import Config  # noqa: E402
from dropout_ports.common.params import init_params  # noqa: E402

SMALL = Config(num_inputs=12, num_hiddens=(16, 16), num_outputs=3, batch_size=8)


@pytest.fixture
def fresh_dynamo():
    """Dynamo's caches empty before and after: these tests count graphs and read generated code."""
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def _model(cfg: Config) -> torch.nn.Module:
    return tb.Trainer(cfg, init_params(cfg), variant="compiled").model.train()


def test_a_generator_traces_into_one_graph_and_random__breaks_it():
    """A generator is no obstacle to dynamo; the byte masks' Tensor.random_ (and the tie pass's
    data-dependent nonzero) are."""
    x, rng = torch.ones(64), tb.make_rng(0)
    rand = torch._dynamo.explain(lambda x, g: x * (torch.rand(x.shape, generator=g) < 0.5))(x, rng)
    assert (rand.graph_count, rand.graph_break_count) == (1, 0)
    ours = torch._dynamo.explain(lambda x, g: tb.keep_mask(g, tuple(x.shape), 0.3))(x, rng)
    reasons = " ".join(str(r.reason) for r in ours.break_reasons)
    assert "Tensor.random_" in reasons and "nonzero" in reasons


def test_compiled_random_ops_are_eagers_with_a_generator_or_fallback_random():
    """Inductor replaces random ops on the default generator with its own; ops given a generator
    fall back to eager's, and so do all of them under fallback_random."""

    def masks(x: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(x.shape, generator=g) < 0.5, torch.rand(x.shape) < 0.5

    def drawn(function) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(0)
        return function(torch.ones(1000), tb.make_rng(0))

    eager, compiled = drawn(masks), drawn(torch.compile(masks))
    assert torch.equal(compiled[0], eager[0]) and not torch.equal(compiled[1], eager[1])
    fallback = drawn(torch.compile(masks, options={"fallback_random": True}))
    assert torch.equal(fallback[0], eager[0]) and torch.equal(fallback[1], eager[1])


def test_trainers_of_other_rates_and_batches_in_one_process_keep_the_forward_one_graph(fresh_dynamo):
    """bench's ablations train compiled trainers at rates 0 beside the chapter's, and an epoch ends
    on a short batch: dynamo recompiles, and without constant rates (specialize_float) a rate would
    turn symbolic, which the rate's checks cannot read: dynamo would fall back to eager for the
    forward and compile its layers apart. One graph each: the first batch, the symbolic batch, and
    no masks (rates 0)."""
    for rates in (SMALL.dropouts, (0.0, 0.0)):
        model = _model(SMALL.replace(dropouts=rates))
        for batch in (8, 5):
            x = torch.rand(batch, SMALL.num_inputs)
            compiled_forward(model, x, model.draw_masks(batch, x.device, x.dtype)).sum().backward()
    assert not counters["unimplemented"] and counters["stats"]["unique_graphs"] == 3


def test_with_masks_the_compiled_forward_writes_a_bool_tensor_for_the_backward(fresh_dynamo):
    """At rates 0 Inductor keeps the ReLU's float output for the backward; with masks its fused
    forward kernels read the bool mask and write the ReLU's sign as a bool tensor (the kernels that
    ``python -m dropout_ports.backends.torch.kernel_profile`` times)."""
    written = {}
    for rates in (SMALL.dropouts, (0.0, 0.0)):
        model = _model(SMALL.replace(dropouts=rates))
        x = torch.rand(SMALL.batch_size, SMALL.num_inputs)
        masks = model.draw_masks(SMALL.batch_size, x.device, x.dtype)
        _, codes = run_and_get_code(lambda: F.relu(compiled_forward(model, x, masks)).sum())  # noqa: B023
        written[rates] = "bool* out_ptr" in "\n".join(codes)
        torch._dynamo.reset()
    assert written == {SMALL.dropouts: True, (0.0, 0.0): False}
