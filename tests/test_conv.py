"""conv2d: numba im2col/col2im vs the array-code reference vs the direct-loop definition vs
PyTorch (forward and every grad), finite differences, edge cases, and the error messages.
Every F.conv2d case runs on every backend (tests/backends.py): numba (direct kernels where
they pay), numba with im2col + GEMM only, the NumPy reference, the CUDA kernels on the CPU
emulator (implicit GEMM) and a real GPU."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minitorch as mt
import minitorch.nn.functional as F
from backends import CONV_PARAMS, active_backend, given_settings
from minitorch.cpu import HAVE_NUMBA
from minitorch.cpu.im2col import col2im_numba, col2im_xp, im2col_numba, im2col_xp
from minitorch.ops.geometry import Geometry2d, out_size
from opcheck import check_op, gradcheck_op, torch


@pytest.fixture(params=CONV_PARAMS)
def backend(request):
    """Every backend, and the numba table with and without its direct convolution."""
    yield from active_backend(request.param)


needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba not importable")


def strided(shape, seed=0):
    """A non-contiguous float64 array of ``shape`` (every other element of a larger one)."""
    base = np.random.default_rng(seed).standard_normal(tuple(shape) + (2,))
    return base[..., 0]


@st.composite
def conv_configs(draw, max_side=7):
    """(x shape, weight shape, kwargs) for a valid convolution, any stride/pad/dilation/groups."""
    groups = draw(st.integers(1, 3))
    cg, ocg = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    SH, SW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    DH, DW = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    PH, PW = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    # the dilated kernel must fit in the padded input
    H = draw(st.integers(max(1, DH * (KH - 1) + 1 - 2 * PH), max_side + 2))
    W = draw(st.integers(max(1, DW * (KW - 1) + 1 - 2 * PW), max_side + 2))
    N = draw(st.integers(1, 2))
    kwargs = dict(stride=(SH, SW), padding=(PH, PW), dilation=(DH, DW), groups=groups)
    return (N, cg * groups, H, W), (ocg * groups, cg, KH, KW), kwargs


def _geom(x_shape, w_shape, stride, padding, dilation, **_):
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = w_shape[2:], stride, padding, dilation
    OH, OW = out_size(x_shape[2], KH, SH, PH, DH), out_size(x_shape[3], KW, SW, PW, DW)
    return Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


# --------------------------------------------------------------------------- im2col / col2im
@needs_numba
@given(cfg=conv_configs(), contiguous=st.booleans())
def test_im2col_numba_matches_array_code(cfg, contiguous):
    xs, ws, kw = cfg
    geom = _geom(xs, ws, **kw)
    x = np.random.default_rng(0).standard_normal(xs) if contiguous else strided(xs)
    col = im2col_numba(x, geom)
    assert col.shape == (xs[1] * ws[2] * ws[3], xs[0] * geom.OH * geom.OW)
    np.testing.assert_array_equal(col, im2col_xp(x, geom))
    c = np.random.default_rng(1).standard_normal(col.shape)
    np.testing.assert_allclose(col2im_numba(c, xs, geom), col2im_xp(c, xs, geom), rtol=1e-12,
                               atol=1e-12)


@given(cfg=conv_configs())
def test_col2im_is_the_adjoint_of_im2col(cfg):
    """<im2col(x), c> == <x, col2im(c)> for all x, c: the defining property of the backward."""
    xs, ws, kw = cfg
    geom = _geom(xs, ws, **kw)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xs)
    col = im2col_xp(x, geom)
    c = rng.standard_normal(col.shape)
    np.testing.assert_allclose((col * c).sum(), (x * col2im_xp(c, xs, geom)).sum(), rtol=1e-10)


def test_im2col_layout_contract():
    """col[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow] = x[n, c, oh*SH - PH + kh*DH, ...]."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 5))
    KH, KW, SH, SW, PH, PW, DH, DW = 2, 3, 2, 1, 1, 0, 2, 1
    OH, OW = out_size(6, KH, SH, PH, DH), out_size(5, KW, SW, PW, DW)
    for im2col in (im2col_xp, im2col_numba) if HAVE_NUMBA else (im2col_xp,):
        col = im2col(x, Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW))
        for n, c, kh, kw, oh, ow in np.ndindex(2, 3, KH, KW, OH, OW):
            ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
            inside = 0 <= ih < 6 and 0 <= iw < 5
            assert col[(c * KH + kh) * KW + kw, (n * OH + oh) * OW + ow] == \
                (x[n, c, ih, iw] if inside else 0.0)


