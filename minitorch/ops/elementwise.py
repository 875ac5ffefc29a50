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


def div(a, b, *, rounding_mode=None) -> Tensor:
    """True division; two integer operands divide in float32 (PyTorch), not float64 (NumPy).
    ``rounding_mode="floor"`` / ``"trunc"`` round the quotient (see ``RoundedDiv``)."""
    if rounding_mode is not None:
        return _rounded_div("div", a, b, rounding_mode)
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
    return Neg.apply(require_tensor("neg", a))


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


def require_tensor(op: str, x) -> Tensor:
    """Ops take Tensors; a NumPy array or list gets PyTorch's TypeError, not an AttributeError
    from deep inside the op."""
    if not isinstance(x, Tensor):
        # torch.max(outputs.data, 1): PyTorch's .data is a tensor, minitorch's is the array
        hint = (" (or, for PyTorch code's t.data, write t.detach(): in minitorch t.data is the "
                "array itself)" if type(x).__name__ == "ndarray" else "")
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, not "
                        f"{type(x).__module__}.{type(x).__name__}; wrap it with "
                        f"mt.tensor(...){hint}")
    return x


def require_float(op: str, x, complex_ok: bool = True) -> Tensor:
    """The input of an op defined only for floating-point (and, unless ``complex_ok`` is
    False, complex) tensors: anything else is a TypeError naming the op, dtype and shape."""
    require_tensor(op, x)
    if x.dtype.kind not in ("fc" if complex_ok else "f"):
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype} "
                        f"(shape {x.shape}); convert with .float()")
    return x


def float_input(op: str, x) -> Tensor:
    """The input of a floating-point op: integer and bool tensors become the default float
    dtype (float32), as in PyTorch (``exp(int64)`` is float32; NumPy would give float64)."""
    require_tensor(op, x)
    if x.dtype.kind in "biu":
        return cast(x, np.float32)
    return x


def exp(a: Tensor) -> Tensor:
    return Exp.apply(float_input("exp", a))


def log(a: Tensor) -> Tensor:
    return Log.apply(float_input("log", a))


def sqrt(a: Tensor) -> Tensor:
    return Sqrt.apply(float_input("sqrt", a))


def abs(a: Tensor) -> Tensor:  # noqa: A001
    return Abs.apply(require_tensor("abs", a))


