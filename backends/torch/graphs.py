"""The torch port's device loop: one SGD step captured as a CUDA graph and replayed for each full
batch of an epoch, so the host issues one replay a step instead of a hundred kernel launches.

The graph holds the whole step: the batch's rows gathered by an index that it reads from the
epoch's order in device memory (a step counter there advances it), the forward pass with its
masks, the backward pass, SGD's update, and the sums of loss and hits. The masks are the eager
step's own: each generator the step draws from is registered with the graph
(``CUDAGraph.register_generator_state``, automatic from torch 2.14; torch's default CUDA
generator, nn.Dropout's, always is), so a replay draws from the generator's offset at that
moment and advances it by what the step drew, as an eager step does. Capture needs warm-up steps
first, which change the parameters and advance the generators: both are restored before capture,
so the graphed run is the eager run. SGD without momentum keeps no state; a Python number such as
the learning rate is a constant of the graph (it never changes in a run).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch

WARMUP_STEPS = 3  # eager steps on a side stream before capture (PyTorch's CUDA graph notes do 3)
AUTOMATIC_REGISTRATION = (2, 14)  # torch versions from here register generators themselves (and warn)

Step = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class StepGraph:
    """A captured step over fixed data x, y and index batches of one size; ``run`` replays it."""

    def __init__(
        self,
        step: Step,
        x: torch.Tensor,
        y: torch.Tensor,
        steps: int,
        batch: int,
        *,
        parameters: Sequence[torch.Tensor],
        optimizer: torch.optim.Optimizer,
        generators: Sequence[torch.Generator],
    ):
        self.x, self.y, self.steps, self.batch = x, y, steps, batch  # held: the graph reads their memory
        device = x.device
        self.order = torch.zeros((steps, batch), dtype=torch.int64, device=device)
        self.counter = torch.zeros(1, dtype=torch.int64, device=device)
        self.loss_sum = torch.zeros((), dtype=x.dtype, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.step = step
        saved = _Snapshot(parameters, optimizer, generators)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self._body()
        torch.cuda.current_stream(device).wait_stream(side)
        saved.restore()
        self._reset()
        optimizer.zero_grad(set_to_none=True)  # the captured backward allocates its grads in the graph's pool
        self.graph = torch.cuda.CUDAGraph()
        if torch.__version__ < AUTOMATIC_REGISTRATION:  # a TorchVersion compares with tuples
            for generator in generators:
                self.graph.register_generator_state(generator)
        with torch.cuda.graph(self.graph):
            self._body()

    def fits(self, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int) -> bool:
        """Whether this graph trains on these very tensors and this many batches of this size."""
        return x is self.x and y is self.y and (steps, batch) == (self.steps, self.batch)

    def run(self, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One replay per row of order (steps x batch indices, on the device); the loss and hit sums."""
        self._reset()
        self.order.copy_(order)
        for _ in range(self.steps):
            self.graph.replay()
        return self.loss_sum.clone(), self.correct.clone()

    def _reset(self) -> None:
        self.counter.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()

    def _body(self) -> None:
        """The step as captured: gather, train, add to the sums, advance the counter."""
        idx = self.order.index_select(0, self.counter).squeeze(0)
        loss, hits = self.step(self.x.index_select(0, idx), self.y.index_select(0, idx))
        self.loss_sum.add_(loss * self.batch)
        self.correct.add_(hits)
        self.counter.add_(1)


class _Snapshot:
    """Parameters, optimizer state and generator states, to be put back after the warm-up."""

    def __init__(
        self,
        parameters: Sequence[torch.Tensor],
        optimizer: torch.optim.Optimizer,
        generators: Sequence[torch.Generator],
    ):
        self.parameters = list(parameters)
        self.values = [p.detach().clone() for p in self.parameters]
        self.optimizer, self.optimizer_state = optimizer, copy.deepcopy(optimizer.state_dict())
        self.generators = list(generators)
        self.states = [g.get_state() for g in self.generators]

    @torch.no_grad()
    def restore(self) -> None:
        for parameter, value in zip(self.parameters, self.values, strict=True):
            parameter.copy_(value)  # in place: the graph is captured on these very tensors
        self.optimizer.load_state_dict(self.optimizer_state)
        for generator, state in zip(self.generators, self.states, strict=True):
            generator.set_state(state)
