"""Convolution layers: Conv2d over ``F.conv2d`` (im2col + GEMM, ops/conv.py), Conv1d, and the
transposed ConvTranspose1d/2d (ops/conv_transpose.py)."""
from __future__ import annotations

from ..ops.conv import conv2d
from ..ops.conv_transpose import conv1d, conv_transpose1d, conv_transpose2d
from ..ops.geometry import pair
from ..tensor import Tensor
from .linear import WeightAndBias, check_size


def check_channels(layer: str, in_channels, out_channels, groups) -> tuple[int, int]:
    """(in_channels, out_channels) as ints >= 1, both divisible by groups."""
    in_channels = check_size(layer, "in_channels", in_channels, 1)
    out_channels = check_size(layer, "out_channels", out_channels, 1)
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: in_channels ({in_channels}) and out_channels "
                         f"({out_channels}) must be divisible by groups ({groups})")
    return in_channels, out_channels


class Conv2d(WeightAndBias):
    """(N, C, H, W) -> (N, OC, OH, OW), OH = (H + 2PH - DH(KH-1) - 1)//SH + 1.

    weight (out_channels, in_channels/groups, KH, KW), bias (out_channels,). Default init
    (PyTorch's): weight ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and
    bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups * KH * KW.
    Only zero padding (padding_mode="zeros") is supported.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        self.in_channels, self.out_channels = check_channels("Conv2d", in_channels, out_channels,
                                                             groups)
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode must be 'zeros' (the only mode minitorch "
                             f"implements), got {padding_mode!r}")
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"Conv2d: padding must be 'valid', 'same' or ints, got {padding!r}")
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = pair(stride, "stride", "Conv2d")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", "Conv2d")
        self.dilation = pair(dilation, "dilation", "Conv2d")
        for name, minimum in (("kernel_size", 1), ("stride", 1), ("dilation", 1), ("padding", 0)):
            value = getattr(self, name)
            if not isinstance(value, str) and min(value) < minimum:
                raise ValueError(f"Conv2d: {name} must be >= {minimum}, got {value}")
        self.groups, self.padding_mode = int(groups), padding_mode
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self._add_weight_and_bias(shape, self.out_channels, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


def _one(value, name: str, layer: str) -> tuple:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{layer}: {name} must be an int or a 1-tuple, got {value!r}")
    return (int(value),)


class Conv1d(WeightAndBias):
    """(N, C, L) -> (N, OC, OL) over ``F.conv1d`` (a 1 x K conv2d). weight (OC, C/groups, K)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f"Conv1d: padding_mode must be 'zeros', got {padding_mode!r}")
        self.in_channels, self.out_channels = check_channels("Conv1d", in_channels, out_channels,
                                                             groups)
        self.kernel_size = _one(kernel_size, "kernel_size", "Conv1d")
        self.stride, self.dilation = _one(stride, "stride", "Conv1d"), _one(dilation, "dilation", "Conv1d")
        self.padding = padding if isinstance(padding, str) else _one(padding, "padding", "Conv1d")
        self.groups, self.padding_mode = int(groups), padding_mode
        self._add_weight_and_bias((out_channels, in_channels // groups) + self.kernel_size,
                                  out_channels, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return conv1d(input, self.weight, self.bias, self.stride[0], pad, self.dilation[0],
                      self.groups)


class _ConvTransposeNd(WeightAndBias):
    """Shared by ConvTranspose1d/2d: weight (in_channels, out_channels/groups, *kernel)."""

    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode must be 'zeros', got {padding_mode!r}")
        self.in_channels, self.out_channels = check_channels(name, in_channels, out_channels,
                                                             groups)
        size = (lambda v, n: pair(v, n, name)) if self._dims == 2 else \
            (lambda v, n: _one(v, n, name))
        self.kernel_size, self.stride = size(kernel_size, "kernel_size"), size(stride, "stride")
        self.padding, self.dilation = size(padding, "padding"), size(dilation, "dilation")
        self.output_padding = size(output_padding, "output_padding")
        self.groups, self.padding_mode = int(groups), padding_mode
        self._add_weight_and_bias((in_channels, out_channels // groups) + self.kernel_size,
                                  out_channels, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        op = conv_transpose2d if self._dims == 2 else conv_transpose1d
        unwrap = (lambda v: v) if self._dims == 2 else (lambda v: v[0])
        return op(input, self.weight, self.bias, unwrap(self.stride), unwrap(self.padding),
                  unwrap(self.output_padding), self.groups, unwrap(self.dilation))


class ConvTranspose2d(_ConvTransposeNd):
    """(N, Cin, H, W) -> (N, Cout, OH, OW), OH = (H-1)SH - 2PH + DH(KH-1) + output_padding + 1:
    the adjoint of a Conv2d (learned upsampling), over ``F.conv_transpose2d``."""

    _dims = 2


class ConvTranspose1d(_ConvTransposeNd):
    _dims = 1
