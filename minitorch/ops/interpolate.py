"""F.interpolate / nn.Upsample: resize the spatial dims of (N, C, W), (N, C, H, W) or
(N, C, D, H, W) by nearest-neighbour or (bi/tri)linear interpolation, as PyTorch.

Both modes are separable, so a resize is one 1-D resample per spatial axis. Along an axis of
input length n and output length m, output position j reads input positions i0, i1 with weights
w0, w1 (nearest: one position, weight 1):

    nearest        i0 = floor(j * s)                     s = n / m, or 1 / scale_factor
    nearest-exact  i0 = floor((j + 0.5) * s)
    linear         x = (j + 0.5) * s - 0.5 (clamped at 0), or, with align_corners=True,
                   x = j * (n - 1) / (m - 1);   i0 = floor(x), i1 = min(i0 + 1, n - 1),
                   w1 = x - i0, w0 = 1 - w1

Along a short axis that is a product with the (m, n) matrix of those weights, so forward and
backward (the product with its transpose, which adds where outputs share an input) are one
BLAS call each; along a long axis, a gather and a scatter-add of rows.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor

_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")


# Up to this input length a resample is a product with the dense (m, n) matrix of weights
# (BLAS beats a gather there, though each row has only two non-zeros); beyond it the matrix
# would be mostly zeros, so the op gathers and scatters instead.
_DENSE_MAX_N = 128


class Resample1d(Function):
    """out[..., j, ...] = sum_k w_k[j] * x[..., idx_k[j], ...] along ``axis``."""

    @staticmethod
    def forward(ctx, x, axis, taps):
        xp = get_array_module(x)
        m, n = taps[0][0].shape[0], x.shape[axis]
        ctx.axis, ctx.n, ctx.taps, ctx.A = axis, n, taps, None
        if n <= _DENSE_MAX_N:  # one product with A (A[j, idx_k[j]] = w_k[j])
            A = xp.zeros((m, n), dtype=x.dtype)
            for idx, w in taps:
                A[xp.arange(m), idx] += 1 if w is None else w.astype(x.dtype)
            ctx.A = A
            return xp.moveaxis(xp.moveaxis(x, axis, -1) @ A.T, -1, axis)
        shape = [1] * x.ndim
        shape[axis] = -1
        out = None
        for idx, w in taps:
            term = xp.take(x, idx, axis=axis)
            if w is not None:
                term *= w.astype(x.dtype).reshape(shape)
            out = term if out is None else out + term
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        if ctx.A is not None:  # the product with A^T adds where outputs share an input
            return xp.moveaxis(xp.moveaxis(g, ctx.axis, -1) @ ctx.A, -1, ctx.axis)
        moved = xp.ascontiguousarray(xp.moveaxis(g, ctx.axis, 0))   # rows: output positions
        gx = xp.zeros((ctx.n,) + moved.shape[1:], dtype=g.dtype)
        for idx, w in ctx.taps:
            rows = moved if w is None else moved * w.astype(g.dtype).reshape(
                (-1,) + (1,) * (moved.ndim - 1))
            _scatter_add_rows(xp, gx, idx, rows)
        return xp.moveaxis(gx, 0, ctx.axis)


def _scatter_add_rows(xp, out, idx, rows) -> None:
    """out[idx[j]] += rows[j] for a non-decreasing idx (every tap's index list is sorted): on
    NumPy one add.reduceat over the runs of equal indices (contiguous rows: fast)."""
    if xp is np and idx.size:
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        out[idx[starts]] += np.add.reduceat(rows, starts, axis=0)
    else:
        xp.add.at(out, idx, rows)


def _taps(mode: str, n: int, m: int, scale, align_corners, xp):
    """Input positions and weights for each of the m outputs along an axis of length n."""
    j = np.arange(m, dtype=np.float64)
    s = n / m if scale is None else 1.0 / scale
    if mode == "nearest":
        return [(xp.asarray(np.minimum(np.floor(j * s).astype(np.int64), n - 1)), None)]
    if mode == "nearest-exact":
        return [(xp.asarray(np.minimum(np.floor((j + 0.5) * s).astype(np.int64), n - 1)), None)]
    if align_corners:
        x = j * ((n - 1) / (m - 1)) if m > 1 else np.zeros(m)
    else:
        x = np.maximum((j + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(np.floor(x).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w1 = x - i0
    return [(xp.asarray(i0), xp.asarray(1.0 - w1)), (xp.asarray(i1), xp.asarray(w1))]


def _output_sizes(op: str, spatial: tuple, size, scale_factor, recompute_scale_factor):
    """Output sizes and the scales used for coordinates (None: n / m, PyTorch's rule)."""
    k = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        sizes = (size,) * k if isinstance(size, int) else tuple(size)
        if len(sizes) != k or any(not isinstance(v, int) or v <= 0 for v in sizes):
            raise ValueError(f"{op}: size must be a positive int or {k} positive ints for an "
                             f"input with {k} spatial dims, got {size!r}")
        return sizes, (None,) * k
    scales = (scale_factor,) * k if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(scales) != k or any(v <= 0 for v in scales):
        raise ValueError(f"{op}: scale_factor must be positive, one or {k} values, got "
                         f"{scale_factor!r}")
    sizes = tuple(int(math.floor(n * float(s))) for n, s in zip(spatial, scales))
    if any(v <= 0 for v in sizes):
        raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output for "
                         f"spatial size {spatial}")
    coord = (None,) * k if recompute_scale_factor else tuple(float(s) for s in scales)
    return sizes, coord


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
                align_corners=None, recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(_MODES)}, got {mode!r} "
                         "(bicubic and area are not implemented)")
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: input must be (N, C, W), (N, C, H, W) or (N, C, D, H, W), got "
                         f"shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {input.dtype}")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported")
    linear = mode in _LINEAR_MODES
    if linear and _LINEAR_MODES[mode] != input.ndim - 2:
        raise ValueError(f"{op}: mode {mode!r} needs a {_LINEAR_MODES[mode] + 2}-d input, got "
                         f"{input.ndim}-d {input.shape}")
    if align_corners is not None and not linear:
        raise ValueError(f"{op}: align_corners only applies to the linear modes, not {mode!r}")
    spatial = input.shape[2:]
    sizes, scales = _output_sizes(op, spatial, size, scale_factor, recompute_scale_factor)
    if align_corners:
        scales = (None,) * len(spatial)   # corners pin the mapping: the factor plays no part
    xp = get_array_module(input.data)
    out = input
    for k, (n, m, s) in enumerate(zip(spatial, sizes, scales)):
        if n == m and s in (None, 1.0):
            continue
        out = Resample1d.apply(out, axis=2 + k,
                               taps=_taps(mode, n, m, s, bool(align_corners), xp))
    return out if out is not input else Resample1d.apply(
        input, axis=2, taps=[(xp.arange(spatial[0]), None)])


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):  # noqa: A002
    return interpolate(input, size, scale_factor, mode, align_corners)
