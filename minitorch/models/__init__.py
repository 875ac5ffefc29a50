"""Ready-made networks, by name: ``models.get_model("fc256-fc256")``, ``models.available()``.

The registry maps a name to a constructor taking keyword arguments. A checkpoint stores the
name and the kwargs, so ``python -m minitorch eval`` can rebuild the network it was trained
with. Add a model with ``register_model("name", constructor)`` (or as a decorator).
"""
from __future__ import annotations

from typing import Callable

from .lenet import LeNet5, SimpLeNet, SimpLeNetCaffe
from .mlp import MLP, fc64, fc256_fc256

_REGISTRY: dict[str, Callable] = {}


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def register_model(name: str, constructor: Callable | None = None):
    """Register ``constructor`` under ``name`` (case-insensitive, '_' == '-')."""
    def add(fn: Callable) -> Callable:
        _REGISTRY[_canonical(name)] = fn
        return fn
    return add(constructor) if constructor is not None else add


def available() -> list[str]:
    return sorted(_REGISTRY)


def get_model(name: str, **kwargs):
    """Build the model registered as ``name`` with ``kwargs``."""
    key = _canonical(name)
    if key not in _REGISTRY:
        raise UnknownModelError(f"unknown model {name!r}; available: {', '.join(available())}")
    return _REGISTRY[key](**kwargs)


register_model("mlp", MLP)                   # MLP() defaults to 784-256-256-10
register_model("fc64", fc64)
register_model("fc256-fc256", fc256_fc256)
register_model("lenet5", LeNet5)
register_model("simplenet", SimpLeNet)
register_model("simplenet-caffe", SimpLeNetCaffe)

__all__ = ["MLP", "fc64", "fc256_fc256", "LeNet5", "SimpLeNet", "SimpLeNetCaffe", "available", "get_model", "register_model",
           "UnknownModelError"]
