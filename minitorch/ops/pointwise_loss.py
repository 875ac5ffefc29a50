"""Losses computed element by element, then reduced: L1, smooth L1, Huber, binary
cross-entropy (on probabilities and on logits) and KL divergence.

Each is one op whose backward is written out (d = input - target, p = sigmoid(x)):

    l1          |d|                                   d/dinput = sign(d)
    smooth_l1   0.5 d^2 / beta  if |d| < beta         d / beta
                |d| - 0.5 beta  otherwise             sign(d)
    huber       0.5 d^2         if |d| <= delta       d
                delta (|d| - 0.5 delta) otherwise     delta sign(d)
    bce         -w (y log x + (1 - y) log(1 - x))     w (x - y) / max(x (1 - x), 1e-12)
                (each log clamped at -100, as PyTorch, so x = 0 or 1 gives a finite loss)
    bce_logits  w ((1 - y) x + (1 + (pw - 1) y) softplus(-x))
                                                      w ((1 + (pw - 1) y) p - pw y)
                softplus(-x) = log(1 + exp(-|x|)) + max(-x, 0): no exp overflow for any x
    kl_div      y (log y - x)   (x: log-probabilities; 0 where y = 0)    -y
                (the target's gradient log y + 1 - x is NaN at y = 0, as PyTorch's)
                exp(y) (y - x)  with log_target=True                     -exp(y)

and the target's gradient beside it. Reductions: 'mean' (over all elements), 'sum', 'none';
kl_div also 'batchmean' (sum / batch size, the true KL divergence per sample).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor

_BCE_EPS = 1e-12   # PyTorch's floor for x (1 - x) in the BCE gradient
_LOG_FLOOR = -100.0


# --------------------------------------------------------------------------- shared plumbing
def _check_pair(op: str, input, target, reductions=("mean", "sum", "none"), reduction="mean"):
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(input).__name__} "
                        f"and {type(target).__name__}")
    if reduction not in reductions:
        raise ValueError(f"{op}: reduction must be one of {', '.join(map(repr, reductions))}, "
                         f"got {reduction!r}")
    if input.shape != target.shape:
        raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} "
                         "differ; they must be equal (a broadcast target, e.g. (N, 1) vs (N,), "
                         "is almost always a bug)")
    if input.dtype.kind != "f" or target.dtype.kind != "f":
        raise TypeError(f"{op}: input and target must be floating point, got {input.dtype} and "
                        f"{target.dtype}")
    if input.dtype != target.dtype:
        raise TypeError(f"{op}: input dtype {input.dtype} and target dtype {target.dtype} "
                        "differ; cast one with .to(dtype)")
    if input.device != target.device:
        raise RuntimeError(f"{op}: input is on {input.device} but target is on {target.device}")


def _check_weight(op: str, name: str, weight, input: Tensor):
    """An optional weight that broadcasts to the input (PyTorch's rule for BCE)."""
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(weight).__name__}")
    try:
        if np.broadcast_shapes(weight.shape, input.shape) != input.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {weight.shape} must broadcast to the input "
                         f"shape {input.shape}") from None
    if weight.device != input.device:
        raise RuntimeError(f"{op}: input is on {input.device} but {name} is on {weight.device}")
    return weight.data.astype(input.dtype, copy=False)


def _reduce(loss, reduction: str, batch: int):
    xp = get_array_module(loss)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=loss.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # mean of nothing is NaN, quietly
        if reduction == "batchmean":
            return xp.asarray(loss.sum() / batch, dtype=loss.dtype)
        return xp.asarray(loss.mean() if loss.size else np.nan, dtype=loss.dtype)


def _upstream(g, reduction: str, size: int, batch: int):
    """The gradient each element's loss receives from the reduced output."""
    if reduction == "none":
        return g
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "mean":
            return g / size if size else g
        if reduction == "batchmean":
            return g / batch
    return g


class _PointwiseLoss(Function):
    """forward computes (loss, d loss/d input, d loss/d target) elementwise via ``_terms``;
    backward scales the saved derivatives by the upstream gradient."""

    @staticmethod
    def _terms(x, y, **params):
        raise TypeError("_PointwiseLoss subclasses define _terms")

    @classmethod
    def forward(cls, ctx, x, y, reduction, **params):
        loss, dx, dy = cls._terms(x, y, **params)
        ctx.save_for_backward(dx, dy)
        ctx.reduction, ctx.size, ctx.batch = reduction, x.size, (x.shape[0] if x.ndim else 1)
        return _reduce(loss, reduction, ctx.batch)

    @staticmethod
    def backward(ctx, g):
        dx, dy = ctx.saved
        up = _upstream(g, ctx.reduction, ctx.size, ctx.batch)
        return (up * dx if ctx.needs_input_grad[0] else None,
                up * dy if ctx.needs_input_grad[1] else None)


# --------------------------------------------------------------------------- the losses
class L1Loss(_PointwiseLoss):
    @staticmethod
    def _terms(x, y):
        xp = get_array_module(x)
        d = x - y
        s = xp.sign(d)
        return xp.abs(d), s, -s


