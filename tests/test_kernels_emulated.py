"""The CUDA kernels (kernels/*.cu), run on the CPU: the exact source the GPU runs, no GPU needed.

How: each .cu file is compiled as plain C++ with g++ behind a tiny header that defines the
CUDA keywords (__global__, __shared__, __restrict__, ...) and makes blockIdx/threadIdx/blockDim/
gridDim variables. A launcher runs the grid's blocks one after another. Inside a block:
- kernels without __syncthreads run their threads one after another;
- kernels with shared memory and __syncthreads (the tiled convolution) run each thread of the
  block as a real OS thread, and __syncthreads is a std::barrier, so the barrier-separated
  phases happen exactly as on the GPU (all threads finish copying before any multiplies).
Kernel arguments go through ``void** args`` like cudaLaunchKernel, and the launcher checks each
argument's byte size against the C parameter type, so an int64 passed for an ``int`` fails here
instead of being misread on the GPU.

The emulated kernels stand in for ``loader.get_function``, so the whole minitorch/cuda/ops.py
layer (index tables, strides, grids, split sums) runs on NumPy arrays, and every result is
compared with the NumPy path (minitorch/cpu, ops/) in float32 and float64, on non-contiguous
inputs too. Outputs are allocated poisoned (NaN / -777) so an element a kernel forgets to write
fails the comparison. Skipped without g++.

Also here: an NVRTC compile of every source with the loader's exact options (what CuPy does on
the GPU machine), skipped when libnvrtc is not installed.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch.cpu.im2col import col2im_xp, im2col_xp
from minitorch.cuda import fused, launch, loader
from minitorch.cuda import ops as cuda_ops

GXX = shutil.which("g++")
pytestmark = pytest.mark.skipif(GXX is None, reason="g++ not found: kernel emulation skipped")

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}

# --------------------------------------------------------------------------- the emulator
EMU_HEADER = r"""
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

struct emu_dim3 { unsigned x = 0, y = 0, z = 0; };
static emu_dim3 blockIdx, blockDim, gridDim;   // blocks run one at a time
static thread_local emu_dim3 threadIdx;        // each emulated thread has its own
static std::barrier<>* emu_barrier = nullptr;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static   // one copy, shared by the threads of the (single) running block
inline void __syncthreads() { emu_barrier->arrive_and_wait(); }
using std::max;
using std::min;
"""

EMU_LAUNCHER = r"""
template <typename... A, std::size_t... I>
static void emu_call(void (*k)(A...), void** args, std::index_sequence<I...>) {
    k(*static_cast<std::remove_cv_t<A>*>(args[I])...);
}

template <typename... A>
static int emu_launch(void (*k)(A...), const unsigned* g, const unsigned* b, void** args,
                      const long long* sizes, int nargs, int threaded) {
    if (nargs != (int)sizeof...(A)) return -1;
    const long long expect[] = {(long long)sizeof(A)...};
    for (int i = 0; i < nargs; ++i)
        if (sizes[i] != expect[i]) return -100 - i;   // argument i has the wrong C type
    gridDim = {g[0], g[1], g[2]};
    blockDim = {b[0], b[1], b[2]};
    const unsigned nthreads = b[0] * b[1] * b[2];
    for (unsigned bz = 0; bz < g[2]; ++bz)
    for (unsigned by = 0; by < g[1]; ++by)
    for (unsigned bx = 0; bx < g[0]; ++bx) {
        blockIdx = {bx, by, bz};
        if (!threaded) {
            for (unsigned t = 0; t < nthreads; ++t) {
                threadIdx = {t % b[0], (t / b[0]) % b[1], t / (b[0] * b[1])};
                emu_call(k, args, std::index_sequence_for<A...>{});
            }
            continue;
        }
        std::barrier<> bar((std::ptrdiff_t)nthreads);
        emu_barrier = &bar;
        std::vector<std::thread> pool;
        pool.reserve(nthreads);
        for (unsigned t = 0; t < nthreads; ++t)
            pool.emplace_back([&, t] {
                threadIdx = {t % b[0], (t / b[0]) % b[1], t / (b[0] * b[1])};
                emu_call(k, args, std::index_sequence_for<A...>{});
                bar.arrive_and_drop();   // an exited thread no longer holds up barriers
            });
        for (auto& th : pool) th.join();
        emu_barrier = nullptr;
    }
    return 0;
}
#define EMU_EXPORT(name) \
    extern "C" int emu_##name(const unsigned* g, const unsigned* b, void** args, \
                              const long long* sizes, int nargs, int threaded) { \
        return emu_launch(name, g, b, args, sizes, nargs, threaded); }
