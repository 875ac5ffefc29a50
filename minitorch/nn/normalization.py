"""Normalisation layers. BatchNorm1d / BatchNorm2d: ``F.batch_norm`` plus learnable
weight/bias and running stats; GroupNorm, LayerNorm, LocalResponseNorm (per-sample, below).

Buffers (saved in state_dict, moved by ``to()``): running_mean (zeros), running_var (ones),
num_batches_tracked (int64 counter). momentum=None means a cumulative moving average: the
k-th training batch is weighted 1/k.
"""
from __future__ import annotations

import numpy as np

from ..backend import array_module, normalize_device
from ..ops.layer_norm import group_norm, layer_norm, local_response_norm
from ..ops.norm import batch_norm
from ..tensor import Tensor
from . import init
from .linear import check_size, empty_parameter
from .module import Module


class _BatchNorm(Module):
    _dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.num_features = check_size(type(self).__name__, "num_features", num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = empty_parameter((self.num_features,), device, dtype)
            self.bias = empty_parameter((self.num_features,), device, dtype)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            xp = array_module(normalize_device(device))
            dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
            self.register_buffer("running_mean", Tensor._make(
                xp.zeros(self.num_features, dtype=dt), False, None))
            self.register_buffer("running_var", Tensor._make(
                xp.ones(self.num_features, dtype=dt), False, None))
            self.register_buffer("num_batches_tracked", Tensor._make(
                xp.zeros((), dtype=np.int64), False, None))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if input.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._dims)} "
                             f"input, got shape {input.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        # Batch statistics in training, and whenever there are no running ones to use.
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Normalises (N, C) or (N, C, L) per channel C."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalises (N, C, H, W) per channel C."""
    _dims = (4,)


# --------------------------------------------------------------------------- per-sample norms
class GroupNorm(Module):
    """``F.group_norm``: (N, C, *) normalised per sample over groups of C/num_groups channels;
    weight (ones) and bias (zeros) per channel. No running statistics: the same computation
    in training and evaluation, for any batch size."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        num_groups = check_size("GroupNorm", "num_groups", num_groups, 1)
        num_channels = check_size("GroupNorm", "num_channels", num_channels, 1)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = float(eps), affine
        if affine:
            self.weight = empty_parameter((num_channels,), device, dtype)
            self.bias = empty_parameter((num_channels,), device, dtype)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class LayerNorm(Module):
    """``F.layer_norm`` over the last dims ``normalized_shape``; elementwise weight (ones) and
    bias (zeros) of that shape (``bias=False`` drops the bias)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(check_size("LayerNorm", "normalized_shape", n, 1)
                                      for n in normalized_shape)
        self.eps, self.elementwise_affine = float(eps), elementwise_affine
        if elementwise_affine:
            self.weight = empty_parameter(self.normalized_shape, device, dtype)
            if bias:
                self.bias = empty_parameter(self.normalized_shape, device, dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """``F.local_response_norm``: AlexNet's normalisation across ``size`` neighbouring
    channels (no parameters)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = check_size("LocalResponseNorm", "size", size, 1)
        self.alpha, self.beta, self.k = float(alpha), float(beta), float(k)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
