"""Reductions (minitorch/ops/reduce.py) against PyTorch and finite differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minitorch as mt
from minitorch.ops import reduce as R
from opcheck import DEVICES, check_op, gradcheck_op, needs_torch, torch


# --------------------------------------------------------------------------- strategies
@st.composite
def arrays(draw, min_dims=1, max_dims=4, min_size=1, max_size=4):
    """A float64 array: contiguous, transposed (F-order) or strided (every other element)."""
    shape = tuple(draw(st.lists(st.integers(min_size, max_size), min_size=min_dims,
                                max_size=max_dims)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided"]))
    if layout == "transposed":
        return rng.standard_normal(shape[::-1]).T
    if layout == "strided":
        every_other = (slice(None, None, 2),) * len(shape)
        return rng.standard_normal(tuple(2 * n for n in shape))[every_other]
    return rng.standard_normal(shape)


@st.composite
def array_and_dim(draw, allow_none=True, allow_tuple=True, **kw):
    """(array, dim) with dim None, an int (maybe negative) or a tuple of distinct dims."""
    a = draw(arrays(**kw))
    nd = a.ndim
    kinds = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return a, None
    neg = st.booleans()
    if kind == "int":
        d = draw(st.integers(0, nd - 1))
        return a, d - nd if draw(neg) else d
    dims = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return a, tuple(d - nd if draw(neg) else d for d in dims)


def _count(a, dim):
    dims = range(a.ndim) if dim is None else (dim if isinstance(dim, tuple) else (dim,))
    return int(np.prod([a.shape[d] for d in dims]))


# --------------------------------------------------------------------------- sum, mean, var, std
@needs_torch
@given(ad=array_and_dim(), keepdim=st.booleans())
def test_sum_mean_match_torch_and_gradcheck(ad, keepdim):
    a, dim = ad
    check_op(lambda x: mt.sum(x, dim, keepdim), lambda x: torch.sum(x, dim, keepdim), a)
    check_op(lambda x: mt.mean(x, dim, keepdim), lambda x: torch.mean(x, dim, keepdim), a)
    gradcheck_op(lambda x: mt.sum(x, dim, keepdim), a)
    gradcheck_op(lambda x: mt.mean(x, dim, keepdim), a)


@needs_torch
@given(ad=array_and_dim(min_size=2), keepdim=st.booleans(), unbiased=st.booleans())
def test_var_std_match_torch_and_gradcheck(ad, keepdim, unbiased):
    a, dim = ad
    check_op(lambda x: mt.var(x, dim, unbiased, keepdim),
             lambda x: torch.var(x, dim, unbiased=unbiased, keepdim=keepdim), a)
    check_op(lambda x: mt.std(x, dim, unbiased, keepdim),
             lambda x: torch.std(x, dim, unbiased=unbiased, keepdim=keepdim), a)
    gradcheck_op(lambda x: mt.var(x, dim, unbiased, keepdim), a)
    gradcheck_op(lambda x: mt.std(x, dim, unbiased, keepdim), a)


@needs_torch
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_correction_matches_torch(correction):
    check_op(lambda x: mt.var(x, 1, correction=correction),
             lambda x: torch.var(x, 1, correction=correction), (3, 5))
    check_op(lambda x: mt.std(x, (0, 1), keepdim=True, correction=correction),
             lambda x: torch.std(x, (0, 1), keepdim=True, correction=correction), (3, 5))


@needs_torch
@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
def test_var_of_single_element_is_nan_like_torch():
    x = np.array([[1.5], [2.0]])
    np.testing.assert_array_equal(mt.var(mt.Tensor(x), 1).numpy(), torch.var(torch.tensor(x), 1))
    assert np.isnan(mt.var(mt.Tensor(x), 1).numpy()).all()


@needs_torch
def test_std_gradient_at_zero_variance_is_zero_like_torch():
    a = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    check_op(lambda x: mt.std(x, 1), lambda x: torch.std(x, 1), a)
    x = mt.Tensor(a, requires_grad=True)
    mt.std(x, 1).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.numpy()[0], 0.0)


def test_var_is_two_pass_accurate_in_float32():
    # mean 1e4, std 1: E[x^2] - E[x]^2 in float32 cancels ~8 digits and is off by O(1) or more.
    rng = np.random.default_rng(0)
    x = (1e4 + rng.standard_normal(10_000)).astype(np.float32)
    got = mt.var(mt.Tensor(x)).item()
    want = np.var(x.astype(np.float64), ddof=1)
    assert got == pytest.approx(want, rel=1e-3)


def test_var_and_unbiased_and_correction_conflict():
    with pytest.raises(ValueError, match="var: give either unbiased= or correction="):
        mt.var(mt.Tensor(np.ones(3)), unbiased=False, correction=1)


@needs_torch
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_sum_of_integers_and_bools_is_int64(dtype):
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    for dim in (None, 0, (0, 1)):
        out = mt.sum(mt.Tensor(a), dim)
        ref = torch.sum(torch.tensor(a), dim) if dim is not None else torch.sum(torch.tensor(a))
        assert out.dtype == np.int64 and ref.dtype == torch.int64
        np.testing.assert_array_equal(out.numpy(), ref.numpy())


@needs_torch
def test_sum_float16_accumulates_like_torch():
    a = np.random.default_rng(0).uniform(0, 1, 5000).astype(np.float16)
    out = mt.sum(mt.Tensor(a))
    assert out.dtype == np.float16
    ref = torch.sum(torch.tensor(a)).item()
    assert out.item() == pytest.approx(ref, rel=2e-3)
    assert out.item() == pytest.approx(a.astype(np.float64).sum(), rel=1e-3)


@pytest.mark.parametrize("op", ["mean", "var", "std"])
def test_float_only_reductions_reject_integers(op):
    x = mt.Tensor(np.arange(6).reshape(2, 3))
    msg = rf"{op}: expected a floating-point tensor, got dtype int64 \(shape \(2, 3\)\)"
    with pytest.raises(TypeError, match=msg):
        getattr(mt, op)(x)


# --------------------------------------------------------------------------- max, min, arg
@needs_torch
@pytest.mark.parametrize("op", ["max", "min"])
@given(ad=array_and_dim(allow_none=False, allow_tuple=False), keepdim=st.booleans())
def test_max_min_dim_match_torch(op, ad, keepdim):
    a, dim = ad
    out = getattr(mt, op)(mt.Tensor(a), dim, keepdim)
    ref = getattr(torch, op)(torch.tensor(a), dim, keepdim)
    np.testing.assert_array_equal(out.values.numpy(), ref.values.numpy())
    np.testing.assert_array_equal(out.indices.numpy(), ref.indices.numpy())
    assert out.indices.dtype == np.int64
    values, indices = out  # unpacks like torch.return_types
    assert values is out.values and indices is out.indices
    check_op(lambda x: getattr(mt, op)(x, dim, keepdim).values,
             lambda x: getattr(torch, op)(x, dim, keepdim).values, a)
    gradcheck_op(lambda x: getattr(mt, op)(x, dim, keepdim).values, a)


@needs_torch
@pytest.mark.parametrize("op", ["max", "min"])
@given(a=arrays())
def test_max_min_all_match_torch(op, a):
    check_op(lambda x: getattr(mt, op)(x), lambda x: getattr(torch, op)(x), a)
    gradcheck_op(lambda x: getattr(mt, op)(x), a)
    assert getattr(mt, op)(mt.Tensor(a)).shape == ()


@needs_torch
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_tie_gradients_match_torch(op):
    # Ties: the full reduction splits the gradient evenly among all extremes; the dim form gives
    # it to the first one (the index it returns). Both are PyTorch's rules.
    a = np.array([[1.0, 3.0, 3.0, -2.0], [-2.0, 0.0, -2.0, 3.0]])
    check_op(lambda x: getattr(mt, op)(x), lambda x: getattr(torch, op)(x), a)
    check_op(lambda x: getattr(mt, op)(x, 1).values, lambda x: getattr(torch, op)(x, 1).values, a)
    x = mt.Tensor(a, requires_grad=True)
    getattr(mt, op)(x).backward()
    hits = a == (a.max() if op == "max" else a.min())
    np.testing.assert_array_equal(x.grad.numpy(), hits / hits.sum())


@needs_torch
@pytest.mark.parametrize("op", ["argmax", "argmin"])
@given(ad=array_and_dim(allow_tuple=False), keepdim=st.booleans(), ties=st.booleans())
def test_argmax_argmin_match_torch(op, ad, keepdim, ties):
    a, dim = ad
    if ties:
        a = np.round(a)  # many equal values: the first occurrence must win
    out = getattr(mt, op)(mt.Tensor(a), dim, keepdim)
    ref = getattr(torch, op)(torch.tensor(a), dim, keepdim)
    assert out.dtype == np.int64 and not out.requires_grad
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


@needs_torch
def test_max_min_arg_on_scalar_tensor_match_torch():
    a = np.array(2.5)
    out, ref = mt.max(mt.Tensor(a), 0), torch.max(torch.tensor(a), 0)
    assert out.values.shape == () and out.indices.shape == ()
    assert out.values.item() == ref.values.item() and out.indices.item() == ref.indices.item()
    assert mt.argmin(mt.Tensor(a), 0).item() == torch.argmin(torch.tensor(a), 0).item()
    check_op(lambda x: mt.min(x, -1).values, lambda x: torch.min(x, -1).values, a)


def test_max_min_errors():
    x = mt.Tensor(np.zeros((0, 3)))
    with pytest.raises(RuntimeError, match=r"max: can't reduce an empty tensor \(shape \(0, 3\)\)"):
        mt.max(x)
    with pytest.raises(RuntimeError, match=r"min: can't reduce over dim 0 of size 0"):
        mt.min(x, 0)
    with pytest.raises(RuntimeError, match=r"argmax: can't reduce an empty tensor"):
        mt.argmax(x)
    y = mt.Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="max: dim must be an int, got a Tensor"):
        mt.max(y, y)
    with pytest.raises(IndexError, match=r"argmin: dim 2 is out of range for a tensor of 2 dims"):
        mt.argmin(y, 2)


# --------------------------------------------------------------------------- logsumexp
@needs_torch
@given(ad=array_and_dim(allow_none=False), keepdim=st.booleans())
def test_logsumexp_matches_torch_and_gradcheck(ad, keepdim):
    a, dim = ad
    check_op(lambda x: mt.logsumexp(x, dim, keepdim), lambda x: torch.logsumexp(x, dim, keepdim), a)
    gradcheck_op(lambda x: mt.logsumexp(x, dim, keepdim), a)


@needs_torch
def test_logsumexp_is_stable():
    a = np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1e4], [-np.inf, -np.inf, -np.inf]])
    check_op(lambda x: mt.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), a[:2])
    out = mt.logsumexp(mt.Tensor(a), 1).numpy()
    np.testing.assert_allclose(out, torch.logsumexp(torch.tensor(a), 1).numpy())
    assert np.isfinite(out[:2]).all() and out[2] == -np.inf
    # float32 too: naive exp(1000) overflows to inf
    out32 = mt.logsumexp(mt.Tensor(a[:1].astype(np.float32)), 1)
    assert out32.dtype == np.float32 and np.isfinite(out32.numpy()).all()


@needs_torch
def test_logsumexp_promotes_integers_like_torch():
    a = np.array([[1, 2, 3], [4, 5, 6]])
    out, ref = mt.logsumexp(mt.Tensor(a), 1), torch.logsumexp(torch.tensor(a), 1)
    assert out.dtype == np.float32 and ref.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)


# --------------------------------------------------------------------------- dims and errors
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "logsumexp", "max", "argmax"])
def test_dim_out_of_range_names_op_and_shape(op):
    x = mt.Tensor(np.ones((3, 4)))
    msg = rf"{op}: dim 3 is out of range for a tensor of 2 dims \(shape \(3, 4\)\)"
    with pytest.raises(IndexError, match=msg):
        getattr(mt, op)(x, 3)
    with pytest.raises(IndexError, match=rf"{op}: dim -3 is out of range"):
        getattr(mt, op)(x, -3)


@pytest.mark.parametrize("op", ["sum", "mean", "var", "logsumexp"])
def test_duplicate_and_bad_dims(op):
    x = mt.Tensor(np.ones((3, 4)))
    with pytest.raises(ValueError, match=rf"{op}: dim 1 appears more than once.*\(3, 4\)"):
        getattr(mt, op)(x, (1, -1))
    with pytest.raises(TypeError, match=rf"{op}: dim must be an int, got float"):
        getattr(mt, op)(x, 1.0)


@needs_torch
def test_empty_dim_tuple_reduces_everything_like_torch():
    a = np.arange(12.0).reshape(3, 4)
    check_op(lambda x: mt.sum(x, ()), lambda x: torch.sum(x, ()), a)
    check_op(lambda x: mt.mean(x, []), lambda x: torch.mean(x, []), a)


@needs_torch
def test_scalar_tensor_dim_zero_like_torch():
    a = np.array(1.25)
    check_op(lambda x: mt.sum(x, 0), lambda x: torch.sum(x, 0), a)
    check_op(lambda x: mt.mean(x, -1, True), lambda x: torch.mean(x, -1, True), a)


@needs_torch
def test_tensor_methods_dispatch_here():
    a = np.random.default_rng(3).standard_normal((3, 4, 2))
    check_op(lambda x: x.sum(1) + x.mean((0, 2), keepdim=True).sum(),
             lambda x: x.sum(1) + x.mean((0, 2), keepdim=True).sum(), a)
    check_op(lambda x: x.std(0, unbiased=False) * x.var(-1).sum(),
             lambda x: x.std(0, unbiased=False) * x.var(-1).sum(), a)
    check_op(lambda x: x.max(1).values - x.min(), lambda x: x.max(1).values - x.min(), a)
    t = mt.Tensor(a)
    np.testing.assert_array_equal(t.argmax(2).numpy(), torch.tensor(a).argmax(2).numpy())
    np.testing.assert_array_equal(t.argmin().numpy(), torch.tensor(a).argmin().numpy())


def test_backward_does_not_keep_forward_inputs_it_does_not_need():
    # max(dim) saves only the argmax index, sum saves nothing: the graph stays small.
    x = mt.Tensor(np.ones((2, 3)), requires_grad=True)
    node = mt.sum(x, 1).grad_fn
    assert node.ctx.saved == ()


# --------------------------------------------------------------------------- devices
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, mt_fn, torch_fn", [
    ("sum", lambda x: mt.sum(x, (0, 2), True), lambda x: torch.sum(x, (0, 2), True)),
    ("mean", lambda x: mt.mean(x, -1), lambda x: torch.mean(x, -1)),
    ("var", lambda x: mt.var(x, 1), lambda x: torch.var(x, 1)),
    ("std", lambda x: mt.std(x), lambda x: torch.std(x)),
    ("max", lambda x: mt.max(x, 1).values, lambda x: torch.max(x, 1).values),
    ("min_all", lambda x: mt.min(x), lambda x: torch.min(x)),
    ("logsumexp", lambda x: mt.logsumexp(x, 2), lambda x: torch.logsumexp(x, 2)),
])
def test_reductions_on_device(device, name, mt_fn, torch_fn):
    check_op(mt_fn, torch_fn, (3, 4, 5), device=device)


# --------------------------------------------------------------------------- prod, all/any, *_mean
@needs_torch
@given(ad=array_and_dim(allow_tuple=False, min_size=0), keepdim=st.booleans())
def test_prod_matches_torch(ad, keepdim):
    a, dim = ad
    if dim is None:
        check_op(R.prod, lambda t: t.prod(), a)
    else:
        check_op(lambda x: R.prod(x, dim, keepdim), lambda t: t.prod(dim, keepdim), a)
        check_op(lambda x: x.prod(dim, keepdim=keepdim), lambda t: t.prod(dim, keepdim), a)


@needs_torch
@pytest.mark.parametrize("data", [[[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]], [[0.0, 0.0], [2.0, -1.5]],
                                  [[1.5, -2.0, 0.5]]])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_grad_exact_with_zeros(data, dim):
    """One zero in a slice: its grad is the product of the others; two zeros: all 0. Never the
    0/0 = NaN of out / x."""
    fn = (lambda x: x.prod()) if dim is None else (lambda x: x.prod(dim))
    check_op(fn, fn, np.array(data))


def test_prod_gradcheck_and_dtypes():
    gradcheck_op(lambda x: R.prod(x, 1), (3, 4))
    gradcheck_op(R.prod, np.array([[0.5, 0.0], [1.5, -2.0]]))
    assert R.prod(mt.tensor([1, 2, 3], dtype=mt.int32)).dtype == np.int64
    assert R.prod(mt.tensor([True, True])).dtype == np.int64
    assert R.prod(mt.tensor([1, 2]), dtype=mt.float64).dtype == np.float64
    with pytest.raises(TypeError, match=r"prod: dim must be an int or None"):
        R.prod(mt.ones(2, 3), (0, 1))


@needs_torch
@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "uint8"])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False),
                                          ((0, 1), False)])
def test_all_any_match_torch(name, dtype, dim, keepdim):
    data = (np.random.default_rng(3).random((3, 4)) > 0.3).astype(dtype)
    data[1] = 1  # one all-true row, one row with zeros at least
    data[2, 0] = 0
    t = torch.tensor(data)
    expected = getattr(torch, name)(t) if dim is None else getattr(torch, name)(t, dim, keepdim)
    got = (getattr(mt, name)(mt.tensor(data)) if dim is None
           else getattr(mt.tensor(data), name)(dim, keepdim))
    assert str(got.dtype) == str(expected.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@needs_torch
@pytest.mark.parametrize("name", ["std_mean", "var_mean"])
@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": (0, 2), "keepdim": True},
                                {"dim": 0, "correction": 0}, {"dim": -1, "correction": 2}])
def test_std_mean_var_mean_match_torch(name, kw):
    """Both outputs and the gradient through both, with a random upstream grad for each."""
    x = np.random.default_rng(4).standard_normal((3, 4, 5))
    xm, xt = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got, expected = getattr(mt, name)(xm, **kw), getattr(torch, name)(xt, **kw)
    ups = [np.random.default_rng(5 + i).standard_normal(e.shape) for i, e in enumerate(expected)]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), rtol=1e-10)
    (got[0] * mt.tensor(ups[0])).sum().add(((got[1] * mt.tensor(ups[1])).sum())).backward()
    ((expected[0] * torch.tensor(ups[0])).sum() + (expected[1] * torch.tensor(ups[1])).sum()
     ).backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-9)


def test_std_mean_gradcheck():
    gradcheck_op(lambda x: R.std_mean(x, 1), (3, 4))
    gradcheck_op(lambda x: R.var_mean(x, 0, correction=0), (3, 4))


# --------------------------------------------------------------------------- amax, amin, count_nonzero
@needs_torch
@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim, keepdim", [((), False), (1, False), ((0, 2), True), (-1, True),
                                          (None, False)])
def test_amax_amin_match_torch_with_ties(name, dim, keepdim):
    """Ties split the gradient evenly (torch.amax), unlike max(dim)."""
    x = np.random.default_rng(8).integers(0, 3, (3, 4, 2)).astype(np.float64)
    fn = lambda m: lambda t: getattr(m, name)(t, dim, keepdim)  # noqa: E731
    ref_dim = () if dim is None else dim
    check_op(fn(mt), lambda t: getattr(torch, name)(t, ref_dim, keepdim), x)


def test_amax_gradcheck_and_errors():
    gradcheck_op(lambda x: R.amax(x, (0, 1)), (3, 4))
    with pytest.raises(RuntimeError, match="amax: can't reduce over an empty dim"):
        R.amax(mt.ones(2, 0), 1)


@needs_torch
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_count_nonzero_matches_torch(dim):
    x = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, -1.0]])
    got = mt.count_nonzero(mt.tensor(x), dim)
    expected = torch.count_nonzero(torch.tensor(x), dim)
    assert got.dtype == np.int64 and got.tolist() == expected.tolist()
