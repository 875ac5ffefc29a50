"""Activations: tanh, sigmoid, relu, leaky_relu, elu, softplus, softmax, log_softmax.

Each saves only what its backward reads. Where the derivative is a function of the output
(tanh' = 1 - y^2, sigmoid' = y (1 - y), softmax) the output is saved: the next layer usually
keeps that array alive anyway, so saving it costs no memory. leaky_relu, elu and softplus save
their input instead (their derivatives are cleaner, or only exact, in terms of it).

Numerics: sigmoid never evaluates exp of a large positive number; softplus switches to the
identity above ``threshold`` (as PyTorch); softmax/log_softmax subtract the max along ``dim``
first, so exp never overflows and the largest term is exactly exp(0) = 1.
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .shape import normalize_dim


# --------------------------------------------------------------------------- helpers
def _require_float(op: str, x: Tensor) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype} "
                        f"(shape {x.shape}); convert with .float()")


def _stable_sigmoid(xp, z):
    """1 / (1 + exp(-z)) without overflow: with e = exp(-|z|) <= 1,
    z >= 0: 1 / (1 + e);  z < 0: e / (1 + e)  (no cancellation for very negative z).
    The numerator is exp(min(z, 0)): 1 or e. Branch-free on purpose: xp.where over random signs
    costs ~10x the arithmetic on the CPU (branch mispredictions)."""
    den = xp.asarray(xp.abs(z))  # asarray: NumPy returns a scalar for a 0-d input
    xp.negative(den, out=den)
    xp.exp(den, out=den)
    den += 1
    num = xp.asarray(xp.minimum(z, 0))
    xp.exp(num, out=num)
    num /= den
    return num


def _softmax_dim(op: str, dim, x: Tensor):
    """The axis to normalize over: ``dim`` is required (PyTorch's implicit choice is deprecated);
    a 0-d tensor (dim 0 or -1) reduces over its one element, axis None."""
    if dim is None:
        raise TypeError(f"{op}: dim is required (e.g. dim=-1 for the last dim of shape "
                        f"{x.shape})")
    d = normalize_dim(op, dim, x.ndim, x.shape)
    return d if x.ndim else None


# --------------------------------------------------------------------------- pointwise
class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (1 - y * y)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        out = _stable_sigmoid(get_array_module(a), a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y * (1 - y)


class ReLU(Function):
    """max(a, 0). The gradient at exactly 0 is 0 (PyTorch's choice): it passes where y > 0."""

    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (y > 0)


class LeakyReLU(Function):
    """a if a > 0 else slope * a; the gradient at 0 is slope (as PyTorch).
    Written as max(a, 0) + slope min(a, 0), branch-free (see _stable_sigmoid)."""

    @staticmethod
    def forward(ctx, a, slope):
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        ctx.slope = slope
        return xp.maximum(a, 0) + slope * xp.minimum(a, 0)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        pos = a > 0
        return g * pos + (g * ctx.slope) * ~pos


class ELU(Function):
    """a if a > 0 else alpha (exp(a) - 1). Below 0 the derivative is alpha exp(a), computed
    from the saved input: (y + alpha) would cancel to 0 for very negative a (PyTorch doesn't).
    min(a, 0) inside exp keeps the unused half from overflowing; branch-free as LeakyReLU."""

    @staticmethod
    def forward(ctx, a, alpha):
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        ctx.alpha = alpha
        return xp.maximum(a, 0) + alpha * xp.expm1(xp.minimum(a, 0))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        xp = get_array_module(g)
        pos = a > 0
        return g * (pos + ~pos * (ctx.alpha * xp.exp(xp.minimum(a, 0))))


class Softplus(Function):
    """log(1 + exp(beta a)) / beta, and exactly a where beta a > threshold (PyTorch's linear
    regime: there the two agree to float precision and exp would overflow).
    Derivative: sigmoid(beta a), and 1 in the linear regime."""

    @staticmethod
    def forward(ctx, a, beta, threshold):
        xp = get_array_module(a)
        z = a * beta
        ctx.save_for_backward(a)
        ctx.beta, ctx.threshold = beta, threshold
        soft = xp.log1p(xp.exp(xp.minimum(z, threshold))) / beta
        return xp.where(z > threshold, a, soft)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        xp = get_array_module(g)
        z = a * ctx.beta
        return xp.where(z > ctx.threshold, g, g * _stable_sigmoid(xp, z))


def tanh(input: Tensor) -> Tensor:  # noqa: A002  (PyTorch's argument names)
    _require_float("tanh", input)
    return Tanh.apply(input)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    _require_float("sigmoid", input)
    return Sigmoid.apply(input)


def relu(input: Tensor) -> Tensor:  # noqa: A002
    return ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    _require_float("leaky_relu", input)
    return LeakyReLU.apply(input, slope=float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    _require_float("elu", input)
    return ELU.apply(input, alpha=float(alpha))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    _require_float("softplus", input)
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero (the result is divided by beta)")
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


# --------------------------------------------------------------------------- along a dim
def _max(a, dim):
    """The max along dim (kept), which softmax subtracts; 0 for an empty tensor, where a max
    is undefined and the result is empty anyway (as PyTorch, which returns it)."""
    return a.max(axis=dim, keepdims=True) if a.size else 0


class Softmax(Function):
    """y = exp(a - max) / sum(exp(a - max)) along dim.
    Backward: dL/da = y * (g - sum(g * y)) (the Jacobian diag(y) - y y^T applied to g)."""

    @staticmethod
    def forward(ctx, a, dim):
        e = get_array_module(a).exp(a - _max(a, dim))
        e /= e.sum(axis=dim, keepdims=True)  # e is a fresh array: normalize it in place
        ctx.save_for_backward(e)
        ctx.dim = dim
        return e

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return y * (g - (g * y).sum(axis=ctx.dim, keepdims=True))


class LogSoftmax(Function):
    """y = (a - max) - log(sum(exp(a - max))) along dim.
    Backward: dL/da = g - softmax * sum(g), with softmax = exp(y)."""

    @staticmethod
    def forward(ctx, a, dim):
        xp = get_array_module(a)
        shifted = a - _max(a, dim)
        shifted -= xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(shifted)
        ctx.dim = dim
        return shifted

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g - get_array_module(g).exp(y) * g.sum(axis=ctx.dim, keepdims=True)


def softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """Softmax along ``dim`` (required; negative dims count from the end)."""
    _require_float("softmax", input)
    return Softmax.apply(input, dim=_softmax_dim("softmax", dim, input))


def log_softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """log(softmax(input, dim)) computed stably (never as the log of a softmax)."""
    _require_float("log_softmax", input)
    return LogSoftmax.apply(input, dim=_softmax_dim("log_softmax", dim, input))
