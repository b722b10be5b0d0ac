"""The backend registry: one module per framework, all with the same names (see README)."""

from __future__ import annotations

import importlib
from types import ModuleType

# backend name -> (module, the extra that installs its framework)
_BACKENDS = {
    "numpy": ("backends.numpy", None),
    "torch": ("backends.torch", "torch"),
    "jax": ("backends.jax", "jax"),
}


def get_backend(name: str) -> ModuleType:
    """The backend module for name; a missing framework says which extra to install."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(_BACKENDS)}")
    module, extra = _BACKENDS[name]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name is None or err.name.startswith("backends"):
            raise
        raise ImportError(
            f"backend {name!r} needs {err.name}, which is not installed: pip install 'dropout-ports[{extra}]'"
        ) from err


def known_backends() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def available_backends() -> list[str]:
    """The backends whose framework imports here."""
    available = []
    for name in _BACKENDS:
        try:
            get_backend(name)
        except ImportError:
            continue
        available.append(name)
    return available
