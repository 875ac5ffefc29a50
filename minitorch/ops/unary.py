"""Pointwise math: trig, hyperbolic, erf, logs and exps, reciprocal/rsqrt/square, rounding, sign.

Each op is one line: its forward and its derivative dy/da, written in terms of the input ``a``
and the output ``y`` (whichever is cleaner: tan' = 1 + y^2, expm1' = y + 1), side by side:

    Sin = unary_function("Sin", lambda xp, a: xp.sin(a), lambda xp, a, y: xp.cos(a))

The backward is then g * dy/da. Outside an op's domain (asin(2), log2(-1)) the result is NaN or
inf as in PyTorch, without NumPy's warnings; ``mt.autograd.detect_anomaly()`` reports them.

dtypes, as PyTorch: the float ops turn integer/bool inputs into float32 (``float_input``); the
rounding ops, sign and square keep integers (square of a bool is int64). Rounding ops and sign
are piecewise constant: their gradient is 0 everywhere (PyTorch's choice at the jumps too).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..kernel_table import kernels_for
from ..tensor import Tensor
from .elementwise import cast, float_input, require_float, require_tensor


def unary_function(name: str, forward, derivative):
    """A Function class computing y = forward(xp, a), with backward g * derivative(xp, a, y);
    ``derivative=None`` means piecewise constant (zero gradient)."""

    def fwd(ctx, a):
        xp = get_array_module(a)
        with np.errstate(all="ignore"):
            y = xp.asarray(forward(xp, a))
        if derivative is not None and ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, y)
        return y

    def bwd(ctx, g):
        xp = get_array_module(g)
        if derivative is None:
            return xp.zeros_like(g)
        a, y = ctx.saved
        with np.errstate(all="ignore"):
            return g * derivative(xp, a, y)

    return type(name, (Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd),
                                    "__doc__": f"{name}: see minitorch/ops/unary.py"})


# --------------------------------------------------------------------------- erf, erfc
def _special(name: str, a):
    """The kernel table's ``special`` entry (C's libm on the CPU, CUDA's erf on the GPU; NumPy
    has none). float16 is computed in float32 and rounded once: neither has a half erf."""
    compute = a.astype(np.float32) if a.dtype == np.float16 else a
    return kernels_for(a).special(name, compute).astype(a.dtype, copy=False)


def erf_array(xp, a):
    """erf on an xp array (also used by gelu)."""
    return _special("erf", a)


def _erfc_array(xp, a):
    return _special("erfc", a)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# --------------------------------------------------------------------------- the table
#                     name      forward y(a)                       derivative dy/da (a, y)
Sin = unary_function("Sin", lambda xp, a: xp.sin(a), lambda xp, a, y: xp.cos(a))
Cos = unary_function("Cos", lambda xp, a: xp.cos(a), lambda xp, a, y: -xp.sin(a))
Tan = unary_function("Tan", lambda xp, a: xp.tan(a), lambda xp, a, y: 1 + y * y)
Asin = unary_function("Asin", lambda xp, a: xp.arcsin(a), lambda xp, a, y: 1 / xp.sqrt(1 - a * a))
Acos = unary_function("Acos", lambda xp, a: xp.arccos(a), lambda xp, a, y: -1 / xp.sqrt(1 - a * a))
Atan = unary_function("Atan", lambda xp, a: xp.arctan(a), lambda xp, a, y: 1 / (1 + a * a))
Sinh = unary_function("Sinh", lambda xp, a: xp.sinh(a), lambda xp, a, y: xp.cosh(a))
Cosh = unary_function("Cosh", lambda xp, a: xp.cosh(a), lambda xp, a, y: xp.sinh(a))
Asinh = unary_function("Asinh", lambda xp, a: xp.arcsinh(a), lambda xp, a, y: 1 / xp.sqrt(a * a + 1))
Acosh = unary_function("Acosh", lambda xp, a: xp.arccosh(a), lambda xp, a, y: 1 / xp.sqrt(a * a - 1))
Atanh = unary_function("Atanh", lambda xp, a: xp.arctanh(a), lambda xp, a, y: 1 / (1 - a * a))
Erf = unary_function("Erf", erf_array,
                     lambda xp, a, y: _TWO_OVER_SQRT_PI * xp.exp(-a * a))
Erfc = unary_function("Erfc", _erfc_array,
                      lambda xp, a, y: -_TWO_OVER_SQRT_PI * xp.exp(-a * a))
Log2 = unary_function("Log2", lambda xp, a: xp.log2(a), lambda xp, a, y: 1 / (a * math.log(2)))
Log10 = unary_function("Log10", lambda xp, a: xp.log10(a), lambda xp, a, y: 1 / (a * math.log(10)))
Log1p = unary_function("Log1p", lambda xp, a: xp.log1p(a), lambda xp, a, y: 1 / (1 + a))
Expm1 = unary_function("Expm1", lambda xp, a: xp.expm1(a), lambda xp, a, y: y + 1)
Exp2 = unary_function("Exp2", lambda xp, a: xp.exp2(a), lambda xp, a, y: y * math.log(2))
Reciprocal = unary_function("Reciprocal", lambda xp, a: 1 / a, lambda xp, a, y: -y * y)
Rsqrt = unary_function("Rsqrt", lambda xp, a: 1 / xp.sqrt(a), lambda xp, a, y: -0.5 * y * y * y)
Square = unary_function("Square", lambda xp, a: a * a, lambda xp, a, y: 2 * a)
Sign = unary_function("Sign", lambda xp, a: xp.sign(a), None)
Floor = unary_function("Floor", lambda xp, a: xp.floor(a), None)
Ceil = unary_function("Ceil", lambda xp, a: xp.ceil(a), None)
Trunc = unary_function("Trunc", lambda xp, a: xp.trunc(a), None)


def sin(input: Tensor) -> Tensor:  # noqa: A002  (PyTorch's argument name)
    return Sin.apply(float_input("sin", input))


def cos(input: Tensor) -> Tensor:  # noqa: A002
    return Cos.apply(float_input("cos", input))


def tan(input: Tensor) -> Tensor:  # noqa: A002
    return Tan.apply(float_input("tan", input))


def asin(input: Tensor) -> Tensor:  # noqa: A002
    return Asin.apply(float_input("asin", input))


def acos(input: Tensor) -> Tensor:  # noqa: A002
    return Acos.apply(float_input("acos", input))


def atan(input: Tensor) -> Tensor:  # noqa: A002
    return Atan.apply(float_input("atan", input))


def sinh(input: Tensor) -> Tensor:  # noqa: A002
    return Sinh.apply(float_input("sinh", input))


def cosh(input: Tensor) -> Tensor:  # noqa: A002
    return Cosh.apply(float_input("cosh", input))


def asinh(input: Tensor) -> Tensor:  # noqa: A002
    return Asinh.apply(float_input("asinh", input))


def acosh(input: Tensor) -> Tensor:  # noqa: A002
    return Acosh.apply(float_input("acosh", input))


def atanh(input: Tensor) -> Tensor:  # noqa: A002
    return Atanh.apply(float_input("atanh", input))


def erf(input: Tensor) -> Tensor:  # noqa: A002
    return Erf.apply(float_input("erf", input))


def erfc(input: Tensor) -> Tensor:  # noqa: A002
    """1 - erf(x), computed directly (no cancellation for large x)."""
    return Erfc.apply(float_input("erfc", input))


def log2(input: Tensor) -> Tensor:  # noqa: A002
    return Log2.apply(float_input("log2", input))


def log10(input: Tensor) -> Tensor:  # noqa: A002
    return Log10.apply(float_input("log10", input))


def log1p(input: Tensor) -> Tensor:  # noqa: A002
    """log(1 + x), exact for tiny x (where 1 + x rounds to 1)."""
    return Log1p.apply(float_input("log1p", input))


def expm1(input: Tensor) -> Tensor:  # noqa: A002
    """exp(x) - 1, exact for tiny x."""
    return Expm1.apply(float_input("expm1", input))


def exp2(input: Tensor) -> Tensor:  # noqa: A002
    return Exp2.apply(float_input("exp2", input))


def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    return Reciprocal.apply(float_input("reciprocal", input))


def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    return Rsqrt.apply(float_input("rsqrt", input))


def square(input: Tensor) -> Tensor:  # noqa: A002
    """x * x; integers stay integers, a bool tensor gives int64 (as PyTorch)."""
    x = require_tensor("square", input)
    return Square.apply(cast(x, np.int64) if x.dtype == np.bool_ else x)


def _keeps_ints(op: str, fn, input) -> Tensor:
    """Rounding an integer is the identity, and NumPy's floor would return float64."""
    x = require_tensor(op, input)
    if x.dtype.kind in "biu":
        return Tensor._make(x.data.copy(), False, None)
    return fn.apply(x)


