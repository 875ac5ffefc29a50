"""The CUDA kernels (kernels/*.cu), one by one, on the CPU emulator (tests/emulator.py): the
exact source the GPU runs, no GPU needed.

The whole minitorch/cuda layer (index tables, strides, grids, split sums) runs on NumPy arrays,
and every result is compared with the NumPy path (minitorch/cpu) in float32 and float64, on
non-contiguous inputs too; fresh kernel outputs are poisoned (NaN / -777), so an element a
kernel forgets to write fails the comparison. The ops' GPU dispatch (which Function runs,
fused or not) is tested with every other backend in the op tests (tests/backends.py).
Skipped without g++.

Also here: an NVRTC compile of every declared variant with the loader's exact options (what
CuPy does on the GPU machine), skipped when libnvrtc is not installed.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import EMU_HEADER, GXX, emulated, emulated_get_function, needs_gxx  # noqa: F401
from minitorch.cpu.im2col import col2im_xp, im2col_xp
from minitorch.cpu.pool import max_pool_backward_xp, max_pool_xp
from minitorch.cuda import fused, launch, loader
from minitorch.cuda import ops as cuda_ops
from minitorch.ops.geometry import Geometry2d
from minitorch.ops.pool import avg_divisor, pool_out_size

pytestmark = needs_gxx

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _rand(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _noncontig(a):
    """The same values as a non-contiguous view: every other slice of a bigger array along
    the last axis longer than 1 (a one-element array is contiguous whatever its strides)."""
    axes = [i for i, n in enumerate(a.shape) if n > 1]
    if not axes:
        return a
    ax = axes[-1]
    shape = list(a.shape)
    shape[ax] *= 2
    big = np.zeros(tuple(shape), dtype=a.dtype)
    index = tuple(slice(None, None, 2) if i == ax else slice(None) for i in range(a.ndim))
    big[index] = a
    view = big[index]
    assert not view.flags.c_contiguous
    return view


def _out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


# --------------------------------------------------------------------------- im2col / col2im
geometries = st.tuples(
    st.integers(1, 3), st.integers(1, 4),             # N, C
    st.integers(3, 9), st.integers(3, 9),             # H, W
    st.integers(1, 3), st.integers(1, 3),             # KH, KW
    st.integers(1, 3), st.integers(1, 2),             # SH, SW
    st.integers(0, 2), st.integers(0, 1),             # PH, PW
    st.integers(1, 2), st.integers(1, 2),             # DH, DW
)


def _valid_geom(g):
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = g
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    return OH >= 1 and OW >= 1


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=20)
@given(g=geometries.filter(_valid_geom), contig=st.booleans())
def test_im2col_col2im_match_numpy_path(emulated, dtype, g, contig):
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = g
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    geom = Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    x = _rand((N, C, H, W), dtype, 1)
    col = cuda_ops.im2col(x if contig else _noncontig(x), geom)
    assert col.dtype == dtype and col.shape == (C * KH * KW, N * OH * OW)
    np.testing.assert_array_equal(col, im2col_xp(x, geom))   # a copy: exact
    gcol = _rand(col.shape, dtype, 2)
    gx = cuda_ops.col2im(gcol if contig else _noncontig(gcol), (N, C, H, W), geom)
    np.testing.assert_allclose(gx, col2im_xp(gcol, (N, C, H, W), geom), **TOL[dtype])


def test_col2im_is_the_adjoint_of_im2col(emulated):
    """<im2col(x), c> == <x, col2im(c)>: the property the backward relies on."""
    geom = Geometry2d(3, 2, 2, 1, 1, 0, 2, 1, 3, 5)  # for H=7, W=6
    x, c = _rand((2, 3, 7, 6), np.float64, 3), _rand((3 * 3 * 2, 2 * 3 * 5), np.float64, 4)
    lhs = np.vdot(cuda_ops.im2col(x, geom), c)
    rhs = np.vdot(x, cuda_ops.col2im(c, x.shape, geom))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


def test_col2im_rejects_a_mismatched_col(emulated):
    with pytest.raises(ValueError, match="col2im: col shape"):
        cuda_ops.col2im(np.zeros((5, 5)), (1, 1, 4, 4), Geometry2d(2, 2, 1, 1, 0, 0, 1, 1, 3, 3))


# --------------------------------------------------------------------------- pooling
pool_geometries = st.tuples(
    st.integers(1, 2), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9),  # N C H W
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),  # KH KW SH SW
    st.integers(0, 1), st.integers(0, 1), st.integers(1, 2), st.integers(1, 2),  # PH PW DH DW
    st.booleans())                                                               # ceil_mode


def _pool_geom(g, dilation=True):
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, ceil = g
    if not dilation:
        DH = DW = 1
    PH, PW = min(PH, KH // 2), min(PW, KW // 2)
    OH, OW = pool_out_size(H, KH, SH, PH, DH, ceil), pool_out_size(W, KW, SW, PW, DW, ceil)
    return (N, C, H, W), Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25)
@given(g=pool_geometries, ties=st.booleans())
def test_max_pool_matches_numpy_path(emulated, dtype, g, ties):
    shape, geom = _pool_geom(g)
    if min(geom.OH, geom.OW) < 1:
        return
    x = _rand(shape, dtype, 5)
    if ties:  # few distinct values: many ties, which must go to the first max in scan order
        x = np.round(x).astype(dtype)
    out, idx = cuda_ops.max_pool(_noncontig(x), geom)
    ref_out, ref_idx = max_pool_xp(x, geom)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(idx, ref_idx)
    gy = _rand(out.shape, dtype, 6)
    gx = cuda_ops.max_pool_backward(_noncontig(gy), idx, shape, geom)
    np.testing.assert_allclose(gx, max_pool_backward_xp(gy, idx, shape, geom), **TOL[dtype])


def test_max_pool_nan_and_all_inf_windows(emulated):
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 0, 1] = np.nan
    out, idx = cuda_ops.max_pool(x, Geometry2d(2, 2, 2, 2, 0, 0, 1, 1, 2, 2))
    assert np.isnan(out[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1   # NaN wins and propagates
    assert out[0, 0, 1, 1] == -np.inf and idx[0, 0, 1, 1] == 2 * 4 + 2   # first in-bounds tap


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25)
@given(g=pool_geometries, include_pad=st.booleans(), override=st.sampled_from([None, 3]))
def test_avg_pool_matches_numpy_path(emulated, dtype, g, include_pad, override):
    shape, geom = _pool_geom(g, dilation=False)
    if min(geom.OH, geom.OW) < 1:
        return
    div = avg_divisor(geom, shape[2], shape[3], include_pad, override)
    x = _rand(shape, dtype, 7)
    out = cuda_ops.avg_pool(_noncontig(x), div, geom)
    # NumPy reference: zero-pad, sum the strided window slices, divide.
    xpad = np.pad(x, geom.pad_widths(*shape[2:]))
    wins = [rc for _, _, rc in geom.taps()]
    ref = sum(xpad[:, :, r, c] for r, c in wins) / div.astype(dtype)
    np.testing.assert_allclose(out, ref, **TOL[dtype])
    gy = _rand(out.shape, dtype, 8)
    gpad = np.zeros_like(xpad)
    for r, c in wins:
        gpad[:, :, r, c] += gy / div.astype(dtype)
    gx = cuda_ops.avg_pool_backward(_noncontig(gy), div, shape, geom)
    PH, PW = geom.PH, geom.PW
    np.testing.assert_allclose(gx, gpad[:, :, PH:PH + shape[2], PW:PW + shape[3]], **TOL[dtype])


# --------------------------------------------------------------------------- implicit-GEMM conv
def _conv_ref(x, w, b, geom, G):
    """y and the helpers of the NumPy path: col (CPU layout) and one matmul per group."""
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    N, OC = x.shape[0], w.shape[0]
    col = im2col_xp(x, geom)
    K = col.shape[0] // G
    y = np.matmul(w.reshape(G, OC // G, K), col.reshape(G, K, -1)).reshape(OC, N, OH, OW)
    y = y.transpose(1, 0, 2, 3)
    return (y if b is None else y + b.reshape(1, OC, 1, 1)), col


def _wgrad_ref(col, gy, w_shape, G):
    N, OC = gy.shape[:2]
    gmat = gy.reshape(N, OC, -1).transpose(1, 0, 2).reshape(G, OC // G, -1)
    K = col.shape[0] // G
    return np.matmul(gmat, col.reshape(G, K, -1).transpose(0, 2, 1)).reshape(w_shape)


conv_cases = st.tuples(
    st.integers(1, 3), st.integers(1, 2),              # N, G
    st.integers(1, 3), st.integers(1, 5),              # C per group, OC per group
    st.integers(3, 8), st.integers(3, 8),              # H, W
    st.integers(1, 3), st.integers(1, 3),              # KH, KW
    st.integers(1, 2), st.integers(1, 2),              # SH, SW
    st.integers(0, 2), st.integers(0, 1),              # PH, PW
    st.integers(1, 2), st.integers(1, 2),              # DH, DW
    st.booleans())                                     # bias


def _run_conv_case(c, dtype, tile=None):
    N, G, Cg, OCg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, has_b = c
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    if min(OH, OW) < 1:
        return
    geom = Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    x = _rand((N, G * Cg, H, W), dtype, 12)
    w = _rand((G * OCg, Cg, KH, KW), dtype, 13)
    b = _rand((G * OCg,), dtype, 14) if has_b else None
    ref, col = _conv_ref(x, w, b, geom, G)
    y = cuda_ops.conv2d_forward(_noncontig(x), w, b, geom, G, tile=tile)
    np.testing.assert_allclose(y, ref, **TOL[dtype])
    gy = _rand(y.shape, dtype, 15)
    gw = cuda_ops.conv2d_weight_grad(x, _noncontig(gy), w.shape, geom, G, tile=tile)
    np.testing.assert_allclose(gw, _wgrad_ref(col, gy, w.shape, G), **TOL[dtype])
    gx = cuda_ops.conv2d_input_grad(gy, w, x.shape, geom, G)
    K = Cg * KH * KW
    gcol = np.matmul(w.reshape(G, OCg, K).transpose(0, 2, 1),
                     gy.reshape(N, G * OCg, -1).transpose(1, 0, 2).reshape(G, OCg, -1))
    np.testing.assert_allclose(gx, col2im_xp(gcol.reshape(G * K, -1), x.shape, geom),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=12)
@given(c=conv_cases)
def test_conv_implicit_gemm_matches_numpy_path(emulated, dtype, c):
    _run_conv_case(c, dtype)


@pytest.mark.parametrize("tile", loader.CONV_TILES)
def test_conv_every_tile_shape(emulated, tile):
    """Each compiled tile shape, on a case with partial tiles on every edge (OC, pixels, k)."""
    # N G Cg OCg H W KH KW SH SW PH PW DH DW bias: OCg=37 and K=3*5*5=75 straddle tiles.
    _run_conv_case((3, 1, 3, 37, 9, 8, 5, 5, 1, 1, 2, 1, 1, 1, True), np.float64, tile)


def test_conv_lenet_layer_shapes_float32(emulated):
    """SimpLeNet's conv2 (20 -> 50, 5x5 on 12x12) at a small batch, in float32."""
    _run_conv_case((2, 1, 20, 50, 12, 12, 5, 5, 1, 1, 0, 0, 1, 1, True), np.float32)


