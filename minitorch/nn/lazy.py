"""Lazy layers: the input size is read from the first batch instead of being written down.

    net = nn.Sequential(nn.LazyConv2d(6, kernel_size=5, padding=2), nn.ReLU(), ...,
                        nn.Flatten(), nn.LazyLinear(120), nn.ReLU(), nn.LazyLinear(10))
    net(mt.zeros(1, 1, 28, 28))          # dry run: every shape is now known
    opt = optim.SGD(net.parameters(), lr=0.1)   # create the optimizer after it

Until that first forward a lazy layer holds ``UninitializedParameter``s (and, for batch norm,
``UninitializedBuffer``s): placeholders without a shape. The first call sets
``in_features`` / ``in_channels`` / ``num_features`` from the input, materialises every
placeholder with its real shape, runs the layer's usual ``reset_parameters()`` (the same
init as the eager layer) and turns the module into the eager class (``LazyLinear`` becomes
``Linear``), so it then behaves and prints exactly like one. A lazy layer is also an instance
of its eager class from the start (``isinstance(nn.LazyLinear(3), nn.Linear)``), as in PyTorch.
Loading a state_dict into a lazy module materialises the placeholders with the saved shapes.
"""
from __future__ import annotations

import numpy as np

from ..backend import array_module, device_of, normalize_device
from ..tensor import Tensor
from .conv import Conv2d
from .linear import Linear
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d


def _placeholder(device, dtype):
    """A 0-element array on ``device`` with ``dtype``: all a placeholder has to remember."""
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
    return array_module(normalize_device(device)).empty((0,), dtype=dtype)


def _storage(like, shape: tuple, fill=None):
    xp = array_module(device_of(like))
    if fill is None:
        return xp.empty(tuple(shape), dtype=like.dtype)
    return xp.full(tuple(shape), fill, dtype=like.dtype)


class UninitializedParameter(Parameter):
    """A Parameter whose shape is not known yet; ``materialize(shape)`` gives it one."""

    __slots__ = ()

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        super().__init__(_placeholder(device, dtype), requires_grad=requires_grad)

    def materialize(self, shape: tuple) -> None:
        """Allocate (uninitialised) storage of ``shape`` and become a plain Parameter."""
        self.data = _storage(self.data, shape)
        self.__class__ = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer (e.g. running_mean) whose shape is not known yet."""

    __slots__ = ()

    def __init__(self, device=None, dtype=None):
        super().__init__(_placeholder(device, dtype))

    def materialize(self, shape: tuple, fill: float = 0) -> None:
        """Allocate storage of ``shape`` filled with ``fill`` and become a plain Tensor."""
        self.data = _storage(self.data, shape, fill)
        self.__class__ = Tensor

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"


def has_uninitialized(module: Module) -> bool:
    return any(isinstance(t, (UninitializedParameter, UninitializedBuffer))
               for t in list(module._parameters.values()) + list(module._buffers.values()))


class LazyModuleMixin:
    """First call: infer the sizes from the input, materialise, initialise, become eager."""

    cls_to_become: type = Module

    def __call__(self, *args, **kwargs):
        if not args or not isinstance(args[0], Tensor):
            raise TypeError(f"{type(self).__name__}: the first call must get the input Tensor "
                            "(its shape sets the layer's input size)")
        self.initialize_parameters(args[0])
        self.__class__ = self.cls_to_become
        return Module.__call__(self, *args, **kwargs)

    def initialize_parameters(self, input: Tensor) -> None:  # noqa: A002
        raise TypeError(f"{type(self).__name__} defines no initialize_parameters()")

    def _materialize_from(self, state_dict: dict, prefix: str) -> None:
        """load_state_dict into a lazy layer: shapes come from the saved tensors."""
        for registry in (self._parameters, self._buffers):
            for name, t in registry.items():
                value = state_dict.get(prefix + name)
                if value is None:
                    continue
                shape = tuple(getattr(getattr(value, "data", value), "shape", ()))
                if isinstance(t, UninitializedParameter):
                    t.materialize(shape)
                elif isinstance(t, UninitializedBuffer):
                    t.materialize(shape, 0)


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is ``input.shape[-1]`` of the first batch."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        Linear.__init__(self, 0, out_features, bias, device, dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input: Tensor) -> None:  # noqa: A002
        if input.ndim < 1:
            raise ValueError(f"LazyLinear: expected an input (*, in_features), got shape "
                             f"{input.shape}")
        self.in_features = input.shape[-1]
        if has_uninitialized(self):
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class LazyConv2d(LazyModuleMixin, Conv2d):
    """``Conv2d`` whose ``in_channels`` is ``input.shape[1]`` of the first batch."""

    cls_to_become = Conv2d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None):
        # Built with a stand-in in_channels (= groups, the smallest valid one) so Conv2d
        # checks every other argument now; the stand-in weight is replaced below.
        Conv2d.__init__(self, groups, out_channels, kernel_size, stride, padding, dilation,
                        groups, bias, padding_mode, device, dtype)
        self.in_channels = 0
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input: Tensor) -> None:  # noqa: A002
        if input.ndim not in (3, 4):
            raise ValueError(f"LazyConv2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                             f"got shape {input.shape}")
        channels = input.shape[-3]
        if channels % self.groups:
            raise ValueError(f"LazyConv2d: input channels ({channels}, input {input.shape}) "
                             f"must be divisible by groups ({self.groups})")
        self.in_channels = channels
        if has_uninitialized(self):
            self.weight.materialize((self.out_channels, channels // self.groups)
                                    + self.kernel_size)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


class _LazyNormBase(LazyModuleMixin):
    def _make_lazy(self, device, dtype) -> None:
        if self.affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(device, dtype)
            self.running_var = UninitializedBuffer(device, dtype)

    def initialize_parameters(self, input: Tensor) -> None:  # noqa: A002
        if input.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected a "
                             f"{' or '.join(f'{d}-D' for d in self._dims)} input, got shape "
                             f"{input.shape}")
        self.num_features = input.shape[1]
        if has_uninitialized(self):
            C = self.num_features
            if self.affine:
                self.weight.materialize((C,))
                self.bias.materialize((C,))
            if self.track_running_stats:
                self.running_mean.materialize((C,), 0)
                self.running_var.materialize((C,), 1)
            self.reset_parameters()


class LazyBatchNorm1d(_LazyNormBase, BatchNorm1d):
    """``BatchNorm1d`` whose ``num_features`` is ``input.shape[1]`` of the first batch."""

    cls_to_become = BatchNorm1d

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        BatchNorm1d.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype)
        self._make_lazy(device, dtype)


class LazyBatchNorm2d(_LazyNormBase, BatchNorm2d):
    """``BatchNorm2d`` whose ``num_features`` is ``input.shape[1]`` of the first batch."""

    cls_to_become = BatchNorm2d

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        BatchNorm2d.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype)
        self._make_lazy(device, dtype)