# --------------------------------------------------------------------------- vs PyTorch
@given_settings
@given(cfg=conv_configs(), bias=st.booleans(), contiguous=st.booleans())
def test_conv2d_matches_torch(backend, cfg, bias, contiguous):
    xs, ws, kw = cfg
    x = np.random.default_rng(0).standard_normal(xs) if contiguous else strided(xs, seed=4)
    specs = (x, ws, (ws[0],)) if bias else (x, ws)
    check_op(lambda *a: F.conv2d(*a, **kw),
             (lambda *a: torch.nn.functional.conv2d(*a, **kw)) if torch else None, *specs,
             device=backend.device)


EDGE_CASES = [  # x shape, weight shape, kwargs
    ((2, 3, 5, 5), (4, 3, 1, 1), {}),                                 # 1x1 kernel
    ((2, 2, 4, 5), (3, 2, 4, 5), {}),                                 # kernel = input size
    ((1, 2, 9, 9), (3, 2, 2, 2), dict(stride=4)),                     # stride > kernel
    ((2, 2, 5, 5), (3, 2, 3, 3), dict(padding=2)),                    # padding >= kernel/2
    ((2, 2, 3, 3), (2, 2, 2, 2), dict(padding=3)),                    # padding > kernel
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),          # depthwise
    ((2, 4, 6, 6), (8, 1, 3, 3), dict(groups=4)),                     # depthwise, multiplier 2
    ((1, 1, 7, 7), (2, 1, 3, 3), dict(dilation=3)),                   # batch 1, big dilation
    ((2, 3, 6, 7), (4, 3, 3, 2), dict(padding="same")),               # even kernel: asymmetric
    ((2, 3, 6, 7), (4, 3, 3, 3), dict(padding="same", dilation=2)),
    ((2, 3, 6, 7), (4, 3, 3, 3), dict(padding="valid", stride=2)),
    ((3, 6, 6), (4, 3, 3, 3), dict(padding=1)),                       # unbatched (C, H, W)
    ((3, 6, 6), (4, 3, 3, 3), dict(padding=1, stride=2)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's, for even kernels
@pytest.mark.parametrize("xs, ws, kw", EDGE_CASES)
def test_conv2d_edge_cases_match_torch(backend, xs, ws, kw):
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw),
             (lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw)) if torch else None,
             xs, ws, (ws[0],), device=backend.device)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs, ws, kw", EDGE_CASES)
def test_conv2d_reference_edge_cases_match_torch(xs, ws, kw):
    check_op(lambda x, w, b: F.conv2d_reference(x, w, b, **kw),
             (lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw)) if torch else None,
             xs, ws, (ws[0],))


@given_settings
@given(cfg=conv_configs(max_side=5), bias=st.booleans())
def test_conv2d_reference_matches_fast_path(backend, cfg, bias):
    """The direct loops (no im2col at all) agree with each backend's fast path (im2col + GEMM,
    or implicit GEMM on the CUDA kernels): forward and grads."""
    xs, ws, kw = cfg
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in ((xs, ws, (ws[0],)) if bias else (xs, ws))]
    up = rng.standard_normal((xs[0], ws[0]) + _geom(xs, ws, **kw)[8:])
    results = []
    for fn in (F.conv2d, F.conv2d_reference):
        ts = [backend.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*ts, **kw)
        y.backward(backend.tensor(up))
        results.append([backend.numpy(y)] + [backend.numpy(t.grad) for t in ts])
    for fast, ref in zip(*results):
        np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-10)


