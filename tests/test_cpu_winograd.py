"""Winograd F(2x2, 3x3) kernels (minitorch/cpu/winograd.py) vs im2col + GEMM and the definition.

Forward, weight gradient and input gradient for 3x3 stride-1 layers over paddings (0, 1, 2,
asymmetric, "same"), odd and even sizes (an odd OH or OW drops a computed row or column),
outputs of 1x1, channel counts that make several chunks, batch 0/1/5, float32 and float64,
bias or none; non-contiguous inputs; NaN and inf; bit-identical results for any thread count;
which layers the numba table sends here; and a clear error for a layer it can't run. The
reference is numba im2col + NumPy matmul + col2im (tests/test_cpu_direct_conv.py's), and for a
few cases conv2d_reference's autograd (the direct-loop definition).
"""
import numpy as np
import pytest

import minitorch as mt
from minitorch.cpu import HAVE_NUMBA
from minitorch.cpu.winograd import (conv2d_forward_winograd, conv2d_input_grad_winograd,
                                    conv2d_weight_grad_winograd, winograd_fits, winograd_pays)
from minitorch.ops.conv import conv2d_reference

from test_cpu_direct_conv import (_close, _data, _geom, _reference,
                                  assert_same_bits_for_1_2_3_threads)

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="numba not importable")

# (N, C, H, W), OC, padding
CASES = [
    ((5, 3, 8, 8), 4, 1),           # even output: whole tiles
    ((5, 3, 9, 7), 4, 1),           # odd OH and OW: the last tile row and column cropped
    ((5, 3, 9, 8), 2, 0),
    ((2, 2, 6, 7), 3, 2),           # padding wider than the kernel's reach: zero rows
    ((2, 2, 6, 7), 3, (0, 2)),      # asymmetric padding
    ((2, 2, 5, 6), 3, "same"),
    ((3, 2, 3, 3), 2, 0),           # a 1x1 output: one tile, three of its four outputs dropped
    ((3, 2, 1, 1), 2, 1),           # a 1x1 image
    ((1, 1, 4, 4), 1, 1),           # one channel each side
    ((0, 3, 8, 8), 4, 1),           # empty batch
    ((6, 16, 8, 8), 24, 1),         # ResNet-like channels, several chunks
    ((40, 8, 6, 6), 8, 1),          # many images: chunks of several images each
]


