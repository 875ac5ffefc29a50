"""Losses vs PyTorch (forward and grad) and finite differences, plus every error case. The
cross-entropy cases run on every backend (tests/backends.py): on the CUDA paths the common case
is the fused kernel (CrossEntropyFused), the others the generic CrossEntropy."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minitorch as mt
import minitorch.nn.functional as F
from backends import backend, given_settings  # noqa: F401  (backend: the fixture)
from minitorch import nn
from tests.opcheck import DEVICES, check_op, gradcheck_op, needs_torch, torch

REDUCTIONS = ["mean", "sum", "none"]


def _targets(shape, C, seed=1, ignore=False):
    y = np.random.default_rng(seed).integers(0, C, size=shape)
    if ignore and y.size > 1:
        y.flat[0] = -100  # ignore_index default
        y.flat[-1] = 7 if C > 7 else C - 1
    return y


def _weight(C, seed=2):
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=C)


# --------------------------------------------------------------------------- cross_entropy
@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3), (5,)])
def test_cross_entropy_matches_torch(backend, reduction, weighted, smoothing, shape):
    device = backend.device
    C = shape[1] if len(shape) > 1 else shape[0]
    y = _targets(shape[:1] + shape[2:] if len(shape) > 1 else (), C, ignore=len(shape) > 1)
    w = _weight(C) if weighted else None

    def mt_fn(x):
        return F.cross_entropy(x, mt.Tensor(y, device=device),
                               weight=None if w is None else mt.Tensor(w, device=device),
                               reduction=reduction, label_smoothing=smoothing)

    def torch_fn(x):
        return torch.nn.functional.cross_entropy(
            x, torch.tensor(y), weight=None if w is None else torch.tensor(w),
            reduction=reduction, label_smoothing=smoothing)

    check_op(mt_fn, torch_fn, shape, device=device)


@needs_torch
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_ignore_index(backend, ignore_index):
    y = backend.tensor(np.array([2, 0, 2, 1, 3]))
    check_op(lambda x: F.cross_entropy(x, y, ignore_index=ignore_index),
             lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(backend.numpy(y)),
                                                         ignore_index=ignore_index), (5, 4),
             device=backend.device)


@needs_torch
def test_cross_entropy_int32_target_and_float32(backend):
    x = np.random.default_rng(0).standard_normal((8, 10)).astype(np.float32)
    y = np.arange(8, dtype=np.int32)
    out = F.cross_entropy(backend.tensor(x), backend.tensor(y))
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y).long())
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_stable_for_huge_logits(backend, reduction):
    x = backend.tensor(np.array([[1000.0, -1000.0, 0.0], [-5000.0, 5000.0, 1.0]]),
                       requires_grad=True)
    loss = F.cross_entropy(x, backend.tensor(np.array([0, 0])), reduction=reduction)
    per_row = np.array([0.0, 10000.0])
    np.testing.assert_allclose(backend.numpy(loss), {"none": per_row, "sum": per_row.sum(),
                                                     "mean": per_row.mean()}[reduction])
    loss.sum().backward()
    assert np.isfinite(backend.numpy(x.grad)).all()
    # (softmax - onehot) per row: row 0 is ~0, row 1 pushes class 0 up and class 1 down.
    scale = 0.5 if reduction == "mean" else 1.0
    np.testing.assert_allclose(backend.numpy(x.grad), np.array([[0, 0, 0], [-1, 1, 0]]) * scale,
                               atol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(backend, smoothing, reduction):
    y, w = backend.tensor(_targets((4, 2), 3, ignore=True)), backend.tensor(_weight(3))
    backend.gradcheck(lambda x: F.cross_entropy(x, y, weight=w, reduction=reduction,
                                                label_smoothing=smoothing), (4, 3, 2))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradcheck_of_the_common_case(backend, reduction):
    """(N, C) logits, no weights or smoothing: the fused kernel's case on the CUDA paths."""
    y = backend.tensor(np.array([2, -100, 0, 1, 2]))
    backend.gradcheck(lambda x: F.cross_entropy(x, y, reduction=reduction), (5, 3))


@needs_torch
@given_settings
@given(n=st.integers(1, 6), c=st.integers(1, 6), transposed=st.booleans(),
       seed=st.integers(0, 2**16))
def test_cross_entropy_hypothesis_noncontiguous(backend, n, c, transposed, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c, n)).T if transposed else rng.standard_normal((n, c))
    y = rng.integers(0, c, size=n)
    check_op(lambda a: F.cross_entropy(a, backend.tensor(y)),
             lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(y)), x, seed=seed,
             device=backend.device)


@pytest.mark.parametrize("case, fused", [
    (dict(shape=(6, 4)), True), (dict(shape=(6, 4), reduction="sum"), True),
    (dict(shape=(6, 4), reduction="none"), False), (dict(shape=(6, 4), label_smoothing=0.1), False),
    (dict(shape=(6, 4), weight=np.ones(4)), False), (dict(shape=(6, 4, 2)), False),
    (dict(shape=(6, 4), dtype=np.float16), False)])
def test_cross_entropy_graph_names_the_algorithm_that_ran(backend, case, fused):
    """The CUDA paths run (N, C) logits without weights/smoothing, float32/64, reduced, by the
    fused kernel (its own Function); everything else by the generic one, as on the CPU."""
    case = dict(case)
    shape, dtype = case.pop("shape"), case.pop("dtype", np.float64)
    z = backend.tensor(np.random.default_rng(1).standard_normal(shape).astype(dtype),
                       requires_grad=True)
    y = backend.tensor(np.random.default_rng(2).integers(0, 4, (shape[0],) + shape[2:]))
    if "weight" in case:
        case["weight"] = backend.tensor(case["weight"].astype(dtype))
    loss = F.cross_entropy(z, y, **case)
    ran = "CrossEntropyFused" if fused and backend.is_cuda_path else "CrossEntropy"
    assert loss.grad_fn.name() == ran
    loss.sum().backward()
    assert z.grad.dtype == dtype and np.isfinite(backend.numpy(z.grad)).all()


