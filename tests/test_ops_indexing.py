"""Index ops (ops/indexing.py) and scans (ops/cumulative.py) against PyTorch: forward and every
input gradient, including smaller-than-input index blocks, duplicate indices, non-contiguous
inputs and empty dims; float64 gradchecks; the errors for bad indices. One line per case."""
import numpy as np
import pytest

import minitorch as mt
from opcheck import check_op, gradcheck_op, needs_torch, torch


def values(shape, seed=0, noncontiguous=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(shape) + ((2,) if noncontiguous else ()))
    return np.asarray(x[..., 0] if noncontiguous else x)


def index(shape, high, seed=1, distinct_along=None):
    """int64 indices in [0, high); with distinct_along=axis, no repeats along that axis
    (scatter's result with repeated indices is unspecified in PyTorch)."""
    rng = np.random.default_rng(seed)
    if distinct_along is None:
        return rng.integers(0, max(high, 1), size=shape).astype(np.int64)
    keys = rng.random(tuple(n if d != distinct_along else high for d, n in enumerate(shape)))
    order = np.argsort(keys, axis=distinct_along)
    return np.take(order, np.arange(shape[distinct_along]), axis=distinct_along).astype(np.int64)


# --------------------------------------------------------------------------- gather
GATHER = [  # (input shape, dim, index shape)
    ((3, 4), 1, (3, 6)), ((3, 4), 0, (5, 4)), ((2, 3, 4), 2, (2, 3, 2)), ((2, 3, 4), -2, (1, 2, 3)),
    ((3, 4), 1, (2, 2)), ((5,), 0, (7,)), ((), 0, ()), ((3, 0), 0, (2, 0)), ((3, 4), 1, (3, 0)),
]


@needs_torch
@pytest.mark.parametrize("nc", [False, True], ids=["contiguous", "strided"])
@pytest.mark.parametrize("shape, dim, ishape", GATHER)
def test_gather_matches_torch(shape, dim, ishape, nc):
    idx = index(ishape, shape[dim] if shape else 1)
    check_op(lambda x, i: mt.gather(x, dim, i), lambda x, i: torch.gather(x, dim, i),
             values(shape, 2, nc), idx)
    check_op(lambda x, i: x.gather(dim, i), lambda x, i: x.gather(dim, i), values(shape, 2), idx)


def test_gather_gradcheck_with_repeated_indices():
    idx = mt.tensor(np.array([[0, 0, 2, 2], [1, 1, 1, 0]]))
    gradcheck_op(lambda x: mt.gather(x, 1, idx), (2, 3))


# --------------------------------------------------------------------------- scatter family
SCATTER = [  # (input shape, dim, index shape, src shape)
    ((3, 5), 1, (3, 2), (3, 2)), ((4, 3), 0, (2, 3), (3, 4)), ((2, 3, 4), 2, (2, 2, 3), (2, 3, 4)),
    ((2, 4), -1, (1, 4), (1, 4)), ((5,), 0, (3,), (4,)), ((3, 0), 0, (2, 0), (2, 0)),
]


@needs_torch
@pytest.mark.parametrize("shape, dim, ishape, sshape", SCATTER)
def test_scatter_matches_torch(shape, dim, ishape, sshape):
    idx = index(ishape, shape[dim], distinct_along=dim % len(shape))
    check_op(lambda x, i, s: mt.scatter(x, dim, i, s), lambda x, i, s: torch.scatter(x, dim, i, s),
             values(shape, 3, True), idx, values(sshape, 4), grad=torch_grads(ishape, sshape))
    check_op(lambda x, i: x.scatter(dim, i, 2.5), lambda x, i: x.scatter(dim, i, 2.5),
             values(shape, 3), idx)
    check_op(lambda x, i: mt.scatter(x, dim, i, value=-1.0),
             lambda x, i: torch.scatter(x, dim, i, value=-1.0), values(shape, 3), idx)


