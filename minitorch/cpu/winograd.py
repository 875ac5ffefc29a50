"""Winograd convolution F(2x2, 3x3) on the CPU: 3x3 stride-1 layers with 2.25x fewer multiplies.

A 3x3 convolution computes each 2x2 block of outputs from a 4x4 tile of the (padded) input:
9*4 = 36 multiply-adds per input channel done directly, 16 in Winograd's form (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", 2015)::

    y_tile (2x2) = A^T [ (G w G^T)  (.)  (B^T d B) ] A         (.) the elementwise product

    B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
          [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
          [0 -1  1  0]         [1/2 -1/2  1/2]
          [0  1  0 -1]         [ 0    0    1 ]

d a 4x4 input tile, w a 3x3 kernel. Summed over input channels, the elementwise products become
16 matrix products, one per tile position xi = 4*i + j (the "Winograd domain")::

    U[xi] (OC, C) = (G w G^T)[xi]            the weight, transformed once per call
    V[xi] (C, T)  = (B^T d B)[xi]            every tile t of the batch chunk, per channel
    M[xi] (OC, T) = U[xi] @ V[xi]            16 GEMMs: 16*OC*C*T multiply-adds, im2col's 9*4
    y             = A^T M A, per tile        (+ bias)

Tiles: tile (th, tw) of image n covers padded rows 2th .. 2th+3 and columns 2tw .. 2tw+3 and
gives outputs (2th .. 2th+1, 2tw .. 2tw+1); TH = ceil(OH/2), TW = ceil(OW/2), and tile
t = (n*TH + th)*TW + tw within a chunk. An odd OH or OW computes one extra row or column,
dropped. Any padding: the kernels copy each plane into a zeroed (2TH+2, 2TW+2) buffer at
(PH, PW) (the bottom/right padding is whatever makes OH x OW fit, as in im2col.py).

The backward is the same algebra transposed (gy's tiles: dM = A gy_tile A^T)::

    weight grad  dU[xi] = sum over chunks of dM[xi] @ V[xi]^T,  gw = G^T dU G
    input grad   dV[xi] = U[xi]^T @ dM[xi],   gx = the overlap-add of B dV B^T (4x4 tiles
                 two apart: neighbours share two rows or columns)

Numerics: the transforms round differently from a direct sum, no worse (float32 results are
as close to the float64 truth as im2col + GEMM's; tests compare both against the definition).
Non-finite values: no fastmath, so a NaN or inf is never lost. The output and the input
gradient are non-finite exactly where im2col's are (the transforms' zero coefficients line up
with the 3x3 windows; where two infs meet, NaN instead of inf); the weight gradient at least
there and possibly at more taps of the same channel pairs (its transforms multiply a
non-finite entry by their zeros), as with cuDNN's Winograd.

Threads: chunks of images (``_chunks``: the shapes decide them, never the thread count) on
minitorch's pool, each chunk's transforms (serial ``nogil`` numba kernels) and 16 GEMMs on one
thread; the weight gradient's per-chunk partials are added in chunk order, so results are
bit-identical for any number of threads.
"""
from __future__ import annotations

import numpy as np

from ..ops.geometry import Geometry2d
from ..threads import parallel_for
from .im2col import njit, uint64  # numba's, or plain stand-ins without numba

__all__ = ["conv2d_forward_winograd", "conv2d_weight_grad_winograd",
           "conv2d_input_grad_winograd", "winograd_fits", "winograd_pays"]

# "contract" lets LLVM fuse a*b + c into one FMA; never fastmath=True (it would assume no
# NaN/inf, and a NaN in the input must stay a NaN in the output).
_FLAGS = {"contract"}

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_GG = np.kron(_G, _G)   # (16, 9): _GG[4i+j, 3k+l] = G[i, k] * G[j, l]


