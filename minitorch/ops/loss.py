"""Loss functions: cross-entropy (fused with log-softmax), negative log-likelihood, MSE.

Notation: N samples, C classes, logits z (N, C), integer targets y (N,), class weights w (C,).
Extra dims (N, C, d1, ...) are handled by moving the class axis last and flattening to (M, C).

Cross-entropy is ONE op. Going through softmax then log would overflow exp(z) for large logits
and lose all precision in log(softmax) for tiny probabilities; instead the forward uses

    log p_ic = z_ic - logsumexp_c(z_i)      logsumexp(z) = m + log sum exp(z - m),  m = max z

and the backward never touches a log. With the target distribution q_i (a one-hot row, mixed
with the uniform distribution under label smoothing, scaled by the class weights),

    loss_i = -sum_c q_ic log p_ic       d loss_i / d z_ic = p_ic * sum_c' q_ic' - q_ic

which is the familiar ``softmax - onehot`` when q is a plain one-hot row. The mean reduction
divides by the total weight of the non-ignored targets (by N without weights), as PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..cuda.graph import is_capturing
from ..kernel_table import kernels_for
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- input checks
def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_class_inputs(op: str, input: Tensor, target: Tensor, weight, ignore_index: int):
    """Shapes, dtypes, devices and target range of a (N, C, ...) input with class indices."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(input).__name__} "
                        f"and {type(target).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating-point tensor, got {input.dtype}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must be an integer class-index tensor, got "
                        f"{target.dtype} (class-probability targets are not supported)")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    if input.device != target.device:
        raise RuntimeError(f"{op}: input is on {input.device} but target is on {target.device}")
    if input.ndim == 1:  # unbatched: (C,) logits and a 0-d target
        if target.ndim != 0:
            raise ValueError(f"{op}: unbatched input of shape {input.shape} needs a 0-d target, "
                             f"got target shape {target.shape}")
    elif target.ndim == 0 or input.shape[0] != target.shape[0]:
        got = target.shape[0] if target.ndim else "none (0-d target)"
        raise ValueError(f"{op}: input batch size {input.shape[0]} does not match target batch "
                         f"size {got} (input {input.shape}, target {target.shape})")
    elif target.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError(f"{op}: target shape {target.shape} must be the input shape "
                         f"{input.shape} without its class dim 1, i.e. "
                         f"{input.shape[:1] + input.shape[2:]}")
    C = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight is not None:
        if not isinstance(weight, Tensor) or weight.shape != (C,):
            shape = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
            raise ValueError(f"{op}: weight must be a 1-d Tensor with one entry per class "
                             f"({C}), got {shape}")
        if weight.device != input.device:
            raise RuntimeError(f"{op}: input is on {input.device} but weight is on "
                               f"{weight.device}")
    y = target.data
    # One device sync, skipped inside a CUDA-graph capture, which cannot sync (the fused GPU
    # kernel marks a bad target's row NaN itself: kernels/softmax_xent.cu).
    if y.size and not is_capturing():
        bad = (y != ignore_index) & ((y < 0) | (y >= C))
        if bool(bad.any()):  # a wrong index would silently read garbage
            value = int(y[bad].ravel()[0])
            raise IndexError(f"{op}: target value {value} is out of range for {C} classes "
                             f"(valid: 0..{C - 1}, or ignore_index={ignore_index})")


def _as_rows(z, y):
    """(N, C, d1, ...) logits and (N, d1, ...) targets -> (M, C) and (M,); (C,) -> (1, C)."""
    if z.ndim == 1:
        return z[None, :], y.reshape(1)
    if z.ndim == 2:
        return z, y
    xp = get_array_module(z)
    last = xp.moveaxis(z, 1, -1)  # (N, d1, ..., C) as a view; the reshape copies once
    return last.reshape(-1, z.shape[1]), y.reshape(-1)


def _from_rows(rows, shape):
    """Inverse of _as_rows for a (M, C) gradient: back to the input's shape and layout."""
    if len(shape) <= 2:
        return rows.reshape(shape)
    moved = rows.reshape((shape[0],) + shape[2:] + (shape[1],))
    return get_array_module(rows).moveaxis(moved, -1, 1)


def _sample_weights(y, weight, ignore_index, dtype, xp):
    """Per-row weight w[y_i], 0 for ignored rows; and the row's class index made safe to gather."""
    valid = y != ignore_index
    safe_y = xp.where(valid, y, 0)
    w_y = (weight[safe_y] if weight is not None else xp.ones(y.shape, dtype=dtype))
    return w_y.astype(dtype, copy=False) * valid, safe_y, valid


