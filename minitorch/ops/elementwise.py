"""Elementwise ops with NumPy broadcasting: arithmetic, exp/log/sqrt/abs/clamp, comparisons, where.

Broadcasting in the forward means summing in the backward: a (3,1) input added to a (3,4) one
received its value 4 times, so its gradient is the (3,4) gradient summed back to (3,1)
(``unbroadcast``).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend import array_module, get_array_module
from ..tensor import Tensor


# --------------------------------------------------------------------------- helpers
def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def as_tensor(value, like: Tensor) -> Tensor:
    """Wrap a Python number or array as a constant on ``like``'s device.

    A Python scalar takes the tensor's dtype (``x * 2`` stays float32), as in PyTorch; a float
    scalar with an integer tensor gives the default float dtype. NumPy scalars (``np.float64(2)``)
    count as scalars too, as in PyTorch (NumPy itself would promote float32 to float64).
    """
    if isinstance(value, Tensor):
        return value
    xp = array_module(like.device)
    if isinstance(value, numbers.Number):
        kind = like.dtype.kind
        if isinstance(value, bool) or kind == "f" or (kind in "iu" and isinstance(value, numbers.Integral)):
            dtype = like.dtype
        elif kind == "b" and isinstance(value, numbers.Integral):
            dtype = np.int64
        else:
            dtype = np.float32
        return Tensor._make(xp.asarray(value, dtype=dtype), False, None)
    return Tensor(value, device=like.device)


def _float_for_int(t: Tensor, other: Tensor) -> Tensor:
    """An int/bool tensor meeting a float operand is cast to that float dtype first, as PyTorch
    (int64 tensor * 2.5 is float32); NumPy would compute int64 with float32 in float64."""
    if t.dtype.kind in "biu" and other.dtype.kind == "f":
        return cast(t, other.dtype)
    return t


def _pair(a, b) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        a, b = (a, as_tensor(b, a)) if isinstance(a, Tensor) else (as_tensor(a, b), b)
        return _float_for_int(a, b), _float_for_int(b, a)
    raise TypeError(f"expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")


def _broadcast_check(op: str, a: Tensor, b: Tensor) -> None:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} are not broadcastable "
                         "(trailing dims must be equal or 1)") from None


# --------------------------------------------------------------------------- arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if ctx.needs_input_grad[0] else None,
                unbroadcast(g, sb) if ctx.needs_input_grad[1] else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if ctx.needs_input_grad[0] else None,
                unbroadcast(-g, sb) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        ctx.shapes = (a.shape, b.shape)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        sa, sb = ctx.shapes
        return (unbroadcast(g * b, sa) if ctx.needs_input_grad[0] else None,
                unbroadcast(g * a, sb) if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga = unbroadcast(g / b, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """a ** b for tensor b: d/da = b a^(b-1), d/db = a^b log a, with PyTorch's edge values:

    - d/da is 0 where b == 0 (a^0 is constant 1), not 0 * 0^-1 = NaN at a = 0;
    - d/db is 0 where a == 0 and b >= 0 (0^b is flat there); elsewhere the formula stands:
      -inf for a = 0, b < 0 (inf * log 0) and NaN for a < 0 (log of a negative number).
    """

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        xp = get_array_module(a)
        zero = xp.zeros((), dtype=g.dtype)
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:
                ga = unbroadcast(g * xp.where(b == 0, zero, b * a ** (b - 1)), a.shape)
            if ctx.needs_input_grad[1]:
                flat = (a == 0) & (b >= 0)
                gb = unbroadcast(g * xp.where(flat, zero, out * xp.log(a)), b.shape)
        return ga, gb


class PowScalar(Function):
    """a ** p for a Python number p (the common x**2 case: no log, no grad for p)."""

    @staticmethod
    def forward(ctx, a, p):
        ctx.save_for_backward(a)
        ctx.p = p
        with np.errstate(divide="ignore", invalid="ignore"):
            return a ** p

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        p = ctx.p
        if p == 0:
            return g * 0
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, as PyTorch
            return g * p * a ** (p - 1)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


def _binary(fn, name):
    def op(a, b) -> Tensor:
        a, b = _pair(a, b)
        if a.shape != b.shape:
            _broadcast_check(name, a, b)
        return fn.apply(a, b)
    op.__name__ = name
    return op


add = _binary(Add, "add")
sub = _binary(Sub, "sub")
mul = _binary(Mul, "mul")
_div = _binary(Div, "div")


def div(a, b) -> Tensor:
    """True division; two integer operands divide in float32 (PyTorch), not float64 (NumPy)."""
    a, b = _pair(a, b)
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        a, b = cast(a, np.float32), cast(b, np.float32)
    return _div(a, b)


def pow(a, b) -> Tensor:  # noqa: A001  (PyTorch's name)
    if isinstance(a, Tensor) and isinstance(b, numbers.Number) and not isinstance(b, bool):
        b = b.item() if isinstance(b, np.generic) else b  # a NumPy scalar would promote a
        if a.dtype.kind in "biu" and isinstance(b, float):
            a = cast(a, np.float32)  # int ** float is float32, as in PyTorch
        return PowScalar.apply(a, p=b)
    a, b = _pair(a, b)
    _broadcast_check("pow", a, b)
    return Pow.apply(a, b)


def neg(a: Tensor) -> Tensor:
    return Neg.apply(a)


# --------------------------------------------------------------------------- unary math
class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved[0]


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.saved[0])


class Abs(Function):
    """d|a|/da = sign(a), with 0 at a == 0 (PyTorch's subgradient)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * get_array_module(g).sign(ctx.saved[0])


class Clamp(Function):
    """Gradient passes only strictly inside the bounds: 1 where min < a < max, 0 at a bound and
    outside. A value sitting on a bound is held there, so nudging it inwards changes nothing
    from one side; 0 is the subgradient PyTorch uses since 2.14 (before it passed 1 at the
    bounds). minitorch fixes this choice and tests it directly, whatever torch is installed."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = get_array_module(a)
        inside = xp.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a > lo
        if hi is not None:
            inside &= a < hi
        ctx.save_for_backward(inside)
        return xp.clip(a, lo, hi).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


class Cast(Function):
    """dtype conversion; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.src)


