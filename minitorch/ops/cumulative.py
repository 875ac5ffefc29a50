"""Scans along one dim: cumsum, cumprod, cummax/cummin (+ indices), logcumsumexp.

Output k of a scan depends on inputs 0..k, so input k receives the gradients of outputs
k..n-1: every backward below is a *reverse* scan of something.

    cumsum:        dx_k = sum_{j>=k} g_j                        (reverse cumsum)
    cumprod:       dx_k = sum_{j>=k} g_j prod_{i<=j, i!=k} x_i  (exact with zeros, see CumProd)
    cummax/min:    dx_k = sum of g_j over the j whose running max is x_k (scatter-add)
    logcumsumexp:  dx_k = sum_{j>=k} g_j exp(x_k - y_j)         (a reverse log-space scan)
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import cast, float_input, require_tensor
from .indexing import gather
from .shape import normalize_dim

# torch.return_types.cummax / cummin: (values, indices), unpacking like a tuple.
CummaxResult = namedtuple("cummax", ["values", "indices"])
CumminResult = namedtuple("cummin", ["values", "indices"])


def accumulate(xp, name: str, a, axis: int, native=None):
    """``np.<name>.accumulate(a, axis)`` for maximum, minimum, logaddexp: a running reduction.

    CuPy has no ``ufunc.accumulate`` for these, so there it is a doubling scan (Hillis-Steele):
    after step k, element i holds the reduction of the 2^k elements ending at i; log2(n)
    vector steps. Exact for max/min; logaddexp rounds in a different order, to the same
    precision. ``native=False`` runs the doubling scan on NumPy arrays (how tests cover it)."""
    if native is None:
        native = xp is np
    if native:
        return getattr(np, name).accumulate(a, axis=axis)
    f = getattr(xp, name)
    out = xp.moveaxis(a, axis, -1).copy()
    k = 1
    while k < out.shape[-1]:
        out[..., k:] = f(out[..., k:], out[..., :-k])  # the right side is evaluated first
        k *= 2
    return xp.moveaxis(out, -1, axis)


def _reverse_cumsum(xp, a, axis):
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis), axis)


def _scan_input(op: str, x, dim, dtype):
    """The tensor to scan and its axis; integers and bools scan in int64 (PyTorch)."""
    require_tensor(op, x)
    axis = normalize_dim(op, dim, x.ndim, x.shape)
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "biu":
        x = cast(x, np.int64)
    return x, axis


# --------------------------------------------------------------------------- cumsum
class CumSum(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return get_array_module(a).cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return _reverse_cumsum(get_array_module(g), g, ctx.axis)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:  # noqa: A002
    x, axis = _scan_input("cumsum", input, dim, dtype)
    return CumSum.apply(x, axis=axis) if x.ndim else x.clone()


# --------------------------------------------------------------------------- cumprod
class CumProd(Function):
    """Without zeros: dx_k = revcumsum(g y)_k / x_k. With zeros that is 0/0, so there the exact
    form runs: dx_k = P_k S_k with P_k = prod_{i<k} x_i (an exclusive cumprod) and
    S_k = g_k + x_{k+1} S_{k+1} (a reverse recursion along the dim, one vector step per index).
    """

    @staticmethod
    def forward(ctx, a, axis):
        out = get_array_module(a).cumprod(a, axis=axis)
        ctx.axis = axis
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        xp, axis = get_array_module(g), ctx.axis
        if not bool((a == 0).any()):
            return _reverse_cumsum(xp, g * y, axis) / a
        a_, g_ = xp.moveaxis(a, axis, 0), xp.moveaxis(g, axis, 0)
        exclusive = xp.concatenate([xp.ones_like(a_[:1]), xp.cumprod(a_[:-1], axis=0)])
        s = xp.empty_like(g_)
        s[-1] = g_[-1]
        for k in range(a_.shape[0] - 2, -1, -1):
            s[k] = g_[k] + a_[k + 1] * s[k + 1]
        return xp.moveaxis(exclusive * s, 0, axis)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:  # noqa: A002
    x, axis = _scan_input("cumprod", input, dim, dtype)
    return CumProd.apply(x, axis=axis) if x.ndim and x.numel() else x.clone()


# --------------------------------------------------------------------------- cummax, cummin
def running_extreme(xp, a, axis: int, take_min: bool):
    """The running max (min with ``take_min``) along axis and the index it was taken from.

    Ties go to the LATEST index (``x_k >= running max`` takes over), and a NaN takes over and
    stays (only a later NaN replaces it), as PyTorch."""
    values = accumulate(xp, "minimum" if take_min else "maximum", a, axis)
    positions = xp.arange(a.shape[axis]).reshape((-1,) + (1,) * (a.ndim - axis - 1))
    takes_over = a == values
    if a.dtype.kind == "f":
        takes_over |= xp.isnan(a)
    return values, accumulate(xp, "maximum", xp.where(takes_over, positions, 0), axis)


def _cum_extreme(op: str, input, dim, take_min: bool):
    """values = gather(x, dim, indices): the gradient of output j goes to the input its index
    names, through gather's backward (a scatter-add)."""
    x = require_tensor(op, input)
    axis = normalize_dim(op, dim, x.ndim, x.shape)
    result = CumminResult if take_min else CummaxResult
    xp = get_array_module(x.data)
    if x.ndim == 0 or x.numel() == 0:
        return result(x.clone(), Tensor._make(xp.zeros(x.shape, dtype=np.int64), False, None))
    _, index = running_extreme(xp, x.data, axis, take_min)
    index = Tensor._make(index.astype(np.int64, copy=False), False, None)
    return result(gather(x, axis, index), index)


def cummax(input: Tensor, dim: int):  # noqa: A002
    """(values, indices): the running maximum along dim and the index it came from."""
    return _cum_extreme("cummax", input, dim, take_min=False)


def cummin(input: Tensor, dim: int):  # noqa: A002
    """(values, indices): the running minimum along dim and the index it came from."""
    return _cum_extreme("cummin", input, dim, take_min=True)


# --------------------------------------------------------------------------- logcumsumexp
class LogCumSumExp(Function):
    """y_k = log sum_{i<=k} exp(x_i), a running logaddexp (stable: never exp of a big
    number). Backward: dx_k = exp(x_k) sum_{j>=k} g_j exp(-y_j); the sum is taken in log space
    for the positive and the negative parts of g separately, so nothing overflows; 0 at a
    -inf entry."""

    @staticmethod
    def forward(ctx, a, axis):
        xp = get_array_module(a)
        y = accumulate(xp, "logaddexp", a, axis)
        ctx.axis = axis
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        xp, axis = get_array_module(g), ctx.axis

        def part(gp):  # log sum_{j>=k} gp_j exp(-y_j), gp >= 0, by a reversed scan
            with np.errstate(divide="ignore"):
                terms = xp.log(gp) - y
            return xp.flip(accumulate(xp, "logaddexp", xp.flip(terms, axis), axis), axis)

        with np.errstate(invalid="ignore", over="ignore"):
            grad = xp.exp(a + part(xp.maximum(g, 0))) - xp.exp(a + part(xp.maximum(-g, 0)))
        # a -inf entry weighs nothing (exp(-inf - y) = 0), also where y is -inf and the
        # formula reads -inf + inf
        return xp.where(a == -xp.inf, xp.zeros((), dtype=grad.dtype), grad)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    x = float_input("logcumsumexp", input)
    axis = normalize_dim("logcumsumexp", dim, x.ndim, x.shape)
    return LogCumSumExp.apply(x, axis=axis) if x.ndim and x.numel() else x.clone()
