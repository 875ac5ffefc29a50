"""The autograd engine (minitorch/autograd.py, Tensor.backward): graph walk, accumulation,
freeing, grad modes, leaves, detach, in-place rules, devices and anomaly detection."""
import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import minitorch as mt
from minitorch.autograd import AnomalyError
from opcheck import needs_torch, torch


def f64(*values, requires_grad=True):
    return mt.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------- graph walk
def test_10000_op_chain_backpropagates_without_recursion():
    limit = sys.getrecursionlimit()
    x = f64(0.5)
    y = x
    for _ in range(5000):  # 10,000 ops: y <- (y * 1.0001) + 0.0001
        y = y * 1.0001 + 0.0001
    y.backward(mt.ones(1, dtype=mt.float64))
    # y_n = 1.0001^n (x + 1) - 1, so dy/dx = 1.0001^n
    np.testing.assert_allclose(y.detach().numpy(), [1.0001 ** 5000 * 1.5 - 1], rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 5000], rtol=1e-10)
    assert sys.getrecursionlimit() == limit  # no cheating by raising the limit


def test_tensor_used_twice_accumulates():
    a = f64(1.5, -2.0)
    b = a + a
    c = b * b  # c = 4 a^2, dc/da = 8 a
    c.backward(mt.ones(2, dtype=mt.float64))
    np.testing.assert_allclose(a.grad.numpy(), 8 * a.detach().numpy())


def test_diamond_graph():
    a = f64(0.3, -1.2, 2.0)
    b, c = a * 2, a.exp()
    d = b * c  # d = 2 a e^a, d' = 2 e^a (1 + a)
    up = np.array([1.0, -2.0, 0.5])
    d.backward(up)
    av = a.detach().numpy()
    np.testing.assert_allclose(a.grad.numpy(), up * 2 * np.exp(av) * (1 + av), rtol=1e-12)


@needs_torch
def test_nested_diamonds_match_torch():
    def f(lib, a):
        u = a * 3
        v = u + u.exp()
        w = v * u - a / (v * v + 1)
        return w * w + u

    data = np.array([0.1, -0.4, 0.25])
    a = mt.tensor(data, requires_grad=True)
    ta = torch.tensor(data, requires_grad=True)
    up = np.array([0.3, 1.0, -0.7])
    f(mt, a).backward(up)
    f(torch, ta).backward(torch.tensor(up))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)


def test_grads_accumulate_over_two_backward_calls():
    a = f64(1.0, 2.0)
    (a * 3).backward(mt.ones(2, dtype=mt.float64))
    (a * a).backward(mt.ones(2, dtype=mt.float64))
    np.testing.assert_allclose(a.grad.numpy(), [3 + 2.0, 3 + 4.0])


def test_backward_twice_needs_retain_graph():
    a = f64(2.0)
    y = a.exp() * a
    y.backward(mt.ones(1, dtype=mt.float64), retain_graph=True)
    y.backward(mt.ones(1, dtype=mt.float64))  # the graph was retained: works, accumulates
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.exp(2.0) * 3)
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*"
                       "retain_graph=True"):
        y.backward(mt.ones(1, dtype=mt.float64))


def test_backward_argument_errors():
    x = mt.randn(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs, got shape \(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient shape \(3,\) does not match tensor "
                       r"shape \(2, 3\)"):
        y.backward(mt.ones(3))
    with pytest.raises(RuntimeError, match=r"does not require grad.*shape \(2,\)"):
        mt.ones(2).backward(mt.ones(2))
    z = (x * 2).sum()  # a 1-element output needs no gradient argument
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))


def test_saved_arrays_are_freed_after_backward():
    x = f64(0.5, 1.0)
    z = x.exp() * 3  # exp saves its output; nothing else holds that array
    exp_node = z.grad_fn.next[0]
    saved = weakref.ref(exp_node.ctx.saved[0])
    z.backward(mt.ones(2, dtype=mt.float64), retain_graph=True)
    gc.collect()
    assert exp_node.ctx is not None and saved() is not None  # retained on request
    z.backward(mt.ones(2, dtype=mt.float64))
    gc.collect()
    assert z.grad_fn.ctx is None and exp_node.ctx is None
    assert saved() is None  # the array itself is gone, not just the reference


