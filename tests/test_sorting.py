"""sort / argsort / topk / kthvalue / median (ops/sorting.py) against PyTorch: values, indices and
gradients on distinct values (where the order is unique), stable ties and NaN checked directly,
float64 gradchecks, errors. One line per case."""
import numpy as np
import pytest

import minitorch as mt
from opcheck import check_op, gradcheck_op, needs_torch, torch


def distinct(shape, seed=0, noncontiguous=False):
    """float64 values that are all different (a permutation, scaled), maybe strided."""
    n = int(np.prod(shape)) * (2 if noncontiguous else 1)
    x = np.random.default_rng(seed).permutation(n).astype(np.float64) * 0.37 - n / 5
    x = x.reshape(tuple(shape) + ((2,) if noncontiguous else ()))
    return np.asarray(x[..., 0] if noncontiguous else x)


SHAPES = [((5,), -1), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), 1), ((3, 0), 0), ((), 0)]


@needs_torch
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("shape, dim", SHAPES)
def test_sort_argsort_match_torch(shape, dim, descending):
    x = distinct(shape, 1, noncontiguous=bool(shape))
    check_op(lambda a: mt.sort(a, dim, descending).values,
             lambda a: torch.sort(a, dim, descending).values, x)
    got, expected = mt.tensor(x).sort(dim, descending), torch.tensor(x).sort(dim, descending)
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    np.testing.assert_array_equal(mt.argsort(mt.tensor(x), dim, descending).numpy(),
                                  torch.argsort(torch.tensor(x), dim, descending).numpy())


@needs_torch
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape, dim, k", [((6,), 0, 3), ((3, 5), 1, 2), ((4, 3), 0, 4),
                                           ((2, 3, 4), -1, 1), ((3, 4), 1, 0), ((), 0, 1)])
def test_topk_matches_torch(shape, dim, k, largest):
    x = distinct(shape, 2)
    check_op(lambda a: mt.topk(a, k, dim, largest).values,
             lambda a: torch.topk(a, k, dim, largest).values, x)
    got, expected = mt.tensor(x).topk(k, dim, largest), torch.tensor(x).topk(k, dim, largest)
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())


@needs_torch
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape, dim, k", [((6,), 0, 3), ((3, 5), 1, 5), ((4, 3), 0, 1),
                                           ((2, 3, 4), 1, 2)])
def test_kthvalue_matches_torch(shape, dim, k, keepdim):
    x = distinct(shape, 3)
    check_op(lambda a: mt.kthvalue(a, k, dim, keepdim).values,
             lambda a: torch.kthvalue(a, k, dim, keepdim).values, x)
    got, expected = mt.kthvalue(mt.tensor(x), k, dim, keepdim), torch.kthvalue(
        torch.tensor(x), k, dim, keepdim)
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())


@needs_torch
@pytest.mark.parametrize("shape, dim", [((7,), None), ((3, 4), None), ((3, 4), 1), ((4, 3), 0),
                                        ((2, 3, 5), -1), ((), None)])
def test_median_matches_torch(shape, dim):
    x = distinct(shape, 4)
    if dim is None:
        check_op(mt.median, torch.median, x)
    else:
        check_op(lambda a: mt.median(a, dim).values, lambda a: torch.median(a, dim).values, x)
        np.testing.assert_array_equal(mt.tensor(x).median(dim).indices.numpy(),
                                      torch.tensor(x).median(dim).indices.numpy())


@needs_torch
def test_median_with_nan_is_nan_like_torch():
    x = np.array([[1.0, np.nan, 3.0, 0.0], [2.0, 1.0, 5.0, 4.0]])
    got, expected = mt.tensor(x).median(1), torch.tensor(x).median(1)
    np.testing.assert_array_equal(got.values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    assert np.isnan(mt.median(mt.tensor(x)).item())


@pytest.mark.parametrize("descending, expected", [(False, [3, 0, 2, 4, 1]),
                                                  (True, [1, 0, 2, 4, 3])])
def test_sort_ties_stable_and_nan_largest(descending, expected):
    """Ties keep input order; NaN sorts last ascending, first descending (PyTorch's NaN rule;
    its tie order without stable=True is unspecified, so this is checked directly)."""
    x = mt.tensor([1.0, np.nan, 1.0, -2.0, 1.0])
    assert mt.sort(x, descending=descending, stable=True).indices.tolist() == expected


@pytest.mark.parametrize("fn", [lambda x: mt.sort(x, 1).values, lambda x: mt.topk(x, 2, 0).values,
                                lambda x: mt.kthvalue(x, 2, 1).values, lambda x: mt.median(x),
                                lambda x: mt.median(x, 0).values])
def test_ordering_gradcheck(fn):
    gradcheck_op(fn, distinct((3, 4), 5))


@pytest.mark.parametrize("call, error, message", [
    (lambda: mt.topk(mt.ones(3), 4), ValueError, r"topk: k \(4\) must be an int in \[0, 3\]"),
    (lambda: mt.kthvalue(mt.ones(3), 0), ValueError, r"kthvalue: k \(0\) must be an int in \[1, 3\]"),
    (lambda: mt.sort(mt.ones(3), 1), IndexError, "sort: dim 1 is out of range"),
    (lambda: mt.median(mt.ones(0)), RuntimeError, "median: can't take the median of an empty"),
    (lambda: mt.argsort(np.ones(3)), TypeError, r"argsort\(\): argument 'input' must be a Tensor"),
])
def test_ordering_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


@needs_torch
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_sort_topk_on_device(device):
    x = distinct((3, 5), 6)
    check_op(lambda a: mt.sort(a, 1, True).values, lambda a: torch.sort(a, 1, True).values, x,
             device=device)
    check_op(lambda a: mt.topk(a, 2, 0).values, lambda a: torch.topk(a, 2, 0).values, x,
             device=device)
