"""max_pool2d / avg_pool2d / adaptive_avg_pool2d: vs PyTorch (forward, indices, grads) over
kernel/stride/padding/dilation/ceil_mode, the numba kernels vs the array code, the max-pool
tie rule, finite differences, the modules and the error messages. Every F.*pool2d case runs on
every backend (tests/backends.py): numba, the NumPy reference, the CUDA kernels on the CPU
emulator and a real GPU."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minitorch as mt
import minitorch.nn.functional as F
from backends import backend, given_settings  # noqa: F401  (backend: the fixture)
from minitorch.cpu import HAVE_NUMBA
from minitorch.cpu.pool import max_pool_backward_xp, max_pool_xp
from minitorch.ops.geometry import Geometry2d
from minitorch.ops.pool import pool_out_size
from opcheck import check_op, needs_torch, torch

TF = torch.nn.functional if torch is not None else None


def strided(shape, seed=0):
    base = np.random.default_rng(seed).standard_normal(tuple(shape) + (2,))
    return base[..., 0]


@st.composite
def pool_configs(draw, dilation=True):
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    SH, SW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    PH, PW = draw(st.integers(0, KH // 2)), draw(st.integers(0, KW // 2))
    DH, DW = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    H = draw(st.integers(max(1, DH * (KH - 1) + 1 - 2 * PH), 9))
    W = draw(st.integers(max(1, DW * (KW - 1) + 1 - 2 * PW), 9))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W)
    kw = dict(kernel_size=(KH, KW), stride=(SH, SW), padding=(PH, PW), ceil_mode=ceil_mode)
    if dilation:
        kw["dilation"] = (DH, DW)
    return shape, kw


# --------------------------------------------------------------------------- max pooling
@needs_torch
@given_settings
@given(cfg=pool_configs(), contiguous=st.booleans())
def test_max_pool2d_matches_torch_with_indices(backend, cfg, contiguous):
    shape, kw = cfg
    x = np.random.default_rng(0).standard_normal(shape) if contiguous else strided(shape, 1)
    # windows wholly in the padding: PyTorch's index there is meaningless (tested below)
    out, idx = F.max_pool2d(backend.tensor(x), return_indices=True, **kw)
    assume((backend.numpy(idx) >= 0).all())
    check_op(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), x,
             device=backend.device)
    ref, ref_idx = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(backend.numpy(idx), ref_idx.numpy())
    assert idx.dtype == np.int64


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not importable")
@given(cfg=pool_configs())
def test_max_pool_numba_matches_array_code(cfg):
    from minitorch.cpu.pool import max_pool_backward_numba, max_pool_numba
    shape, kw = cfg
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = (kw[k] for k in ("kernel_size", "stride",
                                                              "padding", "dilation"))
    OH = pool_out_size(shape[2], KH, SH, PH, DH, kw["ceil_mode"])
    OW = pool_out_size(shape[3], KW, SW, PW, DW, kw["ceil_mode"])
    geom = Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    # a few repeated values make ties likely: both paths must pick the same (first) max
    x = np.random.default_rng(2).integers(0, 3, size=shape).astype(np.float64)
    out, idx = max_pool_numba(x, geom)
    out_ref, idx_ref = max_pool_xp(x, geom)
    np.testing.assert_array_equal(out, out_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    gy = np.random.default_rng(3).standard_normal(out.shape)
    np.testing.assert_allclose(max_pool_backward_numba(gy, idx, shape, geom),
                               max_pool_backward_xp(gy, idx, shape, geom), rtol=1e-12)


def test_max_pool2d_2x2_fast_path_matches_general_kernel():
    """LeNet's 2x2/stride-2 case has its own kernel (odd sizes leave a row/col unused)."""
    x = np.random.default_rng(4).integers(0, 4, size=(3, 2, 7, 9)).astype(np.float32)
    out, idx = F.max_pool2d(mt.tensor(x), 2, return_indices=True)
    ref, ref_idx = max_pool_xp(x, Geometry2d(2, 2, 2, 2, 0, 0, 1, 1, 3, 4))
    np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not importable")
