"""Weight initialisation, in place and without recording a graph (PyTorch's formulas).

fan_in / fan_out of a weight: a Linear weight is (out, in), a Conv2d weight (out, in/groups,
KH, KW); each output unit sums fan_in = size(1) * KH * KW inputs, each input feeds
fan_out = size(0) * KH * KW outputs. Keeping the variance of activations (Xavier/Glorot) or of
ReLU activations (Kaiming/He) constant across layers gives the standard deviations below.

Numbers come from minitorch's default generator (``mt.manual_seed``) or ``generator=``,
drawn on the CPU and moved to the tensor's device (same weights on every device).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import to_device
from ..random import numpy_generator
from ..tensor import Tensor

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The factor that keeps activation variance ~1 through ``nonlinearity`` (PyTorch's table)."""
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out can not be computed for a tensor with fewer "
                         f"than 2 dimensions (shape {tensor.shape})")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values) -> Tensor:
    """Write ``values`` (a NumPy array or scalar) into tensor's array in place."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor or Parameter, got {type(tensor).__name__}")
    values = np.asarray(values, dtype=tensor.dtype)
    tensor.data[...] = to_device(values, tensor.device)  # in place: no graph, same array
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    return _fill(tensor, numpy_generator(generator).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """N(mean, std^2). A float32 tensor gets float32 draws (NumPy's float32 ziggurat): twice
    as fast and half the memory of drawing float64 and casting, which matters for VGG's
    10^8-weight layers."""
    rng = numpy_generator(generator)
    if isinstance(tensor, Tensor) and tensor.dtype == np.float32:
        values = rng.standard_normal(size=tensor.shape, dtype=np.float32)
        values *= np.float32(std)
        values += np.float32(mean)
        return _fill(tensor, values)
    return _fill(tensor, rng.normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))  (std = gain * sqrt(2 / (in + out)))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan)  (std = gain / sqrt(fan))."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # an empty tensor: nothing to draw (PyTorch warns and does the same)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """N(mean, std^2) restricted to [a, b] (a and b are absolute bounds, as PyTorch's).

    Drawn by rejection: out-of-range draws are redrawn until every value lies in [a, b],
    which gives exactly the truncated distribution (PyTorch inverts the CDF instead: same
    distribution, other numbers)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: the bounds must satisfy a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"trunc_normal_: std must be > 0, got {std}")
    rng = numpy_generator(generator)
    values = rng.normal(mean, std, size=tensor.shape)
    for _ in range(1000):
        bad = (values < a) | (values > b)
        count = int(bad.sum())
        if count == 0:
            return _fill(tensor, values)
        values[bad] = rng.normal(mean, std, size=count)
    raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds almost none of N({mean}, "
                     f"{std}^2); choose bounds nearer the mean")