"""

_KERNEL_NAME = re.compile(r'extern "C" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(')
_CTYPES = {np.dtype(np.int32): ctypes.c_int32, np.dtype(np.int64): ctypes.c_int64,
           np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_libs: dict[tuple, tuple] = {}


def _build_dir() -> Path:
    path = Path(__file__).resolve().parents[1] / ".pytest_cache" / "kernel_emulator"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _build(filename: str, dtype, defines: tuple):
    """Compile kernels/<filename> for dtype/defines as a shared library (cached by hash)."""
    key = (filename, np.dtype(dtype).str, defines)
    if key in _libs:
        return _libs[key]
    source = loader.kernel_source(filename)
    names = _KERNEL_NAME.findall(source)
    assert names, f"no extern \"C\" __global__ kernels found in {filename}"
    # -D options exactly as the loader gives NVRTC (minus -std, which g++ gets as c++20).
    opts = [o for o in loader.compile_options(dtype, defines) if o.startswith("-D")]
    text = (EMU_HEADER + EMU_LAUNCHER + f'#line 1 "kernels/{filename}"\n' + source
            + "\n" + "".join(f"EMU_EXPORT({n})\n" for n in names))
    digest = hashlib.sha256((text + " ".join(opts)).encode()).hexdigest()[:16]
    out = _build_dir() / f"{Path(filename).stem}-{digest}.so"
    if not out.exists():
        cpp = out.with_suffix(".cpp")
        cpp.write_text(text)
        cmd = [GXX, "-std=c++20", "-O0", "-shared", "-fPIC", "-pthread", "-Wall", "-Werror",
               "-Wno-unknown-pragmas", *opts, "-o", str(out) + ".tmp", str(cpp)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, f"g++ failed on {filename}:\n{res.stderr[-4000:]}"
        Path(str(out) + ".tmp").rename(out)
    _libs[key] = (ctypes.CDLL(str(out)), "__syncthreads" in source)
    return _libs[key]


class EmulatedKernel:
    """Called like a cupy.RawKernel: kernel(grid, block, args)."""

    def __init__(self, lib, name: str, threaded: bool):
        self.fn = getattr(lib, f"emu_{name}")
        self.fn.restype = ctypes.c_int
        self.name, self.threaded = name, threaded

    def __call__(self, grid, block, args, shared_mem=0):
        g = (ctypes.c_uint * 3)(*(tuple(grid) + (1, 1))[:3])
        b = (ctypes.c_uint * 3)(*(tuple(block) + (1, 1))[:3])
        assert all(v >= 1 for v in g) and all(v >= 1 for v in b), (grid, block)
        assert b[0] * b[1] * b[2] <= 1024, f"{self.name}: block {tuple(block)} > 1024 threads"
        holders, sizes = [], []
        for i, a in enumerate(args):
            if a is None:                       # CuPy passes None as a NULL pointer
                holders.append(ctypes.c_void_p(None))
            elif isinstance(a, np.ndarray):
                assert a.flags.c_contiguous, f"{self.name}: argument {i} is not C-contiguous"
                holders.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.generic):
                holders.append(_CTYPES[a.dtype](a.item()))
            elif isinstance(a, bool):
                raise TypeError(f"{self.name}: argument {i} is a Python bool")
            elif isinstance(a, int):            # CuPy turns a Python int into an int64
                holders.append(ctypes.c_int64(a))
            elif isinstance(a, float):
                holders.append(ctypes.c_double(a))
            else:
                raise TypeError(f"{self.name}: argument {i} has unsupported type {type(a)}")
            sizes.append(ctypes.sizeof(holders[-1]))
        argv = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
        sz = (ctypes.c_longlong * len(sizes))(*sizes)
        rc = self.fn(g, b, argv, sz, len(holders), int(self.threaded))
        assert rc != -1, f"{self.name}: called with {len(holders)} arguments, wrong count"
        assert rc == 0, (f"{self.name}: argument {-100 - rc} has the wrong C type "
                         f"({sizes[-100 - rc]} bytes)")


def emulated_get_function(filename, name, dtype, defines=()):
    lib, threaded = _build(filename, dtype, tuple(defines))
    return EmulatedKernel(lib, name, threaded)


_real_empty, _real_empty_like = np.empty, np.empty_like


def _poison(a):
    if a.dtype.kind == "f":
        a.fill(np.nan)
    elif a.dtype.kind in "iu":
        a.fill(-777)
    return a


@pytest.fixture(scope="module")
def emulated():
    """Route minitorch.cuda's kernel lookups to the CPU emulator; poison fresh outputs.
    (Module-scoped: nothing in it changes between hypothesis examples.)"""
    # Build every (file, dtype, tile) library up front, in parallel: g++ time dominates a
    # cold run; later runs find them cached under .pytest_cache/kernel_emulator.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda b: _build(*b), _all_builds()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader, "get_function", emulated_get_function)
        mp.setattr(np, "empty", lambda *a, **k: _poison(_real_empty(*a, **k)))
        mp.setattr(np, "empty_like", lambda *a, **k: _poison(_real_empty_like(*a, **k)))
        yield


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
    big = _real_empty(tuple(shape), dtype=a.dtype)
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
    geom = (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    x = _rand((N, C, H, W), dtype, 1)
    col = cuda_ops.im2col(x if contig else _noncontig(x), *geom)
    assert col.dtype == dtype and col.shape == (C * KH * KW, N * OH * OW)
    np.testing.assert_array_equal(col, im2col_xp(x, *geom))   # a copy: exact
    gcol = _rand(col.shape, dtype, 2)
    gx = cuda_ops.col2im(gcol if contig else _noncontig(gcol), (N, C, H, W), *geom)
    np.testing.assert_allclose(gx, col2im_xp(gcol, (N, C, H, W), *geom), **TOL[dtype])


def test_col2im_is_the_adjoint_of_im2col(emulated):
    """<im2col(x), c> == <x, col2im(c)>: the property the backward relies on."""
    geom = (3, 2, 2, 1, 1, 0, 2, 1, 3, 5)  # KH KW SH SW PH PW DH DW OH OW for H=7, W=6
    x, c = _rand((2, 3, 7, 6), np.float64, 3), _rand((3 * 3 * 2, 2 * 3 * 5), np.float64, 4)
    lhs = np.vdot(cuda_ops.im2col(x, *geom), c)
    rhs = np.vdot(x, cuda_ops.col2im(c, x.shape, *geom))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


def test_col2im_rejects_a_mismatched_col(emulated):
    with pytest.raises(ValueError, match="col2im: col shape"):
        cuda_ops.col2im(np.zeros((5, 5)), (1, 1, 4, 4), 2, 2, 1, 1, 0, 0, 1, 1, 3, 3)


# --------------------------------------------------------------------------- pooling
def _max_pool_ref(x, geom):
    from minitorch.ops.pool import max_pool_xp
    return max_pool_xp(x, geom)


def _max_pool_backward_ref(gy, idx, x_shape):
    from minitorch.ops.pool import max_pool_backward_xp
    return max_pool_backward_xp(gy, idx, x_shape)


pool_geometries = st.tuples(
    st.integers(1, 2), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9),  # N C H W
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),  # KH KW SH SW
    st.integers(0, 1), st.integers(0, 1), st.integers(1, 2), st.integers(1, 2),  # PH PW DH DW
    st.booleans())                                                               # ceil_mode


def _pool_geom(g, dilation=True):
    from minitorch.ops.pool import pool_out_size
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, ceil = g
    if not dilation:
        DH = DW = 1
    PH, PW = min(PH, KH // 2), min(PW, KW // 2)
    OH, OW = pool_out_size(H, KH, SH, PH, DH, ceil), pool_out_size(W, KW, SW, PW, DW, ceil)
    return (N, C, H, W), (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25)
@given(g=pool_geometries, ties=st.booleans())
def test_max_pool_matches_numpy_path(emulated, dtype, g, ties):
    shape, geom = _pool_geom(g)
    if min(geom[-2:]) < 1:
        return
    x = _rand(shape, dtype, 5)
    if ties:  # few distinct values: many ties, which must go to the first max in scan order
        x = np.round(x).astype(dtype)
    out, idx = cuda_ops.max_pool(_noncontig(x), *geom)
    ref_out, ref_idx = _max_pool_ref(x, geom)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(idx, ref_idx)
    gy = _rand(out.shape, dtype, 6)
    gx = cuda_ops.max_pool_backward(_noncontig(gy), idx, shape, *geom)
    np.testing.assert_allclose(gx, _max_pool_backward_ref(gy, idx, shape), **TOL[dtype])


def test_max_pool_nan_and_all_inf_windows(emulated):
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 0, 1] = np.nan
    out, idx = cuda_ops.max_pool(x, 2, 2, 2, 2, 0, 0, 1, 1, 2, 2)
    assert np.isnan(out[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1   # NaN wins and propagates
    assert out[0, 0, 1, 1] == -np.inf and idx[0, 0, 1, 1] == 2 * 4 + 2   # first in-bounds tap


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25)
@given(g=pool_geometries, include_pad=st.booleans(), override=st.sampled_from([None, 3]))
def test_avg_pool_matches_numpy_path(emulated, dtype, g, include_pad, override):
    from minitorch.ops.pool import _avg_divisor
    shape, geom = _pool_geom(g, dilation=False)
    if min(geom[-2:]) < 1:
        return
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    div = _avg_divisor(geom, shape[2], shape[3], include_pad, override).astype(dtype)
    x = _rand(shape, dtype, 7)
    out = cuda_ops.avg_pool(_noncontig(x), div, KH, KW, SH, SW, PH, PW, OH, OW)
    # NumPy reference: zero-pad, sum the strided window slices, divide.
    PB = max(0, (OH - 1) * SH + KH - shape[2] - PH)
    PR = max(0, (OW - 1) * SW + KW - shape[3] - PW)
    xpad = np.pad(x, ((0, 0), (0, 0), (PH, PB), (PW, PR)))
    wins = [(slice(kh, kh + SH * (OH - 1) + 1, SH), slice(kw, kw + SW * (OW - 1) + 1, SW))
            for kh in range(KH) for kw in range(KW)]
    ref = sum(xpad[:, :, r, c] for r, c in wins) / div
    np.testing.assert_allclose(out, ref, **TOL[dtype])
    gy = _rand(out.shape, dtype, 8)
    gpad = np.zeros_like(xpad)
    for r, c in wins:
        gpad[:, :, r, c] += gy / div
    gx = cuda_ops.avg_pool_backward(_noncontig(gy), div, shape, KH, KW, SH, SW, PH, PW, OH, OW)
    np.testing.assert_allclose(gx, gpad[:, :, PH:PH + shape[2], PW:PW + shape[3]], **TOL[dtype])


# --------------------------------------------------------------------------- bias + ReLU
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5), (2, 4, 3, 3), (1, 7, 2, 5)])
def test_bias_relu_forward_backward(emulated, dtype, shape):
    x, b = _rand(shape, dtype, 9), _rand((shape[1],), dtype, 10)
    y = cuda_ops.bias_relu(_noncontig(x), b)
    ref = np.maximum(x + b.reshape((1, -1) + (1,) * (len(shape) - 2)), 0)
    np.testing.assert_allclose(y, ref, **TOL[dtype])
    gy = _rand(shape, dtype, 11)
    np.testing.assert_array_equal(cuda_ops.relu_backward(_noncontig(gy), y), gy * (ref > 0))


def test_bias_relu_propagates_nan_and_rejects_bad_bias(emulated):
    y = cuda_ops.bias_relu(np.array([[np.nan, -1.0]]), np.zeros(2))
    assert np.isnan(y[0, 0]) and y[0, 1] == 0
    with pytest.raises(ValueError, match="bias_relu: bias shape"):
        cuda_ops.bias_relu(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(TypeError, match="float32 or all-float64"):
        cuda_ops.bias_relu(np.zeros((2, 3), np.float32), np.zeros(3))


# --------------------------------------------------------------------------- implicit-GEMM conv
def _conv_ref(x, w, b, geom, G):
    """y and the helpers of the NumPy path: col (CPU layout) and one matmul per group."""
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    N, OC = x.shape[0], w.shape[0]
    col = im2col_xp(x, *geom)
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


def _run_conv_case(c, dtype, tile=None, monkeypatch=None):
    N, G, Cg, OCg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, has_b = c
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    if min(OH, OW) < 1:
        return
    if tile is not None:
        monkeypatch.setattr(cuda_ops, "_conv_tile", lambda rows, cols: tile)
    geom = (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    x = _rand((N, G * Cg, H, W), dtype, 12)
    w = _rand((G * OCg, Cg, KH, KW), dtype, 13)
    b = _rand((G * OCg,), dtype, 14) if has_b else None
    ref, col = _conv_ref(x, w, b, geom, G)
    y = cuda_ops.conv2d_forward(_noncontig(x), w, b, geom, G)
    np.testing.assert_allclose(y, ref, **TOL[dtype])
    gy = _rand(y.shape, dtype, 15)
    gw = cuda_ops.conv2d_weight_grad(x, _noncontig(gy), w.shape, geom, G)
    np.testing.assert_allclose(gw, _wgrad_ref(col, gy, w.shape, G), **TOL[dtype])
    gx = cuda_ops.conv2d_input_grad(gy, w, x.shape, geom, G)
    K = Cg * KH * KW
    gcol = np.matmul(w.reshape(G, OCg, K).transpose(0, 2, 1),
                     gy.reshape(N, G * OCg, -1).transpose(1, 0, 2).reshape(G, OCg, -1))
    np.testing.assert_allclose(gx, col2im_xp(gcol.reshape(G * K, -1), x.shape, *geom),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=12)
@given(c=conv_cases)
def test_conv_implicit_gemm_matches_numpy_path(emulated, dtype, c):
    _run_conv_case(c, dtype)


@pytest.mark.parametrize("tile", cuda_ops._CONV_TILES)
def test_conv_every_tile_shape(emulated, monkeypatch, tile):
    """Each compiled tile shape, on a case with partial tiles on every edge (OC, pixels, k)."""
    # N G Cg OCg H W KH KW SH SW PH PW DH DW bias: OCg=37 and K=3*5*5=75 straddle tiles.
    _run_conv_case((3, 1, 3, 37, 9, 8, 5, 5, 1, 1, 2, 1, 1, 1, True), np.float64, tile,
                   monkeypatch)


def test_conv_lenet_layer_shapes_float32(emulated):
    """SimpLeNet's conv2 (20 -> 50, 5x5 on 12x12) at a small batch, in float32."""
    _run_conv_case((2, 1, 20, 50, 12, 12, 5, 5, 1, 1, 0, 0, 1, 1, True), np.float32)