class ClampTensor(Function):
    """clamp with tensor bounds: min(max(a, lo), hi), all three broadcast (hi wins where
    lo > hi, as PyTorch). Each output element's gradient goes to whichever operand it equals:
    hi where max(a, lo) >= hi, else lo where a <= lo, else a; so a value sitting on a bound
    passes its gradient to the bound and none to a (as the scalar clamp gives a none)."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = get_array_module(a)
        low = xp.maximum(a, lo)
        takes_hi = low >= hi
        takes_lo = ~takes_hi & (a <= lo)
        ctx.save_for_backward(takes_lo, takes_hi)
        ctx.shapes = (a.shape, lo.shape, hi.shape)
        return xp.minimum(low, hi)

    @staticmethod
    def backward(ctx, g):
        takes_lo, takes_hi = ctx.saved
        sa, sl, sh = ctx.shapes
        need = ctx.needs_input_grad
        return (unbroadcast(g * ~(takes_lo | takes_hi), sa) if need[0] else None,
                unbroadcast(g * takes_lo, sl) if need[1] else None,
                unbroadcast(g * takes_hi, sh) if need[2] else None)


def clamp(a: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        require_tensor("clamp", a)
        xp = get_array_module(a.data)
        inf = xp.asarray(np.inf, dtype=a.dtype) if a.dtype.kind == "f" else None
        lo = as_tensor(min, a) if min is not None else Tensor._make(
            -inf if inf is not None else xp.asarray(np.iinfo(a.dtype).min, dtype=a.dtype),
            False, None)
        hi = as_tensor(max, a) if max is not None else Tensor._make(
            inf if inf is not None else xp.asarray(np.iinfo(a.dtype).max, dtype=a.dtype),
            False, None)
        try:
            shape = np.broadcast_shapes(a.shape, lo.shape, hi.shape)
        except ValueError:
            raise ValueError(f"clamp: shapes input {a.shape}, min {lo.shape}, max {hi.shape} "
                             "are not broadcastable") from None
        if shape != a.shape:
            raise ValueError(f"clamp: min/max of shapes {lo.shape}, {hi.shape} would broadcast "
                             f"the input {a.shape} to {shape}")
        return ClampTensor.apply(a, lo, hi)
    return Clamp.apply(require_tensor("clamp", a), lo=min, hi=max)


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    return clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    return clamp(input, max=max)


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


_NO_ARG = object()


def where(condition, input=_NO_ARG, other=_NO_ARG) -> Tensor:  # noqa: A002
    """``input`` where condition holds, else ``other`` (all three broadcast together).
    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``, as PyTorch."""
    if input is _NO_ARG and other is _NO_ARG:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if input is _NO_ARG or other is _NO_ARG:
        raise TypeError("where: give both input and other, or neither")
    cond = condition if isinstance(condition, Tensor) else None
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        if cond is None:
            raise TypeError("where: condition must be a bool Tensor, got "
                            f"{type(condition).__name__}")
        # Two scalar branches (``where(c, 1.0, 0.0)``): float32 / int64 / bool, as PyTorch.
        xp = get_array_module(cond.data)
        input = Tensor._make(xp.asarray(input, dtype=_scalar_dtype(input, other)), False, None)
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


def _scalar_dtype(*values) -> np.dtype:
    """PyTorch's dtype for Python scalars alone: float32 if any is a float, bool if all are
    bools, else int64."""
    if any(isinstance(v, (float, np.floating)) for v in values):
        return np.dtype(np.float32)
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.dtype(np.bool_)
    return np.dtype(np.int64)


# --------------------------------------------------------------------------- max/min, atan2
class Maximum(Function):
    """max(a, b) elementwise (minimum: with ``take_min``). The gradient goes to the larger
    operand; on a tie it is split in half between both, as PyTorch."""

    @staticmethod
    def forward(ctx, a, b, take_min):
        xp = get_array_module(a)
        ctx.save_for_backward(a, b)
        ctx.take_min = take_min
        return (xp.minimum if take_min else xp.maximum)(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = get_array_module(g)
        share = g * xp.where(a == b, 0.5, 1.0).astype(g.dtype)
        a_loses, b_loses = ((a > b), (b > a)) if ctx.take_min else ((a < b), (b < a))
        return (unbroadcast(share * ~a_loses, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(share * ~b_loses, b.shape) if ctx.needs_input_grad[1] else None)


class Atan2(Function):
    """atan2(a, b), the angle of the point (b, a): d/da = b / r^2, d/db = -a / r^2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return get_array_module(a).arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = a * a + b * b
            return (unbroadcast(g * b / r2, a.shape) if ctx.needs_input_grad[0] else None,
                    unbroadcast(-g * a / r2, b.shape) if ctx.needs_input_grad[1] else None)


class Copysign(Function):
    """|a| with the sign of b. d/da = out / a (+-1), 0 where a == 0 (PyTorch); d/db = 0."""

    @staticmethod
    def forward(ctx, a, b):
        out = get_array_module(a).copysign(a, b)
        ctx.save_for_backward(a, out)
        ctx.b_shape = b.shape
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        xp = get_array_module(g)
        ratio = xp.where(a == 0, 0, xp.sign(out) * xp.sign(a)).astype(g.dtype)
        gb = xp.zeros(ctx.b_shape, dtype=g.dtype) if ctx.needs_input_grad[1] else None
        return unbroadcast(g * ratio, a.shape) if ctx.needs_input_grad[0] else None, gb


