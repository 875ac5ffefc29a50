"""Reductions: sum, mean, var/std, max/min (+ arg), logsumexp.

A reduction collapses some dims; its backward has to *un*-collapse the gradient: put the reduced
dims back as size-1 dims (``_keep``) and broadcast over them, because every input element that
went into an output element receives that output's gradient (times the local derivative).

    sum:   d out / d x_i = 1           -> g broadcast
    mean:  d out / d x_i = 1 / n       -> g / n broadcast
    var:   d out / d x_i = 2 (x_i - mu) / (n - correction)   (the mu term sums to zero)
    max:   d out / d x_i = 1 at the max, 0 elsewhere (ties: see ``max``)
    logsumexp: d out / d x_i = softmax(x)_i

``dim`` is an int, a negative int, a tuple of them, or None (every dim), as in PyTorch.
"""
from __future__ import annotations

import builtins  # sum/max/min below shadow the builtins in this module
import math
from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import require_float, require_tensor
from .shape import normalize_dim, unsqueeze

# torch.return_types.max / .min: a (values, indices) pair that also unpacks like a tuple.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


# --------------------------------------------------------------------------- helpers
def reduce_axes(op: str, shape: tuple, dim) -> tuple[int, ...]:
    """``dim`` (None, int or tuple of ints; negatives allowed) -> sorted non-negative axes.

    None and the empty tuple both mean every dim (PyTorch's rule). A 0-d tensor accepts dim 0 or
    -1 (as PyTorch does) and has no axis to reduce.
    """
    ndim = len(shape)
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(normalize_dim(op, d, ndim, shape) for d in dims)
    for a in set(axes):
        if axes.count(a) > 1:
            raise ValueError(f"{op}: dim {a} appears more than once in dim={dim!r} "
                             f"(tensor of shape {shape})")
    return tuple(sorted(a for a in axes if ndim > 0))


def _keep(g, shape: tuple, axes: tuple, keepdim: bool):
    """Reshape a reduced gradient so it broadcasts against the input: size-1 dims at ``axes``."""
    if keepdim:
        return g
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _drop(out, shape: tuple, axes: tuple, keepdim: bool):
    """A result reduced with keepdims=True, without the size-1 dims at ``axes`` unless
    ``keepdim`` (the inverse of ``_keep``)."""
    if keepdim:
        return out
    return out.reshape(tuple(n for i, n in enumerate(shape) if i not in axes))


def _count(shape: tuple, axes: tuple) -> int:
    return math.prod(shape[a] for a in axes)