def test_cross_entropy_all_ignored_mean_is_nan_like_torch(backend):
    x = backend.tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.cross_entropy(x, backend.tensor(np.array([-100, -100])))
    assert np.isnan(loss.item())
    if torch is not None:
        assert np.isnan(torch.nn.functional.cross_entropy(
            torch.zeros(2, 3), torch.tensor([-100, -100])).item())


def test_cross_entropy_float_target_error():
    x = mt.Tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="cross_entropy: target must be an integer class-index "
                                        "tensor, got float32"):
        F.cross_entropy(x, mt.Tensor(np.array([0.0, 1.0], dtype=np.float32)))


@pytest.mark.parametrize("bad", [3, -1, 10])
def test_cross_entropy_out_of_range_error(bad):
    x = mt.Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=rf"target value {bad} is out of range for 3 classes"):
        F.cross_entropy(x, mt.Tensor(np.array([0, bad])))


def test_cross_entropy_batch_mismatch_error():
    x = mt.Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"input batch size 4 does not match target batch "
                                         r"size 3"):
        F.cross_entropy(x, mt.Tensor(np.array([0, 1, 2])))
    with pytest.raises(ValueError, match=r"target shape \(4, 5\) must be the input shape"):
        F.cross_entropy(mt.Tensor(np.zeros((4, 3, 2))), mt.Tensor(np.zeros((4, 5), dtype=np.int64)))


def test_cross_entropy_bad_options():
    x, y = mt.Tensor(np.zeros((2, 3))), mt.Tensor(np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(x, y, reduction="avg")
    with pytest.raises(ValueError, match=r"weight must be a 1-d Tensor with one entry per "
                                         r"class \(3\), got \(2,\)"):
        F.cross_entropy(x, y, weight=mt.Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, y, label_smoothing=1.5)


# --------------------------------------------------------------------------- nll_loss
@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (2, 5, 3)])
def test_nll_loss_matches_torch(reduction, weighted, shape):
    y = _targets(shape[:1] + shape[2:], shape[1], ignore=True)
    w = _weight(shape[1]) if weighted else None
    check_op(lambda x: F.nll_loss(F.log_softmax(x, 1), mt.Tensor(y), reduction=reduction,
                                  weight=None if w is None else mt.Tensor(w)),
             lambda x: torch.nn.functional.nll_loss(
                 torch.log_softmax(x, 1), torch.tensor(y), reduction=reduction,
                 weight=None if w is None else torch.tensor(w)), shape)


def test_nll_loss_gradcheck_and_errors():
    y = _targets((5,), 4, ignore=True)
    gradcheck_op(lambda x: F.nll_loss(x, mt.Tensor(y), weight=mt.Tensor(_weight(4))), (5, 4))
    with pytest.raises(TypeError, match="nll_loss: target must be an integer"):
        F.nll_loss(mt.Tensor(np.zeros((2, 3))), mt.Tensor(np.zeros(2)))
    with pytest.raises(IndexError, match="nll_loss: target value 5 is out of range for 3"):
        F.nll_loss(mt.Tensor(np.zeros((2, 3))), mt.Tensor(np.array([5, 0])))


# --------------------------------------------------------------------------- mse_loss
@needs_torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(device, reduction):
    check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction),
             lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
             (3, 4), (3, 4), device=device)


def test_mse_loss_gradcheck_and_errors():
    gradcheck_op(lambda a, b: F.mse_loss(a, b), (2, 3), (2, 3))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(4, 1\) and target shape "
                                         r"\(4,\) differ"):
        F.mse_loss(mt.Tensor(np.zeros((4, 1))), mt.Tensor(np.zeros(4)))
    with pytest.raises(ValueError, match="mse_loss: reduction must be"):
        F.mse_loss(mt.Tensor(np.zeros(2)), mt.Tensor(np.zeros(2)), reduction="avg")


# --------------------------------------------------------------------------- loss modules
@needs_torch
def test_loss_modules_match_functional():
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((6, 4)), rng.integers(0, 4, 6), _weight(4)
    crit = nn.CrossEntropyLoss(weight=mt.Tensor(w), label_smoothing=0.1, reduction="sum")
    ref = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1, reduction="sum")
    np.testing.assert_allclose(crit(mt.Tensor(x), mt.Tensor(y)).item(),
                               ref(torch.tensor(x), torch.tensor(y)).item(), rtol=1e-12)
    assert list(crit.state_dict()) == ["weight"]  # weight is a buffer, as in PyTorch
    lp = np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True))
    np.testing.assert_allclose(nn.NLLLoss()(mt.Tensor(lp), mt.Tensor(y)).item(),
                               torch.nn.NLLLoss()(torch.tensor(lp), torch.tensor(y)).item(),
                               rtol=1e-12)
    np.testing.assert_allclose(nn.MSELoss(reduction="sum")(mt.Tensor(x), mt.Tensor(x * 2)).item(),
                               (x ** 2).sum(), rtol=1e-12)
    with pytest.raises(ValueError, match="MSELoss: reduction must be"):
        nn.MSELoss(reduction="avg")
