"""Ready-made networks, by name: ``models.get_model("fc256-fc256")``, ``models.available()``.

The registry maps a name to a constructor taking keyword arguments. A checkpoint stores the
name and the kwargs, so ``python -m minitorch eval`` can rebuild the network it was trained
with. Add a model with ``register_model("name", constructor)`` (or as a decorator).
"""
from __future__ import annotations

from functools import partial
from typing import Callable

from .lenet import LeNet5, SimpLeNet, SimpLeNetCaffe
from .mlp import MLP, fc64, fc256_fc256
from .small import (CifarResNet, PlainBlock, cifar_resnet, resnet18_cifar, resnet34_cifar,
                    resnet50_cifar, vgg_small)
from .zoo import TORCHVISION_LAYOUT, head_names

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

# The vision zoo (zoo.py: torchvision's layouts; small.py: forms for 28x28 / 32x32 images).
# Every one takes in_channels (1: MNIST-like, 3: CIFAR-10) and num_classes (default 10).
for _name, _build in TORCHVISION_LAYOUT.items():
    register_model(_name, _build)
register_model("resnet18-cifar", resnet18_cifar)   # 3x3 stride-1 stem, no max-pool
register_model("resnet34-cifar", resnet34_cifar)
register_model("resnet50-cifar", resnet50_cifar)
for _depth in (8, 14, 20, 32, 44, 56):              # He et al.'s CIFAR ResNets and plain nets
    register_model(f"resnet{_depth}", partial(cifar_resnet, _depth))
    register_model(f"plain{_depth}", partial(cifar_resnet, _depth, residual=False))
for _cfg, _vgg_name in (("A", "vgg11"), ("B", "vgg13"), ("D", "vgg16"), ("E", "vgg19")):
    register_model(f"{_vgg_name}-small", partial(vgg_small, _cfg, False))
    register_model(f"{_vgg_name}_bn-small", partial(vgg_small, _cfg, True))
# CPU-sized: a quarter of the channels (16 ... 128), 128-unit classifier: ~6M mult-adds per
# 28x28 image instead of 95M (the results table's VGG-style network)
register_model("vgg11_bn-mini", partial(vgg_small, "A", True, width=0.25, hidden=128))

__all__ = ["MLP", "fc64", "fc256_fc256", "LeNet5", "SimpLeNet", "SimpLeNetCaffe", "available", "get_model", "register_model",
           "UnknownModelError", "CifarResNet", "PlainBlock", "cifar_resnet", "resnet18_cifar",
           "resnet34_cifar", "resnet50_cifar", "vgg_small", "head_names"]
