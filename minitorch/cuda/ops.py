"""The CUDA kernels as array functions: CuPy arrays in, CuPy arrays out.

Each function has the signature of its CPU counterpart (minitorch/cpu/im2col.py, cpu/pool.py)
where there is one, so ops/conv.py and ops/pool.py can dispatch on the array type. Geometry
notation as in ops/conv.py: N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW; L = OH*OW.

Every function checks dtypes (float32/float64), makes its inputs C-contiguous, checks 32-bit
index limits, then launches one kernel of kernels/*.cu through ``loader.get_function``. The
array code around the launches uses ``xp`` only, so the same functions also run on NumPy
arrays when a test substitutes an emulated ``get_function`` (tests/test_kernels_emulated.py).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from . import loader
from .launch import check_dtype, check_int32, contiguous, device_id, grid_1d, i32


def _run(filename, name, dtype, grid, block, args, defines=()):
    loader.get_function(filename, name, dtype, defines)(grid, block, args)


# --------------------------------------------------------------------------- im2col / col2im
def _col_strides(C, KH, KW, N, OH, OW):
    """Element strides (n, c, kh, kw, oh, ow) of the CPU path's col layout: a C-contiguous
    (C*KH*KW, N*OH*OW) matrix, i.e. (C, KH, KW, N, OH, OW) (minitorch/cpu/im2col.py)."""
    s_ow = 1
    s_oh = OW
    s_n = OH * OW
    s_kw = N * OH * OW
    s_kh = KW * s_kw
    s_c = KH * s_kh
    return s_n, s_c, s_kh, s_kw, s_oh, s_ow


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> col (C*KH*KW, N*OH*OW), the CPU path's layout."""
    dtype = check_dtype("im2col", x)
    x = contiguous(x)
    N, C, H, W = x.shape
    xp = get_array_module(x)
    check_int32("im2col", x=x.size, col=C * KH * KW * N * OH * OW)
    col = xp.empty((C * KH * KW, N * OH * OW), dtype=dtype)
    grid, block = grid_1d(col.size)
    _run("im2col.cu", "im2col", dtype, grid, block,
         (x, col) + i32(N, C, 0, C, H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW,
                        *_col_strides(C, KH, KW, N, OH, OW)))
    return col