def exp(a: Tensor) -> Tensor:
    return Exp.apply(a)


def log(a: Tensor) -> Tensor:
    return Log.apply(a)


def sqrt(a: Tensor) -> Tensor:
    return Sqrt.apply(a)


def abs(a: Tensor) -> Tensor:  # noqa: A001
    return Abs.apply(a)


def clamp(a: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(a, lo=min, hi=max)


def cast(a: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if a.requires_grad and dtype.kind not in "fc":
        # Integer results can't carry gradients: the result is a constant, as in PyTorch.
        return Tensor._make(a.data.astype(dtype), False, None)
    return Cast.apply(a, dtype=dtype)


# --------------------------------------------------------------------------- no-grad ops
def _compare(ufunc_name: str):
    def op(a, b) -> Tensor:
        a, b = _pair(a, b)
        _broadcast_check(ufunc_name, a, b)
        xp = get_array_module(a.data)
        return Tensor._make(getattr(xp, ufunc_name)(a.data, b.data), False, None)
    op.__name__ = ufunc_name
    return op


eq, ne = _compare("equal"), _compare("not_equal")
lt, le = _compare("less"), _compare("less_equal")
gt, ge = _compare("greater"), _compare("greater_equal")
logical_and, logical_or = _compare("logical_and"), _compare("logical_or")


def logical_not(a: Tensor) -> Tensor:
    return Tensor._make(get_array_module(a.data).logical_not(a.data), False, None)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        xp = get_array_module(a)
        ctx.save_for_backward(cond)
        ctx.shapes = (a.shape, b.shape)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved
        sa, sb = ctx.shapes
        ga = unbroadcast(g * cond, sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(g * ~cond, sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


def where(condition, input, other) -> Tensor:  # noqa: A002
    """``input`` where condition holds, else ``other`` (all three broadcast together)."""
    cond = condition if isinstance(condition, Tensor) else None
    a, b = _pair(input, other)
    if cond is None:
        cond = as_tensor(condition, a)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: shapes condition {cond.shape}, input {a.shape}, other "
                         f"{b.shape} are not broadcastable") from None
    return Where.apply(cond, a, b)
