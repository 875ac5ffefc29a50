"""Bitwise ops (ops/bitwise.py) and pow's gradients at its edge values (ops/elementwise.py).

Bitwise results are compared with PyTorch on random integers of every integer dtype; the
wrapping of out-of-range Python ints and shifts by >= the bit width (undefined in C, masked
here) are checked against values worked out from two's complement directly, since older
PyTorch releases differed there.
"""
import numpy as np
import pytest

import minitorch as mt
from opcheck import check_op, needs_torch, torch

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8"]


def ints(shape, dtype, seed=0):
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(info.min, info.max, size=shape, dtype=dtype,
                                                endpoint=True)


def same(out, ref):
    assert str(out.dtype) == str(ref.dtype).replace("torch.", ""), (out.dtype, ref.dtype)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


BINARY = [("and", lambda a, b: a & b), ("or", lambda a, b: a | b), ("xor", lambda a, b: a ^ b)]


# --------------------------------------------------------------------------- & | ^ ~
@needs_torch
@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"])
@pytest.mark.parametrize("name, op", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("sa, sb", [((5,), (5,)), ((3, 1), (1, 4)), ((2, 0), (1,))])
def test_bitwise_tensor_tensor_matches_torch(dtype, name, op, sa, sb):
    if dtype == "bool":
        a, b = ints(sa, np.uint8, 1) % 2 == 1, ints(sb, np.uint8, 2) % 2 == 1
    else:
        a, b = ints(sa, dtype, 1), ints(sb, dtype, 2)
    same(op(mt.tensor(a), mt.tensor(b)), op(torch.tensor(a), torch.tensor(b)))


@needs_torch
@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name, op", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("scalar", [6, -3, True])
def test_bitwise_with_python_scalar_both_sides(dtype, name, op, scalar):
    a = ints((7,), dtype, 3)
    same(op(mt.tensor(a), scalar), op(torch.tensor(a), scalar))
    same(op(scalar, mt.tensor(a)), op(scalar, torch.tensor(a)))  # reflected: int & t


@needs_torch
@pytest.mark.parametrize("scalar", [1, True, False])
@pytest.mark.parametrize("name, op", BINARY, ids=[b[0] for b in BINARY])
def test_bitwise_bool_tensor_with_scalar(scalar, name, op):
    a = np.array([True, False, True])  # a Python int makes int64, a Python bool keeps bool
    same(op(mt.tensor(a), scalar), op(torch.tensor(a), scalar))


@needs_torch
@pytest.mark.parametrize("a, b", [("int32", "int64"), ("uint8", "int8"), ("bool", "int16")])
def test_bitwise_promotes_like_torch(a, b):
    x, y = np.ones(3, dtype=a), np.ones(3, dtype=b)
    same(mt.tensor(x) & mt.tensor(y), torch.tensor(x) & torch.tensor(y))


@needs_torch
@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"])
def test_invert_matches_torch(dtype):
    a = ints((6,), dtype, 4) if dtype != "bool" else np.array([True, False])
    same(~mt.tensor(a), ~torch.tensor(a))


def test_int_and_is_bitwise_not_logical():
    got = mt.tensor([6, 5, 12], dtype=mt.int32) & mt.tensor([3, 2, 10], dtype=mt.int32)
    assert got.tolist() == [6 & 3, 5 & 2, 12 & 10] and got.dtype == np.int32


@pytest.mark.parametrize("dtype, value, expected", [
    ("int32", 0xFFFFFFFF, -1), ("int32", 2 ** 40 + 5, 5), ("int8", 255, -1), ("int8", 128, -128),
    ("uint8", -1, 255), ("uint8", 256, 0), ("int64", 2 ** 64 - 1, -1)])
def test_out_of_range_python_int_wraps_like_a_c_cast(dtype, value, expected):
    zero = mt.zeros(2, dtype=getattr(mt, dtype))
    assert (zero | value).tolist() == [expected] * 2
    assert (value | zero).tolist() == [expected] * 2


@pytest.mark.parametrize("op", [lambda a: a & 1, lambda a: 1 | a, lambda a: a ^ a, lambda a: ~a,
                                lambda a: a << 1])
def test_bitwise_on_float_raises_naming_the_op(op):
    with pytest.raises(TypeError, match=r"bitwise_\w+: only integer and bool tensors.*float32"):
        op(mt.ones(2))


def test_bitwise_float_scalar_raises():
    with pytest.raises(TypeError, match="bitwise_and: the other operand must be an integer"):
        mt.ones(2, dtype=mt.int64) & 1.5


def test_bitwise_shapes_not_broadcastable():
    with pytest.raises(ValueError, match=r"bitwise_or: shapes \(2,\) and \(3,\)"):
        mt.ones(2, dtype=mt.int64) | mt.ones(3, dtype=mt.int64)


# --------------------------------------------------------------------------- << >>
@needs_torch
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_shifts_in_range_match_torch(dtype):
    a = ints((8,), dtype, 5)
    bits = np.dtype(dtype).itemsize * 8
    s = np.random.default_rng(6).integers(0, bits, size=8).astype(dtype)
    same(mt.tensor(a) << mt.tensor(s), torch.tensor(a) << torch.tensor(s))
    same(mt.tensor(a) >> mt.tensor(s), torch.tensor(a) >> torch.tensor(s))
    same(mt.tensor(a) >> 3, torch.tensor(a) >> 3)
    same(3 << mt.tensor(s), 3 << torch.tensor(s))


@pytest.mark.parametrize("count", [32, 40, -1])
def test_shift_out_of_range_gives_zero_or_sign(count):
    a = mt.tensor([-8, 1, 3], dtype=mt.int32)
    assert (a << count).tolist() == [0, 0, 0]
    assert (a >> count).tolist() == [-1, 0, 0]  # arithmetic: the sign fills every bit


# --------------------------------------------------------------------------- pow edges
EDGE_X = np.array([0.0, 0.0, 0.0, 0.0, -2.0, -2.0, 2.0, 1.5])
EDGE_Y = np.array([0.0, -1.0, 1.0, 0.5, 0.5, 2.0, 0.0, -0.5])


def pow_grads(fn, x, y):
    xs = [mt.tensor(v, requires_grad=True) if isinstance(v, np.ndarray) else v for v in (x, y)]
    out = fn(*xs)
    out.backward(mt.ones(out.shape, dtype=mt.float64))
    return [t.grad.numpy() if isinstance(t, mt.Tensor) else None for t in xs]


@pytest.mark.parametrize("which", [0, 1], ids=["grad_x", "grad_y"])
def test_pow_tensor_exponent_edge_grads(which):
    """d/dx = y x^(y-1) but 0 where y == 0 (x=0, y=0 gives 0, not 0 * inf = NaN);
    d/dy = x^y log x but 0 where x == 0 and y >= 0; -inf for x = 0, y < 0; NaN for x < 0."""
    got = pow_grads(lambda x, y: x ** y, EDGE_X, EDGE_Y)[which]
    with np.errstate(all="ignore"):
        if which == 0:
            expected = np.where(EDGE_Y == 0, 0.0, EDGE_Y * EDGE_X ** (EDGE_Y - 1))
        else:
            expected = np.where((EDGE_X == 0) & (EDGE_Y >= 0), 0.0,
                                EDGE_X ** EDGE_Y * np.log(EDGE_X))
    assert np.isnan(expected[4]) and np.isneginf(expected[1])  # the cases the issue names
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("base, expected", [
    (0.0, [-np.inf, 0.0, 0.0, 0.0]),                 # 0 ** y: -inf for y < 0
    (-2.0, [np.nan] * 4),                            # log(-2) is NaN: so is every grad
    (2.0, [np.log(2) * 2.0 ** v for v in (-1.0, 0.0, 1.0, 0.5)])])
def test_scalar_base_pow_grad(base, expected):
    y = np.array([-1.0, 0.0, 1.0, 0.5])
    np.testing.assert_allclose(pow_grads(lambda b, e: b ** e, base, y)[1], expected, rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("base", [0.0, -2.0, 2.0])
def test_scalar_base_pow_grad_matches_torch(base):
    y = np.array([-1.0, 0.0, 1.0, 0.5])
    ty = torch.tensor(y, requires_grad=True)
    (base ** ty).backward(torch.ones(4, dtype=torch.float64))
    np.testing.assert_array_equal(pow_grads(lambda b, e: b ** e, base, y)[1], ty.grad.numpy())


@needs_torch
def test_pow_edge_grads_match_torch():
    check_op(lambda x, y: x ** y, lambda x, y: x ** y, EDGE_X, EDGE_Y, rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("p", [0, 0.5, -1, 2, 3])
def test_pow_scalar_exponent_at_zero_and_negative(p):
    check_op(lambda x: x ** p, lambda x: x ** p, np.array([0.0, -2.0, 1.5]))