# --------------------------------------------------------------------------- grad modes
def test_no_grad_context_and_decorator():
    x = mt.randn(3, requires_grad=True)
    with mt.no_grad():
        y = x * 2
        assert not mt.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert mt.is_grad_enabled()

    @mt.no_grad()
    def f(t):
        return t * 2, mt.is_grad_enabled()

    out, enabled = f(x)
    assert not enabled and not out.requires_grad and mt.is_grad_enabled()


def test_grad_modes_nest_and_restore():
    x = mt.randn(2, requires_grad=True)
    with mt.no_grad():
        with mt.enable_grad():
            assert (x * 2).requires_grad
            with mt.set_grad_enabled(False):
                assert not (x * 2).requires_grad
            assert mt.is_grad_enabled()
        assert not mt.is_grad_enabled()
        with mt.set_grad_enabled(True):
            assert (x + 1).grad_fn is not None
    assert mt.is_grad_enabled()

    @mt.enable_grad()
    def g(t):
        return t * 3

    with mt.no_grad():
        assert g(x).requires_grad
    with pytest.raises(ValueError):  # the mode is restored even when the body raises
        with mt.no_grad():
            raise ValueError
    assert mt.is_grad_enabled()


def test_grad_mode_is_per_thread():
    """Grad mode lives in a contextvar: one thread's no_grad is invisible to another."""
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def worker():
        seen["at_start"] = mt.is_grad_enabled()  # main is inside no_grad right now
        with mt.no_grad():
            entered.set()
            release.wait(5)
            seen["inside"] = mt.is_grad_enabled()

    x = mt.randn(2, requires_grad=True)
    with mt.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        assert entered.wait(5)
    main_records = (x * 2).requires_grad  # main left no_grad; the worker is still inside
    release.set()
    th.join(5)
    assert seen == {"at_start": True, "inside": False}
    assert main_records


# --------------------------------------------------------------------------- leaves, detach
def test_leaf_and_non_leaf_grads():
    x = mt.randn(3, requires_grad=True)
    c = mt.randn(3)
    h = x * 2
    kept = x * 3
    kept.retain_grad()
    assert x.is_leaf and c.is_leaf and not h.is_leaf and h.requires_grad
    (h * kept).backward(mt.ones(3))
    assert h.grad is None  # non-leaf: not kept unless asked
    np.testing.assert_allclose(kept.grad.numpy(), h.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 12 * x.detach().numpy(), rtol=1e-6)
    assert c.grad is None


def test_detach_shares_memory_and_cuts_the_graph():
    x = mt.randn(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.grad_fn is None and d.is_leaf
    z = d * x  # only x is differentiated through
    z.backward(mt.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), d.numpy(), rtol=1e-6)
    with mt.no_grad():
        d += 1  # shared memory: y sees the change
    np.testing.assert_allclose(y.detach().numpy(), d.numpy())


def test_requires_grad_needs_float():
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients"):
        mt.Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="requires_grad_: only floating point.*int64"):
        mt.arange(3).requires_grad_()
    with pytest.raises(RuntimeError, match="can only change requires_grad of leaf"):
        (mt.randn(2, requires_grad=True) * 2).requires_grad_(False)


def test_retain_grad_creates_no_reference_cycle():
    # Issue 9 D8: the node held the tensor that holds the node; with the cycle collector off
    # (or just slow), every retained activation stayed alive.
    gc.collect()
    gc.disable()
    try:
        x = mt.randn(1000, requires_grad=True)
        y = x * 2
        y.retain_grad()
        (y * 3).sum().backward()
        assert y.grad is not None and np.allclose(y.grad.numpy(), 3)
        alive, node = weakref.ref(y), weakref.ref(y.grad_fn)
        del y
        assert alive() is None and node() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_assigned_grad_must_match_shape_dtype_and_device():
    # Issue 9 D12/D15: a wrong-shaped .grad was accepted and broadcast by step().
    p = mt.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"assigned grad has data of a different size: a "
                                           r"gradient of size \[4\] for a tensor of size \[3\]"):
        p.grad = mt.ones(4)
    with pytest.raises(RuntimeError, match=r"assigned grad has data of a different size"):
        p.grad = mt.ones(1)  # would broadcast
    with pytest.raises(RuntimeError, match=r"assigned grad has data of a different type: a "
                                           r"gradient of dtype float64 for a tensor of dtype "
                                           r"float32"):
        p.grad = mt.ones(3, dtype=mt.float64)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got "
                                        "grad of type ndarray"):
        p.grad = np.ones(3)
    p.grad = mt.ones(3)
    p.grad = None
    fake = _FakeCuda._make(np.ones(3, dtype=np.float32), False, None)
    with pytest.raises(RuntimeError, match="assigned grad has data of a different device: a "
                                           "gradient of device cuda for a tensor of device cpu"):
        p.grad = fake


