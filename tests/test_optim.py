"""Optimizers vs torch.optim: 20-step trajectories on the same problem, state_dict round trips,
parameter groups, and hyperparameter validation. The trajectory, round-trip, float32 and
checkpoint cases run on every backend (tests/backends.py): Adam/AdamW's step is the kernel
table's adam_step (on the CUDA paths the fused multi-tensor kernel, emulated or real)."""
import copy

import numpy as np
import pytest

import minitorch as mt
import minitorch.nn.functional as F
from backends import backend  # noqa: F401  (the fixture)
from minitorch import nn, optim
from minitorch.backend import to_device, to_numpy
from tests.opcheck import needs_torch, torch

rng = np.random.default_rng(0)
X, Y = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
W0, B0 = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(3) * 0.5

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1, alpha=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES]


def _mt_model(device="cpu", params=(W0, B0)):
    """The parameters (copies of ``params``) on ``device`` and the loss closure over them."""
    w, b = (nn.Parameter(to_device(np.array(a), device)) for a in params)
    x, y = mt.Tensor(X, device=device), mt.Tensor(Y, device=device)
    return [w, b], lambda: F.mse_loss(F.linear(x, w, b), y)


def _torch_model():
    w = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(B0.copy(), requires_grad=True)
    return [w, b], lambda: torch.nn.functional.mse_loss(
        torch.nn.functional.linear(torch.tensor(X), w, b), torch.tensor(Y))


def _run(opt, loss_fn, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()


def _assert_same(mt_params, torch_params, what):
    for k, (p, t) in enumerate(zip(mt_params, torch_params)):
        np.testing.assert_allclose(to_numpy(p.data), t.detach().numpy(), rtol=0, atol=1e-10,
                                   err_msg=f"{what}: parameter {k} differs from torch.optim")


@needs_torch
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_torch(backend, name, kw):
    ps, loss = _mt_model(backend.device)
    tps, tloss = _torch_model()
    opt, ref = getattr(optim, name)(ps, **kw), getattr(torch.optim, name)(tps, **kw)
    for step in range(20):
        _run(opt, loss, 1)
        _run(ref, tloss, 1)
        _assert_same(ps, tps, f"{name}{kw} after step {step + 1}")
    assert not np.allclose(ps[0].data, W0)  # it really moved
    # Same state names as PyTorch, so a reader can map one to the other.
    ours = opt.state_dict()["state"].get(0, {})
    theirs = {k for k, v in ref.state_dict()["state"].get(0, {}).items() if v is not None}
    assert set(ours) == theirs


@needs_torch
@pytest.mark.parametrize("name,kw", CASES[1:3] + CASES[6:8] + CASES[13:14] + CASES[16:17],
                         ids=IDS[1:3] + IDS[6:8] + IDS[13:14] + IDS[16:17])
def test_state_dict_round_trip_continues_identically(backend, name, kw):
    ps, loss = _mt_model(backend.device)
    tps, tloss = _torch_model()
    opt, ref = getattr(optim, name)(ps, **kw), getattr(torch.optim, name)(tps, **kw)
    _run(opt, loss, 10)
    _run(ref, tloss, 10)
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"] and sd["param_groups"][0]["params"] == [0, 1]
    # A fresh optimizer on fresh parameters (a resumed run) loads the snapshot.
    ps2, loss2 = _mt_model(backend.device, [to_numpy(p.data) for p in ps])
    opt2 = getattr(optim, name)(ps2, lr=123.0)
    opt2.load_state_dict(copy.deepcopy(sd))
    assert opt2.param_groups[0]["lr"] == kw.get("lr", opt.defaults["lr"])
    for _ in range(10):
        _run(opt, loss, 1)
        _run(opt2, loss2, 1)
        _run(ref, tloss, 1)
    _assert_same(ps, tps, "original after 20 steps")
    _assert_same(ps2, tps, "reloaded after 20 steps")
    # Loading copies: stepping one optimizer doesn't touch the other's state.
    key = next(k for k, v in opt.state[ps[0]].items() if k != "step")
    assert opt.state[ps[0]][key].data is not opt2.state[ps2[0]][key].data


@needs_torch
def test_param_groups_with_own_hyperparameters():
    ps, loss = _mt_model()
    tps, tloss = _torch_model()
    opt = optim.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.01, "momentum": 0.5}],
                    lr=0.1, momentum=0.9)
    ref = torch.optim.SGD([{"params": [tps[0]]}, {"params": [tps[1]], "lr": 0.01,
                                                   "momentum": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[1]["nesterov"] is False and opt.param_groups[0]["lr"] == 0.1
    _run(opt, loss, 20)
    _run(ref, tloss, 20)
    _assert_same(ps, tps, "two groups")
    assert opt.state_dict()["param_groups"][1]["params"] == [1]


def test_add_param_group_and_zero_grad():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999) and opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    a.grad, b.grad = mt.Tensor(np.ones(2)), mt.Tensor(np.ones(3))
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and not a.grad.data.any()
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    opt.step()  # no grads: nothing moves, no state
    assert (a.data == 1).all() and len(opt.state) == 0


def test_step_with_closure_returns_loss():
    ps, loss = _mt_model()
    opt = optim.SGD(ps, lr=0.1)

    def closure():
        opt.zero_grad()
        out = loss()
        out.backward()
        return out

    first = opt.step(closure).item()
    assert opt.step(closure).item() < first


def test_load_state_dict_validation():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group: group 0 "
                                         "has 2 params in the state dict, 1 in the optimizer"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), "SGD: invalid learning rate: -0.1"),
    (lambda p: optim.SGD(p, momentum=-1), "SGD: invalid momentum value: -1"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum > 0"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), r"invalid beta parameter at index 1: 1.0"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Adam: invalid epsilon value"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "AdamW: invalid weight_decay value: -0.1"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "RMSprop: invalid alpha value"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Adagrad: invalid lr_decay value"),
    (lambda p: optim.Adadelta(p, rho=1.5), r"Adadelta: invalid rho value: 1.5"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD([p[0], p[0]], lr=0.1), "the same parameter twice"),
])
def test_hyperparameter_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(np.ones(2))])


def test_bad_params_argument():
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got a Tensor"):
        optim.SGD(nn.Parameter(np.ones(2)), lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([nn.Parameter(np.ones(2)) * 2], lr=0.1)


def test_float32_training_reduces_loss(backend):
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3)).to(backend.device)
    opt = optim.AdamW(model.parameters(), lr=0.05)
    x, y = backend.tensor(X.astype(np.float32)), backend.tensor(Y.astype(np.float32))
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert all(s["exp_avg"].dtype == np.float32 for s in opt.state.values())
    assert losses[-1] < 0.3 * losses[0]


def test_checkpoint_through_mt_save_resumes_identically(backend, tmp_path):
    """model + optimizer state through mt.save/mt.load (safetensors) continue the same run."""
    ps, loss = _mt_model(backend.device)
    opt = optim.Adam(ps, lr=0.05, amsgrad=True)
    _run(opt, loss, 5)
    path = tmp_path / "ckpt.mt"
    mt.save({"params": [p.detach() for p in ps], "opt": opt.state_dict()}, path)
    ckpt = mt.load(path)
    ps2, loss2 = _mt_model(backend.device, [to_numpy(t.data) for t in ckpt["params"]])
    opt2 = optim.Adam(ps2)
    opt2.load_state_dict(ckpt["opt"])
    _run(opt, loss, 5)
    _run(opt2, loss2, 5)
    for p, q in zip(ps, ps2):
        np.testing.assert_array_equal(to_numpy(p.data), to_numpy(q.data))