def test_conv_weight_grad_is_deterministic_across_splits(emulated):
    """Bit-identical on a rerun; and several batch splits sum to the same as one (to rounding)."""
    geom = Geometry2d(3, 3, 1, 1, 1, 1, 1, 1, 6, 6)
    x, gy = _rand((9, 2, 6, 6), np.float32, 16), _rand((9, 4, 6, 6), np.float32, 17)
    a = cuda_ops.conv2d_weight_grad(x, gy, (4, 2, 3, 3), geom)
    b = cuda_ops.conv2d_weight_grad(x, gy, (4, 2, 3, 3), geom)
    np.testing.assert_array_equal(a, b)


def test_conv_rejects_mixed_dtypes(emulated):
    with pytest.raises(TypeError, match="conv2d: the CUDA kernels take"):
        cuda_ops.conv2d_forward(np.zeros((1, 1, 3, 3), np.float32), np.zeros((1, 1, 1, 1)),
                                None, Geometry2d(1, 1, 1, 1, 0, 0, 1, 1, 3, 3))


def test_int32_limit_is_a_clear_error():
    with pytest.raises(ValueError, match="32-bit indices"):
        launch.check_int32("im2col", col=2**31)


# --------------------------------------------------------------------------- fused kernels
def _softmax_xent_ref(z, y, ignore_index):
    z64 = z.astype(np.float64)
    m = z64.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z64 - m).sum(axis=1))
    valid = y != ignore_index
    safe = np.where(valid, y, 0)
    loss = np.where(valid, lse - z64[np.arange(len(y)), safe], 0.0)
    p = np.exp(z64 - lse[:, None])
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), safe] = 1
    return loss, (p - onehot) * valid[:, None], valid.sum()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,C", [(1, 1), (5, 10), (33, 7), (4, 300)])
