"""The chapter's hyper-parameters, validated once so that no backend has to."""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from dropout_ports.common.checks import check_number, check_rate, check_seed

PRNG_IMPLS = ("threefry2x32", "rbg")
DTYPE_NAMES = ("float32", "float64", "bfloat16")
# bernoulli: the chapter's inverted dropout; gaussian: activations times N(1, p/(1-p)) (Srivastava
# et al. 2014, sec. 10); dropconnect: inverted Bernoulli masks on the weights that read each hidden layer
NOISES = (
    "bernoulli",
    "gaussian",
    "dropconnect",
)  # what a Trainer may compute in; each port says which it can
# Who drives the SGD steps: "step", the host, one call per batch (torch eager, a jitted JAX step);
# "device", the device, with no host work per step (JAX's lax.scan, torch's CUDA graph); "default",
# each port's own, the style it ran before the styles had names (its Trainer's LOOPS[0]).
PORT_LOOP = "default"
LOOPS = (PORT_LOOP, "step", "device")
# float32 matmuls: "highest", in full float32; "tf32", in TensorFloat-32 where the hardware has it
# (NVIDIA GPUs since Ampere; elsewhere as highest). Each Trainer lists the ones it can set.
MATMUL_PRECISIONS = ("highest", "tf32")
# How replicas draw their masks (common/replicas.py): "example", keyed by (seed, step, layer, row of
# the global batch), the same at any replica count; "rank", a generator per replica seeded seed +
# rank; "same", seed on every replica (identical masks: the common bug); "auto", the port's own
# stream batch by batch with one replica (the chapter's run, unchanged) and "example" with more.
REPLICA_SEEDINGS = ("auto", "example", "rank", "same")


def option(default: object, help: str, **cli: object) -> Any:
    """A Config field that the commands take as an option: its help, and for argparse a flag
    other than --field-name, choices or a metavar (benchmarks.cli derives the options from these)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class Config:
    """The D2L dropout chapter's settings; every port trains from the same values."""

    num_inputs: int = 784
    num_hiddens: tuple[int, ...] = option((256, 256), "hidden layer widths", flag="--hiddens", metavar="H")
    num_outputs: int = 10
    dropouts: tuple[float, ...] = option((0.2, 0.5), "a dropout rate per hidden layer", metavar="P")
    lr: float = option(0.5, "SGD learning rate")
    batch_size: int = option(256, "examples per SGD step")
    epochs: int = option(10, "passes over the training set")
    seed: int = 0  # initial parameters, batch order, masks (the commands take --seed or --seeds)
    init_std: float = 0.01
    weight_decay: float = option(0.0, "L2 on the weights (not the biases): loss + wd/2 * sum ||W||^2")
    prng_impl: str = option("threefry2x32", "JAX's random-bit generator", choices=PRNG_IMPLS)
    dtype: str = option(
        "float32",
        "parameters, activations and gradients (float64 turns on JAX's x64 mode)",
        choices=DTYPE_NAMES,
    )
    noise: str = option("bernoulli", "what the rates in dropouts are rates of", choices=NOISES)
    mc_samples: int = option(0, "T > 0: the last epoch is also evaluated by MC dropout over T passes")
    loop: str = option(
        PORT_LOOP, "who drives the steps: the host (step), the device (device), each port's", choices=LOOPS
    )
    matmul_precision: str = option(
        "highest", "float32 matmuls in full float32 or in TensorFloat-32 (GPUs)", choices=MATMUL_PRECISIONS
    )
    train_subset: int = option(0, "train on the first N training examples only (0: all)", metavar="N")
    replicas: int = option(1, "data-parallel replicas the global batch is split across", metavar="N")
    replica_seeding: str = option(
        "auto", "how replicas draw their masks (auto: example with N > 1)", choices=REPLICA_SEEDINGS
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_hiddens", tuple(self.num_hiddens))
        object.__setattr__(self, "dropouts", tuple(check_rate(p) for p in self.dropouts))
        for name in ("num_inputs", "num_outputs", "batch_size", "epochs", "replicas"):
            _check_positive_int(name, getattr(self, name))
        for size in self.num_hiddens:
            _check_positive_int("num_hiddens", size)
        if len(self.dropouts) != len(self.num_hiddens):
            raise ValueError(
                f"need one dropout rate per hidden layer: {len(self.num_hiddens)} hidden "
                f"layers but {len(self.dropouts)} rates"
            )
        for name in ("lr", "init_std", "weight_decay"):
            value = getattr(self, name)
            check_number(name, value)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("mc_samples", "train_subset"):
            check_number(name, getattr(self, name), integer=True)
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        check_seed(self.seed)
        for name in ("noise", "dtype", "prng_impl", "loop", "matmul_precision", "replica_seeding"):
            choices = Config.__dataclass_fields__[name].metadata["choices"]
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.noise == "gaussian" and 1.0 in self.dropouts:
            raise ValueError("gaussian noise needs rates below 1: its variance p/(1-p) is infinite at 1")
        if self.noise == "dropconnect" and 1.0 in self.dropouts:
            raise ValueError(
                "dropconnect needs rates below 1: at 1 it drops every weight of a layer and scales "
                "the kept ones by 1/(1-p), which is infinite (0/0: NaN in every port)"
            )

    @property
    def data_parallel(self) -> bool:
        """Whether a run takes the data-parallel path: more than one replica, or a seeding asked for."""
        return self.replicas > 1 or self.replica_seeding != "auto"

    @property
    def mask_seeding(self) -> str:
        """The seeding the replicas use: "auto" resolved ("stream" for the chapter's own run)."""
        if self.replica_seeding == "auto":
            return "example" if self.replicas > 1 else "stream"
        return self.replica_seeding

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Widths from input to output, e.g. (784, 256, 256, 10)."""
        return (self.num_inputs, *self.num_hiddens, self.num_outputs)

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of each Linear layer, input first."""
        return list(itertools.pairwise(self.layer_sizes))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        return cls(**values)

    def replace(self, **changes: object) -> Config:
        return dataclasses.replace(self, **changes)


def _check_positive_int(name: str, value: object) -> None:
    check_number(name, value, integer=True)
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
