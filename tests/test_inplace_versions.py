"""Version counters (issue 9, D1): every in-place write to a tensor's memory bumps a counter
shared with its views; backward refuses to use an array that was overwritten after an op saved
it, with PyTorch's message, instead of silently computing a wrong gradient.

Each case runs the same code on minitorch and on PyTorch (``lib`` is the module)."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.optim as optim
from opcheck import needs_torch, torch

MODIFIED = r"one of the variables needed for gradient computation has been modified by an " \
           r"inplace operation"


def leaf(lib, values=(0.3, -1.2, 2.0)):
    return lib.tensor(np.array(values, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------------------- the counter
def _bumps(lib):
    """In-place writes of every kind, recording _version after each (no graph involved)."""
    x = lib.zeros(4, dtype=lib.float64)
    v = x[1:3]  # a view shares the counter
    seen = [x._version]
    for write in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.sub_(1), lambda: x.div_(2),
                  lambda: x.zero_(), lambda: x.fill_(3.0), lambda: x.__setitem__(0, 5.0),
                  lambda: x.copy_(lib.ones(4, dtype=lib.float64)), lambda: v.add_(1),
                  lambda: x.t().mul_(2), lambda: x.detach().add_(1), lambda: x.view(2, 2).add_(1)):
        write()
        seen.append((x._version, v._version))
    return seen, x.tolist()


@needs_torch
def test_version_counter_matches_torch():
    mine, values = _bumps(mt)
    theirs, tvalues = _bumps(torch)
    assert mine == theirs
    assert values == tvalues


def test_out_of_place_ops_and_no_grad_reads_do_not_bump():
    x = mt.ones(3)
    _ = x + 1, x.exp(), x[0], x.view(3), x.detach()
    assert x._version == 0
    y = mt.ones(3)
    y += 1
    y[0] = 2.0
    assert y._version == 2 and y.tolist() == [2.0, 2.0, 2.0]


# --------------------------------------------------------------------------- backward refuses
CASES = {
    # op that saved the array (named in the error), code
    "output saved by exp, add_": ("Exp", lambda lib, a: _exp_then(lib, a, lambda y: y.add_(1))),
    "output saved by exp, +=": ("Exp", lambda lib, a: _exp_then(lib, a, lambda y: y.__iadd__(1))),
    "output saved by exp, setitem": ("Exp", lambda lib, a: _exp_then(
        lib, a, lambda y: y.__setitem__(0, 5.0))),
    "output saved by exp, detach().copy_": ("Exp", lambda lib, a: _exp_then(
        lib, a, lambda y: y.detach().copy_(lib.zeros(3, dtype=lib.float64)))),
    "output saved by exp, write through a view": ("Exp", lambda lib, a: _exp_then(
        lib, a, lambda y: y[1:].mul_(2))),
    "output saved by exp, zero_ under no_grad": ("Exp", lambda lib, a: _exp_then(
        lib, a, lambda y: _no_grad(lib, y.zero_))),
    "input saved by mul, mul_": ("Mul", lambda lib, a: _mul_then(lib, a, lambda b: b.mul_(3))),
    "input saved by mul, setitem on a view": ("Mul", lambda lib, a: _mul_then(
        lib, a, lambda b: b.view(3, 1).__setitem__((0, 0), 1.0))),
}


def _exp_then(lib, a, write):
    y = a.exp()
    write(y)
    return y * 2


def _mul_then(lib, a, write):
    b = a * 1
    c = b * b
    write(b)
    return c


def _no_grad(lib, fn):
    with lib.no_grad():
        fn()


@needs_torch
@pytest.mark.parametrize("name", CASES)
def test_backward_after_overwriting_a_saved_array_raises_like_torch(name):
    op, code = CASES[name]
    with pytest.raises(RuntimeError, match=MODIFIED):
        code(torch, leaf(torch)).sum().backward()  # the reference agrees this is an error
    out = code(mt, leaf(mt))
    with pytest.raises(RuntimeError, match=MODIFIED) as err:
        out.sum().backward()
    msg = str(err.value)
    assert msg.startswith(op) and "[float64 [3]]" in msg or "[float64 [3, 1]]" in msg, msg
    assert "expected version 0 instead" in msg


def test_message_names_shape_dtype_and_versions():
    a = mt.randn(2, 3, requires_grad=True)
    y = a.exp()
    y.add_(1)
    y.add_(1)
    with pytest.raises(RuntimeError) as err:
        y.sum().backward()
    assert str(err.value).startswith(
        f"Exp: {MODIFIED.replace(chr(92), '')}: [float32 [2, 3]] is at version 2; "
        "expected version 0 instead")


@needs_torch
def test_optimizer_step_between_two_backward_passes_raises_like_torch():
    def run(lib, opt_cls):
        w = lib.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
        opt = opt_cls([w], lr=0.1)
        loss = (w * w).sum()  # Mul saved w
        loss.backward(retain_graph=True)
        opt.step()  # updates w in place: the saved w is now stale
        loss.backward()

    with pytest.raises(RuntimeError, match=MODIFIED):
        run(torch, torch.optim.SGD)
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad,
                optim.Adadelta):
        with pytest.raises(RuntimeError, match=MODIFIED + r": \[float64 \[3\]\] is at version 1"):
            run(mt, cls)


def test_optimizer_step_between_forward_and_backward_of_a_linear_layer():
    import minitorch.nn as nn
    layer = nn.Linear(3, 2)
    opt = optim.SGD(layer.parameters(), lr=0.1)
    x = mt.randn(4, 3, requires_grad=True)  # x needs a grad, so the op saved the weight
    loss = layer(x).sum()
    (layer.weight * 0).sum().backward()
    opt.step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


# --------------------------------------------------------------------------- no false alarms
@needs_torch
@pytest.mark.parametrize("case", ["add_ after mul", "relu_ style", "mul_ by a tensor",
                                  "setitem of a graph value", "copy_ from a graph value",
                                  "in place on an unsaved input"])
def test_allowed_inplace_ops_give_torch_gradients(case):
    def run(lib):
        a = leaf(lib)
        w = leaf(lib, (1.5, 0.25, -0.5))
        if case == "add_ after mul":
            y = a * 2
            y.add_(w)  # Mul saved a, not y
            out = y * y
        elif case == "relu_ style":
            y = a * w
            y.mul_((y > 0).to(lib.float64))  # a hand-made relu_
            out = y * 3
        elif case == "mul_ by a tensor":
            y = a + 0
            y.mul_(w)
            out = y * a
        elif case == "setitem of a graph value":
            y = a * 1
            y[1] = w[0] * 3
            out = y * y
        elif case == "copy_ from a graph value":
            y = lib.zeros(3, dtype=lib.float64)
            y.copy_(w * a)
            out = y * w
        else:
            y = a * 1
            z = y + 1  # Add saved nothing
            y.mul_(2)
            out = z * 2
        up = lib.tensor(np.array([1.0, -2.0, 0.5]))
        out.backward(up)
        return out.detach().numpy(), a.grad.numpy(), w.grad.numpy() if w.grad is not None else None

    mine, theirs = run(mt), run(torch)
    for m, t in zip(mine, theirs):
        if t is None:
            assert m is None
        else:
            np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-15)


def test_leaf_requiring_grad_refuses_inplace_like_torch():
    x = mt.randn(3, requires_grad=True)
    for op in (lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.__iadd__(1),
               lambda t: t.__setitem__(0, 1.0), lambda t: t.zero_(), lambda t: t.copy_(t * 2)):
        with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad is being "
                                               r"used in an in-place operation"):
            op(x)
    assert x._version == 0
    with mt.no_grad():
        x.add_(1)  # the optimizer's way
    assert x._version == 1 and x.is_leaf
