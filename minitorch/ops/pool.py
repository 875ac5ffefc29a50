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

import numbers

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..cpu import HAVE_NUMBA
from ..cpu.pool import max_pool_backward_numba, max_pool_numba
from ..cuda import ops as cuda_ops
from ..tensor import Tensor
from .conv import pair


# --------------------------------------------------------------------------- geometry
def pool_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                  ceil_mode: bool) -> int:
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate the arguments; return (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)."""
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
    return KH, KW, SH, SW, PH, PW, DH, DW, OH, OW


def _padded(xp, x, geom, fill):
    """x padded top/left by PH/PW and bottom/right as far as the last window reaches."""
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    H, W = x.shape[-2:]
    PB = max(0, (OH - 1) * SH + DH * (KH - 1) + 1 - H - PH)
    PR = max(0, (OW - 1) * SW + DW * (KW - 1) + 1 - W - PW)
    return xp.pad(x, ((0, 0), (0, 0), (PH, PB), (PW, PR)), constant_values=fill)


def _window_slices(geom):
    """(kh, kw, rows, cols): the strided slices of the padded input seen at each kernel offset."""
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    for kh in range(KH):
        for kw in range(KW):
            yield kh, kw, (slice(kh * DH, kh * DH + SH * (OH - 1) + 1, SH),
                           slice(kw * DW, kw * DW + SW * (OW - 1) + 1, SW))


# --------------------------------------------------------------------------- max pooling
def max_pool_xp(x, geom):
    """Reference max pool in array code (NumPy/CuPy): -> (out, idx) as the numba kernel."""
    xp = get_array_module(x)
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    W = x.shape[3]
    xpad = _padded(xp, x, geom, -xp.inf)
    stack = xp.stack([xpad[:, :, rows, cols] for _, _, (rows, cols) in _window_slices(geom)])
    k = stack.argmax(axis=0)                           # first max in scan order (or NaN)
    out = xp.take_along_axis(stack, k[None], axis=0)[0]
    ih = xp.arange(OH).reshape(OH, 1) * SH - PH + (k // KW) * DH
    iw = xp.arange(OW) * SW - PW + (k % KW) * DW
    idx = ih * W + iw
    # A window whose inputs are all -inf "chose" its first element, which may be padding:
    # use its first in-bounds element instead, as the kernel does (-1: window all padding).
    fh = _first_inside(OH, SH, PH, KH, DH, x.shape[2])[:, None]
    fw = _first_inside(OW, SW, PW, KW, DW, W)[None, :]
    first = np.where((fh < 0) | (fw < 0), -1, fh * W + fw)
    idx = xp.where(out == -xp.inf, xp.asarray(first), idx)
    return out, idx.astype(np.int64)


def _first_inside(O, S, P, K, D, size):
    """Per output position: the first window row (col) inside [0, size), or -1 if none."""
    first = np.full(O, -1)
    for o in range(O):
        rows = [o * S - P + k * D for k in range(K) if 0 <= o * S - P + k * D < size]
        first[o] = rows[0] if rows else -1
    return first


def max_pool_backward_xp(gy, idx, x_shape):
    xp = get_array_module(gy)
    N, C, H, W = x_shape
    gx = xp.zeros((N * C, H * W), dtype=gy.dtype)
    planes = xp.arange(N * C).reshape(N * C, 1)
    keep = idx >= 0                                    # index -1: window wholly in padding
    xp.add.at(gx, (planes, xp.where(keep, idx, 0).reshape(N * C, -1)),
              xp.where(keep, gy, 0).reshape(N * C, -1))
    return gx.reshape(x_shape)


class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, geom, indices_out=None):
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        if HAVE_NUMBA and isinstance(x, np.ndarray):
            out, idx = max_pool_numba(x, *geom)
        elif get_array_module(x) is not np:  # CuPy: the CUDA kernel, same rules
            out, idx = cuda_ops.max_pool(x, *geom)
        else:
            out, idx = max_pool_xp(x, geom)
        if indices_out is not None:  # return_indices: hand the argmax to the wrapper
            indices_out.append(idx[0] if unbatched else idx)
        ctx.idx, ctx.x_shape, ctx.unbatched, ctx.geom = idx, x.shape, unbatched, geom
        return out[0] if unbatched else out

    @staticmethod
    def backward(ctx, gy):
        if ctx.unbatched:
            gy = gy[None]
        if HAVE_NUMBA and isinstance(gy, np.ndarray):
            gx = max_pool_backward_numba(gy, ctx.idx, ctx.x_shape)
        elif get_array_module(gy) is not np:  # CuPy: gather kernel (needs the geometry)
            gx = cuda_ops.max_pool_backward(gy, ctx.idx, ctx.x_shape, *ctx.geom)
        else:
            gx = max_pool_backward_xp(gy, ctx.idx, ctx.x_shape)
        return gx[0] if ctx.unbatched else gx


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over KH x KW windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    With return_indices, also returns the flat ``ih*W + iw`` position of each max (int64).
    Ties go to the first max in window scan order (see the module docstring).
    """
    geom = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation,
                          ceil_mode)
    box = [] if return_indices else None
    out = MaxPool2d.apply(input, geom=geom, indices_out=box)
    if return_indices:
        return out, Tensor._make(box[0], requires_grad=False, grad_fn=None)
    return out


