"""Reading a Trainer's training masks back through its public API alone, whatever draws them.

With every ReLU held on (non-negative hidden weights, hidden biases of 2) and one example a step,
a hidden unit's outgoing weights change in a step exactly when dropout kept it: the rows of
W{i+1} that a step changes are layer i's mask. The steps go through train_epoch, the loop fit
runs (a scan on JAX), one batch a call, so each call's masks can be read.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from dropout_ports.common.config import Config
from dropout_ports.common.params import Params, param_shapes

# Rates that differ between layers, so that swapped or shared rates show; a small lr keeps the
# units on for the whole probe. One example a step: its mask is a layer's whole mask.
PROBE = Config(num_hiddens=(256, 256), dropouts=(0.3, 0.6), batch_size=1, lr=1e-3)
STEPS = 24


def probe_params(cfg: Config) -> Params:
    """Hidden weights in [0, 0.01) and hidden biases 2 (every ReLU on); output weights N(0, 0.1)."""
    rng = np.random.default_rng(0)
    last = len(cfg.layer_shapes)
    params = {}
    for name, shape in param_shapes(cfg).items():
        output = int(name[1:]) == last
        if name.startswith("W"):
            values = rng.normal(0.0, 0.1, shape) if output else rng.uniform(0.0, 0.01, shape)
        else:
            values = np.full(shape, 0.0 if output else 2.0)
        params[name] = values.astype(np.float32)
    return params


def read_masks(port: ModuleType, variant: str, device: str) -> dict[tuple[int, int], np.ndarray]:
    """(layer, step) -> the bool mask the step used, for every hidden layer over STEPS steps."""
    trainer = port.Trainer(PROBE, probe_params(PROBE), variant=variant, device=device)
    inputs = trainer.put(np.eye(STEPS, PROBE.num_inputs, dtype=np.float32))
    labels = trainer.put(np.arange(STEPS) % PROBE.num_outputs)
    masks = {}
    before = trainer.get_params()
    for step in range(STEPS):
        trainer.train_epoch(inputs, labels, [np.array([step])])
        after = trainer.get_params()
        for layer in range(1, len(PROBE.num_hiddens) + 1):
            changed = after[f"W{layer + 1}"] != before[f"W{layer + 1}"]
            masks[(layer, step)] = changed.any(axis=1)
        before = after
    return masks
