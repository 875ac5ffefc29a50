"""Normalisation within each sample: layer norm, group norm, local response norm.

BatchNorm (ops/norm.py) normalises each channel over the *batch*; these normalise inside
one sample, so they behave the same in training and evaluation and for any batch size.

    layer_norm(x, normalized_shape)   over the last dims (e.g. every (C, H, W) of a sample)
    group_norm(x, G)                  channels split in G groups; each (sample, group) is
                                      normalised over its C/G channels and all pixels
                                      (G = 1: layer norm over (C, H, W); G = C: instance norm)
    local_response_norm(x, size)      AlexNet's LRN: each value divided by the energy of the
                                      ``size`` neighbouring channels at the same pixel

Layer and group norm share one primitive: standardise the rows of a (R, M) matrix, with the
closed-form backward of BatchNorm (the same algebra on rows instead of channels)::

    mu = mean(x), var = mean((x - mu)^2)   (biased, per row),   xhat = (x - mu) / sqrt(var + eps)
    gx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)

The affine part (``weight * xhat + bias``) is ordinary broadcasting ops, so its gradients come
from them. LRN is composed from differentiable ops (square, pad, sum of shifted slices, pow).
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import require_float
from .shape import pad


class StandardizeRows(Function):
    """(R, M) -> each row shifted to mean 0 and scaled to variance 1 (eps added)."""

    @staticmethod
    def forward(ctx, x, *, eps):
        xp = get_array_module(x)
        xc = x - x.mean(axis=1, keepdims=True)
        invstd = 1.0 / xp.sqrt((xc * xc).mean(axis=1, keepdims=True) + eps)
        xhat = xc * invstd
        ctx.save_for_backward(xhat, invstd)
        return xhat

    @staticmethod
    def backward(ctx, g):
        xhat, invstd = ctx.saved
        return (g - g.mean(axis=1, keepdims=True)
                - xhat * (g * xhat).mean(axis=1, keepdims=True)) * invstd


def _affine(op: str, y: Tensor, weight, bias, shape: tuple, view: tuple) -> Tensor:
    """y * weight + bias, each of ``shape`` (checked) viewed as ``view`` to broadcast."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"{op}: {name} must have shape {shape}, got {t.shape}")
        if t is not None and t.dtype != y.dtype:
            raise TypeError(f"{op}: input dtype {y.dtype} and {name} dtype {t.dtype} must be "
                            "the same")
    if weight is not None:
        y = y * weight.reshape(*view)
    if bias is not None:
        y = y + bias.reshape(*view)
    return y


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims, which must equal
    ``normalized_shape``; weight and bias (elementwise affine) have that shape."""
    require_float("layer_norm", input, complex_ok=False)
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(n) for n in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end with "
                         f"normalized_shape {normalized_shape} (expected input of shape "
                         f"[*, {', '.join(map(str, normalized_shape))}])")
    M = 1
    for n in normalized_shape:
        M *= n
    y = StandardizeRows.apply(input.reshape(-1, M), eps=float(eps)).reshape(*input.shape)
    return _affine("layer_norm", y, weight, bias, normalized_shape, normalized_shape)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Input (N, C, *): each sample's C channels in ``num_groups`` groups of C/G, each group
    normalised over its channels and spatial positions; weight and bias are per channel (C,)."""
    require_float("group_norm", input, complex_ok=False)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input (N, C, *) with at least 2 dims, got "
                         f"shape {input.shape}")
    N, C = input.shape[:2]
    if not isinstance(num_groups, numbers.Integral) or num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: the number of channels ({C}, input {input.shape}) must "
                         f"be divisible by num_groups ({num_groups!r})")
    rows = StandardizeRows.apply(input.reshape(N * int(num_groups), -1), eps=float(eps))
    y = rows.reshape(*input.shape)
    return _affine("group_norm", y, weight, bias, (C,), (C,) + (1,) * (input.ndim - 2))


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4,  # noqa: A002
                        beta: float = 0.75, k: float = 1.0) -> Tensor:
    """AlexNet's LRN over channels (PyTorch's formula, dim 1 of (N, C, *))::

        b[c] = a[c] / (k + alpha/size * sum_{c' = c - size//2}^{c + (size-1)//2} a[c']^2) ^ beta

    with zeros outside 0..C-1 (the sum is always divided by ``size``)."""
    require_float("local_response_norm", input, complex_ok=False)
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected a 3-D or higher input (N, C, *), got "
                         f"shape {input.shape}")
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"local_response_norm: size must be an integer >= 1, got {size!r}")
    C = input.shape[1]
    square = input * input
    # F.pad lists (before, after) from the last dim backwards: pad only dim 1 (channels).
    widths = (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2)
    padded = pad(square, widths)
    energy = padded[:, 0:C]
    for j in range(1, size):
        energy = energy + padded[:, j:j + C]
    div = (energy * (alpha / size) + k) ** beta
    return input / div
