"""max_unpool2d: the partial inverse of max_pool2d. Each pooled value goes back to the position
its max came from (``indices``: flat ``ih*W + iw`` offsets in each (n, c) plane, as
``max_pool2d(..., return_indices=True)`` gives them); every other position is 0.

Forward is a scatter into zeros, backward the matching gather of the output gradient.
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .geometry import pair


class MaxUnpool2d(Function):
    @staticmethod
    def forward(ctx, x, indices, out_hw):
        xp = get_array_module(x)
        N, C = x.shape[:2]
        flat_idx = indices.reshape(N, C, -1)
        ctx.save_for_backward(flat_idx)
        out = xp.zeros((N, C, out_hw[0] * out_hw[1]), dtype=x.dtype)
        xp.put_along_axis(out, flat_idx, x.reshape(N, C, -1), axis=2)
        ctx.x_shape = x.shape
        return out.reshape((N, C) + tuple(out_hw))

    @staticmethod
    def backward(ctx, g):
        (flat_idx,) = ctx.saved
        xp = get_array_module(g)
        N, C = g.shape[:2]
        gx = xp.take_along_axis(g.reshape(N, C, -1), flat_idx, axis=2)
        return gx.reshape(ctx.x_shape), None


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None) -> Tensor:
    op = "max_unpool2d"
    if not isinstance(input, Tensor) or not isinstance(indices, Tensor):
        raise TypeError(f"{op}: input and indices must be Tensors")
    if input.ndim not in (3, 4) or indices.shape != input.shape:
        raise ValueError(f"{op}: indices shape {indices.shape} must equal the input shape "
                         f"{input.shape} ((N, C, H, W) or (C, H, W))")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got {indices.dtype}")
    KH, KW = pair(kernel_size, "kernel_size", op)
    SH, SW = pair(stride if stride is not None else kernel_size, "stride", op)
    PH, PW = pair(padding, "padding", op)
    H, W = input.shape[-2:]
    default = ((H - 1) * SH - 2 * PH + KH, (W - 1) * SW - 2 * PW + KW)
    if output_size is None:
        out_hw = default
    else:
        out_hw = tuple(int(v) for v in tuple(output_size)[-2:])
        for got, d, s in zip(out_hw, default, (SH, SW)):
            if not d - s < got < d + s:
                raise ValueError(f"{op}: output_size {tuple(output_size)} must be within one "
                                 f"stride of the default {default}")
    idx = indices.data
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= out_hw[0] * out_hw[1]):
        raise IndexError(f"{op}: an index ({int(idx.max())} or {int(idx.min())}) lies outside "
                         f"the {out_hw[0]} x {out_hw[1]} output plane")
    if input.ndim == 3:
        out = MaxUnpool2d.apply(input.unsqueeze(0), Tensor._make(idx[None], False, None),
                                out_hw=out_hw)
        return out.squeeze(0)
    return MaxUnpool2d.apply(input, indices, out_hw=out_hw)
