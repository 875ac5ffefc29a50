"""Elementwise ops (minitorch/ops/elementwise.py): values and grads vs PyTorch over broadcast
shape pairs and non-contiguous inputs, finite differences, PyTorch's dtype rules for Python and
NumPy scalars, and the broadcast error messages."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minitorch as mt
from minitorch.ops import elementwise as E
from opcheck import DEVICES, check_op, gradcheck_op, needs_torch, torch


def draw(shape, seed=0, noncontiguous=False, positive=False):
    """float64 values of ``shape``; a strided view of a larger array when noncontiguous."""
    rng = np.random.default_rng(seed)
    full = tuple(shape) + ((2,) if noncontiguous else ())
    x = rng.uniform(0.5, 2.0, full) if positive else rng.standard_normal(full)
    x = np.asarray(x[..., 0] if noncontiguous else x)
    assert not noncontiguous or x.size <= 1 or not x.flags.c_contiguous
    return x


def T(name):
    return getattr(torch, name) if torch else None


BINARY = [  # (name, minitorch op, PyTorch op name, inputs must be positive)
    ("add", E.add, "add", False), ("sub", E.sub, "sub", False), ("mul", E.mul, "mul", False),
    ("div", E.div, "div", True), ("pow", E.pow, "pow", True),
]


@pytest.mark.parametrize("name, fn, ref, positive", BINARY, ids=[b[0] for b in BINARY])
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       nc=st.tuples(st.booleans(), st.booleans()))
def test_binary_matches_torch(name, fn, ref, positive, shapes, nc):
    (sa, sb), _ = shapes
    a = draw(sa, 1, nc[0], positive)
    b = draw(sb, 2, nc[1], positive)
    check_op(fn, T(ref), a, b)


@pytest.mark.parametrize("name, fn, ref, positive", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("sa, sb", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)),
                                    ((), (2, 3))])
def test_binary_gradcheck(name, fn, ref, positive, sa, sb):
    gradcheck_op(fn, sa, sb, positive=positive)


UNARY = [  # (name, minitorch fn, PyTorch fn, positive inputs)
    ("neg", E.neg, lambda t: -t, False),
    ("exp", E.exp, lambda t: t.exp(), False),
    ("log", E.log, lambda t: t.log(), True),
    ("sqrt", E.sqrt, lambda t: t.sqrt(), True),
    ("abs", E.abs, lambda t: t.abs(), False),
    ("clamp", lambda x: E.clamp(x, -0.5, 0.7), lambda t: t.clamp(-0.5, 0.7), False),
    ("clamp_min", lambda x: E.clamp(x, min=0.1), lambda t: t.clamp(min=0.1), False),
    ("clamp_max", lambda x: E.clamp(x, max=0.1), lambda t: t.clamp(max=0.1), False),
    ("pow2", lambda x: x ** 2, lambda t: t ** 2, False),
    ("pow3", lambda x: E.pow(x, 3), lambda t: t ** 3, False),
    ("pow0", lambda x: x ** 0, lambda t: t ** 0, False),
    ("pow_half", lambda x: x ** 0.5, lambda t: t ** 0.5, True),
    ("pow_neg", lambda x: x ** -1.5, lambda t: t ** -1.5, True),
]


@pytest.mark.parametrize("name, fn, ref, positive", UNARY, ids=[u[0] for u in UNARY])
@given(shape=st.lists(st.integers(1, 4), max_size=3).map(tuple), nc=st.booleans())
def test_unary_matches_torch(name, fn, ref, positive, shape, nc):
    check_op(fn, ref, draw(shape, 3, nc, positive))


@pytest.mark.parametrize("name, fn, ref, positive", UNARY, ids=[u[0] for u in UNARY])
def test_unary_gradcheck(name, fn, ref, positive):
    x = draw((3, 4), 4, positive=positive)
    x[np.abs(np.abs(x) - 0.5) < 1e-3] = 1.3  # keep finite differences off clamp's kinks
    gradcheck_op(fn, x)


@needs_torch
def test_abs_kink_follows_pytorch():
    """abs'(0) = 0 in every PyTorch release."""
    check_op(E.abs, lambda t: t.abs(), np.array([-1.0, -0.5, 0.0, 0.7, 2.0]))


