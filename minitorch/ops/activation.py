"""Activations: tanh, sigmoid, relu, leaky_relu, elu/selu/celu, softplus, softmax, log_softmax,
gelu, silu, mish, hardsigmoid, hardswish, hardtanh/relu6, softsign, logsigmoid, prelu, glu,
threshold, hardshrink/softshrink/tanhshrink.

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
from ..kernel_table import kernels_for
from ..tensor import Tensor
from ..threads import map_blocks
from .elementwise import float_input, require_float, require_tensor, unbroadcast
from .unary import erf_array
from .shape import normalize_dim


# --------------------------------------------------------------------------- helpers
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
    """max(a, 0). The gradient at exactly 0 is 0 (PyTorch's choice): it passes where y > 0
    and is 0 elsewhere (a select, minitorch/cpu/relu.py, as PyTorch's threshold_backward)."""

    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        if a.dtype.kind == "f":  # in blocks, on the CPU threads (minitorch/threads.py)
            out = map_blocks(lambda a, out: xp.maximum(a, 0, out=out), xp.empty_like(a), a)
        else:
            out = xp.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        if g.dtype.kind != "f" or g.shape != y.shape or g.dtype != y.dtype:
            return g * (y > 0)
        return kernels_for(g).relu_backward(g, y)   # a select: 0 where y <= 0, even if g is NaN


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
    """scale * (a if a > 0 else alpha (exp(input_scale a) - 1)): elu (scale = input_scale = 1),
    selu (fixed alpha and scale), celu (input_scale = 1 / alpha), as PyTorch's elu kernel.
    Below 0 the derivative is scale alpha input_scale exp(input_scale a), computed from the
    saved input: (y + alpha) would cancel to 0 for very negative a (PyTorch doesn't). At a = 0
    the lower branch applies, as in PyTorch. min(a, 0) inside exp keeps the unused half from
    overflowing; branch-free as LeakyReLU."""

    @staticmethod
    def forward(ctx, a, alpha, scale=1.0, input_scale=1.0):
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        return scale * (xp.maximum(a, 0) + alpha * xp.expm1(input_scale * xp.minimum(a, 0)))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        xp = get_array_module(g)
        pos = a > 0
        low = ctx.alpha * ctx.input_scale * xp.exp(ctx.input_scale * xp.minimum(a, 0))
        return (g * ctx.scale) * (pos + ~pos * low)


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
    return Tanh.apply(float_input("tanh", input))  # integers -> float32, as torch.tanh


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return Sigmoid.apply(float_input("sigmoid", input))


def relu(input: Tensor) -> Tensor:  # noqa: A002
    return ReLU.apply(require_tensor("relu", input))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    require_float("leaky_relu", input, complex_ok=False)
    return LeakyReLU.apply(input, slope=float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    require_float("elu", input, complex_ok=False)
    return ELU.apply(input, alpha=float(alpha))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    require_float("softplus", input, complex_ok=False)
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
    require_float("softmax", input, complex_ok=False)
    return Softmax.apply(input, dim=_softmax_dim("softmax", dim, input))


def log_softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """log(softmax(input, dim)) computed stably (never as the log of a softmax)."""
    require_float("log_softmax", input, complex_ok=False)
    return LogSoftmax.apply(input, dim=_softmax_dim("log_softmax", dim, input))


# --------------------------------------------------------------------------- more pointwise
def _in_place(fn, input: Tensor, *args) -> Tensor:
    """``inplace=True``: fn's result written into input's memory (Tensor._inplace: views see
    it, version counters catch a saved array being overwritten, the graph goes through fn)."""
    return input._inplace(fn, *args)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. (2017)."""
    require_float("selu", input, complex_ok=False)
    if inplace:
        return _in_place(selu, input)
    return ELU.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)): an elu differentiable at 0 for any alpha."""
    require_float("celu", input, complex_ok=False)
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero (the input is divided by it)")
    if inplace:
        return _in_place(celu, input, alpha)
    return ELU.apply(input, alpha=float(alpha), input_scale=1.0 / alpha)


_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SQRT_2_OVER_PI = 0.7978845608028654


class GELU(Function):
    """x Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)); derivative
    Phi(x) + x phi(x). ``tanh``: the approximation 0.5 x (1 + tanh(k0 (x + k1 x^3))),
    k0 = sqrt(2/pi), k1 = 0.044715, with its own exact derivative (PyTorch's two forms)."""

    @staticmethod
    def forward(ctx, a, approximate):
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        if approximate == "tanh":
            return 0.5 * a * (1 + xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)))
        return 0.5 * a * (1 + erf_array(xp, a * _SQRT_HALF))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        xp = get_array_module(g)
        if ctx.approximate == "tanh":
            t = xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a))
            dt = (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * dt)
        cdf = 0.5 * (1 + erf_array(xp, a * _SQRT_HALF))
        return g * (cdf + a * _INV_SQRT_2PI * xp.exp(-0.5 * a * a))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    require_float("gelu", input, complex_ok=False)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


