"""tril/triu/diagonal/diag/trace and the fixed-rank products (ops/matrix.py), norms and nan-
reductions (ops/reduce.py), frac/deg2rad/sinc/logit/xlogy (ops/unary.py, elementwise.py) and
the integer lookups (ops/counting.py), against PyTorch; float64 gradchecks. One line per case."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.nn.functional as F
from opcheck import check_op, gradcheck_op, needs_torch, torch

DIFFERENTIABLE = [  # (case id, minitorch fn, PyTorch fn (same call), input shapes)
    ("tril", lambda m, x: m.tril(x), [(4, 5)]), ("tril_k", lambda m, x: m.tril(x, -1), [(2, 4, 4)]),
    ("triu", lambda m, x: m.triu(x), [(4, 5)]), ("triu_k", lambda m, x: m.triu(x, 2), [(3, 5)]),
    ("tril_method", lambda m, x: x.tril(1), [(3, 3)]),
    ("diagonal", lambda m, x: m.diagonal(x), [(3, 4)]),
    ("diagonal_off", lambda m, x: m.diagonal(x, 1, 0, 2), [(3, 2, 4)]),
    ("diagonal_neg", lambda m, x: m.diagonal(x, -1, -1, 0), [(4, 3)]),
    ("diag_2d", lambda m, x: m.diag(x), [(3, 3)]), ("diag_1d", lambda m, x: m.diag(x), [(3,)]),
    ("diag_1d_k", lambda m, x: m.diag(x, -2), [(3,)]), ("trace", lambda m, x: m.trace(x), [(3, 4)]),
    ("dot", lambda m, x, y: m.dot(x, y), [(4,), (4,)]),
    ("outer", lambda m, x, y: m.outer(x, y), [(3,), (4,)]),
    ("mv", lambda m, x, y: m.mv(x, y), [(3, 4), (4,)]),
    ("mm", lambda m, x, y: m.mm(x, y), [(3, 4), (4, 2)]),
    ("bmm", lambda m, x, y: m.bmm(x, y), [(2, 3, 4), (2, 4, 2)]),
    ("norm", lambda m, x: m.norm(x), [(3, 4)]), ("norm_dim", lambda m, x: m.norm(x, dim=1), [(3, 4)]),
    ("norm_p1", lambda m, x: m.norm(x, p=1, dim=0, keepdim=True), [(3, 4)]),
    ("norm_p3", lambda m, x: m.norm(x, p=3, dim=(0, 1)), [(3, 4)]),
    ("vector_norm_inf", lambda m, x: m.linalg.vector_norm(x, float("inf"), 1), [(3, 4)]),
    ("vector_norm_half", lambda m, x: m.linalg.vector_norm(x, 0.5), [(5,)]),
    ("normalize", lambda m, x: (F if m is mt else torch.nn.functional).normalize(x), [(3, 4)]),
    ("normalize_p1", lambda m, x: (F if m is mt else torch.nn.functional).normalize(x, 1, 0),
     [(3, 4)]),
    ("frac", lambda m, x: m.frac(x * 3), [(3, 4)]), ("deg2rad", lambda m, x: m.deg2rad(x), [(4,)]),
    ("rad2deg", lambda m, x: m.rad2deg(x), [(4,)]), ("sinc", lambda m, x: m.sinc(x), [(3, 4)]),
    ("xlogy", lambda m, x, y: m.xlogy(x, y.abs() + 0.5), [(3, 4), (4,)]),
    ("nansum", lambda m, x: m.nansum(x, 1), [(3, 4)]), ("nanmean", lambda m, x: m.nanmean(x), [(3, 4)]),
    ("aminmax", lambda m, x: m.aminmax(x, dim=1)[0] * 2 + m.aminmax(x, dim=1)[1], [(3, 4)]),
]
IDS = [c[0] for c in DIFFERENTIABLE]


@needs_torch
@pytest.mark.parametrize("name, fn, shapes", DIFFERENTIABLE, ids=IDS)
def test_matches_torch(name, fn, shapes):
    check_op(lambda *xs: fn(mt, *xs), lambda *ts: fn(torch, *ts), *shapes, seed=1)


@pytest.mark.parametrize("name, fn, shapes", DIFFERENTIABLE, ids=IDS)
def test_gradcheck(name, fn, shapes):
    gradcheck_op(lambda *xs: fn(mt, *xs), *shapes, seed=2)


@needs_torch
@pytest.mark.parametrize("case", [
    lambda m, x: m.norm(x * 0), lambda m, x: m.nanmean(m.where(x > 0, x, float("nan")), 1),
    lambda m, x: m.nansum(m.where(x > 0, x, float("nan"))), lambda m, x: m.sinc(x * 0),
    lambda m, x: m.xlogy(x * 0, x * 0), lambda m, x: m.logit(x.sigmoid()),
    lambda m, x: m.logit(x.sigmoid(), eps=0.3)])
def test_edge_values_match_torch(case):
    """Norm at 0 (gradient 0), NaN skipped (gradient 0 there), sinc at 0, xlogy(0, 0) = 0, logit
    with and without eps."""
    check_op(lambda x: case(mt, x), lambda x: case(torch, x), (3, 4), seed=3)


@needs_torch
@pytest.mark.parametrize("case", [
    lambda m: m.nn.functional.one_hot(m.tensor([[0, 3], [2, 1]])),
    lambda m: m.nn.functional.one_hot(m.tensor([1, 0]), 4),
    lambda m: m.bincount(m.tensor([1, 1, 4, 0])), lambda m: m.bincount(m.tensor([1, 1]), minlength=4),
    lambda m: m.bincount(m.tensor([1, 1, 3]), weights=m.tensor([0.5, 1.0, 2.0])),
    lambda m: m.unique(m.tensor([3, 1, 3, 2]), return_inverse=True, return_counts=True),
    lambda m: m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=0, return_inverse=True),
    lambda m: m.searchsorted(m.tensor([1.0, 3.0, 5.0]), m.tensor([0.0, 3.0, 6.0])),
    lambda m: m.searchsorted(m.tensor([1.0, 3.0, 5.0]), m.tensor([[3.0, 4.0]]), right=True),
    lambda m: m.searchsorted(m.tensor([[1.0, 3.0], [2.0, 4.0]]), m.tensor([[3.0], [3.0]])),
    lambda m: m.bucketize(m.tensor([[0.5, 3.0], [5.0, 9.0]]), m.tensor([1.0, 3.0, 5.0])),
    lambda m: m.bucketize(m.tensor([3.0, 5.0]), m.tensor([1.0, 3.0, 5.0]), right=True),
])
def test_integer_lookups_match_torch(case):
    got, expected = case(mt), case(torch)
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    for g, e in zip(got, expected, strict=True):
        assert str(g.dtype) == str(e.dtype).replace("torch.", ""), (g.dtype, e.dtype)
        np.testing.assert_array_equal(g.numpy(), e.numpy())


@pytest.mark.parametrize("call, error, message", [
    (lambda: mt.tril(mt.ones(3)), ValueError, r"tril: input must have at least 2 dims"),
    (lambda: mt.mm(mt.ones(3), mt.ones(3, 2)), ValueError, r"mm: input must be 2-d, got shape \(3,\)"),
    (lambda: mt.dot(mt.ones(3), mt.ones(4)), ValueError, "dot: 1-d tensors of the same size"),
    (lambda: mt.bmm(mt.ones(2, 3, 4), mt.ones(3, 4, 2)), ValueError, "bmm: batch sizes differ"),
    (lambda: mt.diagonal(mt.ones(3, 3), 0, 1, 1), ValueError, "diagonal: needs two different dims"),
    (lambda: mt.trace(mt.ones(2, 2, 2)), ValueError, "trace: expected a 2-d tensor"),
    (lambda: F.one_hot(mt.tensor([0, 3]), 3), RuntimeError, r"one_hot: class values must be in"),
    (lambda: F.one_hot(mt.ones(2), 3), TypeError, "one_hot: expected an integer"),
    (lambda: mt.bincount(mt.tensor([-1, 2])), ValueError, "bincount: expected a 1-d tensor of "
     "non-negative integers"),
    (lambda: mt.norm(mt.ones(2, 2), p="nuc"), ValueError, "norm: p='nuc' is not supported"),
    (lambda: mt.frac(mt.tensor([1, 2])), TypeError, "frac: expected a floating-point tensor"),
])
def test_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- distances, diff, meshgrid, cross
TF = torch.nn.functional if torch else None
MORE = [  # (case id, minitorch fn, PyTorch fn, input shapes)
    ("cosine_similarity", lambda x, y: F.cosine_similarity(x, y),
     lambda x, y: TF.cosine_similarity(x, y), [(3, 4, 2), (3, 4, 2)]),
    ("cosine_similarity_bcast", lambda x, y: F.cosine_similarity(x, y, dim=-1),
     lambda x, y: TF.cosine_similarity(x, y, dim=-1), [(3, 4), (4,)]),
    ("pairwise_distance", lambda x, y: F.pairwise_distance(x, y),
     lambda x, y: TF.pairwise_distance(x, y), [(3, 4), (3, 4)]),
    ("pairwise_distance_p1", lambda x, y: F.pairwise_distance(x, y, 1.0, keepdim=True),
     lambda x, y: TF.pairwise_distance(x, y, 1.0, keepdim=True), [(3, 4), (1, 4)]),
    ("cdist", lambda x, y: mt.cdist(x, y), lambda x, y: torch.cdist(x, y), [(3, 2), (4, 2)]),
    ("cdist_batched_p1", lambda x, y: mt.cdist(x, y, 1.0), lambda x, y: torch.cdist(x, y, 1.0),
     [(2, 3, 4), (2, 5, 4)]),
    ("diff", lambda x: mt.diff(x), lambda x: torch.diff(x), [(3, 5)]),
    ("diff_n2_dim0", lambda x: x.diff(2, 0), lambda x: x.diff(2, 0), [(5, 3)]),
    ("diff_prepend", lambda x, p: mt.diff(x, 1, -1, p), lambda x, p: torch.diff(x, 1, -1, p),
     [(3, 4), (3, 1)]),
    ("meshgrid_ij", lambda x, y: sum(g.sum() * (k + 1) for k, g in enumerate(mt.meshgrid(x, y))),
     lambda x, y: sum(g.sum() * (k + 1) for k, g in enumerate(torch.meshgrid(x, y, indexing="ij"))),
     [(3,), (4,)]),
    ("meshgrid_xy", lambda x, y: mt.stack(mt.meshgrid(x, y, indexing="xy")),
     lambda x, y: torch.stack(torch.meshgrid(x, y, indexing="xy")), [(3,), (4,)]),
    ("cross", lambda x, y: mt.linalg.cross(x, y), lambda x, y: torch.linalg.cross(x, y),
     [(4, 3), (4, 3)]),
    ("cross_dim0", lambda x, y: mt.cross(x, y, dim=0), lambda x, y: torch.cross(x, y, dim=0),
     [(3, 2), (3, 1)]),
]


@needs_torch
@pytest.mark.parametrize("name, fn, ref, shapes", MORE, ids=[m[0] for m in MORE])
def test_more_match_torch(name, fn, ref, shapes):
    check_op(fn, ref, *shapes, seed=4)


@pytest.mark.parametrize("name, fn, ref, shapes", MORE, ids=[m[0] for m in MORE])
def test_more_gradcheck(name, fn, ref, shapes):
    gradcheck_op(fn, *shapes, seed=5)


def test_cdist_zero_distance_gradient_is_zero():
    x = mt.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    mt.cdist(x, x.detach()).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