def _float_pair(op: str, a, b) -> tuple[Tensor, Tensor]:
    """_pair, then integer/bool operands to float32 (atan2 and copysign are float ops)."""
    a, b = _pair(a, b)
    _broadcast_check(op, a, b)
    return (cast(a, np.float32) if a.dtype.kind in "biu" else a,
            cast(b, np.float32) if b.dtype.kind in "biu" else b)


def maximum(input, other) -> Tensor:  # noqa: A002
    a, b = _pair(input, other)
    _broadcast_check("maximum", a, b)
    return Maximum.apply(a, b, take_min=False)


def minimum(input, other) -> Tensor:  # noqa: A002
    a, b = _pair(input, other)
    _broadcast_check("minimum", a, b)
    return Maximum.apply(a, b, take_min=True)


def atan2(input, other) -> Tensor:  # noqa: A002
    return Atan2.apply(*_float_pair("atan2", input, other))


def copysign(input, other) -> Tensor:  # noqa: A002
    return Copysign.apply(*_float_pair("copysign", input, other))


# --------------------------------------------------------------------------- rounded division
def _int_quotient(xp, a, b, mode: str):
    """Integer a / b rounded toward -inf (floor) or 0 (trunc). NumPy's // is floor division;
    trunc adds 1 back where the signs differ and the division was inexact."""
    q = a // b
    if mode == "trunc":
        q = q + (((a % b) != 0) & ((a < 0) != (b < 0)))
    return q


def _check_int_divisor(op: str, a, b) -> None:
    if a.dtype.kind in "biu" and b.dtype.kind in "biu" and bool((b == 0).any()):
        raise RuntimeError(f"{op}: ZeroDivisionError: integer division by zero (as PyTorch; "
                           f"shapes {a.shape} and {b.shape}, dtype {a.dtype})")


class RoundedDiv(Function):
    """a / b rounded (``mode`` floor or trunc). Piecewise constant: zero gradients (PyTorch)."""

    @staticmethod
    def forward(ctx, a, b, mode):
        xp = get_array_module(a)
        ctx.shapes = (a.shape, b.shape)
        if a.dtype.kind in "biu":
            return _int_quotient(xp, a, b, mode)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.floor_divide(a, b) if mode == "floor" else xp.trunc(a / b)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return tuple(xp.zeros(s, dtype=g.dtype) if need else None
                     for s, need in zip(ctx.shapes, ctx.needs_input_grad))


def _rounded_div(op: str, a, b, mode) -> Tensor:
    if mode not in ("floor", "trunc"):
        raise ValueError(f"{op}: rounding_mode must be None, 'floor' or 'trunc', got {mode!r}")
    a, b = _pair(a, b)
    _broadcast_check(op, a, b)
    if a.dtype != b.dtype:  # int32 with int64 and the like: compute in the promoted dtype
        dtype = np.result_type(a.dtype, b.dtype)
        a, b = cast(a, dtype), cast(b, dtype)
    _check_int_divisor(op, a.data, b.data)
    return RoundedDiv.apply(a, b, mode=mode)


def floor_divide(input, other) -> Tensor:  # noqa: A002
    """input // other rounded toward -inf (PyTorch >= 1.13; older releases truncated)."""
    return _rounded_div("floor_divide", input, other, "floor")


class Remainder(Function):
    """a - b * round(a / b): ``floor`` rounding (Python's %, the sign of b: ``remainder``) or
    ``trunc`` (C's fmod, the sign of a: ``fmod``). d/da = 1, d/db = -round(a / b)."""

    @staticmethod
    def forward(ctx, a, b, mode):
        xp = get_array_module(a)
        ctx.save_for_backward(a, b)
        ctx.mode = mode
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.remainder(a, b) if mode == "floor" else xp.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = get_array_module(g)
        ga = unbroadcast(g, a.shape) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                q = xp.floor_divide(a, b) if ctx.mode == "floor" else xp.trunc(a / b)
            gb = unbroadcast(-g * q, b.shape)
        return ga, gb