@pytest.mark.parametrize("lo, hi, expected", [
    (-0.5, 0.7, [0, 0, 1, 0, 0]),
    (-0.5, None, [0, 0, 1, 1, 1]),
    (None, 0.7, [1, 1, 1, 0, 0]),
    (0.0, 0.0, [0, 0, 0, 0, 0]),
    (1.0, -1.0, [0, 0, 0, 0, 0]),  # min > max: every value is max, nothing passes
])
def test_clamp_gradient_is_zero_at_and_outside_its_bounds(lo, hi, expected):
    """minitorch's own semantics (PyTorch's since 2.14; 2.13 and older passed 1 at the bounds,
    so this is not compared with whatever torch is installed)."""
    x = mt.tensor([-1.0, -0.5, 0.0, 0.7, 2.0], dtype=mt.float64, requires_grad=True)
    y = E.clamp(x, lo, hi)
    np.testing.assert_array_equal(y.data, np.clip(x.data, lo, hi))
    y.backward(mt.ones(5, dtype=mt.float64))
    np.testing.assert_array_equal(x.grad.data, np.array(expected, dtype=np.float64))


@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       nc=st.booleans())
def test_where_matches_torch(shapes, nc):
    (sc, sa, sb), _ = shapes
    cond = np.random.default_rng(5).random(sc) > 0.5
    check_op(lambda c, a, b: E.where(c, a, b), T("where"), np.asarray(cond), draw(sa, 6, nc),
             draw(sb, 7))


def test_where_gradcheck_and_scalar_branches():
    cond = mt.tensor([[True, False, True]])
    gradcheck_op(lambda a, b: E.where(cond, a, b), (2, 3), (2, 1))
    out = E.where(cond, mt.tensor([1.0, 2.0, 3.0]), 0.0)
    assert out.tolist() == [[1.0, 0.0, 3.0]] and out.dtype == np.float32
    with pytest.raises(TypeError, match="where: condition must be a bool tensor, got dtype "
                       "float32"):
        E.where(mt.ones(3), mt.ones(3), mt.zeros(3))


# --------------------------------------------------------------------------- comparisons
COMPARE = [("lt", E.lt, np.less), ("le", E.le, np.less_equal), ("gt", E.gt, np.greater),
           ("ge", E.ge, np.greater_equal), ("eq", E.eq, np.equal), ("ne", E.ne, np.not_equal)]


@pytest.mark.parametrize("name, fn, ref", COMPARE, ids=[c[0] for c in COMPARE])
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
def test_comparisons(name, fn, ref, shapes):
    (sa, sb), _ = shapes
    rng = np.random.default_rng(8)
    a, b = rng.integers(0, 3, sa).astype(np.float32), rng.integers(0, 3, sb).astype(np.float32)
    x = mt.tensor(a, requires_grad=True)
    out = fn(x, mt.tensor(b))
    assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.numpy(), ref(a, b))
    np.testing.assert_array_equal(fn(x, 1.0).numpy(), ref(a, 1.0))  # with a scalar


def test_comparison_operators_and_reflection():
    x = mt.tensor([1.0, 2.0, 3.0])
    assert (x < 2).tolist() == [True, False, False]
    assert (2 < x).tolist() == [False, False, True]        # -> x > 2
    assert (np.float64(2) >= x).tolist() == [True, True, False]
    assert (x == 2).tolist() == [False, True, False] and (x != 2).tolist() == [True, False, True]
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x > 1)).tolist() == [True, False, False]


# --------------------------------------------------------------------------- scalars, dtypes
SCALAR_FORMS = [
    ("x+s", lambda x, s: x + s), ("s+x", lambda x, s: s + x), ("x-s", lambda x, s: x - s),
    ("s-x", lambda x, s: s - x), ("x*s", lambda x, s: x * s), ("s*x", lambda x, s: s * x),
    ("x/s", lambda x, s: x / s), ("s/x", lambda x, s: s / x), ("x**s", lambda x, s: x ** s),
    ("s**x", lambda x, s: s ** x),
]


