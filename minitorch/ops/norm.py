"""Batch normalisation over the batch (and spatial) axes, per channel, with a fused backward.

For x of shape (N, C), (N, C, L) or (N, C, H, W), channel c is normalised over the M values
x[:, c, ...] (M = N, N*L or N*H*W)::

    mu = mean(x),  var = mean((x - mu)^2)     (biased: divide by M)
    xhat = (x - mu) / sqrt(var + eps),   y = weight * xhat + bias

Training uses the batch's mu and var and updates the running statistics in place::

    running_mean = (1 - momentum) * running_mean + momentum * mu
    running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)   (unbiased)

Evaluation uses running_mean/running_var instead, so y is an affine function of x.

Backward of the training form in closed form (one pass; g = dL/dy, sums over the M values)::

    gxhat = g * weight
    gx = (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) / sqrt(var + eps)
    gweight = sum(g * xhat),  gbias = sum(g)
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..kernel_table import kernels_for
from ..tensor import Tensor


class BatchNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, training, momentum, eps):
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))               # all but the channel axis
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)       # per-channel values broadcast
        if training:
            mu = x.mean(axis=axes, keepdims=True)
            xc = x - mu
            var = (xc * xc).mean(axis=axes, keepdims=True)
            invstd = 1.0 / xp.sqrt(var + eps)
            xhat = xc * invstd
            if running_mean is not None:
                M = x.size // x.shape[1]
                running_mean[...] = (1 - momentum) * running_mean + momentum * mu.reshape(-1)
                running_var[...] = ((1 - momentum) * running_var
                                    + momentum * var.reshape(-1) * (M / (M - 1)))
        else:
            invstd = (1.0 / xp.sqrt(running_var + eps)).astype(x.dtype).reshape(shape)
            xhat = (x - running_mean.astype(x.dtype).reshape(shape)) * invstd
        w = weight.reshape(shape)
        ctx.save_for_backward(xhat, invstd, w)
        ctx.axes, ctx.training = axes, training
        return xhat * w + bias.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, w = ctx.saved
        axes = ctx.axes
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gxhat = g * w
            if ctx.training:  # mu and var depend on x too: the closed form above
                gx = (gxhat - gxhat.mean(axis=axes, keepdims=True)
                      - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)) * invstd
            else:             # running stats are constants: y is affine in x
                gx = gxhat * invstd
        if ctx.needs_input_grad[1]:
            gw = (g * xhat).sum(axis=axes)
        if ctx.needs_input_grad[2]:
            gb = g.sum(axis=axes)
        return gx, gw, gb


class BatchNormFused(Function):
    """Batch norm on a backend with fused kernels (the GPU: kernels/batchnorm.cu): statistics
    and normalisation in two kernels, and one reduce + one elementwise kernel for all three
    grads of the training form. Same formulas as BatchNorm (the module docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, training, momentum, eps,
                kernels):
        C = x.shape[1]
        if training:
            y, mu, var, invstd = kernels.batch_norm_train(x, weight, bias, eps)
            if running_mean is not None:
                M = x.size // C
                running_mean[...] = (1 - momentum) * running_mean + momentum * mu
                running_var[...] = (1 - momentum) * running_var + momentum * var * (M / (M - 1))
        else:
            mu = running_mean.astype(x.dtype, copy=False)
            rv = running_var.astype(x.dtype, copy=False)
            y = kernels.batch_norm_eval(x, mu, rv, weight, bias, eps)
            invstd = (1.0 / get_array_module(x).sqrt(rv + eps)).astype(x.dtype)
        ctx.save_for_backward(x, mu, invstd, weight)
        ctx.training, ctx.kernels = training, kernels
        return y

    @staticmethod
    def backward(ctx, g):
        x, mu, invstd, w = ctx.saved
        need = ctx.needs_input_grad
        if ctx.training:
            gx, gw, gb = ctx.kernels.batch_norm_backward(g, x, w, mu, invstd)
        else:  # eval: y is affine in x (rare in training loops: plain array ops)
            shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
            axes = (0,) + tuple(range(2, x.ndim))
            gx = g * (w * invstd).reshape(shape) if need[0] else None
            gw = (g * ((x - mu.reshape(shape)) * invstd.reshape(shape))).sum(axis=axes) \
                if need[1] else None
            gb = g.sum(axis=axes) if need[2] else None
        return (gx if need[0] else None, gw if need[1] else None, gb if need[2] else None)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of input (N, C), (N, C, L) or (N, C, H, W) per channel.

    training=True: batch statistics, and running_mean/running_var (when given) are updated
    in place with ``momentum``; training=False: the running statistics are used.
    weight/bias (C,) default to 1 and 0.
    """
    if input.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm: expected a 2-D (N, C), 3-D (N, C, L) or 4-D "
                         f"(N, C, H, W) input, got shape {input.shape}")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for input "
                             f"{input.shape} (one value per channel), got {t.shape}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given or "
                         "both be None")
    if not training and running_mean is None:
        raise ValueError("batch_norm: training=False needs running_mean and running_var")
    if training and input.data.size // max(C, 1) <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input size {input.shape}")
    xp = get_array_module(input.data)
    if weight is None:
        weight = Tensor._make(xp.ones(C, dtype=input.dtype), False, None)
    if bias is None:
        bias = Tensor._make(xp.zeros(C, dtype=input.dtype), False, None)
    for name, t in (("weight", weight), ("bias", bias)):
        if t.dtype != input.dtype:
            raise TypeError(f"batch_norm: input dtype {input.dtype} and {name} dtype "
                            f"{t.dtype} must be the same")
    params = dict(running_mean=None if running_mean is None else running_mean.data,
                  running_var=None if running_var is None else running_var.data,
                  training=bool(training), momentum=float(momentum), eps=float(eps))
    K = kernels_for(input.data)
    stats = () if training else (params["running_mean"], params["running_var"])
    if K.fused("batch_norm_train", input.data, weight.data, bias.data, *stats):
        return BatchNormFused.apply(input, weight, bias, kernels=K, **params)
    return BatchNorm.apply(input, weight, bias, **params)