def _case(case, dtype, seed=0):
    x_shape, OC, padding = case
    w_shape = (OC, x_shape[1], 3, 3)
    g = _geom(np.zeros(x_shape, dtype), np.zeros(w_shape, dtype), 1, padding, 1, 1)
    return g, _data(x_shape, w_shape, dtype, g, seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_im2col_gemm(case, with_bias, dtype):
    g, (x, w, b, gy) = _case(case, dtype)
    b = b if with_bias else None
    y_ref, gw_ref, gx_ref = _reference(x, w, b, gy, g, 1)
    _close(conv2d_forward_winograd(x, w, b, g), y_ref, dtype)
    _close(conv2d_weight_grad_winograd(x, gy, w.shape, g), gw_ref, dtype)
    _close(conv2d_input_grad_winograd(gy, w, x.shape, g), gx_ref, dtype)


@pytest.mark.parametrize("case", [CASES[1], CASES[4], CASES[6]], ids=str)
def test_matches_the_direct_loop_definition(case):
    """Against conv2d_reference's forward and autograd backward (an independent path)."""
    g, (x, w, b, gy) = _case(case, np.float64, seed=1)
    xt, wt, bt = (mt.tensor(a, requires_grad=True) for a in (x, w, b))
    y = conv2d_reference(xt, wt, bt, 1, case[2])
    (y * mt.tensor(gy)).sum().backward()
    _close(conv2d_forward_winograd(x, w, b, g), y.detach().numpy(), np.float64)
    _close(conv2d_weight_grad_winograd(x, gy, w.shape, g), wt.grad.numpy(), np.float64)
    _close(conv2d_input_grad_winograd(gy, w, x.shape, g), xt.grad.numpy(), np.float64)


def test_float32_error_is_that_of_a_float32_sum():
    """The transforms round differently from a direct sum, not worse: on a 256-channel layer
    the float32 result is as close to the float64 truth as im2col + GEMM's float32 result."""
    g, (x, w, b, gy) = _case(((2, 256, 6, 6), 32, 1), np.float64, seed=5)
    truth = _reference(x, w, b, gy, g, 1)
    f32 = [a.astype(np.float32) for a in (x, w, b, gy)]
    gemm = _reference(*f32, g, 1)
    wino = (conv2d_forward_winograd(f32[0], f32[1], f32[2], g),
            conv2d_weight_grad_winograd(f32[0], f32[3], w.shape, g),
            conv2d_input_grad_winograd(f32[3], f32[1], x.shape, g))
    for t, a, b_ in zip(truth, gemm, wino):
        err_gemm, err_wino = np.abs(a - t).max(), np.abs(b_ - t).max()
        assert err_wino <= 4 * err_gemm + 1e-6 * np.abs(t).max()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_inputs(dtype):
    """Transposed and sliced views give the results of their contiguous copies."""
    g, (x, w, b, gy) = _case(CASES[1], dtype, seed=2)
    xv = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values
    wv = np.repeat(w, 2, axis=0)[::2]                                         # sliced
    gyv = np.ascontiguousarray(gy.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0)
    bv = np.repeat(b, 2)[1::2]
    assert not (xv.flags.c_contiguous or wv.flags.c_contiguous or gyv.flags.c_contiguous
                or bv.flags.c_contiguous)
    np.testing.assert_array_equal(conv2d_forward_winograd(xv, wv, bv, g),
                                  conv2d_forward_winograd(x, w, b, g))
    np.testing.assert_array_equal(conv2d_weight_grad_winograd(xv, gyv, w.shape, g),
                                  conv2d_weight_grad_winograd(x, gy, w.shape, g))
    np.testing.assert_array_equal(conv2d_input_grad_winograd(gyv, wv, x.shape, g),
                                  conv2d_input_grad_winograd(gy, w, x.shape, g))


@pytest.mark.parametrize("case", [CASES[1], CASES[10], CASES[11]], ids=str)
def test_bit_identical_for_any_thread_count(case):
    """Chunks of images depend on the shapes only and the partial weight gradients are added
    in chunk order, so 1, 2 and 3 threads give the same bits (40 images: several chunks)."""
    x_shape, OC, padding = case
    g, (x, w, b, gy) = _case(((40,) + x_shape[1:], OC, padding), np.float32, seed=3)
    assert_same_bits_for_1_2_3_threads(lambda: (
        conv2d_forward_winograd(x, w, b, g), conv2d_weight_grad_winograd(x, gy, w.shape, g),
        conv2d_input_grad_winograd(gy, w, x.shape, g)))


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # inf - inf: NaN, as wanted
def test_nan_and_inf_stay_non_finite():
    """No fastmath=True, so nothing non-finite is lost. The output and the input gradient are
    non-finite exactly where im2col's are (the transforms' zero coefficients line up with the
    windows; where two infs meet, NaN instead of inf); the weight gradient at least there,
    and possibly at more taps of the same channel pairs (its transforms multiply a non-finite
    entry by their zeros, as cuDNN's Winograd). Finite results agree."""
    g, (x, w, b, gy) = _case(CASES[1], np.float32, seed=4)
    x[0, 1, 2, 3], x[3, 0, 8, 6], x[4, 2, 0, 0] = np.nan, np.inf, -np.inf
    gy[1, 2, 4, 4] = np.inf
    gy[2, 0, 0, 1] = np.nan
    y_ref, gw_ref, gx_ref = _reference(x, w, b, gy, g, 1)
    assert np.isnan(y_ref).any() and np.isinf(y_ref).any() and np.isnan(gw_ref).any()
    for exact, got, want in ((True, conv2d_forward_winograd(x, w, b, g), y_ref),
                             (False, conv2d_weight_grad_winograd(x, gy, w.shape, g), gw_ref),
                             (True, conv2d_input_grad_winograd(gy, w, x.shape, g), gx_ref)):
        finite = np.isfinite(want)
        assert np.isnan(got[np.isnan(want)]).all() and not np.isfinite(got[~finite]).any()
        if exact:
            np.testing.assert_array_equal(np.isfinite(got), finite)
        both = finite & np.isfinite(got)
        assert both.any() or not exact   # here every channel pair of gw meets a non-finite
        np.testing.assert_allclose(got[both], want[both], rtol=1e-5,
                                   atol=1e-5 * np.abs(want[finite]).max())
    # A NaN in one input channel: the other channels' weight gradients stay finite and right.
    g, (x, w, b, gy) = _case(CASES[1], np.float32, seed=6)
    x[1, 0, 3, 3] = np.nan
    gw = conv2d_weight_grad_winograd(x, gy, w.shape, g)
    gw_ref = _reference(x, w, b, gy, g, 1)[1]
    assert np.isnan(gw[:, 0]).all() and np.isnan(gw_ref[:, 0]).any()
    _close(gw[:, 1:], gw_ref[:, 1:], np.float32)


@pytest.mark.parametrize("w_shape, stride, dilation, groups", [
    ((4, 4, 5, 5), 1, 1, 1), ((4, 4, 3, 3), 2, 1, 1), ((4, 4, 3, 3), 1, 2, 1),
    ((4, 2, 3, 3), 1, 1, 2),
])
def test_a_layer_it_cannot_run_is_a_clear_error(w_shape, stride, dilation, groups):
    x = np.zeros((1, 4, 9, 9), np.float32)
    w = np.zeros(w_shape, np.float32)
    g = _geom(x, w, stride, 1, dilation, groups)
    assert not winograd_fits(w.shape, g, groups)
    with pytest.raises(ValueError, match=r"conv2d_forward_winograd: Winograd F\(2x2, 3x3\) "
                                         r"needs a 3x3 kernel, stride 1.*got weight"):
        conv2d_forward_winograd(x, w, None, g, groups)
    gy = np.zeros((1, w_shape[0], g.OH, g.OW), np.float32)
    with pytest.raises(ValueError, match="conv2d_weight_grad_winograd"):
        conv2d_weight_grad_winograd(x, gy, w.shape, g, groups)
    with pytest.raises(ValueError, match="conv2d_input_grad_winograd"):
        conv2d_input_grad_winograd(gy, w, x.shape, g, groups)


def test_the_numba_table_runs_winograd_on_many_channel_3x3_layers():
    """The dispatch (ops/conv.py): ResNet-18's 3x3 stride-1 layers run Conv2dWinograd; a
    few-channel 3x3 layer runs the direct kernels; strided, 1x1, 5x5, dilated and grouped
    layers, and ones with a 2x2 output or 16 input channels, im2col + GEMM."""
    cases = [((2, 64, 8, 8), dict(in_channels=64, out_channels=64, kernel_size=3, padding=1),
              "Conv2dWinograd"),
             ((2, 3, 8, 8), dict(in_channels=3, out_channels=64, kernel_size=3, padding=1),
              "Conv2dDirect"),
             ((2, 64, 8, 8), dict(in_channels=64, out_channels=64, kernel_size=3, stride=2),
              "Conv2d"),
             ((2, 64, 8, 8), dict(in_channels=64, out_channels=512, kernel_size=1), "Conv2d"),
             ((2, 64, 8, 8), dict(in_channels=64, out_channels=64, kernel_size=5), "Conv2d"),
             ((2, 64, 8, 8), dict(in_channels=64, out_channels=64, kernel_size=3,
                                  dilation=2), "Conv2d"),
             ((2, 64, 8, 8), dict(in_channels=64, out_channels=64, kernel_size=3, groups=2),
              "Conv2d"),
             ((2, 512, 2, 2), dict(in_channels=512, out_channels=512, kernel_size=3,
                                   padding=1), "Conv2d"),      # VGG's last layers at 32x32
             ((2, 16, 8, 8), dict(in_channels=16, out_channels=256, kernel_size=3,
                                  padding=1), "Conv2d"),       # K = 16: GEMMs too thin
             ((2, 256, 8, 8), dict(in_channels=256, out_channels=16, kernel_size=3,
                                   padding=1), "Conv2dWinograd")]
    for shape, kwargs, expected in cases:
        conv = mt.nn.Conv2d(**kwargs)
        x = mt.randn(*shape, requires_grad=True)
        y = conv(x)
        assert y.grad_fn.name() == expected, kwargs
        w = conv.weight.detach().numpy()
        g = _geom(x.detach().numpy(), w, conv.stride, conv.padding, conv.dilation, conv.groups)
        assert winograd_pays(shape, w.shape, g, conv.groups) == (expected == "Conv2dWinograd")
    g = _geom(np.zeros((2, 8, 8, 8)), np.zeros((8, 8, 3, 3)), 1, 1, 1, 1)
    assert winograd_fits((8, 8, 3, 3), g, 1) and not winograd_pays((2, 8, 8, 8), (8, 8, 3, 3),
                                                                  g, 1)
