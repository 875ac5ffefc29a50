"""The CUDA kernels as array functions: CuPy arrays in, CuPy arrays out.

The CUDA kernel table (minitorch/cuda/table.py) is made of these; each has the signature of
its CPU counterpart (minitorch/kernel_table.py lists them). Geometry ``g``: an
ops/geometry.py ``Geometry2d`` (N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW; L = OH*OW).

Every function checks dtypes (float32/float64), makes its inputs C-contiguous, checks 32-bit
index limits, then launches kernels of kernels/*.cu through ``launch.run``. The array code
around the launches uses ``xp`` only, so the same functions also run on NumPy arrays when the
tests hand the launches to the CPU emulator (tests/emulator.py).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..ops.geometry import Geometry2d
from .launch import check_dtype, check_int32, contiguous, device_id, empty, grid_1d, i32, run
from .loader import CONV_TILES, conv_tile_defines


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


def _window_args(N, C, H, W, g: Geometry2d) -> tuple:
    """The int arguments im2col.cu and col2im.cu share (channel range 0..C, then geometry)."""
    return i32(N, C, 0, C, H, W, g.KH, g.KW, g.OH, g.OW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW,
               *_col_strides(C, g.KH, g.KW, N, g.OH, g.OW))


def im2col(x, g: Geometry2d):
    """x (N, C, H, W) -> col (C*KH*KW, N*OH*OW), the CPU path's layout."""
    dtype = check_dtype("im2col", x)
    x = contiguous(x)
    N, C, H, W = x.shape
    check_int32("im2col", x=x.size, col=C * g.KH * g.KW * N * g.OH * g.OW)
    col = empty(get_array_module(x), (C * g.KH * g.KW, N * g.OH * g.OW), dtype)
    grid, block = grid_1d(col.size)
    run("im2col.cu", "im2col", dtype, grid, block, (x, col) + _window_args(N, C, H, W, g))
    return col


def col2im(col, x_shape, g: Geometry2d):
    """col (C*KH*KW, N*OH*OW) -> x (N, C, H, W), summing overlapping windows (gather form:
    deterministic, no atomics)."""
    dtype = check_dtype("col2im", col)
    col = contiguous(col)
    N, C, H, W = x_shape
    if col.shape != (C * g.KH * g.KW, N * g.OH * g.OW):
        raise ValueError(f"col2im: col shape {col.shape} does not match x shape {x_shape} "
                         f"with a {g.KH}x{g.KW} kernel and {g.OH}x{g.OW} output: expected "
                         f"{(C * g.KH * g.KW, N * g.OH * g.OW)}")
    check_int32("col2im", col=col.size, x=N * C * H * W)
    x = empty(get_array_module(col), x_shape, dtype)
    grid, block = grid_1d(x.size)
    run("col2im.cu", "col2im", dtype, grid, block, (col, x) + _window_args(N, C, H, W, g))
    return x


# --------------------------------------------------------------------------- pooling
def _pool_args(P, H, W, g: Geometry2d, dilation: bool = True) -> tuple:
    """The int arguments of pool.cu's kernels: planes, sizes, then the window."""
    window = (g.KH, g.KW, g.SH, g.SW, g.PH, g.PW) + ((g.DH, g.DW) if dilation else ())
    return i32(P, H, W, g.OH, g.OW, *window)


def max_pool(x, g: Geometry2d):
    """x (N, C, H, W) -> (out, idx), both (N, C, OH, OW); idx int64 flat ih*W + iw."""
    dtype = check_dtype("max_pool2d", x)
    x = contiguous(x)
    N, C, H, W = x.shape
    xp = get_array_module(x)
    check_int32("max_pool2d", x=x.size, out=N * C * g.OH * g.OW)
    out = empty(xp, (N, C, g.OH, g.OW), dtype)
    idx = empty(xp, (N, C, g.OH, g.OW), np.int64)
    grid, block = grid_1d(out.size)
    run("pool.cu", "max_pool2d_forward", dtype, grid, block,
        (x, out, idx) + _pool_args(N * C, H, W, g))
    return out, idx


def max_pool_backward(gy, idx, x_shape, g: Geometry2d):
    """gy, idx (N, C, OH, OW) -> gx (N, C, H, W). Unlike the CPU scatter it needs the
    geometry: each input pixel gathers from the windows that can contain it."""
    dtype = check_dtype("max_pool2d backward", gy)
    gy, idx = contiguous(gy), contiguous(idx.astype(np.int64, copy=False))
    N, C, H, W = x_shape
    check_int32("max_pool2d backward", gy=gy.size, gx=N * C * H * W)
    gx = empty(get_array_module(gy), x_shape, dtype)
    grid, block = grid_1d(gx.size)
    run("pool.cu", "max_pool2d_backward", dtype, grid, block,
        (gy, idx, gx) + _pool_args(N * C, H, W, g))
    return gx


_divisors: dict[tuple, object] = {}