def floor(input: Tensor) -> Tensor:  # noqa: A002
    return _keeps_ints("floor", Floor, input)


def ceil(input: Tensor) -> Tensor:  # noqa: A002
    return _keeps_ints("ceil", Ceil, input)


def trunc(input: Tensor) -> Tensor:  # noqa: A002
    return _keeps_ints("trunc", Trunc, input)


def sign(input: Tensor) -> Tensor:  # noqa: A002
    """-1, 0 or 1 (a bool tensor stays bool, as PyTorch); zero gradient."""
    x = require_tensor("sign", input)
    if x.dtype.kind in "biu":
        return Tensor._make(get_array_module(x.data).sign(x.data) if x.dtype != np.bool_
                            else x.data.copy(), False, None)
    return Sign.apply(x)


class Round(Function):
    """Round half to even (as PyTorch and NumPy), to ``decimals`` places: rint(x * 10^d) / 10^d
    (for d < 0: rint(x / 10^-d) * 10^-d). Zero gradient."""

    @staticmethod
    def forward(ctx, a, decimals):
        return get_array_module(a).around(a, decimals)

    @staticmethod
    def backward(ctx, g):
        return get_array_module(g).zeros_like(g)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    x = require_tensor("round", input)
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if x.dtype.kind in "biu":
        if decimals != 0:
            raise TypeError(f"round: decimals={decimals} is only supported for floating point "
                            f"tensors, got dtype {x.dtype} (as PyTorch)")
        return Tensor._make(x.data.copy(), False, None)
    return Round.apply(x, decimals=int(decimals))