def test_softmax_cross_entropy(emulated, dtype, N, C):
    z = (_rand((N, C), dtype, 18) * 30).astype(dtype)      # large logits: logsumexp matters
    y = np.random.default_rng(19).integers(0, C, N)
    if N > 2:
        y[1] = -100
    loss, grad = fused.softmax_cross_entropy(_noncontig(z), y, ignore_index=-100)
    ref_loss, ref_grad, count = _softmax_xent_ref(z, y, -100)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(loss, ref_loss, **tol)
    np.testing.assert_allclose(grad, ref_grad, **tol)
    mean, gmean = fused.cross_entropy_mean(z, y, ignore_index=-100)
    np.testing.assert_allclose(mean, ref_loss.sum() / count, **tol)
    np.testing.assert_allclose(gmean, ref_grad / count, **tol)


def test_softmax_cross_entropy_bad_targets_give_nan_rows_not_wild_reads(emulated):
    """The kernel checks the targets itself (no host sync): a target out of range (not the
    ignore_index) gives a NaN loss and gradient row, the other rows are untouched."""
    z = _rand((4, 3), np.float64, 30)
    loss, grad = fused.softmax_cross_entropy(z, np.array([0, 3, -100, -1]))
    assert np.isnan(loss[[1, 3]]).all() and np.isnan(grad[[1, 3]]).all()
    ref_loss, ref_grad, _ = _softmax_xent_ref(z[[0, 2]], np.array([0, -100]), -100)
    np.testing.assert_allclose(loss[[0, 2]], ref_loss, **TOL[np.float64])
    np.testing.assert_allclose(grad[[0, 2]], ref_grad, **TOL[np.float64])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 3, 2), (1, 2, 7, 7), (64, 6, 1, 1)])