@needs_torch
@pytest.mark.parametrize("shape, dim, ishape, sshape", SCATTER)
def test_scatter_add_matches_torch_with_duplicates(shape, dim, ishape, sshape):
    idx = index(ishape, shape[dim], seed=5)
    check_op(lambda x, i, s: mt.scatter_add(x, dim, i, s),
             lambda x, i, s: torch.scatter_add(x, dim, i, s), values(shape, 6, True), idx,
             values(sshape, 7), grad=torch_grads(ishape, sshape))


REDUCE = ["sum", "prod", "mean", "amax", "amin"]


def torch_grads(ishape, sshape):
    """PyTorch's own scatter backward fails when src is larger than index ("invalid gradient
    ... got [2, 3] but expected [3, 4]"): there only the forward is compared with it, and the
    gradients are gradchecked (test_scatter_family_gradcheck_src_larger_than_index)."""
    return tuple(ishape) == tuple(sshape)


@needs_torch
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCE)
@pytest.mark.parametrize("shape, dim, ishape, sshape", SCATTER[:4])
def test_scatter_reduce_matches_torch(shape, dim, ishape, sshape, reduce, include_self):
    idx = index(ishape, shape[dim], seed=8)  # duplicates: several values land on one place
    check_op(lambda x, i, s: mt.scatter_reduce(x, dim, i, s, reduce, include_self=include_self),
             lambda x, i, s: torch.scatter_reduce(x, dim, i, s, reduce, include_self=include_self),
             values(shape, 9), idx, values(sshape, 10), grad=torch_grads(ishape, sshape))


@needs_torch
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros_matches_torch(include_self):
    x = np.array([[0.0, 2.0, 3.0, 1.5], [1.0, 0.0, -2.0, 4.0]])
    src = np.array([[0.0, 5.0, 0.0, 2.0], [3.0, 0.0, 1.0, 1.0]])
    idx = np.array([[0, 0, 1, 2], [1, 1, 3, 3]])
    check_op(lambda a, i, s: mt.scatter_reduce(a, 1, i, s, "prod", include_self=include_self),
             lambda a, i, s: torch.scatter_reduce(a, 1, i, s, "prod", include_self=include_self),
             x, idx, src)


@needs_torch
@pytest.mark.parametrize("reduce", ["amax", "amin", "mean", "sum"])
def test_scatter_reduce_ties_and_integers_match_torch(reduce):
    x, src = np.array([1.0, 3.0, 2.0, 0.0]), np.array([3.0, 3.0, 1.0, 2.0, 5.0])
    idx = np.array([1, 1, 0, 2, 0])
    check_op(lambda a, i, s: mt.scatter_reduce(a, 0, i, s, reduce),
             lambda a, i, s: torch.scatter_reduce(a, 0, i, s, reduce), x, idx, src)
    xi, si = np.array([1, 7, -3, 4]), np.array([2, -5, 8, 1, 3])
    got = mt.scatter_reduce(mt.tensor(xi), 0, mt.tensor(idx), mt.tensor(si), reduce)
    expected = torch.scatter_reduce(torch.tensor(xi), 0, torch.tensor(idx), torch.tensor(si),
                                    reduce)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("reduce", REDUCE)
def test_scatter_family_gradcheck(reduce):
    idx = mt.tensor(np.array([[0, 2, 2], [1, 1, 0]]))
    gradcheck_op(lambda x, s: mt.scatter_reduce(x, 1, idx, s, reduce), (2, 4), (2, 3))
    gradcheck_op(lambda x, s: mt.scatter_add(x, 1, idx, s), (2, 4), (2, 3))
    gradcheck_op(lambda x, s: mt.scatter(x, 1, mt.tensor(np.array([[0, 2], [3, 1]])), s),
                 (2, 4), (2, 3))


@pytest.mark.parametrize("name", ["scatter", "scatter_add", "sum", "prod", "mean", "amax"])
def test_scatter_family_gradcheck_src_larger_than_index(name):
    idx = mt.tensor(np.array([[0, 3], [2, 2]]))
    fn = {"scatter": lambda x, s: mt.scatter(x, 1, mt.tensor(np.array([[0, 3], [2, 1]])), s),
          "scatter_add": lambda x, s: mt.scatter_add(x, 1, idx, s)}.get(
        name, lambda x, s: mt.scatter_reduce(x, 1, idx, s, name))
    gradcheck_op(fn, (3, 4), (3, 5))