@needs_torch
@pytest.mark.parametrize("scalar", [2.5, 3, np.float64(2.5), np.float32(1.5), np.int64(2)],
                         ids=["float", "int", "np.float64", "np.float32", "np.int64"])
@pytest.mark.parametrize("form, fn", SCALAR_FORMS, ids=[f[0] for f in SCALAR_FORMS])
def test_scalar_operands_values_grads_and_dtype(form, fn, scalar):
    """Python and NumPy scalars on either side: PyTorch's values, grads and dtypes (a float32
    tensor stays float32, NumPy would promote with a np.float64)."""
    data = np.random.default_rng(9).uniform(0.5, 2.0, (2, 3))
    for dtype in (np.float32, np.float64):
        x = mt.tensor(data, dtype=dtype, requires_grad=True)
        tx = torch.tensor(data.astype(dtype), requires_grad=True)
        out, ref = fn(x, scalar), fn(tx, scalar.item() if isinstance(scalar, np.generic)
                                     else scalar)
        assert isinstance(out, mt.Tensor) and out.dtype == dtype == np.dtype(
            str(ref.dtype).split(".")[1])
        tol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=tol)
        up = np.random.default_rng(10).standard_normal((2, 3))
        out.backward(up)
        ref.backward(torch.tensor(up.astype(dtype)))
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol)


@needs_torch
@pytest.mark.parametrize("expr", [
    lambda m: m.tensor([1, 2]) + 2.5, lambda m: 2.5 * m.tensor([1, 2]),
    lambda m: m.tensor([1, 2]) / 2, lambda m: m.tensor([1, 2]) / m.tensor([2, 4]),
    lambda m: m.tensor([1, 2]) ** 0.5, lambda m: 2.0 ** m.tensor([1, 2]),
    lambda m: m.tensor([1, 2]) * 2, lambda m: 2 ** m.tensor([1, 2]),
    lambda m: m.tensor([1, 2]) + np.float64(0.5), lambda m: m.tensor([True, False]) + 1,
    lambda m: m.tensor([True, False]) * 1.5, lambda m: m.tensor([1, 2]) - m.tensor([1.0, 2.0]),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64) * m.tensor([1.0, 2.0]),
    lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]), 0.5),
])
def test_dtype_promotion_matches_torch(expr):
    out, ref = expr(mt), expr(torch)
    assert out.dtype == np.dtype(str(ref.dtype).split(".")[1]), (out.dtype, ref.dtype)
    np.testing.assert_allclose(out.numpy().astype(np.float64), ref.numpy().astype(np.float64),
                               rtol=1e-6)


def test_at_least_one_tensor_required():
    with pytest.raises(TypeError, match="expected at least one Tensor"):
        E.add(1, 2)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "lt", "eq"])
def test_broadcast_error_names_both_shapes(op):
    fn = {"lt": E.lt, "eq": E.eq}.get(op) or getattr(E, op)
    name = {"lt": "less", "eq": "equal"}.get(op, op)
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) are not "
                       r"broadcastable \(trailing dims must be equal or 1\)"):
        fn(mt.ones(2, 3), mt.ones(4))


def test_where_and_clamp_errors():
    with pytest.raises(ValueError, match=r"where: shapes condition \(2,\), input \(3,\), "
                       r"other \(3,\) are not broadcastable"):
        E.where(mt.tensor([True, False]), mt.ones(3), mt.zeros(3))
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        E.clamp(mt.ones(2))


@pytest.mark.parametrize("device", DEVICES)
def test_elementwise_on_device(device):
    check_op(E.mul, T("mul"), (3, 1), (4,), device=device)
    check_op(lambda a: E.clamp(a.exp(), max=1.5), lambda a: a.exp().clamp(max=1.5), (5,),
             device=device)
