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
from .conv import pair


def _bounds(o: int, out: int, size: int) -> tuple[int, int]:
    return (o * size) // out, -((-(o + 1) * size) // out)


class AdaptiveMaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, output_size, indices_out: list):
        xp = get_array_module(x)
        OH, OW = output_size
        H, W = x.shape[-2:]
        lead = x.shape[:-2]
        y = xp.empty(lead + (OH, OW), dtype=x.dtype)
        idx = xp.empty(lead + (OH, OW), dtype=xp.int64)
        for oh in range(OH):
            h0, h1 = _bounds(oh, OH, H)
            for ow in range(OW):
                w0, w1 = _bounds(ow, OW, W)
                window = x[..., h0:h1, w0:w1].reshape(lead + (-1,))
                k = window.argmax(axis=-1)                      # first max in row-major order
                y[..., oh, ow] = xp.take_along_axis(window, k[..., None], axis=-1)[..., 0]
                idx[..., oh, ow] = (h0 + k // (w1 - w0)) * W + (w0 + k % (w1 - w0))
        ctx.idx, ctx.x_shape = idx, x.shape
        indices_out.append(idx)  # the indices are no part of the graph: handed out on the side
        return y

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
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) "
                         f"input, got shape {input.shape}")
    H, W = input.shape[-2:]
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = (H if output_size[0] is None else output_size[0],
                       W if output_size[1] is None else output_size[1])
    OH, OW = pair(output_size, "output_size", "adaptive_max_pool2d")
    if min(OH, OW) < 1 or min(H, W) < 1:
        raise ValueError(f"adaptive_max_pool2d: output_size {(OH, OW)} and input size {(H, W)} "
                         f"(input {input.shape}) must be >= 1")
    indices: list = []
    out = AdaptiveMaxPool2d.apply(input, output_size=(OH, OW), indices_out=indices)
    if not return_indices:
        return out
    return out, Tensor._make(indices[0], requires_grad=False, grad_fn=None)
