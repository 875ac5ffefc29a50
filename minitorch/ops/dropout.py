"""Dropout, inverted: in training each element (dropout) or each whole channel (dropout2d) is
zeroed with probability p and the survivors are scaled by 1/(1-p), so E[y] = x and evaluation
is the identity (no rescaling at test time).

Masks come from the kernel table's ``dropout_mask``, seeded by minitorch's global generator
(minitorch/random.py): after ``mt.manual_seed(s)`` the same masks are drawn again. The CPU
draws them with NumPy; the GPU draws them on the device (kernels/dropout.cu) from one seed
of that generator, so no mask is copied from the host each forward (a GPU's masks are not the
CPU's for the same seed, but are reproducible the same way).
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..kernel_table import kernels_for
from ..tensor import Tensor


class Dropout(Function):
    """y = x * mask, where mask holds 0 or 1/(1-p) (broadcast over H, W for dropout2d)."""

    @staticmethod
    def forward(ctx, x, *, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask


def _check_p(op: str, p) -> float:
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def _mask(x: Tensor, p: float, shape: tuple):
    """Keep-mask of ``shape`` scaled by 1/(1-p), on x's device, of x's dtype."""
    return kernels_for(x.data).dropout_mask(shape, p, x.dtype, x.data)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    p = _check_p("dropout", p)
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, mask=_mask(input, p, input.shape))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels of input (N, C, H, W) or (C, H, W) with probability p, scaling the
    kept channels by 1/(1-p) (training only)."""
    p = _check_p("dropout2d", p)
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                         f"got shape {input.shape}")
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, mask=_mask(input, p, input.shape[:-2] + (1, 1)))