class SmoothL1Loss(_PointwiseLoss):
    @staticmethod
    def _terms(x, y, beta):
        xp = get_array_module(x)
        d = x - y
        a = xp.abs(d)
        if beta == 0:  # the limit is plain L1 (PyTorch's special case: no division by zero)
            s = xp.sign(d)
            return a, s, -s
        small = a < beta
        loss = xp.where(small, 0.5 * d * d / beta, a - 0.5 * beta)
        dx = xp.where(small, d / beta, xp.sign(d))
        return loss, dx, -dx


class HuberLoss(_PointwiseLoss):
    @staticmethod
    def _terms(x, y, delta):
        xp = get_array_module(x)
        d = x - y
        a = xp.abs(d)
        small = a <= delta
        loss = xp.where(small, 0.5 * d * d, delta * (a - 0.5 * delta))
        dx = xp.where(small, d, delta * xp.sign(d))
        return loss, dx, -dx


class BinaryCrossEntropy(_PointwiseLoss):
    @staticmethod
    def _terms(x, y, weight):
        xp = get_array_module(x)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), _LOG_FLOOR)
            log_1mx = xp.maximum(xp.log1p(-x), _LOG_FLOOR)
        w = 1 if weight is None else weight
        loss = -w * (y * log_x + (1 - y) * log_1mx)
        dx = w * (x - y) / xp.maximum(x * (1 - x), _BCE_EPS)
        dy = w * (log_1mx - log_x)
        return loss, dx, dy


class BinaryCrossEntropyWithLogits(_PointwiseLoss):
    @staticmethod
    def _terms(x, y, weight, pos_weight):
        xp = get_array_module(x)
        softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)   # log(1 + e^-x)
        w = 1 if weight is None else weight
        if pos_weight is None:
            loss = w * ((1 - y) * x + softplus_neg)
            p = 1 / (1 + xp.exp(-x))
            dx = w * (p - y)
            dy = -w * x
        else:
            coef = 1 + (pos_weight - 1) * y
            loss = w * ((1 - y) * x + coef * softplus_neg)
            p = 1 / (1 + xp.exp(-x))
            dx = w * (coef * p - pos_weight * y)
            dy = w * ((pos_weight - 1) * softplus_neg - x)
        return loss, dx, dy


class KLDiv(_PointwiseLoss):
    @staticmethod
    def _terms(x, y, log_target):
        xp = get_array_module(x)
        if log_target:
            p = xp.exp(y)
            return p * (y - x), -p, p * (y - x) + p
        with np.errstate(divide="ignore", invalid="ignore"):
            log_y = xp.log(y)                      # -inf at 0, NaN below 0 (as xlogy)
            zero = y == 0
            loss = xp.where(zero, 0 * x, y * (log_y - x))   # 0 log 0 = 0; 0 * x keeps NaN
            # d(y log y)/dy is unbounded at y = 0: NaN there, as PyTorch.
            dy = xp.where(zero, np.nan, log_y + 1 - x)
        return loss, -y, dy


# --------------------------------------------------------------------------- public API
def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error |input - target|."""
    _check_pair("l1_loss", input, target, reduction=reduction)
    return L1Loss.apply(input, target, reduction=reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Quadratic below ``beta``, L1 above (Fast R-CNN's box loss)."""
    _check_pair("smooth_l1_loss", input, target, reduction=reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return SmoothL1Loss.apply(input, target, reduction=reduction, beta=float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """Quadratic below ``delta``, linear with slope ``delta`` above."""
    _check_pair("huber_loss", input, target, reduction=reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return HuberLoss.apply(input, target, reduction=reduction, delta=float(delta))


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """BCE of probabilities ``input`` in [0, 1] against targets in [0, 1]."""
    _check_pair("binary_cross_entropy", input, target, reduction=reduction)
    x = input.data
    if x.size and bool(((x < 0) | (x > 1)).any()):  # PyTorch raises too: log of a negative
        raise ValueError("binary_cross_entropy: all elements of input must be between 0 and 1 "
                         f"(got min {float(x.min())}, max {float(x.max())}); for logits use "
                         "binary_cross_entropy_with_logits")
    w = _check_weight("binary_cross_entropy", "weight", weight, input)
    return BinaryCrossEntropy.apply(input, target, reduction=reduction, weight=w)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input) fused with the sigmoid: stable for any logit."""
    op = "binary_cross_entropy_with_logits"
    _check_pair(op, input, target, reduction=reduction)
    w = _check_weight(op, "weight", weight, input)
    pw = _check_weight(op, "pos_weight", pos_weight, input)
    return BinaryCrossEntropyWithLogits.apply(input, target, reduction=reduction, weight=w,
                                              pos_weight=pw)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) with ``input`` log-probabilities; use reduction='batchmean'
    for the per-sample divergence ('mean' averages over every element, as PyTorch)."""
    if size_average is not None or reduce is not None:
        raise TypeError("kl_div: size_average and reduce are deprecated in PyTorch and not "
                        "supported; use reduction=")
    _check_pair("kl_div", input, target, ("mean", "sum", "none", "batchmean"), reduction)
    return KLDiv.apply(input, target, reduction=reduction, log_target=bool(log_target))