CHUNKED_CASES = [
    ((7, 4, 9, 8), (6, 4, 3, 3), dict(padding=1)),
    ((5, 6, 9, 9), (4, 3, 3, 2), dict(stride=2, padding=(1, 0), dilation=(2, 1), groups=2)),
    ((3, 2, 6, 6), (3, 2, 1, 1), dict()),
]


@pytest.mark.parametrize("table", ["numba", "reference"])
@pytest.mark.parametrize("xs, ws, kw", CHUNKED_CASES)
def test_conv2d_in_batch_chunks_matches_the_definition(monkeypatch, table, xs, ws, kw):
    """Tiny chunks: each image is its own im2col + GEMM, and the weight/bias grads are sums
    of per-chunk parts. Forward and every grad agree with the direct loops; so does a first
    layer (no input grad)."""
    import minitorch.ops.conv as conv
    from minitorch.kernel_table import NUMBA, REFERENCE, use_kernels
    if table == "numba" and not HAVE_NUMBA:
        pytest.skip("numba not importable")
    monkeypatch.setattr(conv, "_MIN_CHUNK_BYTES", 1)
    assert len(conv.batch_chunks(np, xs[0], 8, 0)) == xs[0]
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal(s) for s in (xs, ws, (ws[0],))]
    up = rng.standard_normal(F.conv2d_reference(mt.tensor(arrays[0]), mt.tensor(arrays[1]),
                                                **kw).shape)
    for need_x in (True, False):
        results = []
        for fn in (F.conv2d, F.conv2d_reference):
            with use_kernels(NUMBA if table == "numba" else REFERENCE):
                ts = [mt.tensor(a, requires_grad=(i > 0 or need_x))
                      for i, a in enumerate(arrays)]
                y = fn(*ts, **kw)
                y.backward(mt.tensor(up))
            results.append([y.detach().numpy()] + [t.grad.numpy() for t in ts if t.requires_grad])
        for fast, ref in zip(*results):
            np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- finite differences
GRADCHECK_CASES = [
    ((1, 2, 4, 4), (2, 2, 3, 3), dict(padding=1)),
    ((2, 2, 5, 6), (2, 1, 2, 3), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ((1, 1, 5, 5), (2, 1, 2, 2), dict(stride=3, padding="valid")),
    ((2, 4, 4), (3, 2, 2, 2), dict(padding="same")),
]


@pytest.mark.parametrize("xs, ws, kw", GRADCHECK_CASES)
def test_conv2d_gradcheck(backend, xs, ws, kw):
    backend.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), xs, ws, (ws[0],))


@pytest.mark.parametrize("xs, ws, kw", GRADCHECK_CASES)
def test_conv2d_reference_gradcheck(xs, ws, kw):
    gradcheck_op(lambda x, w, b: F.conv2d_reference(x, w, b, **kw), xs, ws, (ws[0],))


def test_conv2d_gradcheck_non_contiguous_input(backend):
    x = backend.tensor(strided((1, 2, 4, 4), seed=6), requires_grad=True)
    w = backend.tensor(np.random.default_rng(7).standard_normal((3, 2, 2, 2)),
                       requires_grad=True)
    assert not x.data.flags.c_contiguous
    assert mt.gradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1), [x, w])


# --------------------------------------------------------------------------- behaviour
def test_first_layer_computes_no_input_grad_and_saves_no_weight(backend):
    """The graph names the algorithm that ran; neither saves W when gx is not needed."""
    x = backend.tensor(np.random.default_rng(9).standard_normal((2, 1, 6, 6)))   # data
    w = backend.tensor(np.random.default_rng(10).standard_normal((3, 1, 3, 3)),
                       requires_grad=True)
    y = F.conv2d(x, w)
    expected = {"numba": "Conv2dDirect", "numba-winograd": "Conv2dWinograd",
                "emulated": "Conv2dImplicitGemm",
                "cuda": "Conv2dImplicitGemm"}.get(backend.name, "Conv2d")
    assert y.grad_fn.name() == expected
    col_or_x, weight = y.grad_fn.ctx.saved      # col (im2col) or x (implicit GEMM), for gW
    assert col_or_x is not None and weight is None   # W is only needed for gx
    y.sum().backward()
    assert x.grad is None and w.grad.shape == (3, 1, 3, 3)


