"""2-D convolution: im2col + one GEMM per group, and a direct-loop reference.

Notation (NCHW, weight OIHW, as PyTorch)::

    N batch, C input channels, H x W input size, OC output channels, G groups
    KH x KW kernel size, SH, SW stride, PH, PW padding, DH, DW dilation
    OH x OW output size:  OH = (H + 2PH - DH(KH-1) - 1)//SH + 1   (OW likewise)
    L = OH*OW output pixels per image, K = (C/G)*KH*KW weights per output channel

Forward: ``col = im2col(x)`` is (C*KH*KW, N*L) (layout contract: minitorch/cpu/im2col.py), so
for each group g, ``y_g = W_g (OC/G, K) @ col_g (K, N*L)``: the whole batch in one GEMM. The
(OC, N, L) result is transposed to (N, OC, OH, OW) in the same pass that adds the bias.

Backward, with gy reshaped to gmat (OC, N*L):
    gW_g = gmat_g @ col_g.T            (the col matrix saved by the forward)
    gx   = col2im(W_g.T @ gmat_g)      (the adjoint of im2col sums overlapping windows)
    gb   = gy summed over N, OH, OW
each computed only when that input needs it (a network's first layer never needs gx).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..cpu import HAVE_NUMBA
from ..cpu.im2col import col2im_numba, col2im_xp, im2col_numba, im2col_xp
from ..cuda import ops as cuda_ops
from ..tensor import Tensor


# --------------------------------------------------------------------------- geometry helpers
def pair(value, name: str, op: str) -> tuple[int, int]:
    """An int or a pair of ints -> (h, w); anything else is a clear error."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value), int(value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        return int(value[0]), int(value[1])
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