def test_step_refuses_a_grad_whose_array_was_rebound_to_another_shape():
    p = mt.zeros(3, requires_grad=True)
    opt = mt.optim.SGD([p], lr=0.1)
    p.grad = mt.ones(3)
    p.grad.data = np.ones(1, dtype=np.float32)  # raw array access: not checked at assignment
    with pytest.raises(RuntimeError, match=r"SGD.step: a parameter of shape \(3,\) and dtype "
                                           r"float32 has a grad of shape \(1,\)"):
        opt.step()
    assert p.tolist() == [0.0, 0.0, 0.0]


def test_no_numpy_floating_point_warnings_from_ops():
    # Issue 9 D21: log(0), 0/0, sqrt(-1), overflow give -inf/nan/inf silently, as in PyTorch,
    # forward and backward; NumPy's RuntimeWarnings must not leak to the user.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = mt.zeros(3, requires_grad=True)
        neg = mt.tensor([-1.0, 0.0, 4.0], requires_grad=True)
        outs = [mt.log(z), z / z, mt.sqrt(neg), mt.exp(mt.tensor([1000.0])) * 0 + 1,
                z ** -1.0, mt.tensor([1.0, 0.0]) / 0, mt.log(neg)]
        assert np.isneginf(outs[0].detach().numpy()).all()
        assert np.isnan(outs[1].detach().numpy()).all()
        assert np.isnan(outs[2].detach().numpy()[0])
        outs[0].sum().backward()  # d log(x) = 1/x at 0: inf, silently
        assert np.isposinf(z.grad.numpy()).all()
        outs[4].sum().backward()  # d x^-1 = -x^-2 at 0: -inf; inf + -inf = nan
        assert np.isnan(z.grad.numpy()).all()
        for out in (outs[2], outs[6]):
            out.sum().backward()  # sqrt and log of -1 and 0
        assert np.isnan(neg.grad.numpy()[0]) and np.isposinf(neg.grad.numpy()[1])
        empty = mt.zeros(0, requires_grad=True)
        for out in (empty.mean(), mt.nn.functional.mse_loss(empty, empty)):  # NaN, as PyTorch
            assert np.isnan(out.item())
            out.backward()


# --------------------------------------------------------------------------- in-place
def test_inplace_on_leaf_requiring_grad_raises():
    x = mt.randn(3, requires_grad=True)
    for op in (lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.__iadd__(1)):
        with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad is being "
                                               r"used in an in-place operation \(shape \(3,\)\)"):
            op(x)


def test_inplace_on_non_leaf_gives_correct_grads():
    a = f64(0.2, -0.5, 1.0)
    y = a * 2  # Mul saved a, not its output: y may be written in place
    y *= a  # the Mul here saves y's old value (a copy), which the write must not corrupt
    y += a
    loss = y * a  # (2 a^2 + a) a, derivative 6 a^2 + 2 a
    loss.backward(mt.ones(3, dtype=mt.float64))
    av = a.detach().numpy()
    np.testing.assert_allclose(a.grad.numpy(), 6 * av ** 2 + 2 * av, rtol=1e-12)
    assert not y.is_leaf and y._version == 2


def test_inplace_on_a_saved_output_raises_instead_of_a_wrong_grad():
    a = f64(0.2, -0.5, 1.0)
    y = a.exp()  # Exp saved its output array: the in-place op overwrites it
    y *= 2
    with pytest.raises(RuntimeError, match=r"^Exp: one of the variables needed for gradient "
                                           r"computation has been modified by an inplace"):
        (y * a).backward(mt.ones(3, dtype=mt.float64))


