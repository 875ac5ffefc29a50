"""Direct convolution kernels (minitorch/cpu/direct_conv.py) vs the im2col + GEMM path.

Forward, weight gradient and input gradient over many geometries (kernel, stride, padding
including asymmetric "same", dilation, groups, batch 0/1/5), float32 and float64, bias or none,
non-contiguous inputs, NaN/inf propagation, and bit-identical results for any thread count.
The reference is numba im2col + NumPy matmul (one GEMM per group) + col2im, and for a few cases
also conv2d_reference's autograd (the direct-loop definition), so both sides are trusted paths.
"""
import numpy as np
import pytest

import minitorch as mt
from minitorch.cpu import HAVE_NUMBA
from minitorch.cpu.direct_conv import (conv2d_forward_direct, conv2d_input_grad_direct,
                                       conv2d_weight_grad_direct)
from minitorch.cpu.im2col import col2im_numba, im2col_numba
from minitorch.ops.conv import check_conv_args, conv2d_reference

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="numba not importable")

TOL = {np.float32: 1e-5, np.float64: 1e-12}

# (N, C, H, W), (OC, C/groups, KH, KW), stride, padding, dilation, groups
CASES = [
    ((5, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1, 1),
    ((5, 3, 9, 8), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 2, 7, 7), (3, 2, 1, 1), 1, 0, 1, 1),
    ((1, 2, 7, 7), (3, 2, 1, 1), 2, 1, 1, 1),        # 1x1 kernel with padding: rows of zeros
    ((1, 2, 7, 6), (3, 2, 1, 1), 1, (1, 2), 1, 1),   # input grad: gather with negative padding
    ((5, 1, 12, 11), (6, 1, 5, 5), 1, 2, 1, 1),      # LeNet conv1-like
    ((5, 6, 10, 10), (16, 6, 5, 5), 1, 0, 1, 1),     # LeNet conv2-like (T = 150, odd OC/4)
    ((5, 2, 9, 10), (5, 2, 3, 5), 1, "same", 1, 1),  # odd channel count, 3x5
    ((5, 2, 9, 10), (4, 2, 4, 2), 1, "same", 1, 1),  # even kernel: asymmetric "same"
    ((5, 2, 9, 10), (4, 2, 3, 3), 1, "same", 2, 1),  # dilated "same"
    ((5, 3, 11, 10), (4, 3, 3, 3), 2, 1, 1, 1),
    ((5, 3, 11, 10), (4, 3, 3, 3), (1, 2), 1, 1, 1),
    ((5, 3, 11, 10), (4, 3, 3, 3), (2, 1), (2, 0), 1, 1),
    ((5, 3, 11, 10), (3, 3, 3, 5), (2, 1), (0, 2), (2, 1), 1),
    ((5, 3, 11, 12), (4, 3, 3, 3), 1, 2, 2, 1),
    ((5, 3, 11, 12), (4, 3, 3, 3), 3, 1, (1, 2), 1),
    ((1, 2, 6, 5), (3, 2, 5, 5), 1, 2, 1, 1),        # kernel as big as the input
    ((5, 4, 8, 8), (6, 2, 3, 3), 1, 1, 1, 2),        # groups
    ((5, 6, 8, 7), (3, 2, 3, 5), (1, 2), 1, 1, 3),
    ((5, 4, 8, 8), (4, 1, 3, 3), 2, 1, 1, 4),        # depthwise
    ((0, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1, 1),        # empty batch
    # Images interleaved in groups of NB (direct_conv._interleaved): NB = 1 for a large
    # output (written in place), NB = 2 with a last group of one image, NB = 16 (SH = 2).
    ((2, 1, 28, 28), (5, 1, 5, 5), 1, 2, 1, 1),
    ((5, 2, 16, 16), (3, 2, 3, 3), 1, 1, 1, 1),
    ((5, 2, 16, 16), (3, 2, 3, 3), (2, 1), 1, 1, 1),
]


def _geom(x, w, stride, padding, dilation, groups):
    return check_conv_args("conv2d", mt.tensor(x), mt.tensor(w), None, stride, padding,
                           dilation, groups)


def _reference(x, w, b, gy, g, groups):
    """y, gw, gx by numba im2col + one GEMM per group + col2im (the Conv2d path)."""
    N, C, H, W = x.shape
    OC, G, L = w.shape[0], groups, g.OH * g.OW
    Kg = C // G * g.KH * g.KW
    col = im2col_numba(x, g).reshape(G, Kg, N * L)
    wg = w.reshape(G, OC // G, Kg)
    y = np.matmul(wg, col).reshape(OC, N, g.OH, g.OW).transpose(1, 0, 2, 3)
    if b is not None:
        y = y + b.reshape(1, OC, 1, 1)
    gmat = np.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(G, OC // G, N * L)
    gw = np.matmul(gmat, col.transpose(0, 2, 1)).reshape(w.shape)
    gcol = np.matmul(wg.transpose(0, 2, 1), gmat).reshape(G * Kg, N * L)
    return y, gw, col2im_numba(gcol, x.shape, g)


def _data(x_shape, w_shape, dtype, g, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    gy = rng.standard_normal((x_shape[0], w_shape[0], g.OH, g.OW)).astype(dtype)
    return x, w, b, gy


def _close(got, want, dtype):
    """Within the dtype's tolerance, relative to the result's scale (sums of many terms)."""
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = np.abs(want).max() if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_im2col_gemm(case, with_bias, dtype):
    x_shape, w_shape, stride, padding, dilation, groups = case
    g = _geom(np.zeros(x_shape, dtype), np.zeros(w_shape, dtype), stride, padding, dilation,
              groups)
    x, w, b, gy = _data(x_shape, w_shape, dtype, g)
    b = b if with_bias else None
    y_ref, gw_ref, gx_ref = _reference(x, w, b, gy, g, groups)
    _close(conv2d_forward_direct(x, w, b, g, groups), y_ref, dtype)
    _close(conv2d_weight_grad_direct(x, gy, w.shape, g, groups), gw_ref, dtype)
    _close(conv2d_input_grad_direct(gy, w, x.shape, g, groups), gx_ref, dtype)


@pytest.mark.parametrize("case", [CASES[0], CASES[7], CASES[13], CASES[18]], ids=str)
def test_matches_the_direct_loop_definition(case):
    """Against conv2d_reference's forward and autograd backward (an independent path)."""
    x_shape, w_shape, stride, padding, dilation, groups = case
    g = _geom(np.zeros(x_shape), np.zeros(w_shape), stride, padding, dilation, groups)
    x, w, b, gy = _data(x_shape, w_shape, np.float64, g, seed=1)
    xt, wt, bt = (mt.tensor(a, requires_grad=True) for a in (x, w, b))
    y = conv2d_reference(xt, wt, bt, stride, padding, dilation, groups)
    (y * mt.tensor(gy)).sum().backward()
    _close(conv2d_forward_direct(x, w, b, g, groups), y.detach().numpy(), np.float64)
    _close(conv2d_weight_grad_direct(x, gy, w.shape, g, groups), wt.grad.numpy(), np.float64)
    _close(conv2d_input_grad_direct(gy, w, x.shape, g, groups), xt.grad.numpy(), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_inputs(dtype):
    """Transposed and sliced views give the results of their contiguous copies."""
    x_shape, w_shape, stride, padding, dilation, groups = CASES[13]
    g = _geom(np.zeros(x_shape), np.zeros(w_shape), stride, padding, dilation, groups)
    x, w, b, gy = _data(x_shape, w_shape, dtype, g, seed=2)
    xv = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values
    wv = np.repeat(w, 2, axis=0)[::2]                                         # sliced
    gyv = np.ascontiguousarray(gy.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0)
    bv = np.repeat(b, 2)[1::2]
    assert not (xv.flags.c_contiguous or wv.flags.c_contiguous or gyv.flags.c_contiguous
                or bv.flags.c_contiguous)
    np.testing.assert_array_equal(conv2d_forward_direct(xv, wv, bv, g, groups),
                                  conv2d_forward_direct(x, w, b, g, groups))
    np.testing.assert_array_equal(conv2d_weight_grad_direct(xv, gyv, w.shape, g, groups),
                                  conv2d_weight_grad_direct(x, gy, w.shape, g, groups))
    np.testing.assert_array_equal(conv2d_input_grad_direct(gyv, wv, x.shape, g, groups),
                                  conv2d_input_grad_direct(gy, w, x.shape, g, groups))


@pytest.mark.parametrize("case", [CASES[5], CASES[11], CASES[17], CASES[0], CASES[22]],
                         ids=str)
def test_bit_identical_for_any_thread_count(case):
    """Blocks of images depend on the shapes only and the partial weight gradients are added
    in block order, so 1, 2 and 3 threads give the same bits (40 images: several blocks)."""
    x_shape, w_shape, stride, padding, dilation, groups = case
    x_shape = (40,) + x_shape[1:]
    g = _geom(np.zeros(x_shape), np.zeros(w_shape), stride, padding, dilation, groups)
    x, w, b, gy = _data(x_shape, w_shape, np.float32, g, seed=3)
    assert_same_bits_for_1_2_3_threads(lambda: (
        conv2d_forward_direct(x, w, b, g, groups),
        conv2d_weight_grad_direct(x, gy, w.shape, g, groups),
        conv2d_input_grad_direct(gy, w, x.shape, g, groups)))


def assert_same_bits_for_1_2_3_threads(compute):
    """compute() -> a tuple of arrays, run with 1, 2 and 3 threads: the same bits each time."""
    before = mt.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            mt.set_num_threads(n)
            results.append(compute())
    finally:
        mt.set_num_threads(before)
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # inf - inf: NaN, as wanted
def test_nan_and_inf_propagate_as_in_im2col():
    """No fastmath=True: NaN and inf in x come out where the GEMM path puts them."""
    x_shape, w_shape, stride, padding, dilation, groups = CASES[0]
    g = _geom(np.zeros(x_shape), np.zeros(w_shape), stride, padding, dilation, groups)
    x, w, b, gy = _data(x_shape, w_shape, np.float32, g, seed=4)
    x[0, 1, 2, 3], x[3, 0, 8, 7], x[4, 2, 0, 0] = np.nan, np.inf, -np.inf
    gy[1, 2, 4, 4] = np.inf
    y_ref, gw_ref, gx_ref = _reference(x, w, b, gy, g, groups)
    assert np.isnan(y_ref).any() and np.isinf(y_ref).any() and np.isnan(gw_ref).any()
    for got, want in ((conv2d_forward_direct(x, w, b, g, groups), y_ref),
                      (conv2d_weight_grad_direct(x, gy, w.shape, g, groups), gw_ref),
                      (conv2d_input_grad_direct(gy, w, x.shape, g, groups), gx_ref)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5,
                                   atol=1e-5 * np.abs(want[finite]).max())


def test_groups_must_divide_the_channels():
    g = _geom(np.zeros((1, 4, 5, 5)), np.zeros((2, 4, 3, 3)), 1, 0, 1, 1)
    with pytest.raises(ValueError, match="groups"):
        conv2d_forward_direct(np.zeros((1, 4, 5, 5)), np.zeros((2, 4, 3, 3)), None, g, 3)


@pytest.mark.parametrize("name, layer, direct", [
    ("lenet5", 0, True), ("lenet5", 3, True), ("simplenet", 0, True), ("simplenet", 3, True),
    ("resnet18-cifar", None, False),
])
def test_the_numba_table_runs_direct_conv_on_few_channel_layers_only(name, layer, direct):
    """The dispatch (ops/conv.py with direct_conv_pays): LeNet's and SimpLeNet's convolutions
    run Conv2dDirect; a 64->64 3x3 layer runs Winograd, a strided one im2col + GEMM."""
    import minitorch as mt
    from minitorch.models import get_model
    if layer is None:   # a ResNet block's 64->64 3x3 conv, and a strided 3x3
        convs = [(mt.nn.Conv2d(64, 64, 3, padding=1), (2, 64, 8, 8), "Conv2dWinograd"),
                 (mt.nn.Conv2d(16, 16, 3, stride=2, padding=1), (2, 16, 8, 8), "Conv2d")]
    else:
        net = get_model(name)
        shape = {0: (2, 1, 28, 28), 3: None}[layer]
        x = mt.zeros((2, 1, 28, 28))
        for module in list(net)[:layer]:
            x = module(x)
        convs = [(net[layer], x.shape if shape is None else shape, "Conv2dDirect")]
    for conv, shape, expected in convs:
        y = conv(mt.zeros(shape, requires_grad=True))
        assert y.grad_fn.name() == expected