@pytest.mark.parametrize("call, error, message", [
    (lambda x: mt.gather(x, 1, mt.tensor([[0, 3]])), IndexError,
     r"gather: index 3 is out of bounds for dim 1 of size 3"),
    (lambda x: mt.gather(x, 1, mt.tensor([[0, -1]])), IndexError, r"gather: index -1 is out"),
    (lambda x: mt.gather(x, 1, mt.tensor([[0.0]])), TypeError,
     r"gather: index must be an int64 tensor, got dtype float32"),
    (lambda x: mt.gather(x, 1, mt.tensor([0, 1])), ValueError,
     r"gather: index must have as many dims as input: index \(2,\), input \(2, 3\)"),
    (lambda x: mt.gather(x, 1, mt.zeros(3, 1, dtype=mt.int64)), ValueError,
     r"gather: index \(3, 1\) is larger than input \(2, 3\) at dim 0"),
    (lambda x: mt.gather(x, 2, mt.zeros(2, 1, dtype=mt.int64)), IndexError, r"gather: dim 2"),
    (lambda x: mt.scatter(x, 1, mt.zeros(2, 2, dtype=mt.int64), mt.ones(2, 1)), ValueError,
     r"scatter: index \(2, 2\) is larger than src \(2, 1\) at dim 1"),
    (lambda x: mt.scatter(x, 1, mt.zeros(2, 1, dtype=mt.int64)), TypeError,
     r"scatter: give exactly one of src"),
    (lambda x: mt.scatter_add(x, 1, mt.zeros(2, 1, dtype=mt.int64), mt.ones(2, 1, dtype=mt.float64)),
     TypeError, r"scatter_add: src dtype float64 must match input dtype float32"),
    (lambda x: mt.scatter_reduce(x, 1, mt.zeros(2, 1, dtype=mt.int64), mt.ones(2, 1), "max"),
     ValueError, r"scatter_reduce: reduce must be one of sum, prod, mean, amax, amin"),
    (lambda x: mt.index_select(x, 1, mt.tensor([0, 3])), IndexError,
     r"index_select: index out of range for dim 1 of size 3"),
    (lambda x: mt.index_select(x[0, 0], 0, mt.tensor([0, 0])), IndexError,
     r"index_select: a 0-d input takes one index, got 2"),
    (lambda x: mt.index_select(x, 1, mt.tensor([[0]])), TypeError,
     r"index_select: index must be a 0-d or 1-d integer tensor"),
    (lambda x: mt.masked_fill(x, mt.ones(2, 3), 0.0), TypeError,
     r"masked_fill: mask must be a bool tensor, got dtype float32"),
    (lambda x: mt.masked_fill(x, mt.ones(4, 3, dtype=mt.bool_), 0.0), ValueError,
     r"masked_fill: mask of shape \(4, 3\) does not broadcast to input of shape \(2, 3\)"),
    (lambda x: mt.masked_select(x, mt.ones(4, dtype=mt.bool_)), ValueError,
     r"masked_select: mask \(4,\) and input \(2, 3\) are not broadcastable"),
    (lambda x: x.repeat(2), ValueError, r"repeat: the number of repeat dims \(1\) can't be smaller"),
    (lambda x: mt.flip(x, (0, -2)), ValueError, r"flip: dims \(0, -2\) name a dim twice"),
    (lambda x: mt.roll(x, (1, 2), 0), ValueError, r"roll: shifts \(1, 2\) and dims 0 must have"),
])
def test_index_op_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call(mt.ones(2, 3))


# --------------------------------------------------------------------------- index_select, masks
@needs_torch
@pytest.mark.parametrize("shape, dim, idx", [
    ((4, 3), 0, [3, 0, 0, 2]), ((2, 5, 3), 1, [4, 1]), ((2, 5), -1, [0]), ((5,), 0, []),
    ((3, 0), 0, [1, 1]), ((), 0, [0]), ((4, 3), 1, 2)])