def test_inplace_under_no_grad_mutates_views():
    x = mt.randn(4, requires_grad=True)
    before = x.data
    base = np.zeros(5)
    view = mt.Tensor(base[1:4])  # a Tensor over a view of base
    with mt.no_grad():
        x -= 0.5 * mt.ones(4)  # the optimizer's update: allowed, stays the same leaf array
        view += 1
    assert x.data is before and x.is_leaf and x.requires_grad
    np.testing.assert_array_equal(base, [0, 1, 1, 1, 0])


# --------------------------------------------------------------------------- devices
class _FakeCuda(mt.Tensor):
    """A CPU tensor that reports device "cuda": exercises the device check without a GPU."""
    __slots__ = ()
    device = property(lambda self: "cuda")


def test_mixed_devices_error_names_shapes_and_devices():
    cpu = mt.ones(2, 3)
    fake = _FakeCuda._make(np.ones(3, dtype=np.float32), False, None)
    with pytest.raises(RuntimeError, match=r"Add: all inputs must be on the same device, got "
                       r"\(2, 3\) on cpu, \(3,\) on cuda"):
        cpu + fake


@pytest.mark.cuda
def test_mixed_devices_real():
    x, y = mt.ones(2), mt.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="same device"):
        x * y
    g = mt.randn(3, device="cuda", requires_grad=True)
    (g * g).backward(mt.ones(3, device="cuda"))
    assert g.grad.device == "cuda"


# --------------------------------------------------------------------------- anomaly mode
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NumPy's own note on log(-1)
def test_detect_anomaly_forward_names_op_and_line():
    x = mt.tensor([-1.0, 2.0])
    with mt.detect_anomaly():
        with pytest.raises(AnomalyError) as err:
            mt.log(x)  # log(-1) = NaN
    msg = str(err.value)
    assert msg.startswith("Log: forward") and "NaN/Inf" in msg
    assert "test_autograd.py" in msg and "mt.log(x)  # log(-1) = NaN" in msg
    assert np.isnan(mt.log(x).numpy()[0])  # outside the mode NaN passes silently


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_detect_anomaly_backward_names_op_and_line():
    x = mt.zeros(2, requires_grad=True)
    with mt.detect_anomaly():
        y = mt.sqrt(x)  # sqrt(0) = 0 is fine, its derivative 1/(2 sqrt(0)) is not
        with pytest.raises(AnomalyError) as err:
            y.backward(mt.ones(2))
    msg = str(err.value)
    assert msg.startswith("Sqrt: backward") and "test_autograd.py" in msg
    assert "y = mt.sqrt(x)" in msg
    assert not mt.autograd.is_anomaly_enabled()


# --------------------------------------------------------------------------- bad arguments
def test_load_state_dict_of_none_is_a_clear_type_error():
    # Issue 9 D21: was "argument of type 'NoneType' is not iterable" from deep inside.
    import minitorch.nn as nn
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="load_state_dict: expected state_dict to be dict-like, "
                                        "got NoneType"):
        layer.load_state_dict(None)
    opt = mt.optim.SGD(layer.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"SGD.load_state_dict: expected the dict of "
                                        r"optimizer.state_dict\(\).*got NoneType"):
        opt.load_state_dict(None)
    with pytest.raises(TypeError, match=r"got a dict with keys \['weight'\]"):
        opt.load_state_dict({"weight": 1})


def test_load_state_dict_counts_as_an_inplace_write():
    import minitorch.nn as nn
    layer = nn.Linear(2, 2)
    x = mt.randn(3, 2, requires_grad=True)
    out = layer(x)  # saved the weight to compute x's gradient
    layer.load_state_dict(nn.Linear(2, 2).state_dict())
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_bfloat16_requests_say_why_and_what_to_use():
    # Issue 9 D21: dtype="bfloat16" gave NumPy's bare "data type 'bfloat16' not understood".
    why = r"minitorch has no bfloat16: .*NumPy has no bfloat16 dtype; use float16 or float32"
    with pytest.raises(AttributeError, match=why):
        mt.bfloat16
    with pytest.raises(TypeError, match="Tensor: " + why):
        mt.Tensor([1.0], dtype="bfloat16")
    with pytest.raises(TypeError, match="to: " + why):
        mt.ones(2).to(dtype="bfloat16")
    with pytest.raises(TypeError, match=r"to: unknown dtype 'float7'; expected"):
        mt.ones(2).to(dtype="float7")