def test_conv_weight_grad_is_deterministic_across_splits(emulated):
    """Bit-identical on a rerun; and several batch splits sum to the same as one (to rounding)."""
    geom = (3, 3, 1, 1, 1, 1, 1, 1, 6, 6)
    x, gy = _rand((9, 2, 6, 6), np.float32, 16), _rand((9, 4, 6, 6), np.float32, 17)
    a = cuda_ops.conv2d_weight_grad(x, gy, (4, 2, 3, 3), geom)
    b = cuda_ops.conv2d_weight_grad(x, gy, (4, 2, 3, 3), geom)
    np.testing.assert_array_equal(a, b)


def test_conv_rejects_mixed_dtypes(emulated):
    with pytest.raises(TypeError, match="conv2d: the CUDA kernels take"):
        cuda_ops.conv2d_forward(np.zeros((1, 1, 3, 3), np.float32), np.zeros((1, 1, 1, 1)),
                                None, (1, 1, 1, 1, 0, 0, 1, 1, 3, 3))


def test_int32_limit_is_a_clear_error():
    with pytest.raises(ValueError, match="32-bit indices"):
        launch.check_int32("im2col", col=2**31)


# --------------------------------------------------------------------------- the ops' dispatch
class _NumpyProxy:
    """Looks like NumPy to array code, but `xp is not np`: makes ops/conv.py and ops/pool.py
    take their CuPy branches (to the emulated kernels) with NumPy arrays."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.fixture
def gpu_dispatch(emulated, monkeypatch):
    from minitorch.ops import conv, pool
    proxy = _NumpyProxy()
    for mod in (conv, pool):
        monkeypatch.setattr(mod, "get_array_module", lambda *a: proxy)


def _grads_of(fn, arrays, up_seed=30):
    import minitorch as mt
    xs = [mt.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    out.backward(np.random.default_rng(up_seed).standard_normal(out.shape))
    return out.detach().numpy(), [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("case", [
    dict(x=(3, 4, 9, 8), w=(6, 2, 3, 3), bias=True, stride=2, padding=1, dilation=(2, 1), groups=2),
    dict(x=(2, 1, 12, 12), w=(5, 1, 5, 5), bias=True, stride=1, padding=2, dilation=1, groups=1),
    dict(x=(3, 7, 7), w=(4, 3, 3, 3), bias=False, stride=1, padding=0, dilation=1, groups=1),
])
def test_conv2d_cuda_dispatch_matches_cpu(gpu_dispatch, case):
    """F.conv2d through Conv2d's CuPy branch (implicit GEMM forward + weight grad, cuBLAS +
    col2im input grad) equals the CPU path, forward and every grad."""
    import minitorch.nn.functional as F
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
              groups=case["groups"])
    arrays = [_rand(case["x"], np.float64, 31), _rand(case["w"], np.float64, 32)]
    if case["bias"]:
        arrays.append(_rand((case["w"][0],), np.float64, 33))
    fn = (lambda x, w, b=None: F.conv2d(x, w, b, **kw))
    ref = (lambda x, w, b=None: F.conv2d_reference(x, w, b, **kw))
    out, grads = _grads_of(fn, arrays)
    ref_out, ref_grads = _grads_of(ref, arrays)
    np.testing.assert_allclose(out, ref_out, **TOL[np.float64])
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, **TOL[np.float64])


@pytest.mark.parametrize("ceil", [False, True])
def test_pool_cuda_dispatch_matches_cpu(emulated, monkeypatch, ceil):
    import minitorch.nn.functional as F
    from minitorch.ops import pool
    x = np.round(_rand((2, 3, 9, 8), np.float64, 34) * 2)        # ties
    cases = [lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=ceil),
             lambda t: F.max_pool2d(t, 2, dilation=2, ceil_mode=ceil),
             lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=ceil, count_include_pad=False),
             lambda t: F.avg_pool2d(t[0], 2, ceil_mode=ceil)]       # unbatched
    refs = [_grads_of(fn, [x]) for fn in cases]
    monkeypatch.setattr(pool, "get_array_module", lambda *a: _NumpyProxy())
    monkeypatch.setattr(pool, "HAVE_NUMBA", False)   # else NumPy arrays take the numba branch
    for fn, (ref_out, ref_grads) in zip(cases, refs):
        out, grads = _grads_of(fn, [x])
        np.testing.assert_allclose(out, ref_out, **TOL[np.float64])
        np.testing.assert_allclose(grads[0], ref_grads[0], **TOL[np.float64])
    _, idx = F.max_pool2d(__import__("minitorch").Tensor(x), 3, 2, 1, ceil_mode=ceil,
                          return_indices=True)
    monkeypatch.undo()
    _, ref_idx = F.max_pool2d(__import__("minitorch").Tensor(x), 3, 2, 1, ceil_mode=ceil,
                              return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())


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


def test_softmax_cross_entropy_rejects_bad_targets(emulated):
    with pytest.raises(IndexError, match="softmax_cross_entropy: target value 3"):
        fused.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))


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


def _all_builds():
    for f in sorted(p.name for p in loader._REPO_KERNELS.glob("*.cu")):
        tiles = [cuda_ops._tile_defines(t) for t in cuda_ops._CONV_TILES] \
            if f == "conv_direct.cu" else [()]
        for dtype in DTYPES:
            for defines in tiles:
                        yield f, dtype, tuple(defines)


def test_nvrtc_compiles_every_kernel_with_the_loaders_options():
    lib = _nvrtc()
    if lib is None:
        pytest.skip("libnvrtc not found (pip install nvidia-cuda-nvrtc to run this check)")
    failures = []
    for filename, dtype, defines in _all_builds():
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


# --------------------------------------------------------------------------- fused dispatch
def _fused_vs_numpy(monkeypatch, module, run):
    """run() through ``module``'s CuPy branch (the emulated fused kernels, via a NumPy proxy)
    and through its NumPy path; returns both results."""
    with monkeypatch.context() as mp:
        mp.setattr(module, "get_array_module", lambda *a: _NumpyProxy())
        fused_result = run()
    return fused_result, run()


def _assert_all_close(got, ref, dtype):
    for g, r in zip(got, ref, strict=True):
        assert g is not None and r is not None
        assert np.asarray(g).dtype == np.asarray(r).dtype
        np.testing.assert_allclose(g, r, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_fused_dispatch_matches_numpy(emulated, monkeypatch, dtype, reduction):
    import minitorch as mt
    import minitorch.nn.functional as F
    from minitorch.ops import loss
    z = _rand((9, 6), dtype, 40)
    y = np.random.default_rng(41).integers(0, 6, 9)
    y[2] = -100                                           # an ignored row
    up = np.asarray(1.7, dtype=dtype)

    def run():
        zt = mt.Tensor(z, requires_grad=True)
        out = F.cross_entropy(zt, mt.Tensor(y), reduction=reduction)
        out.backward(mt.Tensor(up))
        return out.detach().numpy(), zt.grad.numpy()

    calls = []
    real = loss._forward_cuda
    monkeypatch.setattr(loss, "_forward_cuda", lambda *a: calls.append(1) or real(*a))
    got, ref = _fused_vs_numpy(monkeypatch, loss, run)
    assert calls == [1]                                   # the fused branch really ran
    _assert_all_close(got, ref, dtype)


def test_cross_entropy_uncommon_cases_keep_the_generic_path(emulated, monkeypatch):
    import minitorch as mt
    import minitorch.nn.functional as F
    from minitorch.ops import loss
    monkeypatch.setattr(loss, "get_array_module", lambda *a: _NumpyProxy())
    monkeypatch.setattr(loss, "_forward_cuda", lambda *a: pytest.fail("fused path taken"))
    z, y = mt.Tensor(_rand((4, 3), np.float64, 42)), mt.Tensor(np.array([0, 2, 1, 1]))
    F.cross_entropy(z, y, reduction="none")
    F.cross_entropy(z, y, label_smoothing=0.1)
    F.cross_entropy(z, y, weight=mt.Tensor(np.ones(3)))
    F.cross_entropy(mt.Tensor(_rand((2, 3, 4), np.float64, 43)), mt.Tensor(np.zeros((2, 4), int)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_fused_dispatch_matches_numpy(emulated, monkeypatch, dtype, shape, training):
    import minitorch as mt
    import minitorch.nn.functional as F
    from minitorch.ops import norm
    C = shape[1]
    x = (_rand(shape, dtype, 44) * 2 + 0.5).astype(dtype)
    w, b = _rand((C,), dtype, 45), _rand((C,), dtype, 46)
    rm0, rv0 = _rand((C,), dtype, 47), (np.abs(_rand((C,), dtype, 48)) + 0.5).astype(dtype)
    up = _rand(shape, dtype, 49)

    def run():
        # x as a non-contiguous view: the fused path must make its own contiguous copy
        xt, wt, bt = (mt.Tensor(a, requires_grad=True) for a in (_noncontig(x), w, b))
        rm, rv = mt.Tensor(rm0.copy()), mt.Tensor(rv0.copy())
        out = F.batch_norm(xt, rm, rv, wt, bt, training=training, momentum=0.2, eps=1e-5)
        out.backward(mt.Tensor(up))
        return (out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(),
                rm.numpy(), rv.numpy())

    calls = []
    real = norm._forward_cuda
    monkeypatch.setattr(norm, "_forward_cuda", lambda *a: calls.append(1) or real(*a))
    got, ref = _fused_vs_numpy(monkeypatch, norm, run)
    assert calls == [1]
    _assert_all_close(got, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,wd", [("Adam", 0.0), ("Adam", 0.1), ("AdamW", 0.1)])
def test_adam_fused_dispatch_matches_numpy(emulated, monkeypatch, dtype, name, wd):
    import minitorch as mt
    from minitorch.optim import adam
    p0 = [_rand((5, 4), dtype, 50), _rand((3,), dtype, 51)]
    grads = [[_rand(p.shape, dtype, 52 + 10 * k + i) for i, p in enumerate(p0)]
             for k in range(5)]
    calls = []
    from minitorch.cuda import fused
    real_update = fused.adam_update
    monkeypatch.setattr(fused, "adam_update", lambda *a, **k: calls.append(1) or
                        real_update(*a, **k))

    def run():
        params = [mt.Tensor(p.copy(), requires_grad=True) for p in p0]
        opt = getattr(mt.optim, name)(params, lr=1e-2, betas=(0.8, 0.99), weight_decay=wd)
        for step_grads in grads:                          # 5 steps
            for p, g in zip(params, step_grads):
                p.grad = mt.Tensor(g)
            opt.step()
        state = [opt.state[p] for p in params]
        return ([p.detach().numpy() for p in params] + [s["exp_avg"].numpy() for s in state]
                + [s["exp_avg_sq"].numpy() for s in state])

    got, ref = _fused_vs_numpy(monkeypatch, adam, run)
    assert len(calls) == 5 * len(p0)
    _assert_all_close(got, ref, dtype)
