"""What a study measures after each epoch of a run, beside the history every run has.

A probe is named in a RunSpec (names cross process and Ray boundaries; functions need not), and
``fit`` merges the figures it returns into that epoch's history row. Probes see the trainer only
through its public API, so they are the same for every port.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from dropout_ports.benchmarks.runs.machine import (
    floor_flops,
    gflops_of,
    load_between,
    load_snapshot,
    step_matmuls,
)
from dropout_ports.common.calibration import reliability, summarize
from dropout_ports.common.data import Dataset
from dropout_ports.common.fit import Probe
from dropout_ports.common.trainer import TrainerBase

PROBE_EXAMPLES = 10_000  # training examples evaluated by a probe: enough for 3 digits
MC_SAMPLES = (1, 10, 100)  # T of the MC-dropout study; 0 stands for dropout off


def train_set_fit(trainer: TrainerBase, data: Dataset, epoch: int) -> dict:
    """Accuracy and loss on training examples with dropout off, as the test set is evaluated: the
    train-test gap without the noise that D2L's training accuracy carries."""
    n = min(PROBE_EXAMPLES, len(data.train_y))
    clean = trainer.evaluate(data.train_x[:n], data.train_y[:n])
    return {"train_eval_acc": clean["accuracy"], "train_eval_loss": clean["loss"]}


def activation_variance(trainer: TrainerBase, data: Dataset, epoch: int) -> dict:
    """Mean and variance of each hidden layer's output, in evaluation and in training mode."""
    x = data.train_x[: min(PROBE_EXAMPLES, len(data.train_y))]
    row = {}
    for mode, training in (("eval", False), ("train", True)):
        for layer, figures in enumerate(trainer.activation_stats(x, training=training), start=1):
            row[f"act_{mode}_mean_{layer}"] = figures["mean"]
            row[f"act_{mode}_var_{layer}"] = figures["var"]
    return row


def mc_dropout(trainer: TrainerBase, data: Dataset, epoch: int) -> dict:
    """After the last epoch: the test set predicted with dropout off (T = 0) and as the mean of T
    noisy passes, each with accuracy, NLL, ECE and its reliability diagram."""
    if epoch < trainer.cfg.epochs:
        return {}
    by_samples = {}
    for samples in (0, *MC_SAMPLES):
        log_probs = trainer.predict_log_probs(data.test_x, mc_samples=samples)
        by_samples[str(samples)] = {
            **summarize(log_probs, data.test_y),
            "reliability": reliability(np.exp(log_probs), data.test_y),
        }
    return {"mc": by_samples}


PROBES = {
    "": None,
    "train-set-fit": train_set_fit,
    "activation-variance": activation_variance,
    "mc-dropout": mc_dropout,
}


def with_floors(backend: ModuleType, device: str, probe: Probe | None) -> Probe:
    """probe, and after each epoch the port's floor (its own matmuls of one training step at the
    MLP's shapes) timed in the run's process, right after that epoch, with the machine's load over
    the epoch (from the previous floor's end, or from now for the first): the floor and the epoch
    see the same machine, as bench's rounds do."""
    since = [load_snapshot()]
    floor_call: list[Callable] = []  # built at the first epoch, once the run's config is known

    def measured(trainer: TrainerBase, data: Dataset, epoch: int) -> dict:
        load = load_between(since[0], load_snapshot())
        if not floor_call:
            floor_call.append(step_matmuls(backend, trainer.cfg, device))
        floor = gflops_of(floor_call[0], floor_flops(trainer.cfg), quick=True)
        since[0] = load_snapshot()
        return {"floor_gflops": floor, "load": load, **(probe(trainer, data, epoch) if probe else {})}

    return measured