def test_max_pool_2x2_kernel_matches_general_kernel_on_nan_inf_and_ties():
    """The branch-free 2x2 kernel keeps the general kernel's rule on every kind of value:
    first max wins, the last NaN in a window wins, -inf windows pick their first element."""
    from minitorch.cpu.pool import _max_pool_2x2_kernel, _max_pool_kernel
    values = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.0, -2.5])
    x = np.random.default_rng(5).choice(values, size=(4, 3, 8, 10)).astype(np.float32)
    out, idx = np.empty((4, 3, 4, 5), np.float32), np.empty((4, 3, 4, 5), np.int64)
    ref, ref_idx = np.empty_like(out), np.empty_like(idx)
    _max_pool_2x2_kernel(x, out, idx)
    _max_pool_kernel(x, ref, ref_idx, 2, 2, 2, 2, 0, 0, 1, 1)
    np.testing.assert_array_equal(out, ref)   # NaN == NaN here
    np.testing.assert_array_equal(idx, ref_idx)
    assert np.isnan(out).any() and np.isinf(out).any()   # the cases did occur


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_ties_send_the_gradient_to_the_first_max(backend, kw):
    """Constant input: every window's max is tied; the grad goes to the window's first
    element in scan order (PyTorch on the CPU does the same)."""
    x = backend.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    y = F.max_pool2d(x, **kw)
    y.backward(backend.tensor(np.ones(y.shape)))
    expected = np.zeros((4, 4))
    _, idx = F.max_pool2d(x.detach(), return_indices=True, **kw)
    for k in backend.numpy(idx).ravel():
        expected.flat[k] += 1
    np.testing.assert_array_equal(backend.numpy(x.grad)[0, 0], expected)
    first = backend.numpy(F.max_pool2d(backend.tensor(np.ones((1, 1, 4, 4))),
                                       return_indices=True, **kw)[1])
    KH = kw["kernel_size"]
    S, P = kw.get("stride", KH), kw.get("padding", 0)
    for oh, ow in np.ndindex(*first.shape[2:]):   # the first in-bounds element of each window
        ih, iw = max(oh * S - P, 0), max(ow * S - P, 0)
        assert first[0, 0, oh, ow] == ih * 4 + iw
    if torch is not None:
        t = torch.ones((1, 1, 4, 4), dtype=torch.float64, requires_grad=True)
        TF.max_pool2d(t, **kw).sum().backward()
        np.testing.assert_array_equal(backend.numpy(x.grad), t.grad.numpy())


def test_max_pool2d_window_wholly_in_padding(backend):
    """Dilation 2 with padding 1 puts the window of a 1-wide input at columns -1 and 1."""
    x = backend.tensor(np.random.default_rng(7).standard_normal((1, 1, 2, 1)),
                       requires_grad=True)
    out, idx = F.max_pool2d(x, (1, 2), 1, (0, 1), (1, 2), return_indices=True)
    assert np.isneginf(backend.numpy(out)).all() and (backend.numpy(idx) == -1).all()
    out.backward(backend.tensor(np.ones(out.shape)))
    np.testing.assert_array_equal(backend.numpy(x.grad), 0)
    ref, ref_idx = max_pool_xp(backend.numpy(x), Geometry2d(1, 2, 1, 1, 0, 1, 1, 2, 2, 1))
    np.testing.assert_array_equal(ref_idx, -1)


def test_max_pool2d_all_minus_inf_window_picks_first_input_not_padding(backend):
    x = np.full((1, 1, 3, 3), -np.inf)
    _, idx = F.max_pool2d(backend.tensor(x), 3, stride=2, padding=1, return_indices=True)
    _, ref_idx = max_pool_xp(x, Geometry2d(3, 3, 2, 2, 1, 1, 1, 1, 2, 2))
    np.testing.assert_array_equal(backend.numpy(idx)[0, 0], [[0, 1], [3, 4]])
    np.testing.assert_array_equal(ref_idx[0, 0], [[0, 1], [3, 4]])


def test_max_pool2d_propagates_nan(backend):
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 1] = np.nan
    out = backend.numpy(F.max_pool2d(backend.tensor(x), 2))
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 0


@pytest.mark.parametrize("shape, kw", [
    ((1, 2, 5, 5), dict(kernel_size=2)),
    ((2, 1, 5, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((3, 6, 6), dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1))),
])
def test_max_pool2d_gradcheck(backend, shape, kw):
    backend.gradcheck(lambda x: F.max_pool2d(x, **kw), shape)


# --------------------------------------------------------------------------- average pooling
@needs_torch
@given_settings
@given(cfg=pool_configs(dilation=False), count_include_pad=st.booleans(),
       divisor=st.sampled_from([None, 1, 3]), contiguous=st.booleans())
def test_avg_pool2d_matches_torch(backend, cfg, count_include_pad, divisor, contiguous):
    shape, kw = cfg
    kw = dict(kw, count_include_pad=count_include_pad, divisor_override=divisor)
    x = np.random.default_rng(5).standard_normal(shape) if contiguous else strided(shape, 6)
    check_op(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), x,
             device=backend.device)


@pytest.mark.parametrize("kw", [dict(kernel_size=2),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                     count_include_pad=False)])
def test_avg_pool2d_gradcheck(backend, kw):
    backend.gradcheck(lambda x: F.avg_pool2d(x, **kw), (2, 2, 5, 5))