def test_conv2d_keeps_float32_and_matches_torch_float32(backend):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3, 10, 10)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    y = F.conv2d(backend.tensor(x), backend.tensor(w), backend.tensor(b), padding=1)
    assert y.dtype == np.float32
    if torch is not None:
        ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=1)
        np.testing.assert_allclose(backend.numpy(y), ref.numpy(), rtol=1e-4, atol=1e-5)


def test_conv2d_module_shapes_and_init_bounds():
    conv = mt.nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2, bias=True)
    assert conv.weight.shape == (6, 2, 3, 2) and conv.bias.shape == (6,)
    bound = 1 / np.sqrt(2 * 3 * 2)            # fan_in = C/groups * KH * KW
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.bias.data).max() <= bound
    y = conv(mt.randn(2, 4, 7, 8))
    assert y.shape == (2, 6, out_size(7, 3, 2, 1, 1), out_size(8, 2, 2, 1, 1))
    assert "groups=2" in repr(conv)
    assert mt.nn.Conv2d(1, 2, 3, bias=False).bias is None


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("xs, ws, kw, match", [
    ((1, 2, 3, 3), (1, 2, 4, 4), {}, r"kernel size \(4, 4\).*greater than the padded "
                                     r"input size \(3, 3\)"),
    ((1, 2, 4, 4), (1, 2, 3, 3), dict(dilation=2),
     r"with dilation \(2, 2\): \(5, 5\)\).*padded input size \(4, 4\)"),
    ((1, 3, 5, 5), (4, 1, 3, 3), dict(groups=2), r"in_channels \(3\) and out_channels \(4\) "
                                                 r"must both be divisible by groups \(2\)"),
    ((1, 4, 5, 5), (4, 1, 3, 3), dict(groups=2), r"weight \(4, 1, 3, 3\) expects 1 channels "
                                                 r"per group.*4 channels / groups 2 = 2"),
    ((1, 4, 5, 5), (4, 3, 3, 3), {}, r"expects 3 channels per group"),
    ((5, 5), (4, 3, 3, 3), {}, r"expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input, "
                               r"got shape \(5, 5\)"),
    ((1, 1, 2, 3, 3), (1, 1, 3, 3), {}, r"got shape \(1, 1, 2, 3, 3\)"),
    ((1, 1, 5, 5), (1, 1, 3), {}, r"weight must be 4-D"),
    ((1, 1, 5, 5), (1, 1, 3, 3), dict(stride=0), r"stride 0 and dilation 1 must be >= 1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), dict(padding=-1), r"padding must be 'valid', 'same' or ints"),
    ((1, 1, 5, 5), (1, 1, 3, 3), dict(padding="full"), r"padding must be 'valid', 'same'"),
    ((1, 1, 5, 5), (1, 1, 3, 3), dict(padding="same", stride=2), r"'same' needs stride 1"),
])
@pytest.mark.parametrize("fn", ["conv2d", "conv2d_reference"])
def test_conv2d_errors(backend, xs, ws, kw, match, fn):
    with pytest.raises((ValueError, TypeError), match=rf"^{fn}: .*{match}"):
        getattr(F, fn)(backend.tensor(mt.randn(*xs).numpy()), backend.tensor(mt.randn(*ws).numpy()),
                       **kw)


def test_conv2d_dtype_and_bias_errors():
    x = mt.randn(1, 1, 5, 5)
    with pytest.raises(TypeError, match=r"conv2d: input dtype float32 and weight dtype float64 "
                                        r"must be the same"):
        F.conv2d(x, mt.randn(1, 1, 3, 3).double())
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(2,\)"):
        F.conv2d(x, mt.randn(2, 1, 3, 3), mt.randn(3))
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair of ints"):
        F.conv2d(x, mt.randn(2, 1, 3, 3), stride=(1, 1, 1))
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) and out_channels \(4\)"):
        mt.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"padding_mode must be 'zeros'"):
        mt.nn.Conv2d(1, 1, 3, padding_mode="reflect")