def col2im(col, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """col (C*KH*KW, N*OH*OW) -> x (N, C, H, W), summing overlapping windows (gather form:
    deterministic, no atomics)."""
    dtype = check_dtype("col2im", col)
    col = contiguous(col)
    N, C, H, W = x_shape
    if col.shape != (C * KH * KW, N * OH * OW):
        raise ValueError(f"col2im: col shape {col.shape} does not match x shape {x_shape} "
                         f"with a {KH}x{KW} kernel and {OH}x{OW} output: expected "
                         f"{(C * KH * KW, N * OH * OW)}")
    xp = get_array_module(col)
    check_int32("col2im", col=col.size, x=N * C * H * W)
    x = xp.empty(x_shape, dtype=dtype)
    grid, block = grid_1d(x.size)
    _run("col2im.cu", "col2im", dtype, grid, block,
         (col, x) + i32(N, C, 0, C, H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW,
                        *_col_strides(C, KH, KW, N, OH, OW)))
    return x


# --------------------------------------------------------------------------- pooling
def max_pool(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """x (N, C, H, W) -> (out, idx), both (N, C, OH, OW); idx int64 flat ih*W + iw."""
    dtype = check_dtype("max_pool2d", x)
    x = contiguous(x)
    N, C, H, W = x.shape
    xp = get_array_module(x)
    check_int32("max_pool2d", x=x.size, out=N * C * OH * OW)
    out = xp.empty((N, C, OH, OW), dtype=dtype)
    idx = xp.empty((N, C, OH, OW), dtype=np.int64)
    grid, block = grid_1d(out.size)
    _run("pool.cu", "max_pool2d_forward", dtype, grid, block,
         (x, out, idx) + i32(N * C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW))
    return out, idx


def max_pool_backward(gy, idx, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """gy, idx (N, C, OH, OW) -> gx (N, C, H, W). Unlike the CPU scatter it needs the
    geometry: each input pixel gathers from the windows that can contain it."""
    dtype = check_dtype("max_pool2d backward", gy)
    gy, idx = contiguous(gy), contiguous(idx.astype(np.int64, copy=False))
    N, C, H, W = x_shape
    xp = get_array_module(gy)
    check_int32("max_pool2d backward", gy=gy.size, gx=N * C * H * W)
    gx = xp.empty(x_shape, dtype=dtype)
    grid, block = grid_1d(gx.size)
    _run("pool.cu", "max_pool2d_backward", dtype, grid, block,
         (gy, idx, gx) + i32(N * C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW))
    return gx


def avg_pool(x, divisor, KH, KW, SH, SW, PH, PW, OH, OW):
    """x (N, C, H, W) -> (N, C, OH, OW): window sums / divisor, an (OH, OW) array of x's
    dtype holding PyTorch's per-window divisor (ops/pool.py's _avg_divisor)."""
    dtype = check_dtype("avg_pool2d", x, divisor)
    x, divisor = contiguous(x), contiguous(divisor)
    N, C, H, W = x.shape
    xp = get_array_module(x)
    check_int32("avg_pool2d", x=x.size, out=N * C * OH * OW)
    out = xp.empty((N, C, OH, OW), dtype=dtype)
    grid, block = grid_1d(out.size)
    _run("pool.cu", "avg_pool2d_forward", dtype, grid, block,
         (x, divisor, out) + i32(N * C, H, W, OH, OW, KH, KW, SH, SW, PH, PW))
    return out


def avg_pool_backward(gy, divisor, x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """gy (N, C, OH, OW) -> gx (N, C, H, W): each pixel gathers gy/divisor of its windows."""
    dtype = check_dtype("avg_pool2d backward", gy, divisor)
    gy, divisor = contiguous(gy), contiguous(divisor)
    N, C, H, W = x_shape
    xp = get_array_module(gy)
    check_int32("avg_pool2d backward", gy=gy.size, gx=N * C * H * W)
    gx = xp.empty(x_shape, dtype=dtype)
    grid, block = grid_1d(gx.size)
    _run("pool.cu", "avg_pool2d_backward", dtype, grid, block,
         (gy, divisor, gx) + i32(N * C, H, W, OH, OW, KH, KW, SH, SW, PH, PW))
    return gx


# --------------------------------------------------------------------------- bias + ReLU
def bias_relu(x, b):
    """relu(x + b) with b (C,) broadcast over dim 1 of x (N, C, ...): one pass over memory."""
    dtype = check_dtype("bias_relu", x, b)
    x, b = contiguous(x), contiguous(b)
    if x.ndim < 2 or b.shape != (x.shape[1],):
        raise ValueError(f"bias_relu: bias shape {b.shape} must be (C,) for input {x.shape} "
                         "with channels in dim 1")
    check_int32("bias_relu", x=x.size)
    y = get_array_module(x).empty_like(x)
    S = int(np.prod(x.shape[2:], dtype=np.int64))
    grid, block = grid_1d(x.size)
    _run("bias_act.cu", "bias_relu_forward", dtype, grid, block,
         (x, b, y) + i32(x.size, x.shape[1], S))
    return y


def relu_backward(gy, y):
    """gy * (y > 0), from the ReLU's output y (the input is not needed)."""
    dtype = check_dtype("relu backward", gy, y)
    if gy.shape != y.shape:
        raise ValueError(f"relu backward: grad shape {gy.shape} != output shape {y.shape}")
    gy, y = contiguous(gy), contiguous(y)
    check_int32("relu backward", y=y.size)
    gx = get_array_module(y).empty_like(y)
    grid, block = grid_1d(y.size)
    _run("bias_act.cu", "relu_backward_from_output", dtype, grid, block,
         (gy, y, gx) + i32(y.size))
    return gx


# --------------------------------------------------------------------------- implicit-GEMM conv
# Tile shapes (BM, BN, TM, TN) compiled for conv_direct.cu; .ci/compile_kernels.sh builds
# exactly these. BM tiles output channels: a LeNet layer has 6..50, so a 64-row tile would
# idle most threads of a 6-channel layer; BN tiles output pixels (forward) or k (weight grad).
_CONV_TILES = ((16, 64, 2, 4), (32, 64, 4, 4), (64, 64, 4, 4), (32, 128, 4, 4))
_WGRAD_TARGET_BLOCKS = 264   # ~2 waves on a 132-SM H100; a constant, so results never
                             # depend on the GPU model (the split count fixes the sum order)
_tables: dict[tuple, tuple] = {}


def _conv_tile(rows: int, cols: int):
    """Pick a tile for a GEMM of ``rows`` output channels by ``cols`` columns."""
    if rows <= 16:
        return _CONV_TILES[0]
    if rows <= 32:
        return _CONV_TILES[3] if cols >= 128 * 512 else _CONV_TILES[1]
    return _CONV_TILES[2]


def _tile_defines(tile) -> tuple:
    BM, BN, TM, TN = tile
    return (("CONV_BM", BM), ("CONV_BN", BN), ("CONV_TM", TM), ("CONV_TN", TN))


def _threads(tile) -> int:
    BM, BN, TM, TN = tile
    return (BM // TM) * (BN // TN)


def _conv_tables(xp, Cg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The int32 index tables of conv_direct.cu (ktab: k -> tap offsets; qtab: q -> window
    origin), built once per geometry and device and kept on the device."""
    key = (device_id(xp), Cg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    hit = _tables.get(key)
    if hit is None:
        c, kh, kw = np.meshgrid(np.arange(Cg), np.arange(KH), np.arange(KW), indexing="ij")
        dh, dw = (kh * DH).ravel(), (kw * DW).ravel()
        ktab = np.concatenate([c.ravel() * H * W + dh * W + dw, dh, dw]).astype(np.int32)
        oh, ow = np.meshgrid(np.arange(OH), np.arange(OW), indexing="ij")
        qtab = np.concatenate([(oh * SH - PH).ravel(), (ow * SW - PW).ravel()]).astype(np.int32)
        hit = _tables[key] = (xp.asarray(ktab), xp.asarray(qtab))
    return hit


def conv2d_forward(x, weight, bias, geom, groups: int = 1):
    """y = conv2d(x, weight) + bias without an im2col buffer (implicit GEMM, conv_direct.cu).

    x (N, C, H, W), weight (OC, C/groups, KH, KW), bias (OC,) or None, geom the 10-tuple
    (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW) of ops/conv.py -> y (N, OC, OH, OW).
    """
    dtype = check_dtype("conv2d", x, weight, bias)
    x, weight, bias = contiguous(x), contiguous(weight), contiguous(bias)
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    N, C, H, W = x.shape
    OC, Cg = weight.shape[:2]
    xp = get_array_module(x)
    check_int32("conv2d", x=x.size, y=N * OC * OH * OW)
    ktab, qtab = _conv_tables(xp, Cg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    y = xp.empty((N, OC, OH, OW), dtype=dtype)
    P, OCg = N * OH * OW, OC // groups
    tile = _conv_tile(OCg, P)
    BM, BN = tile[:2]
    grid = ((P + BN - 1) // BN, (OCg + BM - 1) // BM, groups)
    _run("conv_direct.cu", "conv2d_forward_igemm", dtype, grid, (_threads(tile),),
         (x, weight, bias, y, ktab, qtab)
         + i32(N, C, H, W, OC, OH, OW, groups, Cg * KH * KW, bias is not None),
         defines=_tile_defines(tile))
    return y


def conv2d_weight_grad(x, gy, weight_shape, geom, groups: int = 1):
    """gW = sum over (n, oh, ow) of gy * patches of x, without an im2col buffer.

    Deterministic: the batch is cut into S fixed slices (S from the shape alone), each block
    writes its slice's partial sums, and the S partials are summed in a fixed order.
    """
    dtype = check_dtype("conv2d weight grad", x, gy)
    x, gy = contiguous(x), contiguous(gy)
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    N, C, H, W = x.shape
    OC, Cg = weight_shape[:2]
    xp = get_array_module(x)
    check_int32("conv2d weight grad", x=x.size, gy=gy.size)
    ktab, qtab = _conv_tables(xp, Cg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    K, OCg = Cg * KH * KW, OC // groups
    tile = _conv_tile(OCg, K)
    BM, BN = tile[:2]
    tiles = ((K + BN - 1) // BN) * ((OCg + BM - 1) // BM) * groups
    splits = min(N, max(1, -(-_WGRAD_TARGET_BLOCKS // tiles)))
    per_split = -(-N // splits)
    splits = -(-N // per_split)
    check_int32("conv2d weight grad", partial=splits * OC * K)
    partial = xp.empty((splits, OC, K), dtype=dtype)
    grid = ((K + BN - 1) // BN, (OCg + BM - 1) // BM, groups * splits)
    _run("conv_direct.cu", "conv2d_wgrad_igemm", dtype, grid, (_threads(tile),),
         (x, gy, partial, ktab, qtab)
         + i32(N, C, H, W, OC, OH, OW, groups, K, per_split),
         defines=_tile_defines(tile))
    return partial.sum(axis=0).reshape(OC, Cg, KH, KW)


def conv2d_input_grad(gy, weight, x_shape, geom, groups: int = 1):
    """gx = col2im(W^T @ gy): one cuBLAS GEMM per group, then the gather-form col2im."""
    xp = get_array_module(gy)
    check_dtype("conv2d input grad", gy, weight)
    N, OC = gy.shape[:2]
    K = weight[0].size
    G = groups
    gmat = xp.ascontiguousarray(gy.reshape(N, OC, -1).transpose(1, 0, 2)).reshape(OC, -1)
    if G == 1:
        gcol = weight.reshape(OC, K).T @ gmat
    else:
        gcol = xp.matmul(weight.reshape(G, OC // G, K).transpose(0, 2, 1),
                         gmat.reshape(G, OC // G, -1))
    return col2im(gcol.reshape(G * K, -1), x_shape, *geom)
