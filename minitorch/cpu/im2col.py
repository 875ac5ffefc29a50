"""im2col / col2im: unfold every receptive field of an image into one column of a matrix, and
fold such a matrix back (the adjoint). A convolution then is one matrix product (GEMM).

Notation (shared with ops/conv.py and ops/pool.py)::

    N batch, C input channels, H x W input size
    KH x KW kernel size, SH, SW stride, PH, PW padding (top / left), DH, DW dilation
    OH x OW output size:  OH = (H + 2PH - DH(KH-1) - 1)//SH + 1   (OW likewise)

The kernels take the top/left padding and OH, OW; the bottom/right padding is whatever makes
OH x OW windows fit, so asymmetric ("same") padding needs nothing extra.

The col matrix: the array-layout contract that every backend's kernels follow
----------------------------------------------------------------------------------
``col`` has shape ``(C*KH*KW, N*OH*OW)``, is C-contiguous and has x's dtype::

    col[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow] = x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]

and 0 where that position is in the padding. Viewed as ``(C, KH, KW, N, OH, OW)`` it is the same
memory. Rows are ordered by input channel first, so with G groups the rows of group g are the
contiguous block ``g*(C/G)*KH*KW : (g+1)*(C/G)*KH*KW``, and ``weight.reshape(OC, -1)`` (OIHW)
multiplies them directly. The batch is folded into the columns: one GEMM per group covers it.

``col2im`` is the adjoint: ``x[n, c, ih, iw]`` = the sum of every col entry im2col copied from
there (overlapping windows add up). Here it is a serial scatter loop (so race-free by
construction); a parallel or GPU version must gather per input pixel or own whole planes.

The ``*_xp`` functions are the reference paths in plain array code (NumPy or CuPy): one strided
slice per kernel offset (kh, kw). Tests check the numba kernels against them.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..ops.geometry import Geometry2d
from . import HAVE_NUMBA

if HAVE_NUMBA:
    from numba import uint64

    from .jit import njit  # numba's, recompiling a damaged on-disk cache
else:  # the kernels become plain Python; callers use the *_xp paths instead
    uint64 = int

    def njit(*args, **kwargs):
        return lambda fn: fn

# Two performance notes, both measured (see benchmarks/README.md):
# * Indices are cast to uint64: numba must otherwise check every signed index for Python's
#   negative wrap-around, which blocks SIMD; the cast made im2col ~7x faster.
# * The kernels are serial (no parallel=True) and release the GIL (nogil): a second thread
#   pool (numba's) spinning next to BLAS's made whole training steps several times slower on a
#   2-core machine. The parallelism is minitorch's one pool (minitorch/threads.py): Conv2d
#   runs im2col + GEMM on chunks of images there, one thread (and one BLAS thread) per chunk.


@njit(cache=True, inline="always")
def _valid_range(off, S, W, OW):
    """The output positions o in [lo, hi) whose input position o*S + off lies in [0, W)."""
    lo = 0 if off >= 0 else (-off + S - 1) // S
    hi = 0 if W - off <= 0 else (W - off + S - 1) // S
    lo = min(lo, OW)
    hi = min(max(hi, lo), OW)
    return lo, hi


@njit(cache=True, nogil=True)
def _im2col_kernel(x, col, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    N, C, H, W = x.shape
    L = OH * OW
    xf, cf = x.reshape(-1), col.reshape(-1)      # flat views (both C-contiguous)
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                row = (c * KH + kh) * KW + kw
                off_w = kw * DW - PW
                lo, hi = _valid_range(off_w, SW, W, OW)
                for n in range(N):
                    d = (row * N + n) * L                # col[row, n*L]
                    for oh in range(OH):
                        ih = oh * SH - PH + kh * DH
                        if 0 <= ih < H:
                            s = ((n * C + c) * H + ih) * W + off_w  # x[n, c, ih, off_w]
                            for ow in range(lo):
                                cf[uint64(d + ow)] = 0
                            for ow in range(lo, hi):
                                cf[uint64(d + ow)] = xf[uint64(s + ow * SW)]
                            for ow in range(hi, OW):
                                cf[uint64(d + ow)] = 0
                        else:                           # the whole row is padding
                            for ow in range(OW):
                                cf[uint64(d + ow)] = 0
                        d += OW


@njit(cache=True, nogil=True)
def _col2im_kernel(col, x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    N, C, H, W = x.shape
    L = OH * OW
    xf, cf = x.reshape(-1), col.reshape(-1)
    xf[:] = 0
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                row = (c * KH + kh) * KW + kw
                off_w = kw * DW - PW
                lo, hi = _valid_range(off_w, SW, W, OW)
                for n in range(N):
                    d = (row * N + n) * L
                    for oh in range(OH):
                        ih = oh * SH - PH + kh * DH
                        if 0 <= ih < H:
                            s = ((n * C + c) * H + ih) * W + off_w
                            for ow in range(lo, hi):
                                xf[uint64(s + ow * SW)] += cf[uint64(d + ow)]
                        d += OW


def im2col_numba(x: np.ndarray, g: Geometry2d) -> np.ndarray:
    """x (N, C, H, W) NumPy array -> col (C*KH*KW, N*OH*OW), with the numba kernel."""
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    col = np.empty((C * g.KH * g.KW, N * g.OH * g.OW), dtype=x.dtype)
    _im2col_kernel(x, col, *g)
    return col


def col2im_numba(col: np.ndarray, x_shape, g: Geometry2d) -> np.ndarray:
    """col (C*KH*KW, N*OH*OW) -> x (N, C, H, W): the adjoint of im2col, with the numba kernel."""
    x = np.empty(x_shape, dtype=col.dtype)
    _col2im_kernel(np.ascontiguousarray(col), x, *g)
    return x


# --------------------------------------------------------------------------- xp reference paths
def im2col_xp(x, g: Geometry2d):
    """Same contract as im2col_numba, in array code: one strided slice per (kh, kw)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    xpad = xp.pad(x, g.pad_widths(H, W))
    col = xp.empty((C, g.KH, g.KW, N, g.OH, g.OW), dtype=x.dtype)
    for kh, kw, (rows, cols) in g.taps():
        col[:, kh, kw] = xpad[:, :, rows, cols].transpose(1, 0, 2, 3)
    return col.reshape(C * g.KH * g.KW, N * g.OH * g.OW)


def col2im_xp(col, x_shape, g: Geometry2d):
    """Same contract as col2im_numba, in array code. For a fixed (kh, kw) the windows hit
    distinct pixels, so a plain += per offset accumulates correctly (no np.add.at needed)."""
    xp = get_array_module(col)
    N, C, H, W = x_shape
    PB, PR = g.pad_end(H, W)
    xpad = xp.zeros((N, C, H + g.PH + PB, W + g.PW + PR), dtype=col.dtype)
    col6 = col.reshape(C, g.KH, g.KW, N, g.OH, g.OW)
    for kh, kw, (rows, cols) in g.taps():
        xpad[:, :, rows, cols] += col6[:, kh, kw].transpose(1, 0, 2, 3)
    return xp.ascontiguousarray(xpad[:, :, g.PH:g.PH + H, g.PW:g.PW + W])