class SiLU(Function):
    """x sigmoid(x) (swish); derivative s (1 + x (1 - s))."""

    @staticmethod
    def forward(ctx, a):
        s = _stable_sigmoid(get_array_module(a), a)
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved
        return g * s * (1 + a * (1 - s))


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    require_float("silu", input, complex_ok=False)
    return _in_place(silu, input) if inplace else SiLU.apply(input)


def _softplus0(xp, a):
    """log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|)): never exp of a large number."""
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))


class Mish(Function):
    """x tanh(softplus(x)); derivative t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""

    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        t = xp.tanh(_softplus0(xp, a))
        ctx.save_for_backward(a, t)
        return a * t

    @staticmethod
    def backward(ctx, g):
        a, t = ctx.saved
        xp = get_array_module(g)
        return g * (t + a * _stable_sigmoid(xp, a) * (1 - t * t))


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    require_float("mish", input, complex_ok=False)
    return _in_place(mish, input) if inplace else Mish.apply(input)


class Hardtanh(Function):
    """clamp(x, min_val, max_val); the gradient passes strictly inside (0 at the bounds, as
    PyTorch's hardtanh_backward in every release)."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward((a > lo) & (a < hi))
        return get_array_module(a).clip(a, lo, hi).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,  # noqa: A002
             inplace: bool = False) -> Tensor:
    require_float("hardtanh", input, complex_ok=False)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must be <= max_val ({max_val})")
    if inplace:
        return _in_place(hardtanh, input, min_val, max_val)
    return Hardtanh.apply(input, lo=float(min_val), hi=float(max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6) = hardtanh(x, 0, 6) (gradient 0 at 0 and 6)."""
    require_float("relu6", input, complex_ok=False)
    return _in_place(relu6, input) if inplace else Hardtanh.apply(input, lo=0.0, hi=6.0)


class Hardsigmoid(Function):
    """relu6(x + 3) / 6; derivative 1/6 strictly inside (-3, 3)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward((a > -3) & (a < 3))
        return (get_array_module(a).clip(a + 3, 0, 6) / 6).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0] / 6


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    require_float("hardsigmoid", input, complex_ok=False)
    return _in_place(hardsigmoid, input) if inplace else Hardsigmoid.apply(input)


class Hardswish(Function):
    """x relu6(x + 3) / 6; derivative 0 up to -3, x / 3 + 1/2 strictly inside (-3, 3), 1 from 3
    on. At the kinks this is the outer side, PyTorch's choice since 2.14 (older releases took
    the inner side: -1/2 at -3, 3/2 at 3); minitorch fixes it and tests it directly."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return (a * get_array_module(a).clip(a + 3, 0, 6) / 6).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        xp = get_array_module(g)
        return g * xp.where(a <= -3, 0, xp.where(a < 3, a / 3 + 0.5, 1)).astype(g.dtype)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    require_float("hardswish", input, complex_ok=False)
    return _in_place(hardswish, input) if inplace else Hardswish.apply(input)


class Softsign(Function):
    """x / (1 + |x|); derivative 1 / (1 + |x|)^2."""

    @staticmethod
    def forward(ctx, a):
        d = 1 + get_array_module(a).abs(a)
        ctx.save_for_backward(d)
        return a / d

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved
        return g / (d * d)


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    require_float("softsign", input, complex_ok=False)
    return Softsign.apply(input)


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow, no log(0) for very
    negative x. Derivative 1 - sigmoid(x) = sigmoid(-x)."""

    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g * _stable_sigmoid(get_array_module(g), -a)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    require_float("logsigmoid", input, complex_ok=False)
    return LogSigmoid.apply(input)


