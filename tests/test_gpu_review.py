"""Findings of the GPU review (issue 15), each tested on the CPU emulator of kernels/*.cu:
the exact CUDA sources, compiled with g++ behind an emulation header (tests/emulator.py).

- max-pool of a window lying wholly in the padding: -inf and index -1, as the CPU path;
"""
from __future__ import annotations

import numpy as np
import pytest

from minitorch.ops.pool import max_pool_xp, pool_out_size

try:
    from emulator import GXX, emulated_get_function
except ImportError:   # before the emulator moved into its own helper module
    from test_kernels_emulated import GXX, emulated_get_function

needs_gxx = pytest.mark.skipif(GXX is None, reason="g++ not found: kernel emulation skipped")
DTYPES = [np.float32, np.float64]


def _i32(*values):
    return tuple(np.int32(v) for v in values)


# --------------------------------------------------------------------------- (5) max-pool padding
def _kernel_max_pool(x, geom):
    """kernels/pool.cu's max_pool2d_forward, launched directly (one thread per output)."""
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geom
    N, C, H, W = x.shape
    out = np.full((N, C, OH, OW), 123.0, dtype=x.dtype)      # poison: must be overwritten
    idx = np.full((N, C, OH, OW), -777, dtype=np.int64)
    fn = emulated_get_function("pool.cu", "max_pool2d_forward", x.dtype)
    fn((1,), (64,), (np.ascontiguousarray(x), out, idx)
       + _i32(N * C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW))
    return out, idx


@needs_gxx
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_window_wholly_in_padding_is_minus_inf_as_on_the_cpu(dtype):
    # 2x2 input, kernel 2, padding 1, dilation 3: the only window's taps are rows/cols -1, 2,
    # all outside the image (PyTorch gives -inf there too).
    H = W = 2
    K, S, P, D = 2, 1, 1, 3
    OH = pool_out_size(H, K, S, P, D, False)
    geom = (K, K, S, S, P, P, D, D, OH, OH)
    x = np.random.default_rng(0).standard_normal((2, 3, H, W)).astype(dtype)
    out, idx = _kernel_max_pool(x, geom)
    ref_out, ref_idx = max_pool_xp(x, geom)
    assert OH == 1 and np.all(ref_out == -np.inf) and np.all(ref_idx == -1)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(idx, ref_idx)


@needs_gxx
def test_max_pool_partly_padded_windows_still_match_the_cpu():
    # kernel 3, padding 1, dilation 2 on 5x4: border windows mix padding and pixels, and some
    # rows of windows are wholly in the padding for one axis only.
    geom_in = dict(H=5, W=4, K=3, S=2, P=1, D=2)
    H, W, K, S, P, D = geom_in.values()
    OH, OW = pool_out_size(H, K, S, P, D, True), pool_out_size(W, K, S, P, D, True)
    geom = (K, K, S, S, P, P, D, D, OH, OW)
    x = np.random.default_rng(1).standard_normal((1, 2, H, W))
    out, idx = _kernel_max_pool(x, geom)
    ref_out, ref_idx = max_pool_xp(x, geom)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(idx, ref_idx)
