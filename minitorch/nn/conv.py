"""Conv2d: a learnable 2-D convolution layer over ``F.conv2d`` (im2col + GEMM, ops/conv.py)."""
from __future__ import annotations

import math

from ..ops.conv import conv2d, pair
from ..tensor import Tensor
from . import init
from .linear import check_size, empty_parameter
from .module import Module


class Conv2d(Module):
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
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode must be 'zeros' (the only mode minitorch "
                             f"implements), got {padding_mode!r}")
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"Conv2d: padding must be 'valid', 'same' or ints, got {padding!r}")
        self.in_channels = check_size("Conv2d", "in_channels", in_channels, 1)
        self.out_channels = check_size("Conv2d", "out_channels", out_channels, 1)
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
        self.weight = empty_parameter(shape, device, dtype)
        if bias:
            self.bias = empty_parameter((self.out_channels,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

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
