"""Batch norm on the CPU: numba kernels, one channel at a time, blocks of channels spread over
minitorch's threads. The numba table's fused entries ``batch_norm_train``/``_eval``/
``_backward`` (signatures: minitorch/kernel_table.py; formulas: minitorch/ops/norm.py).

x is viewed as (N, C, S) with S the spatial size (1 for (N, C) input): channel c's M = N*S
values are the N contiguous runs x[n, c, :]. NumPy's version takes about a dozen passes over
x with temporaries (mean, x - mu, its square, xhat, ...); here the forward is three passes
(sum, sum of squared deviations, normalise) and the backward two, with float64 sums. Each
channel's sums run in a fixed order on one thread: the same result for any thread count.
"""
from __future__ import annotations

import numpy as np

from ..threads import parallel_for
from .im2col import njit, uint64  # numba's, or plain stand-ins when numba is absent

_CHANNEL_BLOCK_BYTES = 256 << 10  # channels per parallel_for chunk: about this much of x


@njit(cache=True, nogil=True)
def _bn_train_kernel(x, gamma, beta, eps, y, mean, var, invstd, c0, c1):
    N, C, S = x.shape
    xf, yf = x.reshape(-1), y.reshape(-1)
    M = N * S
    for c in range(c0, c1):
        total = 0.0
        for n in range(N):
            base = (n * C + c) * S
            for s in range(S):
                total += xf[uint64(base + s)]
        mu = total / M
        dev = 0.0
        for n in range(N):
            base = (n * C + c) * S
            for s in range(S):
                d = xf[uint64(base + s)] - mu
                dev += d * d
        v = dev / M
        inv = 1.0 / np.sqrt(v + eps)
        mean[c], var[c], invstd[c] = mu, v, inv
        scale = gamma[c] * inv
        shift = beta[c] - mu * scale
        for n in range(N):
            base = (n * C + c) * S
            for s in range(S):
                yf[uint64(base + s)] = xf[uint64(base + s)] * scale + shift


@njit(cache=True, nogil=True)
def _bn_backward_kernel(g, x, gamma, mean, invstd, gx, sum_g, sum_gxhat, c0, c1):
    N, C, S = x.shape
    gf, xf, of = g.reshape(-1), x.reshape(-1), gx.reshape(-1)
    M = N * S
    for c in range(c0, c1):
        mu, inv = mean[c], invstd[c]
        sg = 0.0
        sgx = 0.0
        for n in range(N):
            base = (n * C + c) * S
            for s in range(S):
                gv = gf[uint64(base + s)]
                sg += gv
                sgx += gv * ((xf[uint64(base + s)] - mu) * inv)
        sum_g[c], sum_gxhat[c] = sg, sgx
        k = gamma[c] * inv
        mg, mgx = sg / M, sgx / M
        for n in range(N):
            base = (n * C + c) * S
            for s in range(S):
                xhat = (xf[uint64(base + s)] - mu) * inv
                of[uint64(base + s)] = k * (gf[uint64(base + s)] - mg - xhat * mgx)


def _as_ncs(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


def _over_channels(x3: np.ndarray, fn) -> None:
    """fn(c0, c1) for blocks of channels, on the thread pool."""
    C = x3.shape[1]
    per = max(1, _CHANNEL_BLOCK_BYTES // max(x3.shape[0] * x3.shape[2] * x3.itemsize, 1))
    blocks = [(c0, min(C, c0 + per)) for c0 in range(0, C, per)]
    parallel_for(lambda i: fn(*blocks[i]), len(blocks))


def batch_norm_train_numba(x, gamma, beta, eps: float):
    """Training-mode batch norm of x (N, C, ...): -> (y, mean, var, invstd); var biased."""
    x3 = _as_ncs(x)
    y = np.empty_like(x3)
    C = x3.shape[1]
    stats = [np.empty(C, dtype=x.dtype) for _ in range(3)]
    _over_channels(x3, lambda c0, c1: _bn_train_kernel(x3, gamma, beta, eps, y, *stats, c0, c1))
    return (y.reshape(x.shape), *stats)


def batch_norm_eval_numba(x, running_mean, running_var, gamma, beta, eps: float):
    """Eval-mode batch norm with the running statistics (y is affine in x): array code, the
    same formula as ops/norm.py's generic BatchNorm."""
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    invstd = (1.0 / np.sqrt(running_var + eps)).astype(x.dtype).reshape(shape)
    return (x - running_mean.reshape(shape)) * invstd * gamma.reshape(shape) \
        + beta.reshape(shape)


def batch_norm_backward_numba(gy, x, gamma, mean, invstd):
    """-> (gx, ggamma, gbeta) for training-mode batch norm."""
    x3, g3 = _as_ncs(x), _as_ncs(gy)
    gx = np.empty_like(x3)
    C = x3.shape[1]
    sum_g, sum_gxhat = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    _over_channels(x3, lambda c0, c1: _bn_backward_kernel(g3, x3, gamma, mean, invstd, gx,
                                                          sum_g, sum_gxhat, c0, c1))
    return gx.reshape(x.shape), sum_gxhat, sum_g