def _remainder(op: str, a, b, mode: str) -> Tensor:
    a, b = _pair(a, b)
    _broadcast_check(op, a, b)
    _check_int_divisor(op, a.data, b.data)
    return Remainder.apply(a, b, mode=mode)


def remainder(input, other) -> Tensor:  # noqa: A002
    """Python's modulus: the result has the sign of ``other`` (``x % y``)."""
    return _remainder("remainder", input, other, "floor")


def fmod(input, other) -> Tensor:  # noqa: A002
    """C's fmod: the result has the sign of ``input``."""
    return _remainder("fmod", input, other, "trunc")


# --------------------------------------------------------------------------- closeness
def isclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:  # noqa: A002
    """|input - other| <= atol + rtol |other| elementwise (bool; not symmetric, as PyTorch)."""
    a, b = _pair(input, other)
    _broadcast_check("isclose", a, b)
    if a.dtype != b.dtype and not isinstance(other, numbers.Number):
        raise TypeError(f"isclose: input and other must have the same dtype, got {a.dtype} and "
                        f"{b.dtype}")
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    xp = get_array_module(a.data)
    return Tensor._make(xp.asarray(xp.isclose(a.data, b.data, rtol=rtol, atol=atol,
                                              equal_nan=equal_nan)), False, None)


def allclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:  # noqa: A002
    """True when every element is ``isclose``: a Python bool, as PyTorch."""
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())


# --------------------------------------------------------------------------- logaddexp, hypot, lerp
class LogAddExp(Function):
    """log(exp(a) + exp(b)), stably (NumPy's logaddexp); d/da = exp(a - out), d/db = exp(b - out)."""

    @staticmethod
    def forward(ctx, a, b):
        out = get_array_module(a).logaddexp(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        xp = get_array_module(g)
        return (unbroadcast(g * xp.exp(a - out), a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(g * xp.exp(b - out), b.shape) if ctx.needs_input_grad[1] else None)


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow (NumPy's hypot); d/da = a / out, d/db = b / out."""

    @staticmethod
    def forward(ctx, a, b):
        out = get_array_module(a).hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        return (unbroadcast(g * a / out, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(g * b / out, b.shape) if ctx.needs_input_grad[1] else None)


def logaddexp(input, other) -> Tensor:  # noqa: A002
    return LogAddExp.apply(*_float_pair("logaddexp", input, other))


def hypot(input, other) -> Tensor:  # noqa: A002
    return Hypot.apply(*_float_pair("hypot", input, other))


def lerp(input: Tensor, end, weight) -> Tensor:  # noqa: A002
    """input + weight * (end - input); weight a number or a tensor, all three broadcast."""
    require_tensor("lerp", input)
    return add(input, mul(weight, sub(end, input)))


class NanToNum(Function):
    """NaN -> nan, +inf -> posinf, -inf -> neginf (defaults: 0 and the dtype's largest finite
    values); the gradient passes where the input was finite, 0 where a value was replaced."""

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        xp = get_array_module(a)
        ctx.save_for_backward(xp.isfinite(a))
        return xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


def nan_to_num(input: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:  # noqa: A002
    x = require_tensor("nan_to_num", input)
    if x.dtype.kind not in "fc":
        return Tensor._make(x.data.copy(), False, None)
    return NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


class XLogY(Function):
    """x log(y), defined as 0 where x == 0 (even at y = 0); d/dx = log(y) (0 where x == 0),
    d/dy = x / y."""

    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        ctx.save_for_backward(a, b)
        return xp.where(a == 0, xp.zeros((), dtype=a.dtype), a * xp.log(b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = get_array_module(g)
        zero = xp.zeros((), dtype=g.dtype)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g * xp.where(a == 0, zero, xp.log(b)), a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(g * a / b, b.shape)
        return ga, gb


def xlogy(input, other) -> Tensor:  # noqa: A002
    return XLogY.apply(*_float_pair("xlogy", input, other))