def _reduce(per_row, out_shape, reduction: str, total_weight):
    if reduction == "none":
        return per_row.reshape(out_shape)
    if reduction == "sum":
        return per_row.sum()
    # PyTorch's weighted mean: sum(w_y * l) / sum(w_y); NaN (quietly) when all are ignored.
    with np.errstate(invalid="ignore", divide="ignore"):
        return per_row.sum() / total_weight


def _row_grad(g, reduction: str, total_weight, n_rows: int):
    """The upstream grad each row's loss receives: g_i (none), g (sum), g / W (mean)."""
    if reduction == "none":
        return g.reshape(n_rows)
    if reduction == "sum":
        return g.reshape(())
    with np.errstate(invalid="ignore", divide="ignore"):
        return g.reshape(()) / total_weight


# --------------------------------------------------------------------------- cross-entropy
class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, z, y, weight, ignore_index, reduction, label_smoothing):
        xp = get_array_module(z)
        shape, out_shape = z.shape, (() if z.ndim == 1 else (z.shape[0],) + z.shape[2:])
        z2, y2 = _as_rows(z, y)
        M, C = z2.shape
        if weight is not None:
            weight = weight.astype(z.dtype, copy=False)
        w_y, safe_y, valid = _sample_weights(y2, weight, ignore_index, z.dtype, xp)

        shifted = z2 - z2.max(axis=1, keepdims=True)            # <= 0: exp can't overflow
        e = xp.exp(shifted)
        sum_e = e.sum(axis=1, keepdims=True)
        lse = xp.log(sum_e)[:, 0]                               # logsumexp(z_i) - max(z_i)
        log_p_y = xp.take_along_axis(shifted, safe_y[:, None], axis=1)[:, 0] - lse
        eps = label_smoothing
        per_row = -(1 - eps) * w_y * log_p_y
        q_sum = (1 - eps) * w_y                                 # sum_c q_ic, for the backward
        if eps > 0:
            # The uniform part: -(eps / C) * sum_c w_c log p_ic, log p_ic = shifted_ic - lse_i.
            w_c = weight if weight is not None else xp.ones(C, dtype=z.dtype)
            per_row = per_row - (eps / C) * (shifted @ w_c - w_c.sum() * lse) * valid
            q_sum = q_sum + (eps / C) * w_c.sum() * valid
        total = w_y.sum()
        e /= sum_e                                              # e is now p = softmax(z)
        ctx.save_for_backward(e, safe_y, w_y, valid, q_sum)
        ctx.meta = (shape, M, C, weight, reduction, eps, total)
        return xp.asarray(_reduce(per_row, out_shape, reduction, total), dtype=z.dtype)

    @staticmethod
    def backward(ctx, g):
        if not ctx.needs_input_grad[0]:
            return None, None
        p, safe_y, w_y, valid, q_sum = ctx.saved
        shape, M, C, weight, reduction, eps, total = ctx.meta
        g_row = _row_grad(g, reduction, total, M)
        # d loss_i / d z_ic = p_ic * sum_c' q_ic' - q_ic, scaled by the row's upstream grad.
        grad = p * (q_sum * g_row)[:, None]
        if eps > 0:
            w_c = weight if weight is not None else 1
            grad -= (eps / C) * (g_row * valid)[:, None] * w_c
        grad[get_array_module(p).arange(M), safe_y] -= (1 - eps) * w_y * g_row
        return _from_rows(grad, shape), None


class CrossEntropyFused(Function):
    """Cross-entropy of (N, C) logits without class weights or smoothing, on a backend with a
    fused kernel (the GPU: kernels/softmax_xent.cu): loss and gradient rows in one kernel; the
    backward only scales the saved gradient."""

    @staticmethod
    def forward(ctx, z, y, ignore_index, reduction, kernel):
        xp = get_array_module(z)
        per_row, grad_sum = kernel(z, y, ignore_index)
        total = (y != ignore_index).sum().astype(z.dtype)   # the mean's divisor, as above
        ctx.save_for_backward(grad_sum)
        ctx.reduction, ctx.total = reduction, total
        return xp.asarray(_reduce(per_row, (), reduction, total), dtype=z.dtype)

    @staticmethod
    def backward(ctx, g):
        if not ctx.needs_input_grad[0]:
            return None, None
        (grad_sum,) = ctx.saved  # the kernel already gave d(sum of losses)/dz
        return grad_sum * _row_grad(g, ctx.reduction, ctx.total, grad_sum.shape[0]), None


