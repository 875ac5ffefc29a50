"""The CUDA kernels on a real GPU: every kernel against the NumPy path, float32 and float64,
non-contiguous inputs, outputs poisoned so an unwritten element fails. Marked ``cuda``: skipped
without CuPy and a GPU (tests/test_kernels_emulated.py runs the same sources on the CPU).
"""
from __future__ import annotations

import numpy as np
import pytest

from minitorch.backend import cupy_module, is_cuda_available
from minitorch.cpu.im2col import col2im_xp, im2col_xp
from minitorch.cpu.pool import max_pool_backward_xp, max_pool_xp
from minitorch.cuda import fused, launch, loader
from minitorch.cuda import ops as cuda_ops
from minitorch.ops.geometry import Geometry2d
from minitorch.ops.pool import avg_divisor, pool_out_size
from test_kernels_emulated import _conv_ref, _out, _rand, _softmax_xent_ref, _wgrad_ref

pytestmark = pytest.mark.cuda
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-11, atol=1e-11)}


@pytest.fixture(scope="module")
def cp():
    """CuPy, with the kernels' fresh outputs NaN-filled (or -777) in this module."""
    if not is_cuda_available():
        pytest.skip("no GPU")
    with launch.poisoned_outputs():
        yield cupy_module()


def _dev(cp, a, contiguous=False):
    """A CuPy copy of a; a non-contiguous strided view of a bigger array unless asked not."""
    d = cp.asarray(a)
    axes = [i for i, n in enumerate(a.shape) if n > 1]
    if contiguous or not axes:
        return d
    ax = axes[-1]
    shape = list(a.shape)
    shape[ax] *= 2
    big = cp.zeros(tuple(shape), dtype=a.dtype)
    sl = tuple(slice(None, None, 2) if i == ax else slice(None) for i in range(a.ndim))
    big[sl] = d
    view = big[sl]
    assert not view.flags.c_contiguous
    return view


