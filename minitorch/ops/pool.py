"""Pooling over 2-D windows (NCHW): max, average, adaptive average.

Notation as in ops/conv.py (N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW). The output
size follows PyTorch::

    OH = (H + 2PH - DH(KH-1) - 1 + (SH-1 if ceil_mode else 0))//SH + 1
    and, with ceil_mode, if (OH-1)*SH >= H + PH: OH -= 1   (the last window must start
    inside the input or its left padding, never wholly in the right padding)

PyTorch's further rules: stride defaults to kernel_size; padding <= kernel_size//2.

Max pooling: gradient goes to ONE element per window, the first max in window scan order
(kh outer, kw inner; PyTorch on the CPU does the same); a NaN in a window wins and propagates.
Indices (return_indices) are flat ``ih*W + iw`` positions inside each (n, c) input plane.
A window that dilation and padding place wholly in the padding gives -inf, index -1, and no
gradient (PyTorch returns an out-of-window index there).
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..kernel_table import kernels_for
from ..tensor import Tensor
from .conv import apply_batched
from .geometry import Geometry2d, adaptive_output_size, pair


# --------------------------------------------------------------------------- geometry
def pool_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                  ceil_mode: bool) -> int:
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode) -> Geometry2d:
    """Validate the arguments of a (C, H, W) or (N, C, H, W) input; return the geometry."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                         f"got shape {x.shape}")
    KH, KW = pair(kernel_size, "kernel_size", op)
    SH, SW = (KH, KW) if stride is None or stride == () else pair(stride, "stride", op)
    PH, PW = pair(padding, "padding", op)
    DH, DW = pair(dilation, "dilation", op)
    if min(KH, KW, SH, SW, DH, DW) < 1 or min(PH, PW) < 0:
        raise ValueError(f"{op}: kernel_size {(KH, KW)}, stride {(SH, SW)} and dilation "
                         f"{(DH, DW)} must be >= 1 and padding {(PH, PW)} >= 0")
    if PH > KH // 2 or PW > KW // 2:
        raise ValueError(f"{op}: padding {(PH, PW)} should be at most half of kernel size "
                         f"{(KH, KW)} (padding <= kernel_size // 2)")
    H, W = x.shape[-2:]
    OH = pool_out_size(H, KH, SH, PH, DH, ceil_mode)
    OW = pool_out_size(W, KW, SW, PW, DW, ceil_mode)
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: input {x.shape} with kernel_size {(KH, KW)}, stride "
                         f"{(SH, SW)}, padding {(PH, PW)}, dilation {(DH, DW)} gives output "
                         f"size {(OH, OW)}: output size is too small")
    return Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