def test_index_select_matches_torch(shape, dim, idx):
    i = np.array(idx, dtype=np.int64)
    check_op(lambda x, j: mt.index_select(x, dim, j), lambda x, j: torch.index_select(x, dim, j),
             values(shape, 11, True), i)
    check_op(lambda x, j: x.index_select(dim, j), lambda x, j: x.index_select(dim, j),
             values(shape, 11), i)


def test_index_select_gradcheck():
    i = mt.tensor([2, 0, 2])
    gradcheck_op(lambda x: mt.index_select(x, 1, i), (2, 3))


MASKS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 0), (1,)), ((), ())]


@needs_torch
@pytest.mark.parametrize("shape, mshape", MASKS)
def test_masked_fill_matches_torch(shape, mshape):
    mask = np.asarray(np.random.default_rng(12).random(mshape) > 0.5)
    check_op(lambda x, m: mt.masked_fill(x, m, -2.5), lambda x, m: torch.masked_fill(x, m, -2.5),
             values(shape, 13, True), mask)
    check_op(lambda x, m, v: x.masked_fill(m, v), lambda x, m, v: x.masked_fill(m, v),
             values(shape, 13), mask, np.array(0.75))  # a 0-d tensor value gets its grad


@needs_torch
def test_masked_fill_integer_input_keeps_dtype():
    x, m = np.array([1, 2, 3]), np.array([True, False, True])
    got = mt.masked_fill(mt.tensor(x), mt.tensor(m), 2.7)
    expected = torch.masked_fill(torch.tensor(x), torch.tensor(m), 2.7)
    assert got.dtype == np.int64 and got.tolist() == expected.tolist()


@needs_torch
@pytest.mark.parametrize("shape, mshape", MASKS + [((4,), (3, 4)), ((3, 1), (1, 4))])
def test_masked_select_matches_torch(shape, mshape):
    mask = np.asarray(np.random.default_rng(14).random(mshape) > 0.5)
    check_op(mt.masked_select, torch.masked_select, values(shape, 15, True), mask)
    check_op(lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m), values(shape, 15),
             mask)


def test_masked_gradcheck():
    m = mt.tensor(np.array([[True, False, True]]))
    gradcheck_op(lambda x: mt.masked_select(x, m), (2, 3))
    gradcheck_op(lambda x: mt.masked_fill(x, m, 1.0), (2, 3))


@needs_torch
@pytest.mark.parametrize("data", [
    [[0, 1, 0], [2, 0, 3]], [0.0, 1.5, 0.0, -1.0], [[[True, False]], [[False, True]]], 5, 0,
    [], [[0, 0]]])
def test_nonzero_matches_torch(data):
    x, t = mt.tensor(data), torch.tensor(data)
    got, expected = mt.nonzero(x), torch.nonzero(t)
    assert got.dtype == np.int64 and got.shape == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    for g, e in zip(x.nonzero(as_tuple=True), t.nonzero(as_tuple=True), strict=True):
        np.testing.assert_array_equal(g.numpy(), e.numpy())


# --------------------------------------------------------------------------- flip, roll, repeat
@needs_torch
@pytest.mark.parametrize("shape, dims", [((3, 4), (0,)), ((3, 4), (0, 1)), ((2, 3, 4), (-1, 0)),
                                         ((3, 0), (1,)), ((), ()), ((5,), 0)])
def test_flip_matches_torch(shape, dims):
    check_op(lambda x: mt.flip(x, dims), lambda x: torch.flip(x, dims if isinstance(dims, tuple)
                                                                else (dims,)),
             values(shape, 16, True))


@needs_torch
def test_fliplr_flipud_match_torch():
    check_op(lambda x: x.fliplr(), lambda x: x.fliplr(), (3, 4))
    check_op(lambda x: x.flipud(), lambda x: x.flipud(), (3, 4))


@needs_torch
@pytest.mark.parametrize("shape, shifts, dims", [
    ((3, 4), 1, 0), ((3, 4), -5, 1), ((3, 4), (1, 2), (0, 1)), ((3, 4), 5, None),
    ((2, 3, 4), (2, -1), (-1, 0)), ((3, 0), 2, 0), ((), 3, None)])
