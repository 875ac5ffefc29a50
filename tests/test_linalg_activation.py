"""matmul / linear and the activations: forward and grads vs PyTorch, finite differences,
broadcasting of batch dims, numerically hard inputs, and the error messages."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minitorch as mt
from minitorch.ops import activation as A
from minitorch.ops.linalg import linear, matmul
from backends import CPU_TABLES, active_backend
from opcheck import DEVICES, check_op, gradcheck_op, needs_torch, torch


def strided(shape, seed=0, scale=1.0):
    """A non-contiguous float64 array of ``shape``: every other element of a larger one."""
    base = np.random.default_rng(seed).standard_normal(tuple(shape) + (2,)) * scale
    view = base[..., 0]
    assert view.size <= 1 or not view.flags.c_contiguous
    return view


def normal(shape, seed=0, scale=1.0):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale)


# --------------------------------------------------------------------------- matmul
MATMUL_CASES = [
    ((3,), (3,)),                  # dot product -> 0-d
    ((2, 3), (3, 4)),
    ((3,), (3, 4)),                # 1-D first: dim prepended then removed
    ((2, 3), (3,)),                # 1-D second: dim appended then removed
    ((2, 2, 3), (3,)),
    ((3,), (2, 3, 4)),
    ((4, 2, 3), (3, 5)),           # stack @ one matrix
    ((2, 3), (4, 3, 5)),           # one matrix @ stack: grad of the first sums over the batch
    ((2, 1, 3, 4), (5, 4, 2)),     # batch dims broadcast (2, 1) x (5,) -> (2, 5)
    ((1, 3, 4), (2, 4, 2)),
]


@pytest.mark.parametrize("sa, sb", MATMUL_CASES)
def test_matmul_matches_torch(sa, sb):
    check_op(matmul, torch.matmul if torch else None, sa, sb)


@pytest.mark.parametrize("sa, sb", MATMUL_CASES[:4] + MATMUL_CASES[-2:])
def test_matmul_gradcheck(sa, sb):
    gradcheck_op(matmul, sa, sb)


@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       nkm=st.tuples(*[st.integers(1, 4)] * 3), strided_a=st.booleans(),
       transposed_b=st.booleans())
def test_matmul_batch_broadcast_hypothesis(shapes, nkm, strided_a, transposed_b):
    (ba, bb), _ = shapes
    n, k, m = nkm
    a = (strided if strided_a else normal)(ba + (n, k), seed=1)
    b = normal(bb + (m, k), seed=2)
    b = np.swapaxes(b, -1, -2) if transposed_b else np.ascontiguousarray(np.swapaxes(b, -1, -2))
    check_op(matmul, torch.matmul if torch else None, a, b)


def test_matmul_operator_and_numpy_operand():
    a = mt.tensor(np.arange(6.0).reshape(2, 3))
    w = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose((a @ mt.tensor(w)).numpy(), a.numpy() @ w)
    np.testing.assert_allclose((w.T @ a.T).numpy(), w.T @ a.numpy().T)  # reflected
    assert (a @ mt.tensor(w)).dtype == np.float64  # arrays keep their dtype
    assert (mt.randn(2, 3) @ mt.randn(3)).dtype == np.float32


def test_matmul_only_saves_what_backward_needs():
    a = mt.randn(3, 4, requires_grad=True)
    b = mt.randn(4, 5)  # a constant: dB is never needed, so A need not be saved
    out = a @ b
    saved_a, saved_b = out.grad_fn.ctx.saved
    assert saved_a is None and saved_b is b.data
    out.backward(mt.ones(3, 5))
    np.testing.assert_allclose(a.grad.numpy(), np.ones((3, 5)) @ b.numpy().T, rtol=1e-6)
    assert b.grad is None


def test_matmul_misaligned_names_shapes_and_dims():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 6\) are not aligned:"
                       r" dim 1 of the first \(4\) must equal dim 0 of the second \(5\)"):
        mt.randn(3, 4) @ mt.randn(5, 6)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) and \(3,\).*dim 2 of the first \(4\)"
                       r" must equal dim 0 of the second \(3\)"):
        matmul(mt.randn(2, 3, 4), mt.randn(3))
    with pytest.raises(ValueError, match=r"batch dims \(2,\) and \(3,\) are not broadcastable"):
        matmul(mt.randn(2, 3, 4), mt.randn(3, 4, 5))
    with pytest.raises(RuntimeError, match=r"at least 1-D.*\(\) and \(3,\)"):
        matmul(mt.tensor(2.0), mt.randn(3))
    with pytest.raises(TypeError, match="float32 and float64"):
        matmul(mt.randn(2, 3), mt.randn(3, 2, dtype=mt.float64))


@pytest.mark.parametrize("device", DEVICES)
def test_matmul_on_device(device):
    check_op(matmul, torch.matmul if torch else None, (2, 3, 4), (4, 5), device=device)


# --------------------------------------------------------------------------- linear
LINEAR_CASES = [((5,), (3, 5)), ((4, 5), (3, 5)), ((2, 4, 5), (3, 5))]


@pytest.mark.parametrize("sx, sw", LINEAR_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(sx, sw, bias):
    if bias:
        check_op(linear, torch.nn.functional.linear if torch else None, sx, sw, (sw[0],))
    else:
        check_op(linear, torch.nn.functional.linear if torch else None, sx, sw)


@pytest.mark.parametrize("sx, sw", LINEAR_CASES)
def test_linear_gradcheck(sx, sw):
    gradcheck_op(linear, sx, sw, (sw[0],))
    gradcheck_op(linear, sx, sw)


def test_linear_noncontiguous_input():
    check_op(linear, torch.nn.functional.linear if torch else None, strided((4, 5)),
             strided((5, 3), seed=1).T, (3,))


@needs_torch
def test_linear_computes_only_needed_grads():
    x = mt.randn(4, 5)  # the input of a first layer: no grad needed
    w = mt.randn(3, 5, requires_grad=True)
    b = mt.randn(3, requires_grad=True)
    out = linear(x, w, b)
    saved_x, saved_w = out.grad_fn.ctx.saved
    assert saved_w is None  # W is only needed for dx
    out.backward(mt.ones(4, 3))
    assert x.grad is None
    tx, tw = torch.tensor(x.numpy()), torch.tensor(w.detach().numpy(), requires_grad=True)
    tb = torch.tensor(b.detach().numpy(), requires_grad=True)
    torch.nn.functional.linear(tx, tw, tb).backward(torch.ones(4, 3))
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5)


def test_linear_frozen_weight_or_bias():
    x = mt.randn(2, 4, 5, dtype=mt.float64, requires_grad=True)
    w, b = mt.randn(3, 5, dtype=mt.float64), mt.randn(3, dtype=mt.float64, requires_grad=True)
    up = np.random.default_rng(0).standard_normal((2, 4, 3))
    out = linear(x, w, b)
    assert out.grad_fn.ctx.saved[0] is None  # x is only needed for dW
    out.backward(up)
    np.testing.assert_allclose(b.grad.numpy(), up.sum(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), up @ w.numpy(), rtol=1e-12)
    assert w.grad is None
    w.requires_grad_(True)
    b2 = mt.randn(3, dtype=mt.float64)
    linear(x.detach(), w, b2).backward(up)
    np.testing.assert_allclose(w.grad.numpy(), up.reshape(-1, 3).T @ x.detach().numpy()
                               .reshape(-1, 5), rtol=1e-12)
    assert b2.grad is None


def test_linear_errors():
    with pytest.raises(ValueError, match=r"input shape \(4, 6\) and weight shape \(3, 5\).*"
                       r"last dim \(6\).*in_features=5"):
        linear(mt.randn(4, 6), mt.randn(3, 5))
    with pytest.raises(ValueError, match=r"bias shape \(4,\) must be \(out_features,\) = \(3,\)"):
        linear(mt.randn(4, 5), mt.randn(3, 5), mt.randn(4))
    with pytest.raises(TypeError, match="same dtype"):
        linear(mt.randn(4, 5, dtype=mt.float64), mt.randn(3, 5))


# --------------------------------------------------------------------------- activations
def _t(name):
    return getattr(torch, name) if torch else None


def _tf(name, **kw):
    return (lambda x: getattr(torch.nn.functional, name)(x, **kw)) if torch else None


POINTWISE = [
    ("tanh", A.tanh, lambda: _t("tanh")),
    ("sigmoid", A.sigmoid, lambda: _t("sigmoid")),
    ("relu", A.relu, lambda: _t("relu")),
    ("leaky_relu", A.leaky_relu, lambda: _tf("leaky_relu")),
    ("leaky_relu_0.2", lambda x: A.leaky_relu(x, 0.2), lambda: _tf("leaky_relu",
                                                                    negative_slope=0.2)),
    ("elu", A.elu, lambda: _tf("elu")),
    ("elu_0.5", lambda x: A.elu(x, alpha=0.5), lambda: _tf("elu", alpha=0.5)),
    ("softplus", A.softplus, lambda: _tf("softplus")),
    ("softplus_b2_t1", lambda x: A.softplus(x, beta=2.0, threshold=1.0),
     lambda: _tf("softplus", beta=2.0, threshold=1.0)),
]


@pytest.mark.parametrize("name, fn, ref", POINTWISE, ids=[p[0] for p in POINTWISE])
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
       noncontiguous=st.booleans())
def test_pointwise_matches_torch(name, fn, ref, shape, noncontiguous):
    check_op(fn, ref(), (strided if noncontiguous else normal)(shape, scale=3.0))


@pytest.mark.parametrize("name, fn, ref", POINTWISE, ids=[p[0] for p in POINTWISE])
def test_pointwise_gradcheck(name, fn, ref):
    x = normal((3, 4), seed=3, scale=3.0)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks, where differences are meaningless
    gradcheck_op(fn, x)


@pytest.mark.parametrize("name, fn, ref", POINTWISE, ids=[p[0] for p in POINTWISE])
def test_pointwise_keeps_float32(name, fn, ref):
    assert fn(mt.randn(3)).dtype == np.float32
    assert fn(mt.randn(3, dtype=mt.float64)).dtype == np.float64


EXTREME = np.array([-1e4, -1000.0, -100.0, -30.0, -20.5, -1e-8, 0.0, 1e-8, 20.5, 30.0, 100.0,
                    1000.0, 1e4])


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, fn, ref", POINTWISE, ids=[p[0] for p in POINTWISE])
def test_pointwise_extreme_inputs(name, fn, ref, dtype):
    """Huge |x|: no overflow warning, finite values and grads equal to PyTorch's."""
    x = mt.tensor(EXTREME, dtype=dtype, requires_grad=True)
    tx = torch.tensor(EXTREME.astype(dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in a discarded branch would warn
        out = fn(x)
        out.backward(mt.ones(len(EXTREME), dtype=dtype))
    expected = ref()(tx)
    expected.backward(torch.ones(len(EXTREME), dtype=expected.dtype))
    assert np.isfinite(out.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
    tol = dict(rtol=1e-6, atol=1e-30) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)


def test_sigmoid_tails_keep_relative_precision():
    # sigmoid(-100) = exp(-100) / (1 + exp(-100)): 1 - sigmoid(100) would round to 0.
    x = mt.tensor([-100.0, -30.0], dtype=mt.float64)
    np.testing.assert_allclose(A.sigmoid(x).numpy(), np.exp([-100.0, -30.0]) /
                               (1 + np.exp([-100.0, -30.0])), rtol=1e-14)


def test_softplus_is_exactly_linear_above_threshold():
    x = mt.tensor([20.5, 50.0, 1e6], dtype=mt.float64, requires_grad=True)
    out = A.softplus(x)
    np.testing.assert_array_equal(out.detach().numpy(), x.detach().numpy())
    out.backward(mt.ones(3, dtype=mt.float64))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


def test_relu_family_grad_at_zero():
    """PyTorch: relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha (the x <= 0 branch)."""
    cases = [(A.relu, 0.0), (lambda x: A.leaky_relu(x, 0.1), 0.1), (lambda x: A.elu(x, 0.7), 0.7)]
    for fn, expected in cases:
        x = mt.zeros(2, dtype=mt.float64, requires_grad=True)
        fn(x).backward(mt.ones(2, dtype=mt.float64))
        np.testing.assert_allclose(x.grad.numpy(), [expected, expected])
    assert A.relu(mt.tensor([-0.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 2.0]


def test_activation_dtype_errors():
    with pytest.raises(TypeError, match=r"leaky_relu: expected a floating-point tensor, got "
                       r"dtype int64 \(shape \(3,\)\)"):
        A.leaky_relu(mt.arange(3))
    # torch.sigmoid / torch.tanh of integers: the default float dtype (issue 13)
    assert A.sigmoid(mt.arange(3)).dtype == A.tanh(mt.arange(3)).dtype == np.float32
    assert A.relu(mt.tensor([-1, 2])).tolist() == [0, 2]  # relu of ints is fine, as PyTorch
    with pytest.raises(ValueError, match="beta"):
        A.softplus(mt.randn(2), beta=0)


# --------------------------------------------------------------------------- softmax
@pytest.mark.parametrize("op, ref", [(A.softmax, "softmax"), (A.log_softmax, "log_softmax")])
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data(),
       noncontiguous=st.booleans())
def test_softmax_matches_torch(op, ref, shape, data, noncontiguous):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = (strided if noncontiguous else normal)(shape, scale=5.0)
    check_op(lambda t: op(t, dim), (lambda t: getattr(torch, ref)(t, dim)) if torch else None, x)


@pytest.mark.parametrize("op", [A.softmax, A.log_softmax])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_gradcheck(op, dim):
    gradcheck_op(lambda t: op(t, dim), (3, 4))


@needs_torch
@pytest.mark.parametrize("op, ref", [(A.softmax, "softmax"), (A.log_softmax, "log_softmax")])
def test_softmax_huge_logits(op, ref):
    x = np.array([[1000.0, 1001.0, -1000.0], [-1e4, -1e4, -1e4 + 1]], dtype=np.float32)
    out = op(mt.tensor(x), dim=1).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, getattr(torch, ref)(torch.tensor(x), 1).numpy(), rtol=1e-6,
                               atol=1e-30)


def test_softmax_rows_sum_to_one_and_grad_of_sum_is_zero():
    x = mt.randn(4, 6, dtype=mt.float64, requires_grad=True)
    y = A.softmax(x, dim=1)
    np.testing.assert_allclose(y.detach().numpy().sum(axis=1), np.ones(4), rtol=1e-12)
    y.backward(mt.ones(4, 6, dtype=mt.float64))  # sum over a row is constant: zero gradient
    np.testing.assert_allclose(x.grad.numpy(), np.zeros((4, 6)), atol=1e-15)


def test_softmax_dim_errors_and_0d():
    with pytest.raises(IndexError, match=r"softmax: dim 2 is out of range.*\(2, 3\)"):
        A.softmax(mt.randn(2, 3), dim=2)
    with pytest.raises(IndexError, match="log_softmax: dim -3"):
        A.log_softmax(mt.randn(2, 3), dim=-3)
    with pytest.raises(TypeError, match="dim is required"):
        A.softmax(mt.randn(2, 3), None)
    with pytest.raises(TypeError, match="log_softmax: expected a floating-point"):
        A.log_softmax(mt.arange(3), 0)
    assert float(A.softmax(mt.tensor(3.0), 0)) == 1.0
    assert float(A.log_softmax(mt.tensor(3.0), -1)) == 0.0


def test_softmax_saves_only_its_output():
    x = mt.randn(2, 3, requires_grad=True)
    y = A.log_softmax(x, 1)
    (saved,) = y.grad_fn.ctx.saved
    assert saved is y.data


@pytest.mark.parametrize("device", DEVICES)
def test_activations_on_device(device):
    for fn, ref in [(A.sigmoid, "sigmoid"), (A.relu, "relu")]:
        check_op(fn, getattr(torch, ref) if torch else None, (3, 4), device=device)
    check_op(lambda t: A.log_softmax(t, -1), (lambda t: torch.log_softmax(t, -1)) if torch
             else None, (3, 4), device=device)


@pytest.mark.parametrize("name", CPU_TABLES + ["emulated",
                                              pytest.param("cuda", marks=pytest.mark.cuda)])
def test_relu_backward_is_a_select_on_every_table(name):
    """g where y > 0, else 0: also where g is NaN or inf at an inactive unit (as PyTorch's
    threshold_backward; a product with a 0/1 mask would give NaN there), and where the
    output is NaN. Large enough for several of map_blocks' blocks; float32 and float64."""
    for b in active_backend(name):
        rng = np.random.default_rng(5)
        for dtype in (np.float32, np.float64):
            a = rng.standard_normal(3 * 70001).astype(dtype)
            a[:4] = (np.nan, 0.0, -0.0, -1.0)
            g = rng.standard_normal(a.size).astype(dtype)
            g[3], g[5] = np.nan, np.inf
            a[5] = -2.0
            t = b.tensor(a, requires_grad=True)
            t.relu().backward(b.tensor(g))
            want = np.where(np.maximum(a, 0) > 0, g, 0).astype(dtype)
            got = b.numpy(t.grad)
            assert got.dtype == dtype and not np.isnan(got[:6]).any()
            np.testing.assert_array_equal(got, want)