def test_batch_norm_forward_backward(emulated, dtype, shape):
    x = (_rand(shape, dtype, 20) * 3 + 1).astype(dtype)
    C = shape[1]
    gamma, beta = _rand((C,), dtype, 21), _rand((C,), dtype, 22)
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, C) + (1,) * (len(shape) - 2)
    y, mean, invstd = fused.batch_norm_forward(_noncontig(x), gamma, beta, eps=1e-5)
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=axes)
    var = ((x64 - mu.reshape(bshape)) ** 2).mean(axis=axes)
    xhat = (x64 - mu.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-5)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, mu, **tol)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(var + 1e-5), **tol)
    np.testing.assert_allclose(y, xhat * gamma.reshape(bshape) + beta.reshape(bshape), **tol)
    gy = _rand(shape, dtype, 23)
    gx, ggamma, gbeta = fused.batch_norm_backward(_noncontig(gy), x, gamma, mean, invstd)
    M = x.size // C
    gb_ref = gy.astype(np.float64).sum(axis=axes)
    gg_ref = (gy * xhat).sum(axis=axes)
    gx_ref = (gamma.reshape(bshape) / np.sqrt(var.reshape(bshape) + 1e-5)) * (
        gy - gb_ref.reshape(bshape) / M - xhat * gg_ref.reshape(bshape) / M)
    np.testing.assert_allclose(gbeta, gb_ref, **tol)
    np.testing.assert_allclose(ggamma, gg_ref, **tol)
    np.testing.assert_allclose(gx, gx_ref, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_update(emulated, dtype, decoupled):
    shape = (7, 5)
    p, g = _rand(shape, dtype, 24), _rand(shape, dtype, 25)
    m, v = _rand(shape, dtype, 26) * 0.1, np.abs(_rand(shape, dtype, 27)) * 0.01
    m, v = m.astype(dtype), v.astype(dtype)
    lr, b1, b2, eps, wd, step = 1e-2, 0.9, 0.999, 1e-8, 0.1, 3
    # Reference: PyTorch's Adam (L2 added to the grad) / AdamW (decoupled decay).
    P, G, Mr, Vr = (a.astype(np.float64) for a in (p, g, m, v))
    if decoupled:
        P = P * (1 - lr * wd)
    else:
        G = G + wd * P
    Mr = b1 * Mr + (1 - b1) * G
    Vr = b2 * Vr + (1 - b2) * G * G
    denom = np.sqrt(Vr) / np.sqrt(1 - b2 ** step) + eps
    P = P - lr / (1 - b1 ** step) * Mr / denom
    pp, mm, vv = p.copy(), m.copy(), v.copy()
    fused.adam_update(pp, g, mm, vv, lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd,
                      step=step, decoupled=decoupled)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mm, Mr, **tol)
    np.testing.assert_allclose(vv, Vr, **tol)
    np.testing.assert_allclose(pp, P, **tol)


