"""The JAX port's nnx variant: the builtin net written as Flax's current API writes it.

An ``nnx.Module`` MLP whose ``nnx.Dropout`` layers draw their masks from an ``nnx.Rngs`` stream
seeded from the run's key, and an ``nnx.Optimizer``, both stateful objects updated in place by
functions under ``nnx.jit`` (the step loop) and ``nnx.scan`` inside it (the device loop). Each
Dropout layer forks a stream of its own when it is made and advances its counter at every draw,
so a mask depends on how many draws that layer made before, as a torch.Generator's do; linen's
masks depend only on the key passed in. Weight decay is optax's, on the kernels, as for linen.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from dropout_ports.backends.jax.ops import jax_precision, to_numpy
from dropout_ports.backends.jax.trainer import EVAL_STREAM, StepSettings, Trainer, log_probs, loss_and_correct
from dropout_ports.common.params import Params


class NNXNet(nnx.Module):
    """Linear-ReLU-Dropout per hidden layer, then Linear, as the chapter's concise version."""

    def __init__(self, params: Params, rates: tuple[float, ...], *, precision: str, rngs: nnx.Rngs):
        """The Linear layers start from params (the common layout: W{i} is (in, out), as nnx's kernels)."""
        self.linears = nnx.List(
            nnx.Linear(
                *params[f"W{i}"].shape,
                precision=precision,
                param_dtype=params[f"W{i}"].dtype,
                kernel_init=lambda *_, i=i: params[f"W{i}"],
                bias_init=lambda *_, i=i: params[f"b{i}"],
                rngs=rngs,
            )
            for i in range(1, len(rates) + 2)
        )
        self.dropouts = nnx.List(nnx.Dropout(p, rngs=rngs) for p in rates)

    def __call__(
        self, x: jax.Array, *, train: bool, rngs: nnx.Rngs | None = None
    ) -> tuple[jax.Array, list[jax.Array]]:
        """Logits and hidden outputs; in training the masks come from rngs if given, else from each
        layer's own stream."""
        hidden = []
        for linear, dropout in zip(self.linears, self.dropouts, strict=False):
            x = dropout(jax.nn.relu(linear(x)), deterministic=not train, rngs=rngs)
            hidden.append(x)
        return self.linears[-1](x), hidden


def sgd_step(
    model: NNXNet, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """One SGD step on the batch-mean loss, updating model, optimizer and the Dropout streams."""

    def loss_fn(model: NNXNet) -> tuple[jax.Array, jax.Array]:
        return loss_and_correct(model(x, train=True)[0], y)

    (loss, correct), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    optimizer.update(model, grads)
    return loss, correct


train_step = nnx.jit(sgd_step)


@nnx.jit
def train_batch(
    model: NNXNet, optimizer: nnx.Optimizer, sums: Any, x: jax.Array, y: jax.Array, batches: jax.Array, i: Any
) -> tuple[jax.Array, jax.Array]:
    """Step i of an epoch from the host (rows batches[i]), its loss and hits added to sums."""
    idx = batches[i]
    loss, correct = sgd_step(model, optimizer, x[idx], y[idx])
    return sums[0] + loss * idx.shape[0], sums[1] + correct


@nnx.jit
def train_scan(
    model: NNXNet, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array, batches: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """sgd_step over equal-sized index batches in one nnx.scan, model and optimizer carried."""

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=(nnx.Carry, 0))
    def body(carry: tuple[NNXNet, nnx.Optimizer], idx: jax.Array) -> Any:
        return carry, sgd_step(*carry, x[idx], y[idx])

    _, (losses, corrects) = body((model, optimizer), batches)
    return jnp.sum(losses) * batches.shape[1], jnp.sum(corrects)


@nnx.jit
def forward_pass(model: NNXNet, x: jax.Array, rngs: nnx.Rngs | None) -> tuple[jax.Array, list[jax.Array]]:
    """float32 log-softmax and hidden outputs without an update; the noise on (from rngs) if given."""
    logits, hidden = model(x, train=rngs is not None, rngs=rngs)
    return log_probs(logits), hidden


class NNXTrainer(Trainer):
    """The nnx variant: the Trainer's loops and checks over stateful nnx objects."""

    def _start(self, key: jax.Array) -> None:
        precision, rngs = jax_precision(self.cfg.matmul_precision), nnx.Rngs(0, dropout=key)
        self.model = NNXNet(self.put(self.initial_params), self.cfg.dropouts, precision=precision, rngs=rngs)
        tx = StepSettings.of(self.cfg, self.variant).optimizer()  # optax's weight decay, kernels only
        self.optimizer = nnx.Optimizer(self.model, tx, wrt=nnx.Param)
        # MC dropout's stream: its own, so evaluation never advances the training streams
        self.eval_rngs = nnx.Rngs(dropout=jax.random.fold_in(key, EVAL_STREAM))
        # Every array on the device, committed (nnx makes its counters uncommitted): else the first
        # call of each step compiles for other placements than the calls after it.
        objects = (self.model, self.optimizer, self.eval_rngs)
        nnx.update(objects, jax.device_put(nnx.state(objects), self.device))

    def get_params(self) -> Params:
        params = {}
        for i, linear in enumerate(self.model.linears, start=1):
            params[f"W{i}"] = to_numpy(linear.kernel[...]).copy()
            params[f"b{i}"] = to_numpy(linear.bias[...]).copy()
        return params

    def _step(
        self, x: jax.Array, y: jax.Array, masks: list[np.ndarray] | None
    ) -> tuple[jax.Array, jax.Array]:
        return train_step(self.model, self.optimizer, x, y)

    def _scan(self, x: jax.Array, y: jax.Array, batches: jax.Array) -> tuple[jax.Array, jax.Array]:
        return train_scan(self.model, self.optimizer, x, y, batches)

    def _batch(self, sums: Any, x: jax.Array, y: jax.Array, batches: jax.Array, i: int) -> Any:
        return train_batch(self.model, self.optimizer, sums, x, y, batches, i)

    def _evaluation_pass(self, x: jax.Array, noisy: bool, sample: int) -> tuple[jax.Array, list[jax.Array]]:
        return forward_pass(self.model, x, self.eval_rngs if noisy else None)


Trainer.SUBCLASSES["nnx"] = NNXTrainer
