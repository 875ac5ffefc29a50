"""batch_norm (functional and BatchNorm1d/2d modules: running stats, momentum, eval mode,
state_dict) and dropout / dropout2d (statistics, eval identity, reproducibility). The functional
cases run on every backend (tests/backends.py): on the CUDA paths batch norm is the fused
kernels' Function (BatchNormFused)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from backends import backend, given_settings  # noqa: F401  (backend: the fixture)
from opcheck import check_op, needs_torch, torch

SHAPES = [(5, 3), (4, 3, 6), (3, 3, 4, 5), (2, 3, 1, 1)]


def strided(shape, seed=0):
    base = np.random.default_rng(seed).standard_normal(tuple(shape) + (2,)) * 2 + 1
    return base[..., 0]


# --------------------------------------------------------------------------- F.batch_norm
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(backend, shape, training):
    rm0 = np.random.default_rng(1).standard_normal(3)
    rv0 = np.random.default_rng(2).uniform(0.5, 2, 3)
    stats = {}

    def run(lib, x, w, b):
        tensor = backend.tensor if lib is F else torch.tensor
        stats[lib] = tensor(rm0.copy()), tensor(rv0.copy())
        return lib.batch_norm(x, *stats[lib], w, b, training=training, momentum=0.3, eps=1e-3)
    check_op(lambda *a: run(F, *a), (lambda *a: run(torch.nn.functional, *a)) if torch else None,
             strided(shape), (3,), (3,), device=backend.device)
    if torch is not None:  # the running statistics were updated alike (training) or kept
        for ours, theirs in zip(stats[F], stats[torch.nn.functional]):
            np.testing.assert_allclose(backend.numpy(ours), theirs.numpy(), rtol=1e-10)


@pytest.mark.parametrize("shape", SHAPES[:3])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(backend, shape, training):
    rm, rv = backend.tensor(np.zeros(3)), backend.tensor(np.ones(3) * 1.5)
    backend.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training,
                                                   momentum=0.0), shape, (3,), (3,))


def test_batch_norm_gradcheck_without_affine_and_running_stats(backend):
    backend.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (4, 2, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_graph_names_the_algorithm_that_ran(backend, dtype, training):
    """The CUDA paths and the numba table (minitorch/cpu/batchnorm.py) run float32/64 through
    the fused kernels' Function; other dtypes (and the reference table) through the generic
    one, with the same results."""
    x = backend.tensor((np.random.default_rng(3).standard_normal((4, 3, 2, 2)) + 1).astype(dtype),
                       requires_grad=True)
    w, b = (backend.tensor(np.ones(3, dtype), requires_grad=True) for _ in range(2))
    rm, rv = backend.tensor(np.zeros(3, dtype)), backend.tensor(np.ones(3, dtype))
    y = F.batch_norm(x, rm, rv, w, b, training=training)
    fused = (backend.is_cuda_path or backend.name == "numba") and dtype != np.float16
    assert y.grad_fn.name() == ("BatchNormFused" if fused else "BatchNorm")
    y.backward(backend.tensor(np.ones(y.shape, dtype)))
    assert x.grad.dtype == dtype and np.isfinite(backend.numpy(x.grad)).all()


@needs_torch
@given(n=st.integers(2, 4), c=st.integers(1, 3), spatial=st.sampled_from([(), (3,), (2, 3)]),
       momentum=st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_norm_running_stats_match_torch_over_steps(n, c, spatial, momentum):
    rng = np.random.default_rng(3)
    rm, rv = mt.tensor(np.zeros(c)), mt.tensor(np.ones(c))
    trm, trv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    for step in range(3):
        x = rng.standard_normal((n, c) + spatial) * (step + 1) + step
        y = F.batch_norm(mt.tensor(x), rm, rv, training=True, momentum=momentum)
        ty = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True,
                                            momentum=momentum)
        np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-10)
        np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-10)  # unbiased update


def test_batch_norm_uses_biased_variance_and_normalises():
    x = np.random.default_rng(4).standard_normal((50, 2, 3)) * 3 + 5
    y = F.batch_norm(mt.tensor(x), None, None, training=True, eps=0.0).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-10)  # np.var is biased


# --------------------------------------------------------------------------- modules
@needs_torch
@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (5, 4, 3)),
                                        ("BatchNorm2d", (3, 4, 5, 5))])
@pytest.mark.parametrize("kw", [{}, dict(momentum=None), dict(affine=False),
                                dict(track_running_stats=False), dict(momentum=0.5, eps=1e-3)])
def test_batchnorm_module_matches_torch_train_then_eval(cls, shape, kw):
    m = getattr(nn, cls)(4, **kw).to(mt.float64)
    tm = getattr(torch.nn, cls)(4, **kw).double()
    rng = np.random.default_rng(5)
    if m.weight is not None:  # non-trivial affine parameters
        w, b = rng.standard_normal(4), rng.standard_normal(4)
        m.weight.data[...] = w
        m.bias.data[...] = b
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(w))
            tm.bias.copy_(torch.tensor(b))
    for step in range(4):
        x = rng.standard_normal(shape) * (1 + step) - step
        np.testing.assert_allclose(m(mt.tensor(x)).detach().numpy(),
                                   tm(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-7, atol=1e-9)
    if kw.get("track_running_stats", True):
        np.testing.assert_allclose(m.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-10)
        np.testing.assert_allclose(m.running_var.numpy(), tm.running_var.numpy(), rtol=1e-10)
        assert int(m.num_batches_tracked.item()) == int(tm.num_batches_tracked) == 4
    m.eval()
    tm.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(m(mt.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-7, atol=1e-9)


def test_batchnorm_state_dict_has_buffers_and_round_trips():
    m = nn.BatchNorm2d(3)
    assert set(m.state_dict()) == {"weight", "bias", "running_mean", "running_var",
                                   "num_batches_tracked"}
    m(mt.randn(4, 3, 2, 2) * 3 + 1)
    m2 = nn.BatchNorm2d(3)
    m2.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m2.running_mean.numpy(), m.running_mean.numpy())
    assert m2.num_batches_tracked.item() == 1
    assert m.running_mean.dtype == np.float32 and m.num_batches_tracked.dtype == np.int64
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert set(nn.BatchNorm1d(3, affine=False, track_running_stats=False).state_dict()) == set()


def test_batchnorm_eval_output_is_affine_in_the_input():
    m = nn.BatchNorm1d(2)
    m(mt.randn(8, 2) * 2 + 3)
    m.eval()
    x = mt.randn(5, 2, requires_grad=True)
    m(x).sum().backward()
    invstd = 1 / np.sqrt(m.running_var.numpy() + m.eps)
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(invstd, (5, 2)), rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: F.batch_norm(mt.randn(1, 3), None, None, training=True),
     r"batch_norm: expected more than 1 value per channel when training, got input size "
     r"\(1, 3\)"),
    (lambda: F.batch_norm(mt.randn(4, 3), mt.zeros(2), mt.ones(2)),
     r"batch_norm: running_mean must have shape \(3,\) for input \(4, 3\)"),
    (lambda: F.batch_norm(mt.randn(4), mt.zeros(4), mt.ones(4)),
     r"batch_norm: expected a 2-D \(N, C\), 3-D \(N, C, L\) or 4-D \(N, C, H, W\) input"),
    (lambda: F.batch_norm(mt.randn(4, 3), None, None, training=False),
     r"batch_norm: training=False needs running_mean and running_var"),
    (lambda: F.batch_norm(mt.randn(4, 3), None, None, mt.ones(3).double(), training=True),
     r"batch_norm: input dtype float32 and weight dtype float64 must be the same"),
    (lambda: nn.BatchNorm2d(3)(mt.randn(4, 3)), r"BatchNorm2d: expected a 4-D input, got "
                                                r"shape \(4, 3\)"),
    (lambda: nn.BatchNorm1d(3)(mt.randn(4, 3, 2, 2)), r"BatchNorm1d: expected a 2-D or 3-D"),
])
def test_batch_norm_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(backend, p):
    mt.manual_seed(0)
    x = backend.tensor(np.ones((400, 500), np.float32))
    y = backend.numpy(F.dropout(x, p))
    zeroed = (y == 0).mean()
    assert abs(zeroed - p) < 0.01                                # fraction zeroed ~ p
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-6)  # survivors scaled
    assert abs(y.mean() - 1) < 0.02                              # E[y] = x (inverted)


def test_dropout_backward_is_the_mask_and_float64_works(backend):
    x = backend.tensor(np.random.default_rng(6).standard_normal((30, 20)), requires_grad=True)
    y = F.dropout(x, 0.3)
    y.backward(backend.tensor(np.ones(y.shape)))
    mask = backend.numpy(y) / backend.numpy(x)
    np.testing.assert_allclose(backend.numpy(x.grad), mask, rtol=1e-12)
    assert y.dtype == np.float64 and set(np.round(np.unique(mask), 8)) <= {0, round(1 / 0.7, 8)}


def test_dropout_gradcheck(backend):
    mt.manual_seed(1)

    def fn(x):  # the same mask on every call: re-seed before each draw
        mt.manual_seed(1)
        return F.dropout(x, 0.4)
    backend.gradcheck(fn, (4, 5))


def test_dropout_eval_identity_edges_and_seed(backend):
    x = backend.tensor(mt.randn(10, 10).numpy())
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(backend.numpy(F.dropout(x, 1.0)), 0)
    mt.manual_seed(42)
    a = backend.numpy(F.dropout(x, 0.5))
    mt.manual_seed(42)
    np.testing.assert_array_equal(backend.numpy(F.dropout(x, 0.5)), a)
    assert not np.array_equal(backend.numpy(F.dropout(x, 0.5)), a)  # the stream moves on


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5"])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match=r"dropout: dropout probability has to be between 0 "
                                         r"and 1, but got"):
        F.dropout(mt.randn(3), p)
    with pytest.raises(ValueError, match=r"Dropout: dropout probability"):
        nn.Dropout(p)


def test_dropout2d_zeroes_whole_channels(backend):
    mt.manual_seed(3)
    x = backend.tensor(np.ones((64, 32, 3, 4), np.float32))
    y = backend.numpy(F.dropout2d(x, 0.25))
    per_channel = y.reshape(64, 32, -1)
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()  # all or nothing
    assert abs((per_channel[:, :, 0] == 0).mean() - 0.25) < 0.03
    np.testing.assert_allclose(np.unique(y), [0, 1 / 0.75], rtol=1e-6)
    assert F.dropout2d(backend.tensor(np.ones((3, 4, 4))), 0.5).shape == (3, 4, 4)  # unbatched
    with pytest.raises(ValueError, match=r"dropout2d: expected a 3-D \(C, H, W\) or 4-D"):
        F.dropout2d(mt.ones(3, 4), 0.5)


def test_dropout_modules_follow_train_and_eval():
    m = nn.Sequential(nn.Dropout(0.5), nn.Dropout2d(0.5))
    x = mt.ones(8, 4, 2, 2)
    assert (m(x).numpy() == 0).any()
    m.eval()
    np.testing.assert_array_equal(m(x).numpy(), x.numpy())
    assert "p=0.5" in repr(m)
