"""L1, smooth L1, Huber, BCE, BCE-with-logits and KL divergence: forward and the gradients of
input and target against PyTorch, finite-difference gradchecks, and the argument checks."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from opcheck import check_op, gradcheck_op, torch

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(7,), (3, 4), (2, 3, 5), (0, 3)]


def TF():
    return torch.nn.functional


def _probs(shape, seed):
    return np.random.default_rng(seed).uniform(0.02, 0.98, size=shape)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_l1_smooth_l1_huber_match_torch(shape, reduction):
    check_op(lambda a, b: F.l1_loss(a, b, reduction), lambda a, b: TF().l1_loss(a, b, reduction=reduction),
             shape, shape)
    for beta in (1.0, 0.3, 0.0):
        check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta),
                 lambda a, b: TF().smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                 shape, shape)
    for delta in (1.0, 0.4):
        check_op(lambda a, b: F.huber_loss(a, b, reduction, delta),
                 lambda a, b: TF().huber_loss(a, b, reduction=reduction, delta=delta),
                 shape, shape)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_matches_torch(shape, reduction):
    x, y = _probs(shape, 1), _probs(shape, 2)
    check_op(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: TF().binary_cross_entropy(a, b, reduction=reduction), x, y)
    w = np.random.default_rng(3).uniform(0.5, 2, size=shape[-1:])
    check_op(lambda a, b: F.binary_cross_entropy(a, b, mt.tensor(w), reduction),
             lambda a, b: TF().binary_cross_entropy(a, b, torch.tensor(w), reduction=reduction),
             x, y)


def test_bce_clamps_its_logs_at_minus_100_like_torch():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    check_op(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
             lambda a, b: TF().binary_cross_entropy(a, b, reduction="none"), x, y, grad=False)
    out = F.binary_cross_entropy(mt.tensor(x), mt.tensor(y), reduction="none")
    assert out.tolist()[:2] == [100.0, 100.0] and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_with_logits_matches_torch(shape, reduction):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(shape) * 4, _probs(shape, 5)
    check_op(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
             lambda a, b: TF().binary_cross_entropy_with_logits(a, b, reduction=reduction), x, y)
    pw, w = rng.uniform(0.5, 3, size=shape[-1:]), rng.uniform(0.5, 2, size=shape)
    check_op(lambda a, b: F.binary_cross_entropy_with_logits(
                 a, b, mt.tensor(w), reduction, pos_weight=mt.tensor(pw)),
             lambda a, b: TF().binary_cross_entropy_with_logits(
                 a, b, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)), x, y)


def test_bce_with_logits_is_stable_for_huge_logits():
    x = mt.tensor([-1000.0, 1000.0, 0.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, mt.tensor([1.0, 0.0, 1.0]), reduction="sum")
    loss.backward()
    np.testing.assert_allclose(loss.item(), 2000 + np.log(2), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, -0.5])


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    rng = np.random.default_rng(6)
    x = np.log(rng.dirichlet(np.ones(5), size=4))
    y = rng.dirichlet(np.ones(5), size=4)
    y[0, 2] = 0.0  # a zero target probability contributes 0 (x log x -> 0)
    if log_target:
        y = np.log(y + 1e-3)
    check_op(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
             lambda a, b: TF().kl_div(a, b, reduction=reduction, log_target=log_target), x, y)


@pytest.mark.parametrize("fn", [
    lambda a, b: F.l1_loss(a, b, "sum"),
    lambda a, b: F.smooth_l1_loss(a, b, "mean", 0.7),
    lambda a, b: F.huber_loss(a, b, "sum", 0.6),
    lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"),
    lambda a, b: F.binary_cross_entropy(mt.sigmoid(a), mt.sigmoid(b), reduction="sum"),
    lambda a, b: F.kl_div(mt.log_softmax(a, 1), mt.softmax(b, 1), reduction="batchmean"),
], ids=["l1", "smooth_l1", "huber", "bce_logits", "bce", "kl_div"])
def test_gradcheck(fn):
    gradcheck_op(fn, (3, 4), (3, 4), seed=7)


def test_modules_hold_their_options():
    x, y = mt.tensor([[0.2, 0.9]]), mt.tensor([[0.0, 1.0]])
    assert nn.BCELoss()(x, y).item() == pytest.approx(F.binary_cross_entropy(x, y).item())
    assert nn.SmoothL1Loss(beta=0.5)(x, y).item() == pytest.approx(
        F.smooth_l1_loss(x, y, beta=0.5).item())
    assert nn.HuberLoss(reduction="sum", delta=0.1)(x, y).item() == pytest.approx(
        F.huber_loss(x, y, "sum", 0.1).item())
    assert nn.L1Loss()(x, y).item() == pytest.approx(0.15)
    pw = mt.tensor([2.0, 3.0])
    assert nn.BCEWithLogitsLoss(pos_weight=pw)(x, y).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(x, y, pos_weight=pw).item())
    lp = mt.log_softmax(x, 1)
    assert nn.KLDivLoss(reduction="batchmean")(lp, mt.softmax(y, 1)).item() == pytest.approx(
        F.kl_div(lp, mt.softmax(y, 1), reduction="batchmean").item())


def test_bad_arguments_name_the_op():
    a, b = mt.ones(3, 2), mt.ones(3)
    with pytest.raises(ValueError, match=r"l1_loss: input shape \(3, 2\) and target shape \(3,\) differ"):
        F.l1_loss(a, b)
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input must be "
                                         "between 0 and 1"):
        F.binary_cross_entropy(mt.tensor([1.5]), mt.tensor([1.0]))
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        F.kl_div(a, a, reduction="avg")
    with pytest.raises(TypeError, match="huber_loss: input and target must be floating point"):
        F.huber_loss(mt.ones(2, dtype=mt.int64), mt.ones(2, dtype=mt.int64))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape "
                                         r"\(3,\) must broadcast to the input shape \(3, 2\)"):
        F.binary_cross_entropy_with_logits(a, a, pos_weight=mt.ones(3))
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0"):
        F.smooth_l1_loss(a, a, beta=-1)