# --------------------------------------------------------------------------- the transforms
# The kernels index flat views with unsigned indices (uint64): numba must otherwise check each
# signed index for Python's negative wrap-around, which keeps LLVM from vectorizing the loops
# (as in im2col.py). Each inner loop runs along one contiguous row or stream of tiles.
@njit(cache=True, nogil=True, fastmath=_FLAGS)
def _input_tiles(x, vf, S, PH, PW, TH, TW):
    """V[4i+j, c, t] = (B^T d B)[i, j] for every tile t of x (nb, C, H, W), every channel c;
    V[k, c, t] is vf[k*S + c*T + t] (S: _domain's stride)."""
    nb, C, H, W = x.shape
    T = nb * TH * TW
    HP, WP = 2 * TH + 2, 2 * TW + 2
    xf = x.reshape(-1)
    pad = np.zeros(HP * WP, dtype=x.dtype)    # only the interior is rewritten: the border
    rows = np.empty(4 * WP, dtype=x.dtype)    # (the padding) stays zero for every plane
    for n in range(nb):
        for c in range(C):
            src = (n * C + c) * H * W
            for r in range(H):         # stride 1: H + 2PH = OH + 2 <= HP (W likewise)
                d = (PH + r) * WP + PW
                for s in range(W):
                    pad[uint64(d + s)] = xf[uint64(src + r * W + s)]
            for th in range(TH):
                p0 = 2 * th * WP
                for s in range(WP):                    # B^T d: the rows
                    d0 = pad[uint64(p0 + s)]
                    d1 = pad[uint64(p0 + WP + s)]
                    d2 = pad[uint64(p0 + 2 * WP + s)]
                    d3 = pad[uint64(p0 + 3 * WP + s)]
                    rows[uint64(s)] = d0 - d2
                    rows[uint64(WP + s)] = d1 + d2
                    rows[uint64(2 * WP + s)] = d2 - d1
                    rows[uint64(3 * WP + s)] = d1 - d3
                t0 = (n * TH + th) * TW
                for i in range(4):                     # (B^T d) B: the columns
                    q = i * WP
                    o0 = 4 * i * S + c * T + t0        # V[4i, c, t0]
                    for tw in range(TW):
                        a = rows[uint64(q + 2 * tw)]
                        b = rows[uint64(q + 2 * tw + 1)]
                        e = rows[uint64(q + 2 * tw + 2)]
                        f = rows[uint64(q + 2 * tw + 3)]
                        vf[uint64(o0 + tw)] = a - e
                        vf[uint64(o0 + S + tw)] = b + e
                        vf[uint64(o0 + 2 * S + tw)] = e - b
                        vf[uint64(o0 + 3 * S + tw)] = b - f


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def _output_tiles(mf, S, bias, y, TH, TW):
    """y[n, o, 2th:2th+2, 2tw:2tw+2] = (A^T m A) + bias[o], m = M[:, o, t] (cropped to OH, OW),
    M[k, o, t] = mf[k*S + o*T + t].
    Per output channel: the 2x2 blocks of all tiles (one pass along M's 16 streams), then
    those blocks into place."""
    nb, OC, OH, OW = y.shape
    T = nb * TH * TW
    yf = y.reshape(-1)
    blk = np.empty(4 * T, dtype=y.dtype)      # blk[2r+s, t]: output (r, s) of tile t
    for o in range(OC):
        m = o * T
        for t in range(T):
            # A^T m: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (rows i of the tile, per column j)
            s00 = mf[uint64(m + t)] + mf[uint64(m + 4 * S + t)] + mf[uint64(m + 8 * S + t)]
            s01 = mf[uint64(m + S + t)] + mf[uint64(m + 5 * S + t)] + mf[uint64(m + 9 * S + t)]
            s02 = (mf[uint64(m + 2 * S + t)] + mf[uint64(m + 6 * S + t)]
                   + mf[uint64(m + 10 * S + t)])
            s03 = (mf[uint64(m + 3 * S + t)] + mf[uint64(m + 7 * S + t)]
                   + mf[uint64(m + 11 * S + t)])
            s10 = (mf[uint64(m + 4 * S + t)] - mf[uint64(m + 8 * S + t)]
                   - mf[uint64(m + 12 * S + t)])
            s11 = (mf[uint64(m + 5 * S + t)] - mf[uint64(m + 9 * S + t)]
                   - mf[uint64(m + 13 * S + t)])
            s12 = (mf[uint64(m + 6 * S + t)] - mf[uint64(m + 10 * S + t)]
                   - mf[uint64(m + 14 * S + t)])
            s13 = (mf[uint64(m + 7 * S + t)] - mf[uint64(m + 11 * S + t)]
                   - mf[uint64(m + 15 * S + t)])
            blk[uint64(t)] = s00 + s01 + s02          # (A^T m) A: the columns
            blk[uint64(T + t)] = s01 - s02 - s03
            blk[uint64(2 * T + t)] = s10 + s11 + s12
            blk[uint64(3 * T + t)] = s11 - s12 - s13
        b = bias[o]
        for n in range(nb):
            for oh in range(OH):
                th, r = oh // 2, oh % 2
                t0 = (n * TH + th) * TW
                d = ((n * OC + o) * OH + oh) * OW
                for ow in range(OW):
                    yf[uint64(d + ow)] = blk[uint64((2 * r + ow % 2) * T + t0 + ow // 2)] + b


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def _grad_tiles(gy, df, S, TH, TW):
    """dM[4i+j, o, t] = (A g A^T)[i, j] = df[(4i+j)*S + o*T + t], g the 2x2 block of gy (n, o)
    under tile t (0 past OH, OW): the adjoint of _output_tiles."""
    nb, OC, OH, OW = gy.shape
    T = nb * TH * TW
    gf = gy.reshape(-1)
    blk = np.zeros(4 * T, dtype=gy.dtype)     # blk[2r+s, t] = g[r, s] of tile t (past OH,
                                              # OW never written, so zero)
    for o in range(OC):
        for n in range(nb):
            for oh in range(OH):
                th, r = oh // 2, oh % 2
                t0 = (n * TH + th) * TW
                src = ((n * OC + o) * OH + oh) * OW
                for ow in range(OW):
                    blk[uint64((2 * r + ow % 2) * T + t0 + ow // 2)] = gf[uint64(src + ow)]
        m = o * T
        for t in range(T):
            a, b = blk[uint64(t)], blk[uint64(T + t)]
            c, d = blk[uint64(2 * T + t)], blk[uint64(3 * T + t)]
            # A g: rows (a, b), (a+c, b+d), (a-c, b-d), (-c, -d); each row (p, q) times A^T:
            # (p, p+q, p-q, -q)
            p, q = a, b
            df[uint64(m + t)] = p
            df[uint64(m + S + t)] = p + q
            df[uint64(m + 2 * S + t)] = p - q
            df[uint64(m + 3 * S + t)] = -q
            p, q = a + c, b + d
            df[uint64(m + 4 * S + t)] = p
            df[uint64(m + 5 * S + t)] = p + q
            df[uint64(m + 6 * S + t)] = p - q
            df[uint64(m + 7 * S + t)] = -q
            p, q = a - c, b - d
            df[uint64(m + 8 * S + t)] = p
            df[uint64(m + 9 * S + t)] = p + q
            df[uint64(m + 10 * S + t)] = p - q
            df[uint64(m + 11 * S + t)] = -q
            p, q = -c, -d
            df[uint64(m + 12 * S + t)] = p
            df[uint64(m + 13 * S + t)] = p + q
            df[uint64(m + 14 * S + t)] = p - q
            df[uint64(m + 15 * S + t)] = -q


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def _input_tiles_adjoint(vf, S, gx, PH, PW, TH, TW):
    """gx = the adjoint of _input_tiles: each tile's B dV B^T added into its 4x4 window of
    the padded plane (windows overlap by two rows and columns), the padding then dropped;
    dV[k, c, t] = vf[k*S + c*T + t]."""
    nb, C, H, W = gx.shape
    T = nb * TH * TW
    HP, WP = 2 * TH + 2, 2 * TW + 2
    gf = gx.reshape(-1)
    pad = np.empty(HP * WP, dtype=gx.dtype)
    u = np.empty(16 * TW, dtype=gx.dtype)     # u[(4i+j)*TW + tw]: (B dV)[i, j] of tile tw
    for n in range(nb):
        for c in range(C):
            pad[:] = 0.0
            for th in range(TH):
                t0 = (n * TH + th) * TW
                for j in range(4):                 # B dV: the rows, per column j
                    v = j * S + c * T + t0
                    for tw in range(TW):
                        v0 = vf[uint64(v + tw)]
                        v1 = vf[uint64(v + 4 * S + tw)]
                        v2 = vf[uint64(v + 8 * S + tw)]
                        v3 = vf[uint64(v + 12 * S + tw)]
                        u[uint64(j * TW + tw)] = v0
                        u[uint64((4 + j) * TW + tw)] = v1 - v2 + v3
                        u[uint64((8 + j) * TW + tw)] = v1 + v2 - v0
                        u[uint64((12 + j) * TW + tw)] = -v3
                for i in range(4):                 # (B dV) B^T: the columns, added in place
                    d = (2 * th + i) * WP
                    q = 4 * i * TW
                    for tw in range(TW):           # columns 0, 1 of each tile
                        u1, u2 = u[uint64(q + TW + tw)], u[uint64(q + 2 * TW + tw)]
                        pad[uint64(d + 2 * tw)] += u[uint64(q + tw)]
                        pad[uint64(d + 2 * tw + 1)] += u1 - u2 + u[uint64(q + 3 * TW + tw)]
                    for tw in range(TW):           # columns 2, 3: the next tile's 0, 1
                        u0, u1, u2 = (u[uint64(q + tw)], u[uint64(q + TW + tw)],
                                      u[uint64(q + 2 * TW + tw)])
                        pad[uint64(d + 2 * tw + 2)] += u1 + u2 - u0
                        pad[uint64(d + 2 * tw + 3)] -= u[uint64(q + 3 * TW + tw)]
            dst = (n * C + c) * H * W
            for r in range(H):
                s0 = (PH + r) * WP + PW
                for s in range(W):
                    gf[uint64(dst + r * W + s)] = pad[uint64(s0 + s)]


def _weight_domain(weight, dtype) -> np.ndarray:
    """U (16, OC, C) = G w G^T for every (output, input) channel pair, as one GEMM:
    U[4i+j] = sum over (k, l) of G[i, k] G[j, l] w[:, :, k, l] (kron(G, G) is that 16 x 9
    matrix; an einsum of the same took 20x longer for a 512 -> 512 layer)."""
    OC, C = weight.shape[:2]
    w9 = np.ascontiguousarray(weight, dtype=dtype).reshape(OC * C, 9)
    return (_GG.astype(dtype) @ w9.T).reshape(16, OC, C)


def _weight_from_domain(dU, w_shape) -> np.ndarray:
    """gw (OC, C, 3, 3) = G^T dU G: the adjoint of _weight_domain."""
    OC, C = int(w_shape[0]), int(w_shape[1])
    return (dU.reshape(16, OC * C).T @ _GG.astype(dU.dtype)).reshape(OC, C, 3, 3)


# --------------------------------------------------------------------------- the wrappers
_MIN_CHUNK_BYTES = 1 << 20   # a chunk's V and M together: about this much (in cache for the
_MAX_CHUNKS = 64             # GEMMs), at least 4x the transformed weight, at most 64 chunks
_MIN_CHUNKS = 4              # and at least 4, batch allowing (work for 4 threads)


def winograd_fits(w_shape, g: Geometry2d, groups: int) -> bool:
    """Whether these kernels can run this convolution: 3x3, stride 1, dilation 1, groups 1."""
    return (int(groups) == 1 and tuple(int(s) for s in w_shape[2:]) == (3, 3)
            and (g.SH, g.SW, g.DH, g.DW) == (1, 1, 1, 1))


_MIN_IN_CHANNELS = 32     # the GEMMs' K: with 16 (16 -> 256 at 32x32) 120 vs 94 ms
_MIN_OUT_CHANNELS = 16    # (256 -> 16 at 32x32: 136 vs 226 ms, im2col's GEMM has M = 16)
_MIN_OUTPUTS = 16         # OH*OW: a 1x1 output computes a whole 2x2 block (512 -> 512:
                          # 44 vs 17 ms), a 2x2 one has one tile per image (44 vs 34 ms)


def winograd_pays(x_shape, w_shape, g: Geometry2d, groups: int) -> bool:
    """Whether the numba table runs this convolution as Winograd F(2x2, 3x3) (ops/conv.py's
    Conv2dWinograd) instead of im2col + GEMM: a layer it fits with at least 32 input and 16
    output channels and a 4x4 output. Measured forward + both grads, batch 64, 2 threads
    (ms, Winograd vs im2col + GEMM): ResNet-18's 3x3 layers 73 vs 111 (64 channels, 32x32),
    62 vs 101 (128, 16x16), 61 vs 95 (256, 8x8), 73 vs 95 (512, 4x4); 32 -> 64 at 32x32
    54 vs 56; the limits' reasons are beside them. Fewer channels: the direct kernels (see
    direct_conv_pays, asked first) or im2col."""
    OC, C = int(w_shape[0]), int(w_shape[1])
    return (winograd_fits(w_shape, g, groups) and C >= _MIN_IN_CHANNELS
            and OC >= _MIN_OUT_CHANNELS and g.OH * g.OW >= _MIN_OUTPUTS)


def _tiles(g: Geometry2d) -> tuple:
    return -(-g.OH // 2), -(-g.OW // 2)


def _chunks(N: int, tile_bytes_per_image: int, weight_bytes: int) -> list:
    """The (n0, n1) image ranges, one set of transforms + 16 GEMMs each; they depend on the
    shapes only, never on the thread count (see the module docstring)."""
    if N == 0:
        return []
    target = max(_MIN_CHUNK_BYTES, 4 * weight_bytes)
    per = max(-(-target // max(tile_bytes_per_image, 1)), -(-N // _MAX_CHUNKS))
    per = min(per, -(-N // _MIN_CHUNKS))
    return [(n0, min(N, n0 + per)) for n0 in range(0, N, per)]


def _check(op, weight_shape, g: Geometry2d, groups):
    if not winograd_fits(weight_shape, g, groups):
        raise ValueError(f"{op}: Winograd F(2x2, 3x3) needs a 3x3 kernel, stride 1, dilation 1 "
                         f"and groups 1; got weight {tuple(weight_shape)}, stride "
                         f"{(g.SH, g.SW)}, dilation {(g.DH, g.DW)}, groups {groups}")


def _plan(N, C, OC, g, itemsize):
    TH, TW = _tiles(g)
    per_image = 16 * (C + OC) * TH * TW * itemsize
    return TH, TW, _chunks(N, per_image, 16 * OC * C * itemsize)


_SKEW = 16   # elements between consecutive Winograd-domain matrices beyond their size


def _domain(R: int, T: int, dtype):
    """A (16, R, T) array for V, M or their gradients, as (flat buffer, its stride S, the
    view). The 16 matrices are S = R*T + _SKEW elements apart, not R*T: the transforms
    read or write all 16 at once, and with R*T*itemsize a multiple of 4 KB (any power-of-two
    layer) 16 streams on the same cache sets thrashed the L1: the grad transform of a
    64-channel 32x32 layer took 3.9 ms per 4 images instead of ~1."""
    S = R * T + _SKEW
    buf = np.empty(16 * S, dtype=dtype)
    item = buf.itemsize
    return buf, S, np.lib.stride_tricks.as_strided(buf, (16, R, T), (S * item, T * item, item))


def conv2d_forward_winograd(x, weight, bias, g: Geometry2d, groups: int = 1) -> np.ndarray:
    """y (N, OC, OH, OW) = conv2d(x (N, C, H, W), weight (OC, C, 3, 3)) + bias (OC,) or no
    bias (None), stride 1, any padding; inputs of any layout."""
    _check("conv2d_forward_winograd", weight.shape, g, groups)
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    OC = weight.shape[0]
    b = (np.zeros(OC, dtype=x.dtype) if bias is None
         else np.ascontiguousarray(bias, dtype=x.dtype))
    y = np.empty((N, OC, g.OH, g.OW), dtype=x.dtype)
    U = _weight_domain(weight, x.dtype)
    TH, TW, chunks = _plan(N, C, OC, g, x.itemsize)

    def run(i):
        n0, n1 = chunks[i]
        T = (n1 - n0) * TH * TW
        vf, vs, V = _domain(C, T, x.dtype)
        mf, ms, M = _domain(OC, T, x.dtype)
        _input_tiles(x[n0:n1], vf, vs, g.PH, g.PW, TH, TW)
        np.matmul(U, V, out=M)
        _output_tiles(mf, ms, b, y[n0:n1], TH, TW)

    parallel_for(run, len(chunks))
    return y


def conv2d_weight_grad_winograd(x, gy, w_shape, g: Geometry2d, groups: int = 1) -> np.ndarray:
    """gw (OC, C, 3, 3) of y = conv2d(x, w): x (N, C, H, W), gy (N, OC, OH, OW). Per-chunk
    partial sums in the Winograd domain, added in chunk order (the same bits for any
    thread count), then transformed back once."""
    _check("conv2d_weight_grad_winograd", w_shape, g, groups)
    x = np.ascontiguousarray(x)
    gy = np.ascontiguousarray(gy, dtype=x.dtype)
    N, C = x.shape[:2]
    OC = int(w_shape[0])
    TH, TW, chunks = _plan(N, C, OC, g, x.itemsize)
    parts = [None] * len(chunks)

    def run(i):
        n0, n1 = chunks[i]
        T = (n1 - n0) * TH * TW
        vf, vs, V = _domain(C, T, x.dtype)
        df, ds, dM = _domain(OC, T, x.dtype)
        _input_tiles(x[n0:n1], vf, vs, g.PH, g.PW, TH, TW)
        _grad_tiles(gy[n0:n1], df, ds, TH, TW)
        parts[i] = np.matmul(dM, V.transpose(0, 2, 1))

    parallel_for(run, len(chunks))
    if not parts:
        return np.zeros(tuple(int(s) for s in w_shape), dtype=x.dtype)
    dU = parts[0]
    for p in parts[1:]:      # in chunk order: the same sum for any number of threads
        dU += p
    return _weight_from_domain(dU, w_shape)


def conv2d_input_grad_winograd(gy, weight, x_shape, g: Geometry2d,
                               groups: int = 1) -> np.ndarray:
    """gx (N, C, H, W) of y = conv2d(x, weight): gy (N, OC, OH, OW), x_shape (N, C, H, W)."""
    _check("conv2d_input_grad_winograd", weight.shape, g, groups)
    gy = np.ascontiguousarray(gy)
    N, C, H, W = (int(s) for s in x_shape)
    OC = weight.shape[0]
    Ut = _weight_domain(weight, gy.dtype).transpose(0, 2, 1)   # (16, C, OC): BLAS transposes
    gx = np.empty((N, C, H, W), dtype=gy.dtype)
    TH, TW, chunks = _plan(N, C, OC, g, gy.itemsize)

    def run(i):
        n0, n1 = chunks[i]
        T = (n1 - n0) * TH * TW
        df, ds, dM = _domain(OC, T, gy.dtype)
        vf, vs, dV = _domain(C, T, gy.dtype)
        _grad_tiles(gy[n0:n1], df, ds, TH, TW)
        np.matmul(Ut, dM, out=dV)
        _input_tiles_adjoint(vf, vs, gx[n0:n1], g.PH, g.PW, TH, TW)

    parallel_for(run, len(chunks))
    return gx