# --------------------------------------------------------------------------- a few more
Frac = unary_function("Frac", lambda xp, a: a - xp.trunc(a), lambda xp, a, y: xp.ones_like(a))
Deg2rad = unary_function("Deg2rad", lambda xp, a: a * (math.pi / 180),
                         lambda xp, a, y: xp.full_like(a, math.pi / 180))
Rad2deg = unary_function("Rad2deg", lambda xp, a: a * (180 / math.pi),
                         lambda xp, a, y: xp.full_like(a, 180 / math.pi))
# sinc(x) = sin(pi x) / (pi x), 1 at 0; derivative (cos(pi x) - sinc(x)) / x, 0 at 0
Sinc = unary_function("Sinc", lambda xp, a: xp.sinc(a),
                      lambda xp, a, y: xp.where(a == 0, 0, (xp.cos(math.pi * a) - y)
                                                / xp.where(a == 0, 1, a)))


def frac(input: Tensor) -> Tensor:  # noqa: A002
    """x - trunc(x) (the sign of x); gradient 1."""
    return Frac.apply(require_float("frac", input))


def deg2rad(input: Tensor) -> Tensor:  # noqa: A002
    return Deg2rad.apply(float_input("deg2rad", input))


def rad2deg(input: Tensor) -> Tensor:  # noqa: A002
    return Rad2deg.apply(float_input("rad2deg", input))


def sinc(input: Tensor) -> Tensor:  # noqa: A002
    """The normalized sinc, sin(pi x) / (pi x), with sinc(0) = 1."""
    return Sinc.apply(float_input("sinc", input))


class Logit(Function):
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given; derivative
    1 / (p (1 - p)), 0 outside the clamp (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, eps):
        xp = get_array_module(a)
        p = a if eps is None else xp.clip(a, eps, 1 - eps)
        ctx.save_for_backward(a, p)
        ctx.eps = eps
        return xp.log(p / (1 - p))

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved
        xp = get_array_module(g)
        d = g / (p * (1 - p))
        if ctx.eps is None:
            return d
        return xp.where((a < ctx.eps) | (a > 1 - ctx.eps), xp.zeros((), dtype=g.dtype), d)


def logit(input: Tensor, eps=None) -> Tensor:  # noqa: A002
    return Logit.apply(float_input("logit", input), eps=None if eps is None else float(eps))