# --------------------------------------------------------------------------- adaptive
ADAPTIVE = [((2, 3, 6, 6), 1), ((2, 3, 6, 6), (1, 1)), ((2, 2, 7, 5), (3, 2)),
            ((1, 2, 5, 7), (5, 7)), ((1, 2, 4, 5), (6, 3)), ((2, 5, 3), (2, None)),
            ((1, 1, 9, 9), 4)]


@pytest.mark.parametrize("shape, size", ADAPTIVE)
def test_adaptive_avg_pool2d_matches_torch(backend, shape, size):
    check_op(lambda x: F.adaptive_avg_pool2d(x, size),
             (lambda x: TF.adaptive_avg_pool2d(x, size)) if torch else None, shape,
             device=backend.device)


@pytest.mark.parametrize("shape, size", [((1, 2, 5, 4), (3, 3)), ((2, 1, 3, 3), 1)])
def test_adaptive_avg_pool2d_gradcheck(backend, shape, size):
    backend.gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), shape)


# --------------------------------------------------------------------------- modules
def test_pool_modules(backend):
    x = backend.tensor(mt.randn(2, 3, 8, 8).numpy())
    N = backend.numpy
    np.testing.assert_array_equal(N(mt.nn.MaxPool2d(2)(x)), N(F.max_pool2d(x, 2)))
    out, idx = mt.nn.MaxPool2d(3, stride=2, padding=1, return_indices=True)(x)
    assert out.shape == idx.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(N(mt.nn.AvgPool2d(2, count_include_pad=False)(x)),
                               N(F.avg_pool2d(x, 2)))
    g = mt.nn.AdaptiveAvgPool2d(1)(x)
    assert g.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(N(g)[..., 0, 0], N(x).mean(axis=(2, 3)), rtol=1e-6)
    assert "kernel_size=2" in repr(mt.nn.MaxPool2d(2))


def test_pool_keeps_float32(backend):
    x = backend.tensor(mt.randn(2, 3, 8, 8).numpy())
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 3)):
        assert y.dtype == np.float32


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pool_unbatched_input_is_a_batch_of_one(backend, pool):
    """(C, H, W) in, (C, OH, OW) out, the same values and grads as a batch of one."""
    fn = (lambda t: F.max_pool2d(t, 3, 2, 1)) if pool == "max" else \
        (lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True))
    x = np.random.default_rng(11).standard_normal((3, 7, 6))
    up = np.random.default_rng(12).standard_normal(fn(mt.tensor(x[None])).shape)
    grads = []
    for arr, u in ((x, up[0]), (x[None], up)):
        t = backend.tensor(arr, requires_grad=True)
        y = fn(t)
        assert y.shape == u.shape
        y.backward(backend.tensor(u))
        grads.append((backend.numpy(y), backend.numpy(t.grad)))
    np.testing.assert_array_equal(grads[0][0], grads[1][0][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1][0])


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn, args, kw, match", [
    ("max_pool2d", (3,), dict(padding=2), r"max_pool2d: padding \(2, 2\) should be at most "
                                          r"half of kernel size \(3, 3\)"),
    ("avg_pool2d", (2,), dict(padding=(0, 2)), r"avg_pool2d: padding \(0, 2\) should be at most"),
    ("max_pool2d", (5,), {}, r"max_pool2d: input \(1, 1, 4, 4\) with kernel_size \(5, 5\).*"
                             r"output size \(0, 0\): output size is too small"),
    ("max_pool2d", (0,), {}, r"max_pool2d: kernel_size \(0, 0\).*must be >= 1"),
    ("max_pool2d", (2,), dict(stride=0), r"stride \(0, 0\).*must be >= 1"),
    ("avg_pool2d", (2,), dict(divisor_override=0), r"avg_pool2d: divisor_override must be a "
                                                   r"non-zero int"),
    ("max_pool2d", ((2, 2, 2),), {}, r"max_pool2d: kernel_size must be an int or a pair"),
    ("adaptive_avg_pool2d", (0,), {}, r"adaptive_avg_pool2d: output_size \(0, 0\).*>= 1"),
])
def test_pool_errors(backend, fn, args, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        getattr(F, fn)(backend.tensor(mt.randn(1, 1, 4, 4).numpy()), *args, **kw)


def test_pool_rank_errors():
    for fn in (lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2),
               lambda x: F.adaptive_avg_pool2d(x, 1)):
        with pytest.raises(ValueError, match=r"pool2d: expected a 3-D \(C, H, W\) or 4-D "
                                             r"\(N, C, H, W\) input, got shape \(4, 4\)"):
            fn(mt.randn(4, 4))