def test_adam_rejects_non_contiguous_state(emulated):
    p = np.zeros((4, 4))
    with pytest.raises(ValueError, match="adam_update: .* must be C-contiguous"):
        fused.adam_update(p[:, ::2], np.zeros((4, 2)), np.zeros((4, 2)), np.zeros((4, 2)),
                          lr=1e-3, step=1)


# --------------------------------------------------------------------------- NVRTC
def _nvrtc():
    """libnvrtc (the compiler CuPy uses), from the nvidia-cuda-nvrtc wheel or the system."""
    candidates = []
    try:
        import nvidia.cu13  # noqa: F401  (the CUDA 13 wheels' namespace)
        lib_dir = Path(nvidia.cu13.__path__[0]) / "lib"
        for builtins in sorted(lib_dir.glob("libnvrtc-builtins.so*")):  # nvrtc dlopens it
            ctypes.CDLL(str(builtins), mode=ctypes.RTLD_GLOBAL)
        candidates += sorted(lib_dir.glob("libnvrtc.so*"))
    except (ImportError, OSError):
        pass
    candidates += ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"]
    for c in candidates:
        try:
            return ctypes.CDLL(str(c))
        except OSError:
            continue
    return None


def test_nvrtc_compiles_every_kernel_with_the_loaders_options():
    lib = _nvrtc()
    if lib is None:
        pytest.skip("libnvrtc not found (pip install nvidia-cuda-nvrtc to run this check)")
    failures = []
    for filename, dtype, defines in loader.builds():
        src = loader.kernel_source(filename).encode()
        prog = ctypes.c_void_p()
        assert lib.nvrtcCreateProgram(ctypes.byref(prog), src, filename.encode(), 0, None,
                                      None) == 0
        opts = [o.encode() for o in loader.compile_options(dtype, defines)]
        opts.append(b"--gpu-architecture=sm_90")
        argv = (ctypes.c_char_p * len(opts))(*opts)
        rc = lib.nvrtcCompileProgram(prog, len(opts), argv)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
        if rc != 0:
            failures.append(f"{filename} {np.dtype(dtype)} {defines}:\n{log.value.decode()}")
    assert not failures, "\n".join(failures)
