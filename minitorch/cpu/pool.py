"""Max-pooling kernels: forward (value and argmax index per window) and backward (scatter).

Notation as in im2col.py; x is (N, C, H, W), out and idx are (N, C, OH, OW).
``idx[n, c, oh, ow] = ih*W + iw``: the flat position of the window's max inside its input
plane (PyTorch's return_indices convention). Padding never wins: it is simply skipped (a
window wholly in the padding, possible with dilation, gives -inf and index -1).

Ties: the first max in window scan order (kh outer, kw inner) wins, because only a strictly
greater value replaces the current one; a NaN always replaces it (as PyTorch, so NaN propagates).
The backward sends each window's gradient to that one element; windows that overlap add up.
"""
from __future__ import annotations

import numpy as np

from .im2col import njit, uint64  # numba's, or plain stand-ins when numba is absent

# Serial kernels with flat uint64 indices, for the reasons given in im2col.py.


@njit(cache=True)
def _max_pool_kernel(x, out, idx, KH, KW, SH, SW, PH, PW, DH, DW):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    xf, of, jf = x.reshape(-1), out.reshape(-1), idx.reshape(-1)
    for p in range(N * C):                     # one (n, c) plane at a time
        src, dst = p * H * W, p * OH * OW
        for oh in range(OH):
            h0 = oh * SH - PH
            for ow in range(OW):
                w0 = ow * SW - PW
                best = -np.inf
                where = -1
                for kh in range(KH):
                    ih = h0 + kh * DH
                    if ih < 0 or ih >= H:
                        continue
                    for kw in range(KW):
                        iw = w0 + kw * DW
                        if iw < 0 or iw >= W:
                            continue
                        v = xf[uint64(src + ih * W + iw)]
                        if where < 0 or v > best or v != v:  # first max wins; NaN wins
                            best = v
                            where = ih * W + iw
                of[uint64(dst + oh * OW + ow)] = best
                jf[uint64(dst + oh * OW + ow)] = where


@njit(cache=True)
def _max_pool_2x2_kernel(x, out, idx):
    """The LeNet case: 2x2 windows, stride 2, no padding/dilation (windows don't overlap).

    Same rule as the general kernel (first max wins, the last NaN wins), written as two pair
    comparisons and a final one with selects instead of branches: on random data a branch
    per element is mispredicted half the time (this form is ~1.4x faster).
    """
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    xf, of, jf = x.reshape(-1), out.reshape(-1), idx.reshape(-1)
    for p in range(N * C):
        src, dst = p * H * W, p * OH * OW
        for oh in range(OH):
            for ow in range(OW):
                k = 2 * oh * W + 2 * ow                   # top-left of the window in the plane
                a, b = xf[uint64(src + k)], xf[uint64(src + k + 1)]
                c, d = xf[uint64(src + k + W)], xf[uint64(src + k + W + 1)]
                take_b = (b > a) | (b != b)               # top pair
                m1 = b if take_b else a
                i1 = k + 1 if take_b else k
                take_d = (d > c) | (d != d)               # bottom pair
                m2 = d if take_d else c
                i2 = k + W + 1 if take_d else k + W
                take_2 = (m2 > m1) | (m2 != m2)           # bottom winner comes later in scan
                of[uint64(dst + oh * OW + ow)] = m2 if take_2 else m1
                jf[uint64(dst + oh * OW + ow)] = i2 if take_2 else i1


@njit(cache=True)
def _max_pool_backward_kernel(gy, idx, gx):
    N, C, OH, OW = gy.shape
    HW = gx.shape[2] * gx.shape[3]
    gf, jf, xf = gy.reshape(-1), idx.reshape(-1), gx.reshape(-1)
    xf[:] = 0
    for p in range(N * C):
        for o in range(p * OH * OW, (p + 1) * OH * OW):
            k = jf[uint64(o)]
            if k >= 0:  # -1: a window wholly in the padding has no input to credit
                xf[uint64(p * HW + k)] += gf[uint64(o)]


def max_pool_numba(x: np.ndarray, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> (out, idx), both (N, C, OH, OW); idx is int64."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    idx = np.empty((N, C, OH, OW), dtype=np.int64)
    if (KH, KW, SH, SW, PH, PW, DH, DW) == (2, 2, 2, 2, 0, 0, 1, 1) and \
            2 * OH <= H and 2 * OW <= W:
        _max_pool_2x2_kernel(x, out, idx)
    else:
        _max_pool_kernel(x, out, idx, KH, KW, SH, SW, PH, PW, DH, DW)
    return out, idx


def max_pool_backward_numba(gy: np.ndarray, idx: np.ndarray, x_shape) -> np.ndarray:
    gx = np.empty(x_shape, dtype=gy.dtype)
    _max_pool_backward_kernel(np.ascontiguousarray(gy), idx, gx)
    return gx