def test_roll_matches_torch(shape, shifts, dims):
    check_op(lambda x: mt.roll(x, shifts, dims), lambda x: torch.roll(x, shifts, dims),
             values(shape, 17, True))


@needs_torch
@pytest.mark.parametrize("shape, sizes", [((2, 3), (2, 1)), ((2, 3), (1, 2, 3)), ((3,), (0,)),
                                          ((), (2, 3)), ((2, 0), (2, 2)), ((2, 1, 3), (1, 4, 1))])
def test_repeat_matches_torch(shape, sizes):
    check_op(lambda x: x.repeat(*sizes), lambda x: x.repeat(*sizes), values(shape, 18, True))
    check_op(lambda x: x.repeat(sizes), lambda x: x.repeat(sizes), values(shape, 18))


@needs_torch
@pytest.mark.parametrize("shape, dims", [((2, 3), (2,)), ((2, 3), (2, 2)), ((3,), (2, 2, 2)),
                                         ((), (3,)), ((2, 3), ())])
def test_tile_matches_torch(shape, dims):
    check_op(lambda x: mt.tile(x, dims), lambda x: torch.tile(x, dims), values(shape, 19, True))
    check_op(lambda x: x.tile(dims), lambda x: x.tile(dims), values(shape, 19))


@needs_torch
@pytest.mark.parametrize("shape, sizes", [((3, 1), (3, 4)), ((1,), (2, 5)), ((2, 1), (-1, 3)),
                                          ((1, 3), (0, 3))])
def test_expand_matches_torch(shape, sizes):
    check_op(lambda x: x.expand(*sizes), lambda x: x.expand(*sizes), values(shape, 20))


@pytest.mark.parametrize("fn", [lambda x: mt.flip(x, (0, 1)), lambda x: mt.roll(x, (1, -2), (0, 1)),
                                lambda x: x.repeat(2, 1, 2), lambda x: mt.tile(x, (3,))])
def test_move_ops_gradcheck(fn):
    gradcheck_op(fn, (2, 3))


# --------------------------------------------------------------------------- scans
SCANS = ["cumsum", "cumprod", "logcumsumexp"]


@needs_torch
@pytest.mark.parametrize("name", SCANS)
@pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1),
                                        ((3, 0), 0), ((0, 3), 0), ((), 0)])
def test_scans_match_torch(name, shape, dim):
    check_op(lambda x: getattr(mt, name)(x, dim), lambda x: getattr(torch, name)(x, dim),
             values(shape, 21, True))
    check_op(lambda x: getattr(x, name)(dim), lambda x: getattr(x, name)(dim), values(shape, 21))


@needs_torch
@pytest.mark.parametrize("data", [[0.0, 2.0, 0.0, 3.0], [1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 2.0],
                                  [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]])
def test_cumprod_grad_exact_with_zeros(data):
    check_op(lambda x: mt.cumprod(x, -1), lambda x: torch.cumprod(x, -1), np.array(data))


@needs_torch
def test_logcumsumexp_large_values_match_torch():
    x = np.array([[1000.0, -1000.0, 1001.0, 3.0], [-1000.0, 0.0, -999.0, 2.0]])
    check_op(lambda t: mt.logcumsumexp(t, 1), lambda t: torch.logcumsumexp(t, 1), x)


def test_logcumsumexp_minus_inf_entries():
    """-inf entries (masked scores) weigh nothing: finite outputs and grads, 0 grad at -inf.
    Checked against the definition dx_k = sum_{j>=k} g_j exp(x_k - y_j) (PyTorch releases
    differed on these entries)."""
    x = np.array([-np.inf, 0.0, -np.inf, 2.0, -1.0])
    g = np.random.default_rng(24).standard_normal(5)
    t = mt.tensor(x, requires_grad=True)
    y = mt.logcumsumexp(t, 0)
    with np.errstate(divide="ignore"):
        expected_y = np.log(np.cumsum(np.exp(x)))
    np.testing.assert_allclose(y.detach().numpy(), expected_y, rtol=1e-14)
    y.backward(mt.tensor(g))
    expected_g = [sum(g[j] * np.exp(x[k] - expected_y[j]) for j in range(k, 5) if
                      np.isfinite(expected_y[j])) for k in range(5)]
    np.testing.assert_allclose(t.grad.numpy(), expected_g, rtol=1e-12, atol=1e-300)