# --------------------------------------------------------------------------- average pooling
def _avg_divisor(geom, H, W, count_include_pad, divisor_override):
    """(OH, OW) array of what each window's sum is divided by (PyTorch's rule)."""
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    if divisor_override is not None:
        return np.full((OH, OW), float(divisor_override))

    def extent(O, S, P, K, size):
        start = np.arange(O) * S - P
        end = np.minimum(start + K, size + P)          # the window, clipped to the padding
        with_pad = end - start
        inside = np.minimum(end, size) - np.maximum(start, 0)
        return with_pad if count_include_pad else np.maximum(inside, 1)

    return np.outer(extent(OH, SH, PH, KH, H), extent(OW, SW, PW, KW, W)).astype(np.float64)


class AvgPool2d(Function):
    """Sum of each window's KH*KW strided slices, divided per window; backward spreads each
    window's gradient (divided the same way) back over the window."""

    @staticmethod
    def forward(ctx, x, *, geom, divisor):
        xp = get_array_module(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        if xp is not np:  # CuPy: one gather kernel instead of KH*KW strided adds
            div = xp.asarray(divisor, dtype=x.dtype)
            KH, KW, SH, SW, PH, PW, _, _, OH, OW = geom
            out = cuda_ops.avg_pool(x, div, KH, KW, SH, SW, PH, PW, OH, OW)
            ctx.div, ctx.geom, ctx.x_shape, ctx.unbatched = div, geom, x.shape, unbatched
            return out[0] if unbatched else out
        xpad = _padded(xp, x, geom, 0)
        total = None
        for _, _, (rows, cols) in _window_slices(geom):
            w = xpad[:, :, rows, cols]
            total = w.copy() if total is None else total + w
        div = xp.asarray(divisor, dtype=x.dtype)
        ctx.div, ctx.geom, ctx.x_shape, ctx.pad_shape, ctx.unbatched = \
            div, geom, x.shape, xpad.shape, unbatched
        out = total / div
        return out[0] if unbatched else out

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        if ctx.unbatched:
            gy = gy[None]
        if xp is not np:  # CuPy: each input pixel gathers from its windows
            KH, KW, SH, SW, PH, PW, _, _, OH, OW = ctx.geom
            gx = cuda_ops.avg_pool_backward(gy, ctx.div, ctx.x_shape, KH, KW, SH, SW, PH, PW,
                                            OH, OW)
            return gx[0] if ctx.unbatched else gx
        g = gy / ctx.div
        gpad = xp.zeros(ctx.pad_shape, dtype=gy.dtype)
        for _, _, (rows, cols) in _window_slices(ctx.geom):
            gpad[:, :, rows, cols] += g
        PH, PW = ctx.geom[4], ctx.geom[5]
        H, W = ctx.x_shape[2:]
        gx = gpad[:, :, PH:PH + H, PW:PW + W]
        return gx[0] if ctx.unbatched else gx


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
    geom = _pool_geometry("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _avg_divisor(geom, *input.shape[-2:], count_include_pad, divisor_override)
    return AvgPool2d.apply(input, geom=geom, divisor=divisor)


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
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) "
                         f"input, got shape {input.shape}")
    H, W = input.shape[-2:]
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        size = (H if output_size[0] is None else output_size[0],
                W if output_size[1] is None else output_size[1])
    else:
        size = output_size
    OH, OW = pair(size, "output_size", "adaptive_avg_pool2d")
    if min(OH, OW) < 1 or min(H, W) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size {(OH, OW)} and input size "
                         f"{(H, W)} must be >= 1")
    return AdaptiveAvgPool2d.apply(input, output_size=(OH, OW))
