"""Initial parameters in the common layout: every port starts from these same arrays."""

from __future__ import annotations

import numpy as np

from dropout_ports.common.config import Config

Params = dict[str, np.ndarray]


def param_shapes(cfg: Config) -> dict[str, tuple[int, ...]]:
    """W{i} is (fan_in, fan_out), as x @ W; b{i} is (fan_out,)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(cfg.layer_shapes, start=1):
        shapes[f"W{i}"] = (fan_in, fan_out)
        shapes[f"b{i}"] = (fan_out,)
    return shapes


def init_params(cfg: Config) -> Params:
    """Weights N(0, init_std) and zero biases, float32, drawn from cfg.seed as in the chapter."""
    rng = np.random.default_rng(cfg.seed)
    params: Params = {}
    for name, shape in param_shapes(cfg).items():
        if name.startswith("W"):
            params[name] = rng.normal(0.0, cfg.init_std, size=shape).astype(np.float32)
        else:
            params[name] = np.zeros(shape, np.float32)
    return params


def check_params(cfg: Config, params: Params) -> Params:
    """Return params as float32 NumPy arrays after checking names and shapes against cfg."""
    expected = param_shapes(cfg)
    if set(params) != set(expected):
        raise ValueError(f"params must have keys {sorted(expected)}, got {sorted(params)}")
    checked = {name: np.asarray(params[name], np.float32) for name in expected}
    for name, shape in expected.items():
        if checked[name].shape != shape:
            raise ValueError(f"params[{name!r}] has shape {checked[name].shape}, expected {shape}")
    return checked