@needs_torch
@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("data, dim", [
    ([1.0, 3.0, 3.0, 2.0, 5.0, 0.0], 0), ([[2.0, 1.0, 2.0], [0.0, 0.0, -1.0]], 1),
    ([[2.0, 1.0, 2.0], [0.0, 0.0, -1.0]], 0), ([1.0, np.nan, 3.0, np.nan, 0.0], 0)])
def test_cummax_cummin_values_indices_grads_match_torch(name, data, dim):
    """Ties take the latest index; a NaN takes over until the next NaN, as PyTorch."""
    x, t = np.array(data), torch.tensor(data, requires_grad=True)
    got, expected = getattr(mt, name)(mt.tensor(x), dim), getattr(torch, name)(t, dim)
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    check_op(lambda a: getattr(mt, name)(a, dim).values,
             lambda a: getattr(torch, name)(a, dim).values, x)
    v, i = getattr(mt.tensor(x), name)(dim)
    assert v.shape == i.shape and i.dtype == np.int64


@needs_torch
@pytest.mark.parametrize("dtype", ["int32", "bool", "uint8"])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_integer_scans_give_int64_like_torch(name, dtype):
    x = np.array([1, 0, 1, 1]).astype(dtype)
    got, expected = getattr(mt, name)(mt.tensor(x), 0), getattr(torch, name)(torch.tensor(x), 0)
    assert str(got.dtype) == str(expected.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("name", SCANS)
def test_scans_gradcheck(name):
    gradcheck_op(lambda x: getattr(mt, name)(x, 1), (3, 4))


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_gradcheck(name):
    gradcheck_op(lambda x: getattr(mt, name)(x, 1).values, (3, 4))


# --------------------------------------------------------------------------- the CuPy routes
@pytest.mark.parametrize("name, dtype", [("add", "float32"), ("add", "float64"), ("add", "int64"),
                                         ("multiply", "float64"), ("maximum", "float64"),
                                         ("minimum", "int32")])
def test_ufunc_at_without_ufunc_at_matches_numpy(name, dtype):
    """The path CuPy arrays take (no ufunc.at there), run on NumPy arrays."""
    from minitorch.ops.indexing import ufunc_at
    rng = np.random.default_rng(22)
    target = (rng.standard_normal(7) * 4).astype(dtype)
    pos, vals = rng.integers(0, 7, 20), (rng.standard_normal(20) * 4).astype(dtype)
    expected, got = target.copy(), target.copy()
    getattr(np, name).at(expected, pos, vals)
    ufunc_at(np, name, got, pos, vals, native=False)
    assert got.dtype == expected.dtype
    # float32: bincount sums in float64 and rounds once, NumPy rounds after every add
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-5 if dtype == "float32" else 0)


@pytest.mark.parametrize("name", ["maximum", "minimum", "logaddexp"])
@pytest.mark.parametrize("shape, axis", [((9,), 0), ((3, 17), 1), ((16, 3), 0), ((2, 1, 5), 2),
                                         ((0, 4), 1)])
def test_doubling_scan_matches_numpy_accumulate(name, shape, axis):
    """The scan CuPy arrays take (no ufunc.accumulate there), run on NumPy arrays."""
    from minitorch.ops.cumulative import accumulate
    a = np.random.default_rng(23).standard_normal(shape) * 3
    if a.size > 4:
        a.reshape(-1)[3] = np.nan if name != "logaddexp" else -np.inf
    np.testing.assert_allclose(accumulate(np, name, a, axis, native=False),
                               getattr(np, name).accumulate(a, axis=axis), rtol=1e-13)