class PReLU(Function):
    """x if x > 0 else w x, with one learned slope per channel (dim 1) or one shared slope. d/dx = 1 or w (w at x = 0, as PyTorch); d/dw = x where x <= 0,
    summed over everything but the channel."""

    @staticmethod
    def forward(ctx, a, w, w_shape):
        pos = a > 0
        ctx.save_for_backward(a, w, pos)
        ctx.w_shape = w_shape
        return a * pos + (w * a) * ~pos

    @staticmethod
    def backward(ctx, g):
        a, w, pos = ctx.saved
        ga = g * (pos + w * ~pos) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gw = unbroadcast(g * a * ~pos, w.shape)
        return ga, gw


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    require_float("prelu", input, complex_ok=False)
    require_tensor("prelu", weight)
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else 1  # PyTorch: 1 channel below 2-d
    if weight.ndim > 1 or n not in (1, channels):
        raise ValueError(f"prelu: weight must be a 1-d tensor of 1 or {channels} elements (the "
                         f"channel dim 1 of input {input.shape}), got shape {weight.shape}")
    shape = (1, n) + (1,) * (input.ndim - 2) if input.ndim >= 2 else (1,) * input.ndim
    w = weight.reshape(shape) if weight.shape != shape else weight
    return PReLU.apply(input, w, w_shape=shape)


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """a * sigmoid(b), with a, b the two halves of input along dim (its size must be even)."""
    from .shape import chunk
    require_float("glu", input, complex_ok=False)
    if input.ndim == 0:
        raise ValueError("glu: does not support 0-d (scalar) tensors")
    d = normalize_dim("glu", dim, input.ndim, input.shape)
    if input.shape[d] % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {d} is size "
                         f"{input.shape[d]} (input shape {input.shape})")
    a, b = chunk(input, 2, d)
    return a * sigmoid(b)


class Threshold(Function):
    """x where x > threshold, else value; gradient 1 where x > threshold, else 0."""

    @staticmethod
    def forward(ctx, a, threshold, value):
        keep = a > threshold
        ctx.save_for_backward(keep)
        return get_array_module(a).where(keep, a, value).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


def threshold(input: Tensor, threshold: float, value: float,  # noqa: A002
              inplace: bool = False) -> Tensor:
    require_float("threshold", input, complex_ok=False)
    if inplace:
        return _in_place(globals()["threshold"], input, threshold, value)  # the arg shadows it
    return Threshold.apply(input, threshold=float(threshold), value=float(value))


class Shrink(Function):
    """hardshrink: x where |x| > lambd else 0; softshrink: x - lambd sign(x) there else 0.
    Both have gradient 1 where |x| > lambd, else 0."""

    @staticmethod
    def forward(ctx, a, lambd, soft):
        xp = get_array_module(a)
        keep = xp.abs(a) > lambd
        ctx.save_for_backward(keep)
        out = a - lambd * xp.sign(a) if soft else a
        return xp.where(keep, out, 0).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    require_float("hardshrink", input, complex_ok=False)
    return Shrink.apply(input, lambd=float(lambd), soft=False)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    require_float("softshrink", input, complex_ok=False)
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    return Shrink.apply(input, lambd=float(lambd), soft=True)


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    """x - tanh(x)."""
    require_float("tanhshrink", input, complex_ok=False)
    return input - tanh(input)
