"""lr schedulers vs torch.optim.lr_scheduler: the lr sequence over 30 epochs, two param groups."""
import copy
import warnings

import numpy as np
import pytest

from minitorch import nn, optim
from minitorch.optim import lr_scheduler as sched
from tests.opcheck import needs_torch, torch

SCHEDULERS = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 12], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
]


def _pair():
    """Same two groups (lr 0.1 and 0.02) in a minitorch and a torch SGD."""
    ours = optim.SGD([{"params": [nn.Parameter(np.ones(2))]},
                      {"params": [nn.Parameter(np.ones(2))], "lr": 0.02}], lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.ones(2, requires_grad=True)]},
                              {"params": [torch.ones(2, requires_grad=True)], "lr": 0.02}],
                             lr=0.1, momentum=0.9)
    return ours, theirs


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@needs_torch
@pytest.mark.parametrize("name,kw", SCHEDULERS)
def test_lr_sequence_matches_torch(name, kw):
    opt, ref_opt = _pair()
    s = getattr(sched, name)(opt, **kw)
    ref = getattr(torch.optim.lr_scheduler, name)(ref_opt, **kw)
    seen = set()
    for epoch in range(30):
        assert s.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-13, abs=1e-15), epoch
        assert _lrs(opt) == pytest.approx(_lrs(ref_opt), rel=1e-13, abs=1e-15), epoch
        seen.add(round(_lrs(opt)[0], 12))
        opt.step()
        ref_opt.step()
        s.step()
        ref.step()
    assert len(seen) > 1  # the schedule changed the lr


@needs_torch
@pytest.mark.parametrize("name,kw", SCHEDULERS[::2] + SCHEDULERS[5:])
def test_scheduler_state_dict_resume(name, kw):
    opt, ref_opt = _pair()
    s = getattr(sched, name)(opt, **kw)
    ref = getattr(torch.optim.lr_scheduler, name)(ref_opt, **kw)
    for _ in range(12):
        opt.step()
        ref_opt.step()
        s.step()
        ref.step()
    saved_sched, saved_opt = copy.deepcopy(s.state_dict()), copy.deepcopy(opt.state_dict())
    assert "optimizer" not in saved_sched and saved_sched["last_epoch"] == 12
    opt2, _ = _pair()
    opt2.load_state_dict(saved_opt)
    s2 = getattr(sched, name)(opt2, **kw)
    s2.load_state_dict(saved_sched)
    opt2.load_state_dict(saved_opt)  # the constructor's step() reset lr; restore it
    for epoch in range(12):
        ref_opt.step()
        s2.step()
        ref.step()
        assert _lrs(opt2) == pytest.approx(_lrs(ref_opt), rel=1e-13, abs=1e-15), epoch


@needs_torch
@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.05, threshold_mode="abs"),
    dict(factor=0.5, patience=1, cooldown=2, min_lr=[0.03, 0.0]),
    dict(factor=0.2, patience=0, threshold_mode="rel", threshold=0.1, eps=1e-3),
])
def test_reduce_lr_on_plateau_matches_torch(kw):
    opt, ref_opt = _pair()
    s = sched.ReduceLROnPlateau(opt, **kw)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **kw)
    rng = np.random.default_rng(0)
    # Improving, then a long plateau with noise, then improving again.
    plateau = 0.5 + 0.02 * np.abs(rng.standard_normal(18))
    metrics = np.concatenate([np.linspace(1.0, 0.5, 6), plateau, np.linspace(0.45, 0.3, 6)])
    if kw.get("mode") == "max":
        metrics = -metrics
    changes = 0
    for epoch, m in enumerate(metrics):
        before = _lrs(opt)
        s.step(m)
        ref.step(m)
        changes += _lrs(opt) != before
        assert _lrs(opt) == pytest.approx(_lrs(ref_opt), rel=1e-13), epoch
        assert s.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-13)
        assert s.num_bad_epochs == ref.num_bad_epochs
    assert changes > 0
    state = s.state_dict()
    assert state["best"] == ref.state_dict()["best"]


def test_scheduler_validation():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        sched.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        sched.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="expected 1 min_lrs"):
        sched.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int"):
        sched.StepLR(opt, step_size=0)
    with pytest.raises(KeyError, match="initial_lr"):
        sched.ExponentialLR(optim.SGD([nn.Parameter(np.ones(2))], lr=0.1), 0.9, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        sched.StepLR(object(), step_size=2)


def test_initial_lr_recorded_and_base_lrs():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.4)
    s = sched.StepLR(opt, step_size=2, gamma=0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.4 and s.base_lrs == [0.4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            s.step()
    assert s.get_last_lr() == [0.1] and s.last_epoch == 4
