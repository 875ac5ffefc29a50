"""2-D convolution: im2col + one GEMM per group, and a direct-loop reference.

Which algorithm runs is the backend's (``_conv_function``): the GPU's implicit GEMM
(Conv2dImplicitGemm); on the CPU, direct loops for few-channel layers (Conv2dDirect,
minitorch/cpu/direct_conv.py), Winograd F(2x2, 3x3) for 3x3 stride-1 layers with many
channels (Conv2dWinograd, minitorch/cpu/winograd.py), and else the im2col + GEMM below.

Notation (NCHW, weight OIHW, as PyTorch)::

    N batch, C input channels, H x W input size, OC output channels, G groups
    KH x KW kernel size, SH, SW stride, PH, PW padding, DH, DW dilation
    OH x OW output size:  OH = (H + 2PH - DH(KH-1) - 1)//SH + 1   (OW likewise)
    L = OH*OW output pixels per image, K = (C/G)*KH*KW weights per output channel

Forward: ``col = im2col(x)`` is (C*KH*KW, N*L) (layout contract: minitorch/cpu/im2col.py), so
for each group g, ``y_g = W_g (OC/G, K) @ col_g (K, N*L)``: a batch in one GEMM. The (OC, N, L)
result is transposed to (N, OC, OH, OW) in the same pass that adds the bias. On the CPU the
batch is cut into chunks of a few images (``batch_chunks``), each unfolded and multiplied on
its own, spread over minitorch's threads: the col matrix of a chunk is still in cache when its
GEMM reads it, and the whole col matrix (KH*KW times x) never exists.

Backward, per chunk, with gy reshaped to gmat (OC, nb*L):
    gW_g = gmat_g @ col_g.T            (col unfolded again from the saved x)
    gx   = col2im(W_g.T @ gmat_g)      (the adjoint of im2col sums overlapping windows)
    gb   = gy summed over N, OH, OW
and the chunks' gW and gb parts added in chunk order (so any thread count gives the same bits),
each computed only when that input needs it (a network's first layer never needs gx).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..kernel_table import kernels_for
from ..tensor import Tensor
from ..threads import parallel_for
from .geometry import Geometry2d, out_size, pair
from .shape import squeeze, unsqueeze

# pair, out_size: re-exported
__all__ = ["conv2d", "conv2d_reference", "Conv2d", "Conv2dDirect", "Conv2dImplicitGemm",
           "Conv2dReference", "Conv2dWinograd", "apply_batched", "check_conv_args", "out_size", "pair"]


def check_conv_args(op, x, weight, bias, stride, padding, dilation, groups) -> Geometry2d:
    """Validate shapes/dtypes of a (C, H, W) or (N, C, H, W) input; return the geometry."""
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
    return Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def apply_batched(op, input: Tensor, *rest, **params) -> Tensor:
    """``op.apply(input, *rest, **params)`` for an (N, C, H, W) input; a (C, H, W) one runs as
    a batch of one. Done here, in the public wrappers, so no forward or backward deals with
    unbatched inputs."""
    if input.ndim == 3:
        return squeeze(op.apply(unsqueeze(input, 0), *rest, **params), 0)
    return op.apply(input, *rest, **params)


# --------------------------------------------------------------------------- im2col + GEMM
_MIN_CHUNK_BYTES = 1 << 20   # a chunk's col matrix: about this size (half a core's L2)...
_MAX_CHUNKS = 64             # ...but at most this many chunks (each keeps a partial gW; 64,
                             # not 16: ResNet-18 b64 2 threads 1.89-2.10 -> 1.81-1.84 s/step,
                             # as two threads' chunks then fit the 16 MB L3 together)
_MIN_CHUNKS = 4              # ...and at least this many, batch allowing (work for 4 threads)


def batch_chunks(xp, N: int, col_bytes_per_image: int, weight_bytes: int) -> list:
    """The (n0, n1) image ranges that Conv2d works on, one im2col + GEMM each.

    Small enough that the chunk's col matrix is still in cache when its GEMM reads it (and the
    whole col matrix never exists: ResNet's at batch 256 would be gigabytes), large enough that
    the GEMM is efficient (at least the weight's size) and that the partial weight gradients
    (one per chunk, added in chunk order) stay few; and at least 4 chunks when the batch has
    4 images, so every thread has work. The ranges depend on the shapes only, never
    on the thread count, so results are the same for any number of threads. Off the CPU: one
    chunk (the GPU has its own parallelism)."""
    if xp is not np or N == 0:
        return [(0, N)]
    target = max(_MIN_CHUNK_BYTES, 4 * weight_bytes)
    per = max(-(-target // max(col_bytes_per_image, 1)), -(-N // _MAX_CHUNKS))
    per = min(per, -(-N // _MIN_CHUNKS))  # a big weight must not leave one chunk for 2 threads
    return [(n0, min(N, n0 + per)) for n0 in range(0, N, per)]


class Conv2d(Function):
    """y = conv(x, weight) + bias with im2col and one GEMM per group (see the module doc),
    in chunks of a few images (``batch_chunks``) spread over the CPU threads."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups, kernels):
        K = kernels
        xp = get_array_module(x)
        N, C = x.shape[:2]
        OC = weight.shape[0]
        G, L = groups, geom.OH * geom.OW
        Kg = C // G * geom.KH * geom.KW
        y = xp.empty((N, OC, geom.OH, geom.OW), dtype=x.dtype)
        chunks = batch_chunks(xp, N, C * geom.KH * geom.KW * L * x.itemsize, weight.nbytes)
        w = weight.reshape(OC, Kg) if G == 1 else weight.reshape(G, OC // G, Kg)

        def run(i):
            n0, n1 = chunks[i]
            col = K.im2col(x[n0:n1], geom)                 # (C*KH*KW, nb*L)
            if G == 1:
                out = w @ col                              # (OC, nb*L): one GEMM
            else:
                out = xp.matmul(w, col.reshape(G, Kg, -1))
            out = out.reshape(OC, n1 - n0, L).transpose(1, 0, 2)
            dst = y[n0:n1].reshape(n1 - n0, OC, L)
            if bias is None:
                dst[...] = out
            else:  # the NCHW transpose and the bias add in one pass
                xp.add(out, bias.reshape(1, OC, 1), out=dst)

        parallel_for(run, len(chunks))
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        # x, not the col matrix: the backward unfolds each chunk again (cheap: it is still in
        # cache for its GEMM), so the memory kept per layer is the input's, not KH*KW times it.
        ctx.save_for_backward(x if need_w else None, weight if need_x else None)
        ctx.x_shape, ctx.geom, ctx.groups, ctx.kernels, ctx.chunks = (x.shape, geom, groups,
                                                                     K, chunks)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        x, weight = ctx.saved
        geom, G, chunks, K = ctx.geom, ctx.groups, ctx.chunks, ctx.kernels
        N, C, H, W = ctx.x_shape
        OC = gy.shape[1]
        Kg = C // G * geom.KH * geom.KW
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = len(ctx.needs_input_grad) == 3 and ctx.needs_input_grad[2]
        gx = xp.empty(ctx.x_shape, dtype=gy.dtype) if need_x else None
        gw_parts, gb_parts = [None] * len(chunks), [None] * len(chunks)

        def run(i):
            n0, n1 = chunks[i]
            gmat = _grad_matrix(xp, gy[n0:n1])             # (OC, nb*L)
            if need_w:
                col = K.im2col(x[n0:n1], geom)
                if G == 1:
                    gw_parts[i] = gmat @ col.T
                else:
                    gw_parts[i] = xp.matmul(gmat.reshape(G, OC // G, -1),
                                            col.reshape(G, Kg, -1).transpose(0, 2, 1))
            if need_b:
                gb_parts[i] = gmat.sum(axis=1)
            if need_x:
                if G == 1:
                    gcol = weight.reshape(OC, Kg).T @ gmat
                else:
                    gcol = xp.matmul(weight.reshape(G, OC // G, Kg).transpose(0, 2, 1),
                                     gmat.reshape(G, OC // G, -1))
                gx[n0:n1] = K.col2im(gcol.reshape(G * Kg, -1), (n1 - n0, C, H, W), geom)

        parallel_for(run, len(chunks))
        # Partial sums added in chunk order: the same result for any number of threads.
        gw = _sum_in_order(gw_parts).reshape(OC, C // G, geom.KH, geom.KW) if need_w else None
        return _with_bias_grad(ctx, gx, gw, lambda: _sum_in_order(gb_parts))


def _sum_in_order(parts):
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _grad_matrix(xp, gy):
    """(N, OC, OH, OW) -> (OC, N*L): the GEMM operand layout (a transposing copy)."""
    N, OC = gy.shape[:2]
    L = gy.shape[2] * gy.shape[3]  # explicit: -1 can't be inferred when N == 0
    return xp.ascontiguousarray(gy.reshape(N, OC, L).transpose(1, 0, 2)).reshape(OC, N * L)


def _with_bias_grad(ctx, gx, gw, bias_grad):
    """(gx, gw), plus the bias grad (computed only when needed) when there is a bias."""
    if len(ctx.needs_input_grad) == 2:
        return gx, gw
    return gx, gw, (bias_grad() if ctx.needs_input_grad[2] else None)


def _conv_with_kernels(ctx, forward, weight_grad, input_grad, x, weight, bias, geom, groups):
    """The forward of a conv Function whose backend kernels do the whole job (no col matrix
    in Python); the backward needs x (for gW) and the weight (for gx), never col."""
    y = forward(x, weight, bias, geom, groups)
    need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    ctx.save_for_backward(x if need_w else None, weight if need_x else None)
    ctx.x_shape, ctx.w_shape, ctx.geom, ctx.groups = x.shape, weight.shape, geom, groups
    ctx.grad_kernels = weight_grad, input_grad
    return y


def _conv_grads_with_kernels(ctx, gy):
    x, weight = ctx.saved
    weight_grad, input_grad = ctx.grad_kernels
    need = ctx.needs_input_grad
    gw = weight_grad(x, gy, ctx.w_shape, ctx.geom, ctx.groups) if need[1] else None
    gx = input_grad(gy, weight, ctx.x_shape, ctx.geom, ctx.groups) if need[0] else None
    return _with_bias_grad(ctx, gx, gw, lambda: gy.sum(axis=(0, 2, 3)))


class Conv2dImplicitGemm(Function):
    """conv2d on a backend with implicit-GEMM kernels (the GPU: kernels/conv_direct.cu): each
    col tile is gathered from x as the GEMM needs it, so the col matrix never exists and the
    backward needs x (for gW), not col. gW by the implicit-GEMM weight-gradient kernel
    (deterministic split sums), gx by a GEMM + the gather-form col2im, gb by a sum."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups, kernels):
        K = kernels
        return _conv_with_kernels(ctx, K.conv2d_forward, K.conv2d_weight_grad,
                                  K.conv2d_input_grad, x, weight, bias, geom, groups)

    @staticmethod
    def backward(ctx, gy):
        return _conv_grads_with_kernels(ctx, gy)


class Conv2dDirect(Function):
    """conv2d by direct loops (the CPU's numba kernels, minitorch/cpu/direct_conv.py), for
    layers with few channels, where im2col + GEMM is memory-bound: the col matrix would be
    KH*KW times the input while the GEMM's M (the output channels) is tiny. The backend's
    ``conv2d_direct_pays`` says which layers those are (measured); others run Conv2d."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups, kernels):
        K = kernels
        return _conv_with_kernels(ctx, K.conv2d_direct_forward, K.conv2d_direct_weight_grad,
                                  K.conv2d_direct_input_grad, x, weight, bias, geom, groups)

    @staticmethod
    def backward(ctx, gy):
        return _conv_grads_with_kernels(ctx, gy)


class Conv2dWinograd(Function):
    """conv2d of a 3x3 stride-1 layer as Winograd F(2x2, 3x3) (the CPU's numba kernels and
    GEMMs, minitorch/cpu/winograd.py): each 2x2 output block from a 4x4 input tile with 16
    multiplies per channel pair instead of 36, as 16 GEMMs in the transformed domain. The
    backend's ``conv2d_winograd_pays`` says which layers (ResNet's and VGG's 3x3 layers)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups, kernels):
        K = kernels
        return _conv_with_kernels(ctx, K.conv2d_winograd_forward, K.conv2d_winograd_weight_grad,
                                  K.conv2d_winograd_input_grad, x, weight, bias, geom, groups)

    @staticmethod
    def backward(ctx, gy):
        return _conv_grads_with_kernels(ctx, gy)


def _conv_function(K, arrays, x_shape, w_shape, geom, groups):
    """The Function that runs this convolution on backend K: its implicit-GEMM kernels (the
    GPU), its direct kernels where they pay (the CPU's small layers), its Winograd kernels
    where they pay (the CPU's 3x3 stride-1 layers with many channels), else im2col + GEMM."""
    if K.fused("conv2d_forward", *arrays):
        return Conv2dImplicitGemm
    if (K.fused("conv2d_direct_forward", *arrays)
            and K.conv2d_direct_pays(x_shape, w_shape, geom, groups)):
        return Conv2dDirect
    if (K.fused("conv2d_winograd_forward", *arrays)
            and K.conv2d_winograd_pays(x_shape, w_shape, geom, groups)):
        return Conv2dWinograd
    return Conv2d


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of input (N, C, H, W) or (C, H, W)
    with weight (OC, C/groups, KH, KW) and optional bias (OC,).

    stride, padding, dilation: an int or an (h, w) pair; padding may also be "valid" (0) or
    "same" (output size = input size; stride 1 only). Output (N, OC, OH, OW) with
    OH = (H + 2PH - DH(KH-1) - 1)//SH + 1 (OW likewise).
    """
    geom = check_conv_args("conv2d", input, weight, bias, stride, padding, dilation, groups)
    rest = (weight,) if bias is None else (weight, bias)
    K = kernels_for(input.data)
    x_shape = (1,) + input.shape if input.ndim == 3 else input.shape  # as the op sees it
    op = _conv_function(K, (input.data, *(t.data for t in rest)), x_shape, weight.shape, geom,
                        groups)
    return apply_batched(op, input, *rest, geom=geom, groups=int(groups), kernels=K)


# --------------------------------------------------------------------------- the definition
class Conv2dReference(Function):
    """The definition, loop by loop, for teaching and for testing the fast path::

        y[n, o, oh, ow] = b[o] + sum over c in o's group, kh, kw of
                          w[o, c, kh, kw] * xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]

    One (N, C/G, KH, KW) patch per (group, oh, ow); no im2col, no col2im. Slow, obviously right.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geom, groups):
        xp = get_array_module(x)
        KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
        N, C, H, W = x.shape
        OC, Cg = weight.shape[:2]
        OCg = OC // groups
        # Pad enough for every window (bottom/right may need more than PH for "same").
        xpad = xp.pad(x, geom.pad_widths(H, W))
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
        ctx.geom, ctx.groups, ctx.x_shape = geom, groups, x.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        xpad, weight = ctx.saved
        KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = ctx.geom
        G, (H, W) = ctx.groups, ctx.x_shape[2:]
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
        return _with_bias_grad(ctx, gx if ctx.needs_input_grad[0] else None,
                               gw if ctx.needs_input_grad[1] else None,
                               lambda: gy.sum(axis=(0, 2, 3)))


def conv2d_reference(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, dilation=1, groups: int = 1) -> Tensor:
    """conv2d by its definition (direct loops): same arguments, checks and result, much slower."""
    geom = check_conv_args("conv2d_reference", input, weight, bias, stride, padding, dilation,
                           groups)
    rest = (weight,) if bias is None else (weight, bias)
    return apply_batched(Conv2dReference, input, *rest, geom=geom, groups=int(groups))