DEVICE_CASES = [  # (case id, minitorch fn, PyTorch fn, inputs): the CuPy routes on a GPU
    ("gather", lambda x, i: mt.gather(x, 1, i), lambda x, i: torch.gather(x, 1, i),
     lambda: (values((3, 4), 30), index((3, 5), 4, 31))),
    ("scatter_add", lambda x, i, s: mt.scatter_add(x, 1, i, s),
     lambda x, i, s: torch.scatter_add(x, 1, i, s),
     lambda: (values((3, 4), 32), index((3, 5), 4, 33), values((3, 5), 34))),
    ("scatter_prod", lambda x, i, s: mt.scatter_reduce(x, 1, i, s, "prod"),
     lambda x, i, s: torch.scatter_reduce(x, 1, i, s, "prod"),
     lambda: (values((3, 4), 35), index((3, 5), 4, 36), values((3, 5), 37))),
    ("scatter_amax", lambda x, i, s: mt.scatter_reduce(x, 1, i, s, "amax"),
     lambda x, i, s: torch.scatter_reduce(x, 1, i, s, "amax"),
     lambda: (values((3, 4), 38), index((3, 5), 4, 39), values((3, 5), 40))),
    ("index_select", lambda x, i: mt.index_select(x, 0, i), lambda x, i: torch.index_select(x, 0, i),
     lambda: (values((4, 3), 41), np.array([3, 0, 3]))),
    ("cummax", lambda x: mt.cummax(x, 1).values, lambda x: torch.cummax(x, 1).values,
     lambda: (values((3, 9), 42),)),
    ("logcumsumexp", lambda x: mt.logcumsumexp(x, 1), lambda x: torch.logcumsumexp(x, 1),
     lambda: (values((3, 9), 43),)),
]


@needs_torch
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("name, fn, ref, make", DEVICE_CASES, ids=[c[0] for c in DEVICE_CASES])
def test_index_and_scan_ops_on_device(name, fn, ref, make, device):
    check_op(fn, ref, *make(), device=device)


# --------------------------------------------------------------------------- take_along_dim, repeat_interleave
@needs_torch
@pytest.mark.parametrize("shape, ishape, dim", [((3, 4), (3, 2), 1), ((1, 4), (3, 2), 1),
                                                ((3, 4), (1, 5), 1), ((3, 4), (6,), None),
                                                ((2, 3, 4), (2, 2, 1), 1)])
def test_take_along_dim_matches_torch(shape, ishape, dim):
    high = int(np.prod(shape)) if dim is None else shape[dim]
    check_op(lambda x, i: mt.take_along_dim(x, i, dim), lambda x, i: torch.take_along_dim(x, i, dim),
             values(shape, 44), index(ishape, high, 45))


@needs_torch
@pytest.mark.parametrize("shape, repeats, dim", [((3,), 2, None), ((2, 3), 2, None),
                                                 ((2, 3), [1, 0, 2], 1), ((3, 2), 3, 0),
                                                 ((3, 2), [2, 1, 1], 0), ((), 3, None)])
def test_repeat_interleave_matches_torch(shape, repeats, dim):
    reps = (lambda m: m.tensor(repeats)) if isinstance(repeats, list) else (lambda m: repeats)
    check_op(lambda x: mt.repeat_interleave(x, reps(mt), dim),
             lambda x: torch.repeat_interleave(x, reps(torch), dim), values(shape, 46))
    check_op(lambda x: x.repeat_interleave(reps(mt), dim),
             lambda x: x.repeat_interleave(reps(torch), dim), values(shape, 46))


def test_repeat_interleave_and_take_along_dim_errors():
    with pytest.raises(ValueError, match=r"repeat_interleave: repeats must be one non-negative "
                       r"count or 3 of them"):
        mt.repeat_interleave(mt.ones(3), mt.tensor([1, 2]))
    with pytest.raises(ValueError, match="take_along_dim: input .* are not broadcastable"):
        mt.take_along_dim(mt.ones(3, 4), mt.zeros(2, 1, dtype=mt.int64), 1)
    gradcheck_op(lambda x: mt.repeat_interleave(x, mt.tensor([2, 0, 1]), 1), (2, 3))
