"""Pointwise math (ops/unary.py), the binary math ops (maximum/minimum, atan2, copysign,
rounded division, remainder/fmod, isclose) and the dtype rules around them, against PyTorch:
forward and every input gradient on random shapes (broadcasting, non-contiguous inputs, empty
dims), plus float64 gradchecks. One line per op case."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minitorch as mt
from opcheck import check_op, gradcheck_op, needs_torch, torch

DOMAINS = {  # input values each op is defined (and smooth) on
    "any": lambda rng, s: rng.standard_normal(s) * 2,
    "pos": lambda rng, s: rng.uniform(0.3, 3.0, s),
    "unit": lambda rng, s: rng.uniform(-0.9, 0.9, s),
    "gt1": lambda rng, s: rng.uniform(1.2, 3.0, s),
    "off_int": lambda rng, s: np.floor(rng.standard_normal(s) * 3) + rng.uniform(0.1, 0.9, s),
}


def draw(shape, domain="any", seed=0, noncontiguous=False):
    """float64 values of ``shape``; a strided view of a larger array when noncontiguous."""
    rng = np.random.default_rng(seed)
    full = tuple(shape) + ((2,) if noncontiguous else ())
    x = DOMAINS[domain](rng, full)
    return np.asarray(x[..., 0] if noncontiguous else x)


def ref(name):
    return (lambda *a, **k: getattr(torch, name)(*a, **k)) if torch else None


UNARY = [  # (name, domain): mt.<name> vs torch.<name>
    ("sin", "any"), ("cos", "any"), ("tan", "unit"), ("asin", "unit"), ("acos", "unit"),
    ("atan", "any"), ("sinh", "any"), ("cosh", "any"), ("asinh", "any"), ("acosh", "gt1"),
    ("atanh", "unit"), ("erf", "any"), ("erfc", "any"), ("log2", "pos"), ("log10", "pos"),
    ("log1p", "pos"), ("expm1", "any"), ("exp2", "any"), ("reciprocal", "pos"),
    ("rsqrt", "pos"), ("square", "any"), ("sign", "any"), ("floor", "off_int"),
    ("ceil", "off_int"), ("trunc", "off_int"), ("round", "off_int"), ("exp", "any"),
    ("log", "pos"), ("sqrt", "pos"), ("abs", "any"), ("tanh", "any"), ("sigmoid", "any"),
]
SMOOTH = [u for u in UNARY if u[0] not in ("sign", "floor", "ceil", "trunc", "round", "abs")]


@needs_torch
@pytest.mark.parametrize("name, domain", UNARY, ids=[u[0] for u in UNARY])
@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=3).map(tuple), nc=st.booleans())
def test_unary_matches_torch(name, domain, shape, nc):
    check_op(getattr(mt, name), ref(name), draw(shape, domain, 1, nc))


@pytest.mark.parametrize("name, domain", SMOOTH, ids=[u[0] for u in SMOOTH])
def test_unary_gradcheck(name, domain):
    gradcheck_op(getattr(mt, name), draw((3, 4), domain, 2))


@needs_torch
@pytest.mark.parametrize("name, domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_tensor_method_matches_function(name, domain):
    x = mt.tensor(draw((2, 3), domain, 3))
    np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(mt, name)(x).numpy())


@needs_torch
@pytest.mark.parametrize("name, domain", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_unary_on_integers_gives_torch_dtype(name, domain, dtype):
    """exp/sin/... of an integer tensor are float32 (the default float), not NumPy's float64;
    the rounding ops, sign, abs and square keep integers (square of a bool is int64)."""
    data = np.array([0, 1, 2, 3]).astype(dtype)
    try:
        expected = getattr(torch, name)(torch.tensor(data))
    except (RuntimeError, NotImplementedError) as e:  # e.g. torch.floor of a bool
        pytest.skip(f"PyTorch rejects {name}({dtype}): {e}")
    out = getattr(mt, name)(mt.tensor(data))
    assert str(out.dtype) == str(expected.dtype).replace("torch.", ""), (out.dtype, expected.dtype)
    np.testing.assert_allclose(out.numpy().astype(np.float64),
                               expected.numpy().astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("name", [u[0] for u in UNARY] + [
    "neg", "relu", "cumsum", "all", "any", "prod", "sum", "mean", "var", "std", "max", "min",
    "argmax", "argmin", "logsumexp", "softmax", "log_softmax", "flip", "nonzero"])
def test_unary_given_numpy_array_raises_type_error(name):
    fn = getattr(mt, name)
    with pytest.raises(TypeError, match=rf"{name}\(\): argument 'input' must be a Tensor, not "
                       r"numpy.ndarray"):
        fn(np.ones(3), 0) if name in ("cumsum", "logsumexp", "softmax", "log_softmax", "flip") \
            else fn(np.ones(3))


@needs_torch
@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round_decimals_and_half_to_even(decimals):
    x = np.array([0.5, 1.5, 2.5, -0.5, 1.2345, 25.0, -35.0, 0.125])
    check_op(lambda t: mt.round(t, decimals=decimals),
             lambda t: torch.round(t, decimals=decimals), x)


def test_round_errors():
    with pytest.raises(TypeError, match="round: decimals=1 is only supported for floating"):
        mt.round(mt.tensor([1, 2]), decimals=1)


@pytest.mark.parametrize("table", ["numba", "reference"])
@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_keeps_float32_and_float16_to_their_precision(name, table):
    """erf has no NumPy ufunc: it is C's erf/erff, the kernel tables' ``special`` entry (a
    numba ufunc, or element by element in the reference table), so each dtype gets its own
    precision (a few ulps of float32; float16 is computed in float32 and rounded once)."""
    import math
    from minitorch.cpu import HAVE_NUMBA
    from minitorch.cpu.table import NUMBA, REFERENCE
    from minitorch.kernel_table import use_kernels
    if table == "numba" and not HAVE_NUMBA:
        pytest.skip("numba is not installed: the numba table cannot run")
    x = draw((200,), "any", 4)
    for dtype, ulps in ((np.float64, 2), (np.float32, 4), (np.float16, 1)):
        xs = x.astype(dtype)
        with use_kernels(NUMBA if table == "numba" else REFERENCE):
            out = getattr(mt, name)(mt.tensor(xs))
        exact = np.array([getattr(math, name)(float(v)) for v in xs])
        assert out.dtype == dtype
        np.testing.assert_allclose(out.numpy(), exact.astype(dtype),
                                   atol=np.finfo(dtype).smallest_subnormal,
                                   rtol=ulps * float(np.finfo(dtype).eps))


# --------------------------------------------------------------------------- binary
BINARY = [  # (name, domain of a, domain of b): mt.<name>(a, b) vs torch.<name>(a, b)
    ("maximum", "any", "any"), ("minimum", "any", "any"), ("atan2", "any", "any"),
    ("copysign", "any", "any"), ("remainder", "any", "pos"), ("fmod", "any", "pos"),
    ("floor_divide", "any", "pos"),
]


@needs_torch
@pytest.mark.parametrize("name, da, db", BINARY, ids=[b[0] for b in BINARY])
@settings(max_examples=15, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=0, max_side=3),
       nc=st.tuples(st.booleans(), st.booleans()))
def test_binary_matches_torch(name, da, db, shapes, nc):
    (sa, sb), _ = shapes
    grad = name != "floor_divide"  # PyTorch: "derivative for floor_divide is not implemented"
    check_op(getattr(mt, name), ref(name), draw(sa, da, 5, nc[0]), draw(sb, db, 6, nc[1]),
             grad=grad)


@pytest.mark.parametrize("name, da, db", [b for b in BINARY if b[0] != "floor_divide"],
                         ids=[b[0] for b in BINARY if b[0] != "floor_divide"])
def test_binary_gradcheck(name, da, db):
    gradcheck_op(getattr(mt, name), draw((3, 1), da, 7), draw((4,), db, 8))


@needs_torch
@pytest.mark.parametrize("mode", [None, "floor", "trunc"])
def test_div_rounding_mode_matches_torch(mode):
    a, b = draw((3, 4), "any", 9) * 5, draw((4,), "pos", 10) * np.array([1, -1, 1, -1])
    check_op(lambda x, y: mt.div(x, y, rounding_mode=mode),
             lambda x, y: torch.div(x, y, rounding_mode=mode), a, b)
    check_op(lambda x, y: x.div(y, rounding_mode=mode),
             lambda x, y: x.div(y, rounding_mode=mode), a, b)


@needs_torch
@pytest.mark.parametrize("expr", [
    lambda m, a, b: m.div(a, b, rounding_mode="floor"),
    lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    lambda m, a, b: m.floor_divide(a, b), lambda m, a, b: a // b, lambda m, a, b: a % b,
    lambda m, a, b: m.fmod(a, b), lambda m, a, b: m.remainder(a, 3), lambda m, a, b: 7 % b,
    lambda m, a, b: 7 // b, lambda m, a, b: a // 2.5, lambda m, a, b: m.maximum(a, b),
    lambda m, a, b: m.atan2(a, b), lambda m, a, b: m.copysign(a, b),
    lambda m, a, b: m.maximum(a, b.double()), lambda m, a, b: a.int() % b,
])
def test_integer_operands_values_and_dtypes(expr):
    a, b = np.array([7, -7, 5, -5, 0]), np.array([2, 2, -3, -3, 4])
    out, expected = expr(mt, mt.tensor(a), mt.tensor(b)), expr(torch, torch.tensor(a),
                                                               torch.tensor(b))
    assert str(out.dtype) == str(expected.dtype).replace("torch.", "")
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("op", [lambda a, b: a // b, lambda a, b: a % b,
                                lambda a, b: mt.fmod(a, b),
                                lambda a, b: mt.div(a, b, rounding_mode="trunc")])
def test_integer_division_by_zero_raises_like_torch(op):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(mt.tensor([1, 2]), mt.tensor([1, 0]))


def test_div_bad_rounding_mode():
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'floor' or 'trunc'"):
        mt.div(mt.ones(2), 2, rounding_mode="round")


@needs_torch
def test_maximum_minimum_split_ties_like_torch():
    a, b = np.array([1.0, 2.0, 3.0, 2.0]), np.array([1.0, 1.0, 3.0, 5.0])
    check_op(mt.maximum, torch.maximum, a, b)
    check_op(mt.minimum, torch.minimum, a, b)


@needs_torch
def test_copysign_grad_at_zero_and_signed_zero():
    a, b = np.array([0.0, -0.0, 1.5, -2.0, 3.0]), np.array([-1.0, 1.0, -0.0, 0.0, -3.0])
    check_op(mt.copysign, torch.copysign, a, b)


# --------------------------------------------------------------------------- isclose, where
@needs_torch
@pytest.mark.parametrize("kw", [{}, {"rtol": 0.1}, {"atol": 0.5}, {"equal_nan": True}])
def test_isclose_allclose_match_torch(kw):
    a = np.array([1.0, 1.05, np.nan, np.inf, -np.inf, 2.0, 0.0])
    b = np.array([1.0, 1.0, np.nan, np.inf, np.inf, 2.4, 1e-9])
    got = mt.isclose(mt.tensor(a), mt.tensor(b), **kw)
    np.testing.assert_array_equal(got.numpy(), torch.isclose(torch.tensor(a), torch.tensor(b),
                                                             **kw).numpy())
    assert got.dtype == np.bool_
    assert mt.allclose(mt.tensor(a), mt.tensor(b), **kw) is torch.allclose(
        torch.tensor(a), torch.tensor(b), **kw)
    assert mt.tensor(a).isclose(mt.tensor(b), **kw).tolist() == got.tolist()


def test_isclose_errors():
    with pytest.raises(TypeError, match="isclose: input and other must have the same dtype"):
        mt.isclose(mt.ones(2), mt.ones(2, dtype=mt.float64))
    with pytest.raises(ValueError, match="isclose: rtol and atol must be >= 0"):
        mt.isclose(mt.ones(2), mt.ones(2), rtol=-1)


@needs_torch
@pytest.mark.parametrize("x, y", [(1.0, 0.0), (1, 0), (True, False), (1, 0.5), (2.5, -1)])
def test_where_with_two_scalar_branches(x, y):
    cond = np.array([True, False, True])
    out, expected = mt.where(mt.tensor(cond), x, y), torch.where(torch.tensor(cond), x, y)
    assert str(out.dtype) == str(expected.dtype).replace("torch.", "")
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


@needs_torch
def test_where_scalar_branch_grads():
    cond = np.random.default_rng(11).random((3, 4)) > 0.5
    check_op(lambda c, a: mt.where(c, a, 0.5), lambda c, a: torch.where(c, a, 0.5), cond,
             draw((3, 4), "any", 12))
    check_op(lambda c, a: mt.where(c, -1.0, a), lambda c, a: torch.where(c, -1.0, a), cond,
             draw((4,), "any", 13))


# --------------------------------------------------------------------------- dtypes, linspace
def test_uint_dtype_names_and_bfloat16_message():
    assert (mt.uint16, mt.uint32, mt.uint64) == (np.uint16, np.uint32, np.uint64)
    assert mt.zeros(2, dtype=mt.uint32).dtype == np.uint32
    with pytest.raises(AttributeError, match="minitorch has no bfloat16: .*NumPy has no bfloat16"):
        mt.bfloat16  # noqa: B018


@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_linspace_float_dtypes_match_torch(dtype):
    out = mt.linspace(-3, 10, 7, dtype=getattr(mt, dtype))
    expected = torch.linspace(-3, 10, 7, dtype=getattr(torch, dtype))
    assert str(out.dtype) == dtype
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_linspace_integer_dtypes_truncate(dtype):
    """Integer linspace: the float64 values truncated toward zero (PyTorch 2.14 agrees; older
    releases rounded some steps differently, so this is checked directly)."""
    out = mt.linspace(-3 if dtype != "uint8" else 0, 10, 7, dtype=getattr(mt, dtype))
    expected = np.trunc(np.linspace(-3 if dtype != "uint8" else 0, 10, 7))
    assert str(out.dtype) == dtype and out.tolist() == expected.astype(dtype).tolist()


def test_linspace_bool_raises():
    with pytest.raises(TypeError, match="linspace: dtype bool is not supported"):
        mt.linspace(0, 1, 3, dtype=mt.bool_)


# --------------------------------------------------------------------------- in-place methods
INPLACE = [  # (method, args, domain): x.method_(*args) == mt.method(x, *args), in x's memory
    ("sin", (), "any"), ("cos", (), "any"), ("tan", (), "unit"), ("asin", (), "unit"),
    ("atan", (), "any"), ("sinh", (), "any"), ("acosh", (), "gt1"), ("erf", (), "any"),
    ("erfc", (), "any"), ("log2", (), "pos"), ("log1p", (), "pos"), ("expm1", (), "any"),
    ("reciprocal", (), "pos"), ("rsqrt", (), "pos"), ("square", (), "any"), ("sign", (), "any"),
    ("floor", (), "off_int"), ("ceil", (), "off_int"), ("trunc", (), "off_int"),
    ("round", (), "off_int"), ("exp", (), "any"), ("log", (), "pos"), ("sqrt", (), "pos"),
    ("abs", (), "any"), ("sigmoid", (), "any"), ("tanh", (), "any"), ("relu", (), "any"),
    ("clamp", (-0.5, 0.5), "any"), ("remainder", (0.7,), "any"), ("fmod", (0.7,), "any"),
    ("floor_divide", (0.7,), "any"), ("copysign", (-1.0,), "any"),
    ("pow", (2,), "any"), ("cumsum", (1,), "any"), ("cumprod", (1,), "any"),
]


# piecewise constant or kinked (nothing to compare), or no in-place derivative in PyTorch (acosh_)
GRAPHLESS = ("sign", "floor", "ceil", "trunc", "round", "floor_divide", "relu", "clamp", "abs",
             "acosh")


@needs_torch
@pytest.mark.parametrize("name, args, domain", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_method_matches_torch_and_writes_through_views(name, args, domain):
    data = draw((3, 4), domain, 25)
    x, t = mt.tensor(data), torch.tensor(data)
    row = x[1]  # a view: sees the write
    out = getattr(x, name + "_")(*args)
    getattr(t, name + "_")(*args)
    assert out is x
    np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(row.numpy(), x.numpy()[1])


@needs_torch
@pytest.mark.parametrize("name, args, domain", [c for c in INPLACE if c[0] not in GRAPHLESS],
                         ids=[c[0] for c in INPLACE if c[0] not in GRAPHLESS])
def test_inplace_method_on_a_graph_tensor_backprops_like_torch(name, args, domain):
    check_op(lambda a: getattr(a * 1.0, name + "_")(*args),
             lambda a: getattr(a * 1.0, name + "_")(*args), draw((3, 4), domain, 26))


def test_inplace_float_op_on_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="sin_: result type float32 can't be cast to the "
                       "desired output type int64"):
        mt.tensor([1, 2]).sin_()


@needs_torch
@pytest.mark.parametrize("expr", [
    "x &= 6", "x |= 9", "x ^= 5", "x <<= 2", "x >>= 1", "x //= 3", "x %= 4", "x **= 2"])
def test_integer_augmented_assignment_in_place(expr):
    data = np.array([7, -3, 12, 5])
    x, t = mt.tensor(data), torch.tensor(data)
    alias = x
    exec(expr, {}, {"x": x})
    exec(expr.replace("x", "t"), {}, {"t": t})
    np.testing.assert_array_equal(alias.numpy(), t.numpy())


@needs_torch
def test_masked_fill_and_scatter_in_place_match_torch():
    data = draw((3, 4), "any", 27)
    idx = np.array([[0], [3], [1]])
    x, t = mt.tensor(data), torch.tensor(data)
    x.masked_fill_(x > 0.5, -9.0).scatter_(1, mt.tensor(idx), 7.0)
    t.masked_fill_(t > 0.5, -9.0).scatter_(1, torch.tensor(idx), 7.0)
    x.scatter_add_(0, mt.tensor(idx.T % 3), mt.ones(1, 3, dtype=mt.float64))
    t.scatter_add_(0, torch.tensor(idx.T % 3), torch.ones(1, 3, dtype=torch.float64))
    np.testing.assert_array_equal(x.numpy(), t.numpy())


@needs_torch
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("name", ["erf", "erfc", "sin", "rsqrt", "round", "sign"])
def test_unary_on_device(name, device):
    check_op(getattr(mt, name), ref(name), draw((3, 4), "pos", 28), device=device)


@needs_torch
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_binary_and_bitwise_on_device(device):
    check_op(mt.remainder, torch.remainder, draw((3, 4), "any", 29), draw((4,), "pos", 30),
             device=device)
    check_op(mt.maximum, torch.maximum, draw((3, 1), "any", 31), draw((4,), "any", 32),
             device=device)
    a = mt.tensor(np.array([6, -3, 12]), device=device)
    assert ((a & 5) | (1 << a.abs())).tolist() == ((torch.tensor([6, -3, 12]) & 5)
                                                   | (1 << torch.tensor([6, 3, 12]))).tolist()


# --------------------------------------------------------------------------- logaddexp, hypot, lerp
MORE_BINARY = [("logaddexp", "any", "any"), ("hypot", "any", "any")]


@needs_torch
@pytest.mark.parametrize("name, da, db", MORE_BINARY, ids=[b[0] for b in MORE_BINARY])
@pytest.mark.parametrize("sa, sb", [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 0), (1,)), ((), (3,))])
def test_more_binary_match_torch(name, da, db, sa, sb):
    check_op(getattr(mt, name), ref(name), draw(sa, da, 33, True), draw(sb, db, 34))
    gradcheck_op(getattr(mt, name), draw(sa, da, 35), draw(sb, db, 36))


@needs_torch
def test_logaddexp_extremes_match_torch():
    check_op(mt.logaddexp, torch.logaddexp, np.array([1000.0, -1000.0, -np.inf, 3.0]),
             np.array([999.0, -1001.0, 2.0, -np.inf]))


@needs_torch
@pytest.mark.parametrize("weight", ["scalar", "tensor"])
def test_lerp_matches_torch(weight):
    if weight == "scalar":
        check_op(lambda a, b: mt.lerp(a, b, 0.3), lambda a, b: torch.lerp(a, b, 0.3), (3, 4), (4,))
    else:
        check_op(mt.lerp, torch.lerp, (3, 4), (3, 4), (3, 1))


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"nan": 1.5}, {"posinf": 9.0, "neginf": -9.0}])
def test_nan_to_num_matches_torch(kw):
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0])
    check_op(lambda t: mt.nan_to_num(t, **kw), lambda t: torch.nan_to_num(t, **kw), x)
    assert mt.nan_to_num(mt.tensor([1, 2])).tolist() == [1, 2]


# --------------------------------------------------------------------------- clamp with tensor bounds
@needs_torch
@pytest.mark.parametrize("sx, slo, shi", [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)),
                                          ((3, 4), (), (4,)), ((2, 0), (1,), ())])
def test_clamp_tensor_bounds_match_torch(sx, slo, shi):
    """Random values never sit on a bound, so every PyTorch release agrees here."""
    check_op(lambda x, lo, hi: mt.clamp(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi),
             draw(sx, "any", 37, True), np.asarray(draw(slo, "any", 38) - 1),
             np.asarray(draw(shi, "any", 39) + 1))
    check_op(lambda x, lo: x.clamp_min(lo), lambda x, lo: x.clamp_min(lo), draw(sx, "any", 40),
             draw(slo, "any", 41))
    check_op(lambda x, hi: mt.clamp_max(x, hi), lambda x, hi: torch.clamp_max(x, hi),
             draw(sx, "any", 42), draw(shi, "any", 43))


def test_clamp_tensor_bounds_on_a_tie_and_when_min_exceeds_max():
    """On a bound the gradient goes to the bound, none to the input (the scalar clamp's rule);
    where min > max the result is max, and so is the gradient."""
    x = mt.tensor([1.0, 2.0, 0.5, 3.0], dtype=mt.float64, requires_grad=True)
    lo = mt.tensor([1.0, 0.0, 0.0, 2.0], dtype=mt.float64, requires_grad=True)
    hi = mt.tensor([4.0, 2.0, 4.0, 1.0], dtype=mt.float64, requires_grad=True)
    y = mt.clamp(x, lo, hi)
    assert y.tolist() == [1.0, 2.0, 0.5, 1.0]
    y.backward(mt.ones(4, dtype=mt.float64))
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert lo.grad.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 1.0, 0.0, 1.0]
    gradcheck_op(lambda a, b, c: mt.clamp(a, b, c), draw((3, 4), "any", 44),
                 draw((4,), "any", 45) - 1, draw((3, 1), "any", 46) + 1)


@needs_torch
def test_where_with_only_a_condition_is_nonzero_as_tuple():
    c = np.array([[True, False, True], [False, True, False]])
    for g, e in zip(mt.where(mt.tensor(c)), torch.where(torch.tensor(c)), strict=True):
        np.testing.assert_array_equal(g.numpy(), e.numpy())
    np.testing.assert_array_equal(mt.argwhere(mt.tensor(c)).numpy(),
                                  torch.argwhere(torch.tensor(c)).numpy())