# --------------------------------------------------------------------------- sum, mean
class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if a.dtype.kind in "biu":  # integers and bools sum to int64, as in PyTorch
            return a.sum(axis=axes, keepdims=keepdim, dtype=np.int64)
        if a.dtype == np.float16:  # accumulate in float32, as PyTorch does, then round once
            return a.sum(axis=axes, keepdims=keepdim, dtype=np.float32).astype(np.float16)
        return a.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        # A read-only broadcast view: no copy; backward functions never write into their g.
        return xp.broadcast_to(_keep(g, ctx.shape, ctx.axes, ctx.keepdim), ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if not a.size:  # NaN, as PyTorch, without NumPy's "Mean of empty slice" warning
            return a.sum(axis=axes, keepdims=keepdim) * np.nan
        return a.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        n = _count(ctx.shape, ctx.axes)
        return xp.broadcast_to(_keep(g, ctx.shape, ctx.axes, ctx.keepdim) / n, ctx.shape)


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001  (PyTorch's name)
    """Sum over ``dim`` (None: all dims). Integer and bool inputs give int64."""
    require_tensor("sum", x)
    return Sum.apply(x, axes=reduce_axes("sum", x.shape, dim), keepdim=bool(keepdim))


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (None: all dims). Float inputs only (as PyTorch)."""
    require_float("mean", x)
    return Mean.apply(x, axes=reduce_axes("mean", x.shape, dim), keepdim=bool(keepdim))


# --------------------------------------------------------------------------- var, std
class Var(Function):
    """Two-pass variance: sum((x - mu)^2) / (n - correction).

    The one-pass E[x^2] - E[x]^2 subtracts two large, nearly equal numbers and loses every
    significant digit when |mu| >> std (it can even go negative in float32).
    """

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        xp = get_array_module(a)
        d = a - a.mean(axis=axes, keepdims=True)
        # n - correction <= 0 gives inf/nan, as PyTorch (which warns); not an error there.
        divisor = xp.asarray(builtins.max(_count(a.shape, axes) - correction, 0), dtype=a.dtype)
        ctx.axes, ctx.keepdim, ctx.divisor = axes, keepdim, divisor
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(d)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (d * d).sum(axis=axes, keepdims=keepdim) / divisor

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved
        # d/dx_i sum_j (x_j - mu)^2 = 2 (x_i - mu) - (2/n) sum_j (x_j - mu) = 2 (x_i - mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _keep(g, d.shape, ctx.axes, ctx.keepdim) * (2 * d / ctx.divisor)


class Std(Function):
    """std = sqrt(var), so d std = d var / (2 std).

    Where std == 0 (a constant slice) that is 0/0; PyTorch defines the gradient as 0 there,
    and so do we.
    """

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        out = get_array_module(a).sqrt(Var.forward(ctx, a, axes, correction, keepdim))
        ctx.std = out
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        std = xp.where(ctx.std == 0, xp.asarray(xp.inf, dtype=g.dtype), ctx.std)  # g/inf = 0
        return Var.backward(ctx, g / (2 * std))


def _correction(op: str, unbiased, correction) -> float:
    if correction is None:
        return 1 if unbiased else 0
    if not unbiased:
        raise ValueError(f"{op}: give either unbiased= or correction=, not both")
    return correction


def var(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Variance over ``dim``; divides by n - 1 (unbiased, default), n, or n - correction."""
    require_float("var", x)
    axes = reduce_axes("var", x.shape, dim)
    return Var.apply(x, axes=axes, correction=_correction("var", unbiased, correction),
                     keepdim=bool(keepdim))


def std(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """sqrt(var(...)); at zero variance the gradient is 0, as in PyTorch."""
    require_float("std", x)
    axes = reduce_axes("std", x.shape, dim)
    return Std.apply(x, axes=axes, correction=_correction("std", unbiased, correction),
                     keepdim=bool(keepdim))


# --------------------------------------------------------------------------- max, min
class MaxAll(Function):
    """max/min over every element -> 0-d.

    Ties: the gradient is split evenly among all elements equal to the result, as PyTorch does
    for a full reduction (each tied element gets g / count). With a dim, see ``GatherAlong``.
    """

    @staticmethod
    def forward(ctx, a, take_min):
        out = a.min() if take_min else a.max()
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a == out)
        return out

    @staticmethod
    def backward(ctx, g):
        (hit,) = ctx.saved
        return hit * (g / hit.sum())


class GatherAlong(Function):
    """values = a[..., index, ...] along ``axis`` (index from argmax/argmin, keepdim-shaped).

    The gradient goes only to the gathered element, i.e. to the FIRST max when several tie, as
    torch.max(x, dim) does (its indices also name the first occurrence).
    """

    @staticmethod
    def forward(ctx, a, index, axis, keepdim):
        xp = get_array_module(a)
        ctx.index, ctx.axis, ctx.keepdim, ctx.shape = index, axis, keepdim, a.shape
        out = xp.take_along_axis(a, index, axis=axis)
        return out if keepdim else out.squeeze(axis)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        axis, shape = ctx.axis, ctx.shape
        g = g if ctx.keepdim else xp.expand_dims(g, axis)
        # position along axis == chosen index: a one-hot mask, built without a scatter.
        positions = xp.arange(shape[axis]).reshape((-1,) + (1,) * (len(shape) - axis - 1))
        return xp.where(positions == ctx.index, g, xp.zeros((), dtype=g.dtype))


def _max_min(op: str, x: Tensor, dim, keepdim: bool):
    require_tensor(op, x)
    take_min = op == "min"
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{op}: can't reduce an empty tensor (shape {x.shape}): it has "
                               f"no {op}imum; pass dim= over a non-empty dim")
        return MaxAll.apply(x, take_min=take_min)
    if isinstance(dim, Tensor):
        raise TypeError(f"{op}: dim must be an int, got a Tensor (the elementwise two-tensor "
                        f"form torch.{op}(a, b) is not supported; use mt.where(a > b, a, b))")
    axis = normalize_dim(op, dim, x.ndim, x.shape)
    result = MinResult if take_min else MaxResult
    if x.ndim == 0:  # PyTorch allows dim 0 on a scalar: values is the scalar, index 0
        v, i = _max_min(op, unsqueeze(x, 0), 0, False)
        return result(v, i)
    if x.shape[axis] == 0:
        raise RuntimeError(f"{op}: can't reduce over dim {dim} of size 0 (shape {x.shape})")
    xp = get_array_module(x.data)
    index = xp.expand_dims((xp.argmin if take_min else xp.argmax)(x.data, axis=axis), axis)
    values = GatherAlong.apply(x, index=index, axis=axis, keepdim=bool(keepdim))
    indices = index.astype(np.int64, copy=False)
    return result(values, Tensor._make(indices if keepdim else indices.squeeze(axis), False, None))


def max(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """``max(x)`` -> 0-d Tensor; ``max(x, dim)`` -> (values, indices) as torch.return_types.max.

    Gradient on ties: ``max(x)`` splits it evenly among all maxima; ``max(x, dim)`` gives it to
    the first maximum along dim (the one ``indices`` names). Both as PyTorch.
    """
    return _max_min("max", x, dim, keepdim)


def min(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Like ``max``, with the minimum."""
    return _max_min("min", x, dim, keepdim)


def _arg(op: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    require_tensor(op, x)
    xp = get_array_module(x.data)
    fn = xp.argmin if op == "argmin" else xp.argmax
    if x.numel() == 0 and (dim is None or x.ndim == 0
                           or x.shape[normalize_dim(op, dim, x.ndim, x.shape)] == 0):
        raise RuntimeError(f"{op}: can't reduce an empty tensor (shape {x.shape})")
    if dim is None:  # index into the flattened tensor; keepdim gives all-1 dims (as PyTorch)
        out = fn(x.data.reshape(-1))
        if keepdim:
            out = out.reshape((1,) * x.ndim)
    else:
        axis = normalize_dim(op, dim, x.ndim, x.shape)
        if x.ndim == 0:
            out = fn(x.data.reshape(1))
        else:
            out = fn(x.data, axis=axis)
            if keepdim:
                out = xp.expand_dims(out, axis)
    return Tensor._make(xp.asarray(out, dtype=np.int64), False, None)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """int64 index of the (first) maximum; over the flattened tensor when dim is None."""
    return _arg("argmax", x, dim, keepdim)


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """int64 index of the (first) minimum; over the flattened tensor when dim is None."""
    return _arg("argmin", x, dim, keepdim)


# --------------------------------------------------------------------------- logsumexp
class LogSumExp(Function):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m = max(x): exp never overflows.

    Where m is +-inf (a slice of all -inf, say) it is replaced by 0 so x - m stays finite or
    -inf and the result is the exact -inf/inf instead of nan (as PyTorch).
    """

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = get_array_module(a)
        m = a.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, xp.zeros((), dtype=a.dtype))
        with np.errstate(divide="ignore"):  # log(0) = -inf for an all -inf slice
            out = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
        ctx.axes, ctx.keepdim = axes, keepdim
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return _drop(out, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        xp = get_array_module(a)
        softmax = xp.exp(a - out)  # exp(x_i) / sum_j exp(x_j), from the saved result
        return _keep(g, a.shape, ctx.axes, ctx.keepdim) * softmax


def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    """Numerically stable log(sum(exp(x), dim)). Integer inputs are promoted to float32."""
    require_tensor("logsumexp", x)
    if x.dtype.kind not in "fc":
        x = Tensor._make(x.data.astype(np.float32), False, None)
    axes = reduce_axes("logsumexp", x.shape, dim)
    return LogSumExp.apply(x, axes=axes, keepdim=bool(keepdim))



# --------------------------------------------------------------------------- all, any
def _truth(op: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    require_tensor(op, x)
    axes = reduce_axes(op, x.shape, dim)
    xp = get_array_module(x.data)
    out = xp.asarray((xp.all if op == "all" else xp.any)(x.data != 0, axis=axes,
                                                          keepdims=bool(keepdim)))
    # uint8 in, uint8 out: PyTorch keeps that legacy rule; every other dtype gives bool.
    return Tensor._make(out.astype(np.uint8) if x.dtype == np.uint8 else out, False, None)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """True where every element (over ``dim``; None: all dims) is nonzero. No gradient."""
    return _truth("all", input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """True where some element (over ``dim``; None: all dims) is nonzero. No gradient."""
    return _truth("any", input, dim, keepdim)


# --------------------------------------------------------------------------- prod
def product_of_others(xp, a, axes, out_kept):
    """d prod / d a_i = the product of every other element of a_i's slice, exactly, zeros
    included (out / a_i would be 0/0 at a zero):

    no zero in the slice: out / a_i;  exactly one zero: at it, the product of the nonzeros,
    elsewhere 0;  two or more zeros: 0 everywhere."""
    zero = a == 0
    zeros = zero.sum(axis=axes, keepdims=True)
    nonzero_prod = xp.where(zero, 1, a).prod(axis=axes, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = out_kept / xp.where(zero, 1, a)
    return xp.where(zeros == 0, plain, xp.where(zero & (zeros == 1), nonzero_prod, 0))


class Prod(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.axes, ctx.keepdim = axes, keepdim
        out = a.prod(axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return _drop(out, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        xp = get_array_module(a)
        return _keep(g, a.shape, ctx.axes, ctx.keepdim) * product_of_others(xp, a, ctx.axes, out)


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """Product over ``dim`` (an int; None: every element). Integers and bools give int64."""
    require_tensor("prod", input)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"prod: dim must be an int or None (as PyTorch), got {dim!r}")
    x = input
    if dtype is not None:
        x = x.to(dtype=dtype)
    elif x.dtype.kind in "biu":
        x = Tensor._make(x.data.astype(np.int64), False, None)
    return Prod.apply(x, axes=reduce_axes("prod", x.shape, dim), keepdim=bool(keepdim))


# --------------------------------------------------------------------------- std_mean, var_mean
def var_mean(input: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:  # noqa: A002
    """(var, mean) over ``dim``, as torch.var_mean; both differentiable."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:  # noqa: A002
    """(std, mean) over ``dim``, as torch.std_mean; both differentiable."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


# --------------------------------------------------------------------------- amax, amin
class AMax(Function):
    """max/min over ``axes`` (several dims at once); the gradient is split evenly among the
    tied maxima of each slice, as torch.amax (unlike max(dim), which picks one)."""

    @staticmethod
    def forward(ctx, a, axes, keepdim, take_min):
        out = (a.min if take_min else a.max)(axis=axes, keepdims=True)
        ctx.axes, ctx.keepdim = axes, keepdim
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a == out)
        return _drop(out, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        (hit,) = ctx.saved
        share = _keep(g, hit.shape, ctx.axes, ctx.keepdim) / hit.sum(axis=ctx.axes, keepdims=True)
        return hit * share


def _amax(op: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    require_tensor(op, x)
    axes = reduce_axes(op, x.shape, dim)
    if builtins.any(x.shape[a] == 0 for a in axes) or (x.numel() == 0 and not axes):
        raise RuntimeError(f"{op}: can't reduce over an empty dim (shape {x.shape}, dim {dim})")
    return AMax.apply(x, axes=axes, keepdim=bool(keepdim), take_min=op == "amin")


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The maximum over ``dim`` (an int or a tuple; () or None: all dims)."""
    return _amax("amax", input, dim, keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The minimum over ``dim`` (an int or a tuple; () or None: all dims)."""
    return _amax("amin", input, dim, keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:  # noqa: A002
    """The number of nonzero entries over ``dim`` (int64, no gradient)."""
    require_tensor("count_nonzero", input)
    axes = reduce_axes("count_nonzero", input.shape, dim)
    xp = get_array_module(input.data)
    return Tensor._make(xp.asarray((input.data != 0).sum(axis=axes), dtype=np.int64), False, None)


# --------------------------------------------------------------------------- nansum, nanmean, aminmax
def _without_nan(op: str, x: Tensor) -> Tensor:
    from .elementwise import where
    require_tensor(op, x)
    if x.dtype.kind != "f":
        return x
    xp = get_array_module(x.data)
    return where(Tensor._make(xp.isnan(x.data), False, None), 0.0, x)


def nansum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """sum treating NaN as 0 (their gradient is 0)."""
    return sum(_without_nan("nansum", input), dim, keepdim)


def nanmean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The mean of the non-NaN entries; NaN where a slice has none (and gradient 0 there).
    Each entry is divided by its slice's count before the sum, so an all-NaN slice never
    sends 0/0 back."""
    from .elementwise import where
    require_float("nanmean", input)
    xp = get_array_module(input.data)
    axes = reduce_axes("nanmean", input.shape, dim)
    nan = xp.isnan(input.data)
    count = (~nan).sum(axis=axes, keepdims=True)
    scaled = where(Tensor._make(nan, False, None), 0.0,
                   input / Tensor._make(xp.maximum(count, 1).astype(input.dtype), False, None))
    empty = xp.where(count == 0, xp.nan, 0).astype(input.dtype)
    empty = _drop(empty, input.shape, axes, keepdim)
    return sum(scaled, dim, keepdim) + Tensor._make(empty, False, None)


AminmaxResult = namedtuple("aminmax", ["min", "max"])


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):  # noqa: A002
    """(amin, amax) over ``dim`` (None: all)."""
    d = () if dim is None else dim
    return AminmaxResult(amin(input, d, keepdim), amax(input, d, keepdim))


# --------------------------------------------------------------------------- norms
class VectorNorm(Function):
    """(sum |x|^p)^(1/p) over ``axes``; p = inf: max |x|, p = 0: the count of nonzeros.

    d/dx = sign(x) |x|^(p-1) / norm^(p-1) (x / norm for p = 2); 0 where the norm is 0 (the
    subgradient PyTorch uses there); p = inf: split evenly among the tied largest |x|."""

    @staticmethod
    def forward(ctx, a, ord, axes, keepdim):
        xp = get_array_module(a)
        m = xp.abs(a)
        if ord == float("inf"):
            out = m.max(axis=axes, keepdims=True)
        elif ord == -float("inf"):
            out = m.min(axis=axes, keepdims=True)
        elif ord == 0:
            out = (m != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
        elif ord == 2:
            out = xp.sqrt((m * m).sum(axis=axes, keepdims=True))
        else:
            out = ((m ** ord).sum(axis=axes, keepdims=True)) ** (1.0 / ord)
        ctx.ord, ctx.axes, ctx.keepdim = ord, axes, keepdim
        ctx.save_for_backward(a, out)
        return _drop(out, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        xp = get_array_module(g)
        g = _keep(g, a.shape, ctx.axes, ctx.keepdim)
        p = ctx.ord
        zero = xp.zeros((), dtype=g.dtype)
        if p == 0:
            return xp.zeros(a.shape, dtype=g.dtype)
        if abs(p) == float("inf"):
            hit = xp.abs(a) == out
            return g * xp.sign(a) * hit / hit.sum(axis=ctx.axes, keepdims=True)
        safe = xp.where(out == 0, 1, out)
        if p == 2:
            d = a / safe
        else:
            d = xp.sign(a) * xp.abs(a) ** (p - 1) / safe ** (p - 1)
        return g * xp.where(out == 0, zero, d)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.vector_norm: the ``ord``-norm of x over ``dim`` (None: all elements)."""
    require_float("vector_norm", x)
    if dtype is not None:
        x = x.to(dtype=dtype)
    return VectorNorm.apply(x, ord=float(ord), axes=reduce_axes("vector_norm", x.shape, dim),
                            keepdim=bool(keepdim))


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:  # noqa: A002
    """torch.norm for vector norms: p a number or "fro" (the 2-norm of all entries over dim);
    nuclear norms are not provided (they need an SVD)."""
    if p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p={p!r} is not supported (only numbers, inf and 'fro')")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """F.normalize: input / max(||input||_p over dim, eps)."""
    from .elementwise import clamp
    return input / clamp(vector_norm(input, p, dim, keepdim=True), min=eps)
