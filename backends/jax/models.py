"""The JAX port's models: the scratch net, a pure function of the common params dict, and
flax.linen's (``linen.Dropout``), with the conversions between the two parameter layouts."""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as linen
import jax

from dropout_ports.backends.jax.masks import apply_keep, keep_mask
from dropout_ports.backends.jax.ops import dropout
from dropout_ports.common.masks import noise_std
from dropout_ports.common.params import Params

WEIGHT_KEYS = 1000  # dropconnect's keys: fold_in(key, WEIGHT_KEYS + layer), apart from the activations'


class ScratchNet(NamedTuple):
    """The chapter's hand-written net as a pure function of the common params dict; its fields
    are static (they shape the compiled code)."""

    rates: tuple[float, ...]
    noise: str = "bernoulli"

    def __call__(
        self, params: Params, x: jax.Array, *, key: Any = None, masks: Any = None
    ) -> tuple[jax.Array, list[jax.Array]]:
        """The scratch variant's logits and hidden outputs: the noise is on when a key (or injected
        masks) is given, off otherwise; under dropconnect it masks the weights that read each hidden
        layer instead of the layer itself."""
        on = key is not None or masks is not None

        def weights(i: int) -> jax.Array:
            """W{i}, under dropconnect (noise on, a layer reading a hidden one) with its kept weights."""
            if not on or self.noise != "dropconnect" or i == 1:
                return params[f"W{i}"]
            p = self.rates[i - 2]
            shape = params[f"W{i}"].shape
            keep = (
                masks[i - 2]
                if masks is not None
                else keep_mask(jax.random.fold_in(key, WEIGHT_KEYS + i), shape, p)
            )
            return apply_keep(params[f"W{i}"], keep, p)

        hidden = []
        for i, p in enumerate(self.rates, start=1):
            x = jax.nn.relu(x @ weights(i) + params[f"b{i}"])
            if on and self.noise == "gaussian" and p > 0:
                normal = (
                    jax.random.normal(jax.random.fold_in(key, i), x.shape, x.dtype) if masks is None else None
                )
                x = x * (masks[i - 1] if masks is not None else 1 + noise_std(p) * normal)
            elif on and self.noise == "bernoulli":
                x = (
                    apply_keep(x, masks[i - 1], p)
                    if masks is not None
                    else dropout(x, p, jax.random.fold_in(key, i))
                )
            hidden.append(x)
        last = len(self.rates) + 1
        return x @ weights(last) + params[f"b{last}"], hidden


class BuiltinNet(linen.Module):
    """The builtin variant: Dense-ReLU-Dropout per hidden layer, as the chapter's concise version."""

    hiddens: tuple[int, ...]
    rates: tuple[float, ...]
    outputs: int

    @linen.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        for width, p in zip(self.hiddens, self.rates, strict=True):
            x = linen.relu(linen.Dense(width)(x))
            x = linen.Dropout(p, deterministic=not train)(x)
            self.sow("intermediates", "hidden", x)  # kept only when applied with it mutable
        return linen.Dense(self.outputs)(x)


WEIGHT_NAMES = (("W", "kernel"), ("b", "bias"))


def to_flax(params: Params) -> dict[str, Any]:
    """Common layout -> linen's; Dense kernels are (in, out) like ours, so only names change."""
    return {
        f"Dense_{i}": {key: params[f"{name}{i + 1}"] for name, key in WEIGHT_NAMES}
        for i in range(len(params) // 2)
    }


def from_flax(flax_params: dict[str, Any]) -> Params:
    layers = [flax_params[f"Dense_{i}"] for i in range(len(flax_params))]
    return {f"{name}{i}": layer[key] for i, layer in enumerate(layers, 1) for name, key in WEIGHT_NAMES}