# --------------------------------------------------------------------------- max pooling
class MaxPool2d(Function):
    """The max of each window, by the kernel table's max_pool (minitorch/cpu/pool.py explains
    the index and tie rules); the backward sends each window's gradient to its argmax."""

    @staticmethod
    def forward(ctx, x, *, geom, kernels):
        out, idx = kernels.max_pool(x, geom)
        ctx.idx, ctx.x_shape, ctx.geom, ctx.kernels = idx, x.shape, geom, kernels
        return out

    @staticmethod
    def backward(ctx, gy):
        return ctx.kernels.max_pool_backward(gy, ctx.idx, ctx.x_shape, ctx.geom)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over KH x KW windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    With return_indices, also returns the flat ``ih*W + iw`` position of each max (int64).
    Ties go to the first max in window scan order (see the module docstring).
    """
    geom = pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation,
                         ceil_mode)
    K = kernels_for(input.data)
    out = apply_batched(MaxPool2d, input, geom=geom, kernels=K)
    if not return_indices:
        return out
    # The indices are no part of the graph: asked for them (rare: unpooling), the wrapper
    # runs the kernel once more rather than passing them out of the Function on the side.
    x = input.data if input.ndim == 4 else input.data[None]
    idx = K.max_pool(x, geom)[1]
    return out, Tensor._make(idx if input.ndim == 4 else idx[0], requires_grad=False,
                             grad_fn=None)

# --------------------------------------------------------------------------- average pooling
@functools.lru_cache(maxsize=256)
def avg_divisor(geom: Geometry2d, H: int, W: int, count_include_pad: bool,
                divisor_override) -> np.ndarray:
    """(OH, OW) float64 array of what each window's sum is divided by (PyTorch's rule).
    Cached (read-only): a layer asks for the same table every step, and the GPU table keeps
    its device copy of it (minitorch/cuda/ops.py)."""
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    if divisor_override is not None:
        table = np.full((OH, OW), float(divisor_override))
    else:
        def extent(O, S, P, K, size):
            start = np.arange(O) * S - P
            end = np.minimum(start + K, size + P)      # the window, clipped to the padding
            with_pad = end - start
            inside = np.minimum(end, size) - np.maximum(start, 0)
            return with_pad if count_include_pad else np.maximum(inside, 1)

        table = np.outer(extent(OH, SH, PH, KH, H),
                         extent(OW, SW, PW, KW, W)).astype(np.float64)
    table.flags.writeable = False
    return table


class AvgPool2d(Function):
    """Each window's sum divided by its divisor (the kernel table's avg_pool); the backward
    spreads each window's gradient, divided the same way, back over the window."""

    @staticmethod
    def forward(ctx, x, *, geom, divisor, kernels):
        ctx.divisor, ctx.geom, ctx.x_shape, ctx.kernels = divisor, geom, x.shape, kernels
        return kernels.avg_pool(x, divisor, geom)

    @staticmethod
    def backward(ctx, gy):
        return ctx.kernels.avg_pool_backward(gy, ctx.divisor, ctx.x_shape, ctx.geom)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over KH x KW windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    count_include_pad: zeros of the padding count in the divisor (windows reaching past the
    padding, with ceil_mode, are clipped to it). divisor_override: divide every sum by this.
    """
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                         or divisor_override == 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int, "
                         f"got {divisor_override!r}")
    geom = pool_geometry("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    divisor = avg_divisor(geom, *input.shape[-2:], bool(count_include_pad),
                          None if divisor_override is None else int(divisor_override))
    return apply_batched(AvgPool2d, input, geom=geom, divisor=divisor,
                         kernels=kernels_for(input.data))


# --------------------------------------------------------------------------- adaptive
def _adaptive_matrix(out: int, size: int) -> np.ndarray:
    """(out, size) averaging matrix: row o averages input [floor(o*size/out), ceil((o+1)*size/out))."""
    m = np.zeros((out, size))
    for o in range(out):
        start, end = (o * size) // out, -((-(o + 1) * size) // out)
        m[o, start:end] = 1.0 / (end - start)
    return m


class AdaptiveAvgPool2d(Function):
    """Each output cell averages a rectangle of rows x cols, so the pooling separates:
    y = Ph @ x @ Pw.T with averaging matrices Ph (OH, H), Pw (OW, W); gx = Ph.T @ gy @ Pw."""

    @staticmethod
    def forward(ctx, x, *, output_size):
        xp = get_array_module(x)
        (OH, OW), (H, W) = output_size, x.shape[-2:]
        if (OH, OW) == (1, 1):  # global average pooling
            ctx.global_, ctx.x_shape = True, x.shape
            return x.mean(axis=(-2, -1), keepdims=True)
        ph = xp.asarray(_adaptive_matrix(OH, H), dtype=x.dtype)
        pw = xp.asarray(_adaptive_matrix(OW, W), dtype=x.dtype)
        ctx.global_, ctx.ph, ctx.pw = False, ph, pw
        return ph @ x @ pw.T

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        if ctx.global_:
            H, W = ctx.x_shape[-2:]
            return xp.broadcast_to(gy / (H * W), ctx.x_shape).copy()
        return ctx.ph.T @ gy @ ctx.pw


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average-pool input (N, C, H, W) or (C, H, W) to output_size (int or pair; None keeps
    that input size). Cell o covers input [floor(o*H/OH), ceil((o+1)*H/OH)), as PyTorch."""
    OH, OW = adaptive_output_size("adaptive_avg_pool2d", input, output_size)
    return AdaptiveAvgPool2d.apply(input, output_size=(OH, OW))
