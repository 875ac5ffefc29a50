"""The activations added for issue 13 (ops/activation.py) and their nn modules, against PyTorch:
forward and input (and weight) gradients on random shapes, with values on the kinks; float64
gradchecks; module reprs, parameters and errors. One line per op case."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from opcheck import check_op, gradcheck_op, needs_torch, torch

TF = torch.nn.functional if torch else None
KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 25.0, -25.0])

ACTIVATIONS = [  # (case id, minitorch call, PyTorch call (same args), inputs avoid kinks?)
    ("gelu", lambda f, x: f.gelu(x)),
    ("gelu_tanh", lambda f, x: f.gelu(x, approximate="tanh")),
    ("silu", lambda f, x: f.silu(x)),
    ("mish", lambda f, x: f.mish(x)),
    ("hardsigmoid", lambda f, x: f.hardsigmoid(x)),
    ("hardswish", lambda f, x: f.hardswish(x)),
    ("hardtanh", lambda f, x: f.hardtanh(x)),
    ("hardtanh_range", lambda f, x: f.hardtanh(x, -0.5, 2.0)),
    ("relu6", lambda f, x: f.relu6(x)),
    ("softsign", lambda f, x: f.softsign(x)),
    ("selu", lambda f, x: f.selu(x)),
    ("celu", lambda f, x: f.celu(x)),
    ("celu_alpha", lambda f, x: f.celu(x, alpha=0.5)),
    ("elu", lambda f, x: f.elu(x, alpha=1.5)),
    ("leaky_relu", lambda f, x: f.leaky_relu(x, 0.2)),
    ("softplus", lambda f, x: f.softplus(x, beta=2.0)),
    ("logsigmoid", lambda f, x: f.logsigmoid(x)),
    ("glu", lambda f, x: f.glu(x, dim=-1)),
    ("threshold", lambda f, x: f.threshold(x, 0.3, -2.0)),
    ("hardshrink", lambda f, x: f.hardshrink(x, 0.4)),
    ("softshrink", lambda f, x: f.softshrink(x, 0.4)),
    ("tanhshrink", lambda f, x: f.tanhshrink(x)),
]
IDS = [a[0] for a in ACTIVATIONS]


def draw(shape, seed=0, noncontiguous=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(shape) + ((2,) if noncontiguous else ())) * 3
    return np.asarray(x[..., 0] if noncontiguous else x)


@needs_torch
@pytest.mark.parametrize("name, call", ACTIVATIONS, ids=IDS)
@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=3).map(lambda s: tuple(s) + (2,)),
       nc=st.booleans())
def test_activation_matches_torch(name, call, shape, nc):
    check_op(lambda x: call(F, x), lambda x: call(TF, x), draw(shape, 1, nc))


@needs_torch
@pytest.mark.parametrize("name, call", ACTIVATIONS, ids=IDS)
def test_activation_at_kinks_and_extremes_matches_torch(name, call):
    """Values on every kink (0, +-3, +-1, 6, the thresholds) and far out: PyTorch's choice of
    one-sided derivative at each, and no overflow at +-25."""
    x = KINKS if name != "glu" else np.concatenate([KINKS, KINKS[::-1] * 0.5])[:22]
    if name == "hardswish":  # its sides at +-3 changed in PyTorch 2.14: tested directly below
        x = x[np.abs(x) != 3]
    check_op(lambda t: call(F, t), lambda t: call(TF, t), x)


def test_hardswish_gradient_at_its_kinks():
    """0 at -3 and 1 at 3 (the outer sides; PyTorch >= 2.14, older releases took -1/2 and 3/2),
    x / 3 + 1/2 strictly between."""
    x = mt.tensor([-3.5, -3.0, -1.5, 0.0, 1.5, 3.0, 3.5], dtype=mt.float64, requires_grad=True)
    F.hardswish(x).backward(mt.ones(7, dtype=mt.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("name, call", ACTIVATIONS, ids=IDS)
def test_activation_gradcheck(name, call):
    x = draw((3, 4), 2)
    for kink in (-6.0, -3.0, -1.0, -0.5, 0.0, 0.3, 0.4, 0.5, -0.4, 1.0, 2.0, 3.0, 6.0):
        x[np.abs(x - kink) < 1e-3] = kink + 0.05  # finite differences across a kink are wrong
    gradcheck_op(lambda t: call(F, t), x)


@pytest.mark.parametrize("name, call", ACTIVATIONS, ids=IDS)
def test_activation_float32_stays_float32(name, call):
    out = call(F, mt.randn(3, 4))
    assert out.dtype == np.float32 and out.shape == ((3, 2) if name == "glu" else (3, 4))


# --------------------------------------------------------------------------- prelu
@needs_torch
@pytest.mark.parametrize("shape, n", [((4, 3), 3), ((2, 3, 5, 5), 3), ((2, 3, 5), 1), ((5,), 1),
                                      ((), 1), ((2, 4, 0), 4)])
def test_prelu_matches_torch_input_and_weight_grads(shape, n):
    w = np.random.default_rng(3).uniform(0.05, 0.5, n)
    x = draw(shape, 4)
    if x.size:
        x.reshape(-1)[0] = 0.0  # the kink: d/dx = w there (PyTorch)
    check_op(F.prelu, TF.prelu, x, w)


def test_prelu_gradcheck():
    gradcheck_op(F.prelu, (2, 3, 4), np.array([0.1, 0.2, 0.3]))


def test_prelu_bad_weight():
    with pytest.raises(ValueError, match=r"prelu: weight must be a 1-d tensor of 1 or 3 elements"):
        F.prelu(mt.randn(2, 3, 4), mt.ones(2))


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, message", [
    (lambda: F.gelu(mt.randn(3), approximate="fast"), ValueError,
     "gelu: approximate must be 'none' or 'tanh', got 'fast'"),
    (lambda: F.glu(mt.randn(2, 3)), ValueError, "glu: halving dimension must be even"),
    (lambda: F.glu(mt.randn(())), ValueError, "glu: does not support 0-d"),
    (lambda: F.hardtanh(mt.randn(3), 1.0, -1.0), ValueError, r"hardtanh: min_val \(1.0\) must be"),
    (lambda: F.celu(mt.randn(3), alpha=0.0), ValueError, "celu: alpha must be nonzero"),
    (lambda: F.softshrink(mt.randn(3), -1.0), ValueError, "softshrink: lambd must be >= 0"),
    (lambda: F.silu(mt.tensor([1, 2])), TypeError, "silu: expected a floating-point tensor"),
    (lambda: F.mish(np.ones(3)), TypeError, r"mish\(\): argument 'input' must be a Tensor"),
])
def test_activation_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- modules
MODULES = [  # (minitorch module, PyTorch module, repr)
    (lambda n: n.GELU(), "GELU(approximate='none')"),
    (lambda n: n.GELU(approximate="tanh"), "GELU(approximate='tanh')"),
    (lambda n: n.SiLU(), "SiLU()"), (lambda n: n.Mish(), "Mish()"),
    (lambda n: n.Hardsigmoid(), "Hardsigmoid()"), (lambda n: n.Hardswish(), "Hardswish()"),
    (lambda n: n.Hardtanh(-2.0, 2.0), None), (lambda n: n.ReLU6(), "ReLU6()"),
    (lambda n: n.Softsign(), "Softsign()"), (lambda n: n.SELU(), "SELU()"),
    (lambda n: n.CELU(0.7), None), (lambda n: n.GLU(1), None), (lambda n: n.LogSigmoid(), None),
    (lambda n: n.Threshold(0.1, 20.0), None), (lambda n: n.Hardshrink(0.3), None),
    (lambda n: n.Softshrink(0.3), None), (lambda n: n.Tanhshrink(), None),
]


@needs_torch
@pytest.mark.parametrize("make, text", MODULES)
def test_modules_match_torch(make, text):
    m, tm = make(nn), make(torch.nn)
    check_op(m, tm, draw((2, 4, 3), 5))
    if text is not None:
        assert repr(m) == repr(tm) == text


@needs_torch
def test_prelu_module_parameters_match_torch():
    m, tm = nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    x = draw((2, 3, 4), 6)
    out, ref = m(mt.tensor(x)), tm(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    up = np.random.default_rng(7).standard_normal(x.shape).astype(np.float32)
    out.backward(up)
    ref.backward(torch.tensor(up))
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)
    assert repr(m) == repr(tm) == "PReLU(num_parameters=3)"


@pytest.mark.parametrize("name", ["silu", "mish", "relu6", "hardtanh", "hardswish", "selu",
                                  "celu", "hardsigmoid"])
def test_inplace_flag_rebinds_the_input(name):
    x = mt.randn(3, 4)
    expected = getattr(F, name)(x).numpy()
    out = getattr(F, name)(x, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), expected)


@pytest.mark.parametrize("name, args", [("threshold", (0.1, -1.0)), ("hardtanh", (-0.3, 0.3)),
                                        ("celu", (0.5,))])
def test_inplace_with_options_and_views(name, args):
    x = mt.randn(3, 4)
    row = x[1]
    expected = getattr(F, name)(x, *args).numpy()
    assert getattr(F, name)(x, *args, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), expected)
    np.testing.assert_array_equal(row.numpy(), expected[1])  # written into x's memory


@needs_torch
@pytest.mark.parametrize("name", ["silu", "mish", "hardswish", "selu"])
def test_inplace_inside_a_graph_backprops_like_torch(name):
    check_op(lambda x: getattr(F, name)(x * 2.0, inplace=True),
             lambda x: getattr(TF, name)(x * 2.0, inplace=True), draw((3, 4), 8))


def test_inplace_on_a_leaf_that_requires_grad_raises():
    with pytest.raises(RuntimeError, match="silu_"):
        F.silu(mt.randn(3, requires_grad=True), inplace=True)


@needs_torch
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("name, call", [a for a in ACTIVATIONS if a[0] in (
    "gelu", "gelu_tanh", "silu", "mish", "hardswish", "selu", "logsigmoid")])
def test_activation_on_device(name, call, device):
    check_op(lambda x: call(F, x), lambda x: call(TF, x), draw((3, 4), 9), device=device)
