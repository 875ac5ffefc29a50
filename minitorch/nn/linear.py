"""Linear: y = x W^T + b, one fused op (``F.linear``)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import array_module, normalize_device
from ..ops.linalg import linear
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


def check_size(layer: str, name: str, value, minimum: int = 0) -> int:
    """A layer's size argument as an int, refusing floats (2.5) and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{layer}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def empty_parameter(shape: tuple, device=None, dtype=None) -> Parameter:
    """An uninitialised Parameter of ``shape`` (layers fill it in ``reset_parameters``)."""
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
    if dtype.kind != "f":
        raise TypeError(f"layer parameters must be floating point, got dtype {dtype}")
    xp = array_module(normalize_device(device))
    return Parameter(xp.empty(shape, dtype=dtype))


class WeightAndBias(Module):
    """A layer with a ``weight`` and an optional ``bias`` (Linear, the Conv layers) and PyTorch's
    default init of both: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), where fan_in =
    weight.shape[1] * the kernel size (weight.shape[2:]), as PyTorch computes it."""

    def _add_weight_and_bias(self, shape: tuple, bias_size: int, bias: bool, device,
                             dtype) -> None:
        self.weight = empty_parameter(shape, device, dtype)
        if bias:
            self.bias = empty_parameter((bias_size,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = math.prod(self.weight.shape[1:])
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)


class Linear(WeightAndBias):
    """in_features -> out_features. weight (out, in), bias (out,).

    Default init (PyTorch's): weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in),
    1/sqrt(in)), and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = check_size("Linear", "in_features", in_features)
        self.out_features = check_size("Linear", "out_features", out_features)
        self._add_weight_and_bias((self.out_features, self.in_features), self.out_features,
                                  bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