def _device_divisor(xp, divisor, dtype):
    """The (OH, OW) divisor table of avg pooling on the device, in ``dtype``: uploaded once
    per (device, dtype, table) and then reused, not copied to the device every forward."""
    host = np.asarray(divisor, dtype=np.float64)
    key = (device_id(xp), np.dtype(dtype).str, host.shape, host.tobytes())
    hit = _divisors.get(key)
    if hit is None:
        hit = _divisors[key] = contiguous(xp.asarray(host, dtype=dtype))
    return hit


def avg_pool(x, divisor, g: Geometry2d):
    """x (N, C, H, W) -> (N, C, OH, OW): window sums / divisor, the (OH, OW) float64 table of
    PyTorch's per-window divisors (ops/pool.py's avg_divisor)."""
    dtype = check_dtype("avg_pool2d", x)
    x = contiguous(x)
    N, C, H, W = x.shape
    xp = get_array_module(x)
    check_int32("avg_pool2d", x=x.size, out=N * C * g.OH * g.OW)
    out = empty(xp, (N, C, g.OH, g.OW), dtype)
    grid, block = grid_1d(out.size)
    run("pool.cu", "avg_pool2d_forward", dtype, grid, block,
        (x, _device_divisor(xp, divisor, dtype), out)
        + _pool_args(N * C, H, W, g, dilation=False))
    return out


def avg_pool_backward(gy, divisor, x_shape, g: Geometry2d):
    """gy (N, C, OH, OW) -> gx (N, C, H, W): each pixel gathers gy/divisor of its windows."""
    dtype = check_dtype("avg_pool2d backward", gy)
    gy = contiguous(gy)
    N, C, H, W = x_shape
    xp = get_array_module(gy)
    check_int32("avg_pool2d backward", gy=gy.size, gx=N * C * H * W)
    gx = empty(xp, x_shape, dtype)
    grid, block = grid_1d(gx.size)
    run("pool.cu", "avg_pool2d_backward", dtype, grid, block,
        (gy, _device_divisor(xp, divisor, dtype), gx)
        + _pool_args(N * C, H, W, g, dilation=False))
    return gx


# --------------------------------------------------------------------------- implicit-GEMM conv
SM_BLOCKS = 132             # a grid of fewer blocks leaves SMs of an H100/H200 idle
WGRAD_TARGET_BLOCKS = 528   # weight-grad grid incl. batch splits: ~4 blocks per SM. Both are
                            # constants, so results never depend on the GPU model (the split
                            # count fixes the order of the weight gradient's sums)
_tables: dict[tuple, tuple] = {}


