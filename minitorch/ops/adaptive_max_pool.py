"""Adaptive max pooling: a fixed output size (OH, OW) whatever the input's (H, W).

Output cell (oh, ow) takes the max over input rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and
columns [floor(ow*W/OW), ceil((ow+1)*W/OW)), as PyTorch (and as adaptive_avg_pool2d in
ops/pool.py). The windows may overlap when H is not a multiple of OH, so the backward adds
(``add.at``) each output gradient into the input position that won its window. Ties go to
the first max in row-major window order; ``return_indices`` gives flat ``h*W + w`` positions
inside each (n, c) plane, the format MaxUnpool2d reads.
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .geometry import adaptive_output_size


def _bounds(o: int, out: int, size: int) -> tuple[int, int]:
    return (o * size) // out, -((-(o + 1) * size) // out)


def _argmax_positions(x, OH: int, OW: int):
    """int64 (..., OH, OW): the flat ``h*W + w`` position of each window's first max."""
    xp = get_array_module(x)
    H, W = x.shape[-2:]
    lead = x.shape[:-2]
    idx = xp.empty(lead + (OH, OW), dtype=xp.int64)
    for oh in range(OH):
        h0, h1 = _bounds(oh, OH, H)
        for ow in range(OW):
            w0, w1 = _bounds(ow, OW, W)
            k = x[..., h0:h1, w0:w1].reshape(lead + (-1,)).argmax(axis=-1)  # row-major order
            idx[..., oh, ow] = (h0 + k // (w1 - w0)) * W + (w0 + k % (w1 - w0))
    return idx


class AdaptiveMaxPool2d(Function):
    """Each output is the input at its window's argmax. The wrapper finds those positions (the
    indices ``return_indices`` hands out), so the forward is a gather by them and the graph
    needs no side channel for the indices."""

    @staticmethod
    def forward(ctx, x, *, idx):
        xp = get_array_module(x)
        H, W = x.shape[-2:]
        lead = x.shape[:-2]
        ctx.idx, ctx.x_shape = idx, x.shape
        flat = idx.reshape(lead + (idx.shape[-2] * idx.shape[-1],))
        return xp.take_along_axis(x.reshape(lead + (H * W,)), flat, axis=-1).reshape(idx.shape)

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        H, W = ctx.x_shape[-2:]
        planes = int(gy.size // (gy.shape[-1] * gy.shape[-2]))
        gx = xp.zeros((planes, H * W), dtype=gy.dtype)
        rows = xp.arange(planes)[:, None]
        xp.add.at(gx, (rows, ctx.idx.reshape(planes, -1)), gy.reshape(planes, -1))
        return gx.reshape(ctx.x_shape)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Max-pool input (N, C, H, W) or (C, H, W) to output_size (int or pair; None keeps that
    input size). With ``return_indices`` also the int64 argmax positions (see above)."""
    OH, OW = adaptive_output_size("adaptive_max_pool2d", input, output_size)
    idx = _argmax_positions(input.data, OH, OW)
    out = AdaptiveMaxPool2d.apply(input, idx=idx)
    if not return_indices:
        return out
    return out, Tensor._make(idx, requires_grad=False, grad_fn=None)