# --------------------------------------------------------------------------- NLL
class NLLLoss(Function):
    """loss_i = -w_{y_i} * input[i, y_i]; input holds log-probabilities (e.g. log_softmax)."""

    @staticmethod
    def forward(ctx, logp, y, weight, ignore_index, reduction):
        xp = get_array_module(logp)
        shape, out_shape = logp.shape, (() if logp.ndim == 1 else (logp.shape[0],) + logp.shape[2:])
        x2, y2 = _as_rows(logp, y)
        if weight is not None:
            weight = weight.astype(logp.dtype, copy=False)
        w_y, safe_y, _ = _sample_weights(y2, weight, ignore_index, logp.dtype, xp)
        per_row = -w_y * xp.take_along_axis(x2, safe_y[:, None], axis=1)[:, 0]
        total = w_y.sum()
        ctx.save_for_backward(safe_y, w_y)
        ctx.meta = (shape, x2.shape, reduction, total)
        return xp.asarray(_reduce(per_row, out_shape, reduction, total), dtype=logp.dtype)

    @staticmethod
    def backward(ctx, g):
        if not ctx.needs_input_grad[0]:
            return None, None
        safe_y, w_y = ctx.saved
        shape, (M, C), reduction, total = ctx.meta
        xp = get_array_module(g)
        grad = xp.zeros((M, C), dtype=g.dtype)
        grad[xp.arange(M), safe_y] = -w_y * _row_grad(g, reduction, total, M)
        return _from_rows(grad, shape), None


# --------------------------------------------------------------------------- MSE
class MSELoss(Function):
    @staticmethod
    def forward(ctx, a, b, reduction):
        diff = a - b
        ctx.save_for_backward(diff)
        ctx.reduction = reduction
        sq = diff * diff
        if reduction == "none":
            return sq
        xp = get_array_module(sq)
        mean = sq.mean() if sq.size else np.nan  # empty: NaN as PyTorch, no NumPy warning
        return xp.asarray(sq.sum() if reduction == "sum" else mean, dtype=sq.dtype)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved
        scale = g * 2 if ctx.reduction != "mean" else g * (2 / max(diff.size, 1))
        grad = diff * scale
        return (grad if ctx.needs_input_grad[0] else None,
                -grad if ctx.needs_input_grad[1] else None)


# --------------------------------------------------------------------------- public API
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` (N, C[, d1, ...]) and class indices ``target``.

    Equivalent to ``nll_loss(log_softmax(input, 1), target)`` but fused: one op, stable for
    any logit size, and a backward of ``softmax - onehot`` (see the module docstring).
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    _check_class_inputs("cross_entropy", input, target, weight, ignore_index)
    kernel = kernels_for(input.data).fused("softmax_cross_entropy", input.data)
    if (kernel is not None and input.ndim == 2 and weight is None and label_smoothing == 0
            and reduction != "none"):  # the common case, where a backend has one kernel
        return CrossEntropyFused.apply(input, target, ignore_index=int(ignore_index),
                                       reduction=reduction, kernel=kernel)
    return CrossEntropy.apply(input, target, weight=None if weight is None else weight.data,
                              ignore_index=int(ignore_index), reduction=reduction,
                              label_smoothing=float(label_smoothing))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``."""
    _check_reduction("nll_loss", reduction)
    _check_class_inputs("nll_loss", input, target, weight, ignore_index)
    return NLLLoss.apply(input, target, weight=None if weight is None else weight.data,
                         ignore_index=int(ignore_index), reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error; ``input`` and ``target`` must have the same shape."""
    _check_reduction("mse_loss", reduction)
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"mse_loss: input and target must be Tensors, got "
                        f"{type(input).__name__} and {type(target).__name__}")
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} "
                         "differ; they must be equal (broadcasting a target is almost always a "
                         "bug, e.g. (N, 1) vs (N,))")
    if input.dtype.kind != "f" or target.dtype.kind != "f":
        raise TypeError(f"mse_loss: input and target must be floating point, got "
                        f"{input.dtype} and {target.dtype}")
    if input.dtype != target.dtype:
        raise TypeError(f"mse_loss: input dtype {input.dtype} and target dtype {target.dtype} "
                        "differ; cast one with .to(dtype)")
    return MSELoss.apply(input, target, reduction=reduction)