def _ceil_pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def _conv_tile(rows: int, cols: int, groups: int = 1, min_blocks: int = SM_BLOCKS):
    """The tile (one of loader.CONV_TILES) for a GEMM of ``rows`` output channels (per group)
    by ``cols`` columns: of the tiles no taller (wider) than the GEMM needs, the largest that
    still gives >= ``min_blocks`` blocks (big tiles reuse each loaded value more), else the
    one giving the most blocks. Taller than rows rounded up to a power of two would only idle
    threads (a 6-channel LeNet layer in a 64-row tile)."""
    fit = [t for t in CONV_TILES
           if t[0] <= max(16, _ceil_pow2(rows)) and t[1] <= max(32, _ceil_pow2(cols))]

    def blocks(t):
        return -(-rows // t[0]) * -(-cols // t[1]) * groups

    enough = [t for t in fit if blocks(t) >= min_blocks]
    if enough:
        return max(enough, key=lambda t: (t[0] * t[1], t[0]))
    return max(fit, key=lambda t: (blocks(t), t[0] * t[1]))


def _wgrad_splits(N: int, tiles: int) -> tuple[int, int]:
    """(splits, images per split): the batch cut so that tiles * splits >= WGRAD_TARGET_BLOCKS
    (or one image per split), every split non-empty."""
    wanted = min(N, max(1, -(-WGRAD_TARGET_BLOCKS // tiles)))
    per_split = max(1, N // wanted)     # rounded down: at least `wanted` splits
    return -(-N // per_split), per_split


def _threads(tile) -> int:
    BM, BN, TM, TN = tile
    return (BM // TM) * (BN // TN)


def _conv_tables(xp, Cg, H, W, g: Geometry2d):
    """The int32 index tables of conv_direct.cu (ktab: k -> tap offsets; qtab: q -> window
    origin), built once per geometry and device and kept on the device."""
    key = (device_id(xp), Cg, H, W) + tuple(g)
    hit = _tables.get(key)
    if hit is None:
        c, kh, kw = np.meshgrid(np.arange(Cg), np.arange(g.KH), np.arange(g.KW), indexing="ij")
        dh, dw = (kh * g.DH).ravel(), (kw * g.DW).ravel()
        ktab = np.concatenate([c.ravel() * H * W + dh * W + dw, dh, dw]).astype(np.int32)
        oh, ow = np.meshgrid(np.arange(g.OH), np.arange(g.OW), indexing="ij")
        qtab = np.concatenate([(oh * g.SH - g.PH).ravel(),
                               (ow * g.SW - g.PW).ravel()]).astype(np.int32)
        hit = _tables[key] = (xp.asarray(ktab), xp.asarray(qtab))
    return hit


def conv2d_forward(x, weight, bias, g: Geometry2d, groups: int = 1, *, tile=None):
    """y = conv2d(x, weight) + bias without an im2col buffer (implicit GEMM, conv_direct.cu).

    x (N, C, H, W), weight (OC, C/groups, KH, KW), bias (OC,) or None -> y (N, OC, OH, OW).
    tile: one of loader.CONV_TILES instead of the one picked for the shape (tests).
    """
    dtype = check_dtype("conv2d", x, weight, bias)
    N, C, H, W = x.shape
    OC, Cg = weight.shape[:2]
    check_int32("conv2d", x=x.size, weight=weight.size, y=N * OC * g.OH * g.OW)
    x, weight, bias = contiguous(x), contiguous(weight), contiguous(bias)
    xp = get_array_module(x)
    y = empty(xp, (N, OC, g.OH, g.OW), dtype)
    P, OCg = N * g.OH * g.OW, OC // groups
    if y.size == 0:    # an empty batch: nothing to launch (a grid of 0 blocks is an error)
        return y
    ktab, qtab = _conv_tables(xp, Cg, H, W, g)
    tile = tile or _conv_tile(OCg, P, groups)
    BM, BN = tile[:2]
    grid = ((P + BN - 1) // BN, (OCg + BM - 1) // BM, groups)
    run("conv_direct.cu", "conv2d_forward_igemm", dtype, grid, (_threads(tile),),
        (x, weight, bias, y, ktab, qtab)
        + i32(N, C, H, W, OC, g.OH, g.OW, groups, Cg * g.KH * g.KW, bias is not None),
        defines=conv_tile_defines(tile))
    return y


def conv2d_weight_grad(x, gy, weight_shape, g: Geometry2d, groups: int = 1, *, tile=None):
    """gW = sum over (n, oh, ow) of gy * patches of x, without an im2col buffer (tile: as in
    conv2d_forward).

    Deterministic: the batch is cut into S fixed slices (S from the shape alone), each block
    writes its slice's partial sums, and the S partials are summed in a fixed order.
    """
    dtype = check_dtype("conv2d weight grad", x, gy)
    x, gy = contiguous(x), contiguous(gy)
    N, C, H, W = x.shape
    OC, Cg = weight_shape[:2]
    xp = get_array_module(x)
    K, OCg = Cg * g.KH * g.KW, OC // groups
    check_int32("conv2d weight grad", x=x.size, gy=gy.size, weight=OC * K)
    if N == 0 or OC * K == 0:    # no pixels to sum over: the gradient is 0
        return xp.zeros(weight_shape, dtype=dtype)
    ktab, qtab = _conv_tables(xp, Cg, H, W, g)
    # The batch splits supply the parallelism here, so the tile only has to fit the GEMM.
    tile = tile or _conv_tile(OCg, K, groups, min_blocks=1)
    BM, BN = tile[:2]
    tiles = ((K + BN - 1) // BN) * ((OCg + BM - 1) // BM) * groups
    splits, per_split = _wgrad_splits(N, tiles)
    check_int32("conv2d weight grad", partial=splits * OC * K)
    partial = empty(xp, (splits, OC, K), dtype)
    grid = ((K + BN - 1) // BN, (OCg + BM - 1) // BM, groups * splits)
    run("conv_direct.cu", "conv2d_wgrad_igemm", dtype, grid, (_threads(tile),),
        (x, gy, partial, ktab, qtab)
        + i32(N, C, H, W, OC, g.OH, g.OW, groups, K, per_split),
        defines=conv_tile_defines(tile))
    return partial.sum(axis=0).reshape(OC, Cg, g.KH, g.KW)


def conv2d_input_grad(gy, weight, x_shape, g: Geometry2d, groups: int = 1):
    """gx = col2im(W^T @ gy): one cuBLAS GEMM per group, then the gather-form col2im."""
    xp = get_array_module(gy)
    dtype = check_dtype("conv2d input grad", gy, weight)
    N, OC = gy.shape[:2]
    K = weight[0].size
    G = groups
    if N == 0:    # an empty batch (and no -1 to infer in the reshapes below)
        return xp.zeros(x_shape, dtype=dtype)
    gmat = xp.ascontiguousarray(gy.reshape(N, OC, -1).transpose(1, 0, 2)).reshape(OC, -1)
    if G == 1:
        gcol = weight.reshape(OC, K).T @ gmat
    else:
        gcol = xp.matmul(weight.reshape(G, OC // G, K).transpose(0, 2, 1),
                         gmat.reshape(G, OC // G, -1))
    return col2im(gcol.reshape(G * K, -1), x_shape, g)