GEOMS = [  # N C H W KH KW SH SW PH PW DH DW
    (2, 3, 7, 6, 3, 2, 1, 1, 1, 0, 1, 1),
    (3, 2, 9, 9, 3, 3, 2, 2, 1, 1, 2, 1),
    (1, 1, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1),
    (4, 20, 12, 12, 5, 5, 1, 1, 0, 0, 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("g", GEOMS)
def test_im2col_col2im(cp, dtype, g):
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = g
    geom = Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, _out(H, KH, SH, PH, DH),
                      _out(W, KW, SW, PW, DW))
    x = _rand((N, C, H, W), dtype, 1)
    col = cuda_ops.im2col(_dev(cp, x), geom)
    np.testing.assert_array_equal(cp.asnumpy(col), im2col_xp(x, geom))
    gcol = _rand(col.shape, dtype, 2)
    gx = cuda_ops.col2im(_dev(cp, gcol), x.shape, geom)
    np.testing.assert_allclose(cp.asnumpy(gx), col2im_xp(gcol, x.shape, geom), **TOL[dtype])
    again = cuda_ops.col2im(_dev(cp, gcol), x.shape, geom)
    assert bool((again == gx).all()), "col2im is not deterministic"


POOLS = [  # shape, (KH KW SH SW PH PW DH DW), ceil_mode
    ((2, 3, 24, 24), (2, 2, 2, 2, 0, 0, 1, 1), False),
    ((2, 3, 9, 8), (3, 3, 2, 2, 1, 1, 1, 1), True),
    ((1, 2, 10, 11), (3, 2, 2, 1, 1, 0, 2, 1), False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,ceil", POOLS)
def test_max_pool(cp, dtype, shape, k, ceil):
    KH, KW, SH, SW, PH, PW, DH, DW = k
    geom = Geometry2d(*k, pool_out_size(shape[2], KH, SH, PH, DH, ceil),
                      pool_out_size(shape[3], KW, SW, PW, DW, ceil))
    x = np.round(_rand(shape, dtype, 3) * 2).astype(dtype)   # ties
    out, idx = cuda_ops.max_pool(_dev(cp, x), geom)
    ref_out, ref_idx = max_pool_xp(x, geom)
    np.testing.assert_array_equal(cp.asnumpy(out), ref_out)
    np.testing.assert_array_equal(cp.asnumpy(idx), ref_idx)
    gy = _rand(ref_out.shape, dtype, 4)
    gx = cuda_ops.max_pool_backward(_dev(cp, gy), idx, shape, geom)
    np.testing.assert_allclose(cp.asnumpy(gx), max_pool_backward_xp(gy, ref_idx, shape, geom),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool(cp, dtype, include_pad):
    torch = pytest.importorskip("torch")
    shape, (KH, KW, SH, SW, PH, PW) = (2, 3, 9, 8), (3, 3, 2, 2, 1, 1)
    OH, OW = (pool_out_size(shape[2], KH, SH, PH, 1, True),
              pool_out_size(shape[3], KW, SW, PW, 1, True))
    geom = Geometry2d(KH, KW, SH, SW, PH, PW, 1, 1, OH, OW)
    div = avg_divisor(geom, shape[2], shape[3], include_pad, None)
    x = _rand(shape, dtype, 5)
    out = cuda_ops.avg_pool(_dev(cp, x), div, geom)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref = torch.nn.functional.avg_pool2d(xt, (KH, KW), (SH, SW), (PH, PW), ceil_mode=True,
                                         count_include_pad=include_pad)
    np.testing.assert_allclose(cp.asnumpy(out), ref.detach().numpy(), **TOL[dtype])
    gy = _rand(out.shape, dtype, 6)
    ref.backward(torch.tensor(gy.astype(np.float64)))
    gx = cuda_ops.avg_pool_backward(_dev(cp, gy), div, shape, geom)
    np.testing.assert_allclose(cp.asnumpy(gx), xt.grad.numpy(), **TOL[dtype])


CONVS = [  # N G Cg OCg H W KH KW SH SW PH PW DH DW bias
    (3, 1, 3, 37, 9, 8, 5, 5, 1, 1, 2, 1, 1, 1, True),
    (2, 2, 2, 3, 7, 7, 3, 3, 2, 1, 1, 0, 1, 2, False),
    (64, 1, 1, 20, 28, 28, 5, 5, 1, 1, 0, 0, 1, 1, True),     # SimpLeNet conv1
    (64, 1, 20, 50, 12, 12, 5, 5, 1, 1, 0, 0, 1, 1, True),    # SimpLeNet conv2
    (16, 1, 6, 16, 14, 14, 5, 5, 1, 1, 0, 0, 1, 1, True),     # LeNet5 conv2
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CONVS)
def test_conv_implicit_gemm(cp, dtype, c):
    N, G, Cg, OCg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, has_b = c
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    geom = Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    x = _rand((N, G * Cg, H, W), dtype, 10)
    w = _rand((G * OCg, Cg, KH, KW), dtype, 11)
    b = _rand((G * OCg,), dtype, 12) if has_b else None
    ref, col = _conv_ref(x, w, b, geom, G)
    y = cuda_ops.conv2d_forward(_dev(cp, x), cp.asarray(w), None if b is None else cp.asarray(b),
                                geom, G)
    np.testing.assert_allclose(cp.asnumpy(y), ref, **TOL[dtype])
    gy = _rand(ref.shape, dtype, 13)
    gw = cuda_ops.conv2d_weight_grad(cp.asarray(x), _dev(cp, gy), w.shape, geom, G)
    np.testing.assert_allclose(cp.asnumpy(gw), _wgrad_ref(col, gy, w.shape, G), **TOL[dtype])
    gw2 = cuda_ops.conv2d_weight_grad(cp.asarray(x), cp.asarray(gy), w.shape, geom, G)
    assert bool((gw2 == gw).all()), "weight grad is not deterministic"
    gx = cuda_ops.conv2d_input_grad(cp.asarray(gy), cp.asarray(w), x.shape, geom, G)
    K = Cg * KH * KW
    gcol = np.matmul(w.reshape(G, OCg, K).transpose(0, 2, 1),
                     gy.reshape(N, G * OCg, -1).transpose(1, 0, 2).reshape(G, OCg, -1))
    np.testing.assert_allclose(cp.asnumpy(gx), col2im_xp(gcol.reshape(G * K, -1), x.shape, geom),
                               **TOL[dtype])


@pytest.mark.parametrize("tile", loader.CONV_TILES)
def test_conv_every_tile_shape(cp, tile):
    c = CONVS[0]
    N, G, Cg, OCg, H, W, KH, KW, SH, SW, PH, PW, DH, DW, _ = c
    geom = Geometry2d(KH, KW, SH, SW, PH, PW, DH, DW, _out(H, KH, SH, PH, DH),
                      _out(W, KW, SW, PW, DW))
    x, w = _rand((N, Cg, H, W), np.float64, 14), _rand((OCg, Cg, KH, KW), np.float64, 15)
    ref, col = _conv_ref(x, w, None, geom, 1)
    y = cuda_ops.conv2d_forward(cp.asarray(x), cp.asarray(w), None, geom, tile=tile)
    np.testing.assert_allclose(cp.asnumpy(y), ref, **TOL[np.float64])
    gy = _rand(ref.shape, np.float64, 16)
    gw = cuda_ops.conv2d_weight_grad(cp.asarray(x), cp.asarray(gy), w.shape, geom, tile=tile)
    np.testing.assert_allclose(cp.asnumpy(gw), _wgrad_ref(col, gy, w.shape, 1),
                               **TOL[np.float64])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy(cp, dtype):
    z = (_rand((300, 10), dtype, 17) * 20).astype(dtype)
    y = np.random.default_rng(18).integers(0, 10, 300)
    y[5] = -100
    loss, grad = fused.softmax_cross_entropy(_dev(cp, z), cp.asarray(y))
    ref_loss, ref_grad, _ = _softmax_xent_ref(z, y, -100)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(cp.asnumpy(loss), ref_loss, **tol)
    np.testing.assert_allclose(cp.asnumpy(grad), ref_grad, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm(cp, dtype):
    torch = pytest.importorskip("torch")
    x = _rand((32, 6, 5, 5), dtype, 19) * 2 + 1
    g, b = _rand((6,), dtype, 20), _rand((6,), dtype, 21)
    y, mean, invstd = fused.batch_norm_forward(_dev(cp, x.astype(dtype)), cp.asarray(g),
                                               cp.asarray(b))
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    gt = torch.tensor(g.astype(np.float64), requires_grad=True)
    bt = torch.tensor(b.astype(np.float64), requires_grad=True)
    ref = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(cp.asnumpy(y), ref.detach().numpy(), **tol)
    gy = _rand(x.shape, dtype, 22)
    ref.backward(torch.tensor(gy.astype(np.float64)))
    gx, gg, gb = fused.batch_norm_backward(_dev(cp, gy), cp.asarray(x.astype(dtype)),
                                           cp.asarray(g), mean, invstd)
    np.testing.assert_allclose(cp.asnumpy(gx), xt.grad.numpy(), **tol)
    np.testing.assert_allclose(cp.asnumpy(gg), gt.grad.numpy(), **tol)
    np.testing.assert_allclose(cp.asnumpy(gb), bt.grad.numpy(), **tol)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_matches_torch(cp, decoupled):
    torch = pytest.importorskip("torch")
    p0, grads = _rand((50, 7), np.float64, 23), [_rand((50, 7), np.float64, 24 + i)
                                                 for i in range(3)]
    pt = torch.tensor(p0, requires_grad=True)
    opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)([pt], lr=1e-2,
                                                                 weight_decay=0.1)
    p, m, v = cp.asarray(p0), cp.zeros_like(cp.asarray(p0)), cp.zeros_like(cp.asarray(p0))
    for step, g in enumerate(grads, 1):
        pt.grad = torch.tensor(g)
        opt.step()
        fused.adam_update(p, cp.asarray(g), m, v, lr=1e-2, weight_decay=0.1, step=step,
                          decoupled=decoupled)
    np.testing.assert_allclose(cp.asnumpy(p), pt.detach().numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- issue 15 on the GPU
def test_dropout_mask_matches_the_formula(cp):
    from test_gpu_review import _splitmix_mask
    import minitorch as mt
    from minitorch.random import numpy_generator
    mt.manual_seed(3)
    seed = numpy_generator().integers(0, 2**63, dtype=np.int64)
    mt.manual_seed(3)
    mask = fused.dropout_mask((64, 1000), 0.3, np.float32, cp.zeros(1, cp.float32))
    assert isinstance(mask, cp.ndarray)
    np.testing.assert_array_equal(cp.asnumpy(mask).ravel(),
                                  _splitmix_mask(64000, seed, 0.3, np.float32))


def test_adam_one_launch_for_many_tensors_matches_torch(cp):
    torch = pytest.importorskip("torch")
    shapes = [(20, 1, 5, 5), (20,), (256, 800), (10,)]
    p0 = [_rand(s, np.float64, 40 + i) for i, s in enumerate(shapes)]
    pt = [torch.tensor(p, requires_grad=True) for p in p0]
    opt = torch.optim.Adam(pt, lr=1e-2, weight_decay=0.1)
    ps = [cp.asarray(p) for p in p0]
    ms, vs = [cp.zeros_like(p) for p in ps], [cp.zeros_like(p) for p in ps]
    for step in range(1, 4):
        gs = [_rand(s, np.float64, 50 + 10 * step + i) for i, s in enumerate(shapes)]
        for t, g in zip(pt, gs):
            t.grad = torch.tensor(g)
        opt.step()
        fused.adam_multi_update(ps, [cp.asarray(g) for g in gs], ms, vs, lr=1e-2,
                                weight_decay=0.1, step=step)
    for p, t in zip(ps, pt):
        np.testing.assert_allclose(cp.asnumpy(p), t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_conv_on_an_empty_batch(cp):
    geom = Geometry2d(3, 3, 1, 1, 1, 1, 1, 1, 6, 5)
    x, w = cp.zeros((0, 4, 6, 5)), cp.asarray(_rand((8, 4, 3, 3), np.float64, 60))
    assert cuda_ops.conv2d_forward(x, w, None, geom).shape == (0, 8, 6, 5)
    gw = cuda_ops.conv2d_weight_grad(x, cp.zeros((0, 8, 6, 5)), w.shape, geom)
    assert gw.shape == w.shape and not bool(gw.any())
    assert cuda_ops.conv2d_input_grad(cp.zeros((0, 8, 6, 5)), w, x.shape, geom).shape == x.shape


def test_cross_entropy_bad_target_gives_nan_rows(cp):
    z = cp.asarray(_rand((3, 4), np.float32, 61))
    loss, grad = fused.softmax_cross_entropy(z, cp.asarray([1, 4, -100]))
    loss, grad = cp.asnumpy(loss), cp.asnumpy(grad)
    assert np.isnan(loss[1]) and np.isnan(grad[1]).all() and loss[2] == 0
    assert np.isfinite(loss[0]) and np.isfinite(grad[0]).all()


def test_captured_sgd_step_replays_as_eager_steps(cp):
    """A whole SimpLeNet SGD step captured into a CUDA graph: no op syncs (capture would
    fail), and replays equal as many eager steps."""
    import minitorch as mt
    from minitorch.cuda.graph import capture_step
    from test_gpu_review import load_gpu_suite
    step = load_gpu_suite()._mt_step           # zero_grad, forward, loss, backward, step

    def fresh():
        mt.manual_seed(0)
        model = mt.models.SimpLeNet().to("cuda")
        return model, mt.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    rng = np.random.default_rng(62)
    x = mt.Tensor(rng.standard_normal((16, 1, 28, 28)).astype(np.float32), device="cuda")
    y = mt.Tensor(rng.integers(0, 10, 16), device="cuda")
    gm, gopt = fresh()
    em, eopt = fresh()
    captured = capture_step(lambda a, b: step(gm, gopt, a, b), x, y, warmup=2)
    for _ in range(3):
        captured()
    for _ in range(5):                    # 2 warm-ups + 3 replays
        step(em, eopt, x, y)
    for a, b in zip(gm.parameters(), em.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_dataloader_pin_memory_prefetch(cp):
    import minitorch as mt
    ds = mt.utils.data.TensorDataset(mt.arange(40.0).reshape(10, 4), mt.arange(10))
    got = list(mt.utils.data.DataLoader(ds, batch_size=3, device="cuda", pin_memory=True))
    want = list(mt.utils.data.DataLoader(ds, batch_size=3))
    assert len(got) == len(want) == 4
    for (a, b), (c, d) in zip(got, want):
        assert a.device == "cuda"
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())