def out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """PyTorch's floor rule: (size + 2*pad - dilation*(kernel-1) - 1)//stride + 1."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> col (C*KH*KW, N*OH*OW). NumPy: numba kernel; else the xp path
    (the place where device kernels plug in, following the same layout contract)."""
    if HAVE_NUMBA and isinstance(x, np.ndarray):
        return im2col_numba(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if get_array_module(x) is not np:  # CuPy: the CUDA kernel, same layout
        return cuda_ops.im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return im2col_xp(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def col2im(col, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """col (C*KH*KW, N*OH*OW) -> x (N, C, H, W), summing overlapping windows."""
    if HAVE_NUMBA and isinstance(col, np.ndarray):
        return col2im_numba(col, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if get_array_module(col) is not np:  # CuPy: the CUDA gather kernel (deterministic)
        return cuda_ops.col2im(col, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return col2im_xp(col, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def _check_conv_args(op, x, weight, bias, stride, padding, dilation, groups):
    """Validate shapes/dtypes; return (geometry tuple, unbatched flag)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                         f"got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (OC, C/groups, KH, KW), got shape "
                         f"{weight.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype {x.dtype} and {name} dtype {t.dtype} must be "
                            "the same; cast one with .to(dtype)")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    C, H, W = x.shape[-3:]
    OC, Cg, KH, KW = weight.shape
    if min(OC, Cg, KH, KW) < 1:
        raise ValueError(f"{op}: weight {weight.shape} has a zero-size dimension; out/in "
                         "channels and kernel sizes must be >= 1")
    if C % groups or OC % groups:
        raise ValueError(f"{op}: in_channels ({C}) and out_channels ({OC}) must both be "
                         f"divisible by groups ({groups})")
    if Cg != C // groups:
        raise ValueError(f"{op}: weight {weight.shape} expects {Cg} channels per group, but the "
                         f"input {x.shape} has {C} channels / groups {groups} = {C // groups}")
    if bias is not None and bias.shape != (OC,):
        raise ValueError(f"{op}: bias must have shape ({OC},) for weight {weight.shape}, "
                         f"got {bias.shape}")
    SH, SW = pair(stride, "stride", op)
    DH, DW = pair(dilation, "dilation", op)
    if min(SH, SW, DH, DW) < 1:
        raise ValueError(f"{op}: stride {stride!r} and dilation {dilation!r} must be >= 1")
    EKH, EKW = DH * (KH - 1) + 1, DW * (KW - 1) + 1  # dilated ("effective") kernel size
    if padding == "valid":
        PH = PW = 0
        OH, OW = out_size(H, KH, SH, 0, DH), out_size(W, KW, SW, 0, DW)
        padded = (H, W)
    elif padding == "same":
        if (SH, SW) != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride!r}")
        PH, PW = (EKH - 1) // 2, (EKW - 1) // 2  # any odd extra goes bottom/right (PyTorch)
        OH, OW = H, W
        padded = (H + EKH - 1, W + EKW - 1)
    else:
        PH, PW = pair(padding, "padding", op) if not isinstance(padding, str) else (-1, -1)
        if min(PH, PW) < 0:
            raise ValueError(f"{op}: padding must be 'valid', 'same' or ints >= 0, "
                             f"got {padding!r}")
        OH, OW = out_size(H, KH, SH, PH, DH), out_size(W, KW, SW, PW, DW)
        padded = (H + 2 * PH, W + 2 * PW)
    if EKH > padded[0] or EKW > padded[1]:
        raise ValueError(f"{op}: kernel size {(KH, KW)} (with dilation {(DH, DW)}: "
                         f"{(EKH, EKW)}) can't be greater than the padded input size {padded} "
                         f"(input {x.shape}, padding {padding!r})")
    return (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW), x.ndim == 3


# --------------------------------------------------------------------------- im2col + GEMM
class Conv2d(Function):
    """y = conv(x, weight) + bias with im2col and one GEMM per group (see the module doc)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups, unbatched=False):
        xp = get_array_module(x)
        if unbatched:
            x = x[None]
        if xp is not np:  # CuPy: implicit-GEMM kernels, no col matrix in memory
            return _forward_cuda(ctx, x, weight, bias, geom, groups, unbatched)
        N, C = x.shape[:2]
        OC = weight.shape[0]
        G, OH, OW = groups, geom[8], geom[9]
        col = im2col(x, *geom)                             # (C*KH*KW, N*L)
        K = col.shape[0] // G
        if G == 1:
            out = weight.reshape(OC, K) @ col              # (OC, N*L): one GEMM
        else:
            out = xp.matmul(weight.reshape(G, OC // G, K), col.reshape(G, K, -1))
        out = out.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)
        y = xp.empty((N, OC, OH, OW), dtype=x.dtype)
        if bias is None:
            y[...] = out
        else:  # the NCHW transpose and the bias add in one pass
            xp.add(out, bias.reshape(1, OC, 1, 1), out=y)
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(col if need_w else None, weight if need_x else None)
        ctx.x_shape, ctx.geom, ctx.groups, ctx.unbatched = x.shape, geom, groups, unbatched
        return y[0] if unbatched else y

    @staticmethod
    def backward(ctx, gy):
        if getattr(ctx, "on_cuda", False):
            return _backward_cuda(ctx, gy)
        xp = get_array_module(gy)
        col, weight = ctx.saved
        geom, G, x_shape = ctx.geom, ctx.groups, ctx.x_shape
        if ctx.unbatched:
            gy = gy[None]
        N, OC = gy.shape[:2]
        # (N, OC, OH, OW) -> (OC, N*L): the GEMM operand layout (a transposing copy).
        L = gy.shape[2] * gy.shape[3]  # explicit: -1 can't be inferred when N == 0
        gmat = xp.ascontiguousarray(gy.reshape(N, OC, L).transpose(1, 0, 2)).reshape(OC, N * L)
        gx = gw = gb = None
        if ctx.needs_input_grad[1]:
            K = col.shape[0] // G
            if G == 1:
                gw = gmat @ col.T
            else:
                gw = xp.matmul(gmat.reshape(G, OC // G, -1), col.reshape(G, K, -1).transpose(0, 2, 1))
            gw = gw.reshape(OC, K // (geom[0] * geom[1]), geom[0], geom[1])
        if ctx.needs_input_grad[0]:
            K = weight[0].size
            if G == 1:
                gcol = weight.reshape(OC, K).T @ gmat
            else:
                gcol = xp.matmul(weight.reshape(G, OC // G, K).transpose(0, 2, 1),
                                 gmat.reshape(G, OC // G, -1))
            gx = col2im(gcol.reshape(G * K, -1), x_shape, *geom)
            if ctx.unbatched:
                gx = gx[0]
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            gb = gmat.sum(axis=1)
        return (gx, gw) if len(ctx.needs_input_grad) == 2 else (gx, gw, gb)


def _forward_cuda(ctx, x, weight, bias, geom, groups, unbatched):
    """Conv2d.forward on the GPU: the implicit-GEMM kernel (minitorch/cuda/ops.py) gathers
    each col tile from x as the GEMM needs it, so the col matrix never exists; the backward
    then needs x (for gW), not col."""
    y = cuda_ops.conv2d_forward(x, weight, bias, geom, groups)
    need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    ctx.save_for_backward(x if need_w else None, weight if need_x else None)
    ctx.x_shape, ctx.w_shape, ctx.geom, ctx.groups = x.shape, weight.shape, geom, groups
    ctx.unbatched, ctx.on_cuda = unbatched, True
    return y[0] if unbatched else y


def _backward_cuda(ctx, gy):
    """gW by the implicit-GEMM weight-gradient kernel (deterministic split sums), gx by
    cuBLAS + the gather-form col2im kernel, gb by a sum."""
    x, weight = ctx.saved
    if ctx.unbatched:
        gy = gy[None]
    need = ctx.needs_input_grad
    gx = gw = gb = None
    if need[1]:
        gw = cuda_ops.conv2d_weight_grad(x, gy, ctx.w_shape, ctx.geom, ctx.groups)
    if need[0]:
        gx = cuda_ops.conv2d_input_grad(gy, weight, ctx.x_shape, ctx.geom, ctx.groups)
        if ctx.unbatched:
            gx = gx[0]
    if len(need) > 2 and need[2]:
        gb = gy.sum(axis=(0, 2, 3))
    return (gx, gw) if len(need) == 2 else (gx, gw, gb)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of input (N, C, H, W) or (C, H, W)
    with weight (OC, C/groups, KH, KW) and optional bias (OC,).

    stride, padding, dilation: an int or an (h, w) pair; padding may also be "valid" (0) or
    "same" (output size = input size; stride 1 only). Output (N, OC, OH, OW) with
    OH = (H + 2PH - DH(KH-1) - 1)//SH + 1 (OW likewise).
    """
    geom, unbatched = _check_conv_args("conv2d", input, weight, bias, stride, padding,
                                       dilation, groups)
    args = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*args, geom=geom, groups=int(groups), unbatched=unbatched)


# --------------------------------------------------------------------------- the definition
class Conv2dReference(Function):
    """The definition, loop by loop, for teaching and for testing the fast path::

        y[n, o, oh, ow] = b[o] + sum over c in o's group, kh, kw of
                          w[o, c, kh, kw] * xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]

    One (N, C/G, KH, KW) patch per (group, oh, ow); no im2col, no col2im. Slow, obviously right.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups, unbatched=False):
        xp = get_array_module(x)
        if unbatched:
            x = x[None]
        KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
        N, C, H, W = x.shape
        OC, Cg = weight.shape[:2]
        OCg = OC // groups
        # Pad enough for every window (bottom/right may need more than PH for "same").
        PB = max(0, (OH - 1) * SH + DH * (KH - 1) + 1 - H - PH)
        PR = max(0, (OW - 1) * SW + DW * (KW - 1) + 1 - W - PW)
        xpad = xp.pad(x, ((0, 0), (0, 0), (PH, PB), (PW, PR)))
        y = xp.zeros((N, OC, OH, OW), dtype=x.dtype)
        for g in range(groups):
            cs, oc = slice(g * Cg, (g + 1) * Cg), slice(g * OCg, (g + 1) * OCg)
            for oh in range(OH):
                for ow in range(OW):
                    h0, w0 = oh * SH, ow * SW
                    patch = xpad[:, cs, h0:h0 + DH * (KH - 1) + 1:DH, w0:w0 + DW * (KW - 1) + 1:DW]
                    y[:, oc, oh, ow] = xp.tensordot(patch, weight[oc], axes=([1, 2, 3], [1, 2, 3]))
        if bias is not None:
            y += bias.reshape(1, OC, 1, 1)
        ctx.save_for_backward(xpad, weight)
        ctx.geom, ctx.groups, ctx.x_shape, ctx.unbatched = geom, groups, x.shape, unbatched
        return y[0] if unbatched else y

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        xpad, weight = ctx.saved
        KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = ctx.geom
        G, (N, C, H, W) = ctx.groups, ctx.x_shape
        if ctx.unbatched:
            gy = gy[None]
        OC, Cg = weight.shape[:2]
        OCg = OC // G
        gxpad, gw = xp.zeros_like(xpad), xp.zeros_like(weight)
        for g in range(G):
            cs, oc = slice(g * Cg, (g + 1) * Cg), slice(g * OCg, (g + 1) * OCg)
            for oh in range(OH):
                for ow in range(OW):
                    h0, w0 = oh * SH, ow * SW
                    hs = slice(h0, h0 + DH * (KH - 1) + 1, DH)
                    ws = slice(w0, w0 + DW * (KW - 1) + 1, DW)
                    g_o = gy[:, oc, oh, ow]                               # (N, OCg)
                    gxpad[:, cs, hs, ws] += xp.tensordot(g_o, weight[oc], axes=(1, 0))
                    gw[oc] += xp.tensordot(g_o, xpad[:, cs, hs, ws], axes=(0, 0))
        gx = gxpad[:, :, PH:PH + H, PW:PW + W]
        if ctx.unbatched:
            gx = gx[0]
        grads = [gx if ctx.needs_input_grad[0] else None,
                 gw if ctx.needs_input_grad[1] else None]
        if len(ctx.needs_input_grad) > 2:
            grads.append(gy.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None)
        return tuple(grads)


def conv2d_reference(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, dilation=1, groups: int = 1) -> Tensor:
    """conv2d by its definition (direct loops): same arguments, checks and result, much slower."""
    geom, unbatched = _check_conv_args("conv2d_reference", input, weight, bias, stride, padding,
                                       dilation, groups)
    args = (input, weight) if bias is None else (input, weight, bias)
    return Conv2dReference.apply(*args, geom=geom, groups=int(groups), unbatched=unbatched)
