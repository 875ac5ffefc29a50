"""Transposed convolution (``conv_transpose2d``, "deconvolution") and the 1-D convolutions.

A transposed convolution is the adjoint of a convolution: the map conv2d's backward applies
to get the input gradient. So it is built from the same two kernels, the other way round:

    forward    col = W_g^T @ x_g            x (Cin, N*H*W) per group -> (Cout*KH*KW, N*H*W)
               y   = col2im(col)            sum overlapping windows into (N, Cout, OH, OW)
    backward   gcol = im2col(gy)            the windows of the output gradient
               gx_g = W_g @ gcol_g          (what conv2d's forward computes on gy)
               gW_g = x_g @ gcol_g^T

with weight (Cin, Cout/G, KH, KW) and OH = (H-1)SH - 2PH + DH(KH-1) + output_padding + 1. The
geometry is that of the convolution from y back to x (window KH x KW, stride S, padding P,
dilation D, output H x W), so ``kernels_for(x).im2col/col2im`` take it unchanged.

conv1d / conv_transpose1d are the 2-D ops on (N, C, 1, L) inputs with a 1 x K kernel.
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import get_array_module
from ..kernel_table import kernels_for
from ..tensor import Tensor
from .conv import apply_batched, conv2d
from .geometry import Geometry2d, pair
from .shape import squeeze, unsqueeze


class ConvTranspose2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups, out_hw, kernels):
        xp = get_array_module(x)
        N, Cin, H, W = x.shape
        G = groups
        Cout = weight.shape[1] * G
        kk = geom.KH * geom.KW
        xm = xp.ascontiguousarray(x.reshape(N, Cin, H * W).transpose(1, 0, 2))  # (Cin, N*H*W)
        xm = xm.reshape(G, Cin // G, N * H * W)
        wm = weight.reshape(G, Cin // G, (Cout // G) * kk)
        col = xp.matmul(wm.transpose(0, 2, 1), xm).reshape(Cout * kk, N * H * W)
        y = kernels.col2im(col, (N, Cout) + out_hw, geom)
        if bias is not None:
            y = y + bias.reshape(1, Cout, 1, 1)
        ctx.save_for_backward(xm if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        ctx.x_shape, ctx.geom, ctx.groups, ctx.kernels = x.shape, geom, G, kernels
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        xm, weight = ctx.saved
        N, Cin, H, W = ctx.x_shape
        G, Cout = ctx.groups, gy.shape[1]
        kk = ctx.geom.KH * ctx.geom.KW
        gcol = ctx.kernels.im2col(gy, ctx.geom).reshape(G, (Cout // G) * kk, N * H * W)
        gx = gw = None
        if ctx.needs_input_grad[0]:
            wm = weight.reshape(G, Cin // G, (Cout // G) * kk)
            gxm = xp.matmul(wm, gcol).reshape(Cin, N, H, W)
            gx = xp.ascontiguousarray(gxm.transpose(1, 0, 2, 3))
        if ctx.needs_input_grad[1]:
            gw = xp.matmul(xm, gcol.transpose(0, 2, 1)).reshape(
                Cin, Cout // G, ctx.geom.KH, ctx.geom.KW)
        if len(ctx.needs_input_grad) == 2:
            return gx, gw
        return gx, gw, (gy.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None)


def _check_transpose_args(op, x, weight, bias, stride, padding, output_padding, groups,
                          dilation):
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                         f"shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (Cin, Cout/groups, KH, KW), got "
                         f"{weight.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype {x.dtype} and {name} dtype {t.dtype} must be "
                            "the same; cast one with .to(dtype)")
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    Cin, H, W = x.shape[-3:]
    wCin, Coutg, KH, KW = weight.shape
    if wCin != Cin or Cin % groups:
        raise ValueError(f"{op}: weight {weight.shape} expects {wCin} input channels (and "
                         f"groups {groups} must divide them), the input {x.shape} has {Cin}")
    if min(Coutg, KH, KW) < 1:
        raise ValueError(f"{op}: weight {weight.shape} has a zero-size dimension")
    if bias is not None and bias.shape != (Coutg * groups,):
        raise ValueError(f"{op}: bias must have shape ({Coutg * groups},), got {bias.shape}")
    SH, SW = pair(stride, "stride", op)
    PH, PW = pair(padding, "padding", op)
    OPH, OPW = pair(output_padding, "output_padding", op)
    DH, DW = pair(dilation, "dilation", op)
    if min(SH, SW, DH, DW) < 1 or min(PH, PW, OPH, OPW) < 0:
        raise ValueError(f"{op}: stride and dilation must be >= 1, padding and output_padding "
                         f">= 0; got {stride!r}, {dilation!r}, {padding!r}, {output_padding!r}")
    if OPH >= max(SH, DH) or OPW >= max(SW, DW):
        raise ValueError(f"{op}: output_padding {(OPH, OPW)} must be smaller than stride "
                         f"{(SH, SW)} or dilation {(DH, DW)}")
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: the output would be {OH} x {OW} (input {x.shape}, weight "
                         f"{weight.shape}, padding {padding!r}); it must be at least 1 x 1")
    return Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, H, W), (OH, OW)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 2-D convolution of (N, Cin, H, W) or (Cin, H, W) with weight
    (Cin, Cout/groups, KH, KW) -> (N, Cout, OH, OW); PyTorch's argument order."""
    geom, out_hw = _check_transpose_args("conv_transpose2d", input, weight, bias, stride,
                                         padding, output_padding, groups, dilation)
    rest = (weight,) if bias is None else (weight, bias)
    return apply_batched(ConvTranspose2d, input, *rest, geom=geom, groups=int(groups),
                         out_hw=out_hw, kernels=kernels_for(input.data))


# --------------------------------------------------------------------------- 1-D forms
def _as_2d(op, input: Tensor, weight: Tensor):
    if input.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{input.shape}")
    if weight.ndim != 3:
        raise ValueError(f"{op}: weight must be 3-D, got shape {weight.shape}")
    return unsqueeze(input, -2), unsqueeze(weight, -2)


def _one(value, name: str, op: str) -> int:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")
    return int(value)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) or (C, L) with weight (OC, C/groups, K)."""
    x, w = _as_2d("conv1d", input, weight)
    pad = padding if isinstance(padding, str) else (0, _one(padding, "padding", "conv1d"))
    y = conv2d(x, w, bias, (1, _one(stride, "stride", "conv1d")), pad,
               (1, _one(dilation, "dilation", "conv1d")), groups)
    return squeeze(y, -2)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 1-D convolution of (N, Cin, L) or (Cin, L) with weight (Cin, Cout/groups, K)."""
    op = "conv_transpose1d"
    x, w = _as_2d(op, input, weight)
    y = conv_transpose2d(x, w, bias, (1, _one(stride, "stride", op)),
                         (0, _one(padding, "padding", op)),
                         (0, _one(output_padding, "output_padding", op)), groups,
                         (1, _one(dilation, "dilation", op)))
    return squeeze(y, -2)
