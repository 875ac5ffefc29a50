"""minitorch.gradcheck: passes correct ops, catches wrong backwards (naming the worst element),
refuses float32, handles several inputs and outputs."""
import numpy as np
import pytest

import minitorch as mt
from minitorch.autograd import Function
from minitorch.gradcheck import GradcheckError
from minitorch.ops.activation import softmax


def f64(shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return mt.tensor(data, requires_grad=requires_grad)


class SquareOffByOneAt12(Function):
    """x^2 whose backward is right everywhere except element (1, 2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        grad = 2 * x * g
        grad[1, 2] += 1.0
        return grad


class SoftmaxZeroGrad(Function):
    """softmax with a backward of zeros: right for an all-ones upstream gradient (the rows of
    softmax sum to 1), wrong for any other, which is why gradcheck draws a random one."""

    @staticmethod
    def forward(ctx, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g)


class MulWrongSecond(Function):
    """a * b with the gradient of b taken as a (transposed roles: only right when a == b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return g * b, g * b


def test_passes_correct_ops():
    x, y = f64((3, 4)), f64((4,), seed=1)
    assert mt.gradcheck(lambda a, b: (a * b).exp() / (1 + a * a), [x, y])
    assert mt.gradcheck(lambda a: softmax(a, -1), [x])
    assert mt.gradcheck(lambda a: a @ a.T, x)  # a single Tensor instead of a list


def test_non_tensor_and_constant_inputs_pass_through():
    x, c = f64((2, 3)), f64((2, 3), seed=1, requires_grad=False)
    assert mt.gradcheck(lambda a, k, b: a * k + b, [x, 2.5, c])
    assert c.grad is None


def test_wrong_backward_names_the_worst_element():
    x = f64((3, 4))
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3, 4\)\).*worst element "
                       r"\(1, 2\): analytic .*numeric "):
        mt.gradcheck(SquareOffByOneAt12.apply, [x])
    assert mt.gradcheck(SquareOffByOneAt12.apply, [x], raise_exception=False) is False


def test_random_upstream_catches_what_a_sum_would_hide():
    x = f64((2, 5))
    out = SoftmaxZeroGrad.apply(x)
    out.backward(mt.ones(2, 5, dtype=mt.float64))  # a plain-sum check would see 0 == 0
    np.testing.assert_allclose(x.grad.numpy(), 0)
    with pytest.raises(GradcheckError, match="input 0"):
        mt.gradcheck(SoftmaxZeroGrad.apply, [x])


def test_names_the_wrong_input():
    a, b = f64((2, 3)), f64((2, 3), seed=1)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\)"):
        mt.gradcheck(MulWrongSecond.apply, [a, b])


def test_refuses_float32_and_nothing_to_check():
    x32 = mt.randn(3, requires_grad=True)
    with pytest.raises(GradcheckError, match="input 0 has dtype float32; use float64"):
        mt.gradcheck(lambda a: a * 2, [x32])
    with pytest.raises(GradcheckError, match="no input requires grad"):
        mt.gradcheck(lambda a: a * 2, [f64((3,), requires_grad=False)])


def test_multi_output_functions():
    x = f64((2, 3))
    assert mt.gradcheck(lambda a: (a * 2, a.exp(), a > 0), [x])  # the bool output is skipped
    with pytest.raises(GradcheckError, match=r"worst element \(1, 2\)"):
        mt.gradcheck(lambda a: (a.exp(), SquareOffByOneAt12.apply(a)), [x])


def test_inputs_are_restored():
    x = f64((2, 2))
    before = x.detach().numpy().copy()
    mt.gradcheck(lambda a: a * a, [x])
    np.testing.assert_array_equal(x.detach().numpy(), before)
