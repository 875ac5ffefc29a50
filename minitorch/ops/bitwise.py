"""Bitwise ops on integer and bool tensors: & | ^ ~ << >> (no gradients: the results are integers).

On integers they act bit by bit (``6 & 3 == 2``); on bools they are the logical ops. As in
PyTorch:

- a Python int meeting a tensor takes the tensor's dtype, wrapping modulo 2**bits like a C cast
  (``int32_tensor | 0xFFFFFFFF`` is -1, not an OverflowError); a Python int meeting a bool
  tensor makes an int64 result, a Python bool keeps the tensor's dtype;
- two tensors promote as usual (int32 & int64 -> int64, uint8 & int8 -> int16);
- shifting by a negative count or by >= the number of bits gives 0 (>> of a negative signed
  value gives -1). NumPy leaves those cases to the C compiler (x86 takes the count mod the
  width), so they are masked explicitly.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import array_module, get_array_module
from ..tensor import Tensor


def _check_dtype(op: str, t: Tensor) -> None:
    if t.dtype.kind not in "biu":
        raise TypeError(f"{op}: only integer and bool tensors are supported, got dtype "
                        f"{t.dtype} (shape {t.shape})")


def wrap_int(value: int, dtype) -> np.ndarray:
    """A Python int as a 0-d array of ``dtype``, wrapped modulo 2**bits (C's conversion)."""
    dtype = np.dtype(dtype)
    bits = dtype.itemsize * 8
    v = int(value) % (1 << bits)
    if dtype.kind == "i" and v >= 1 << (bits - 1):
        v -= 1 << bits
    return np.asarray(v, dtype=dtype)


def _scalar_operand(op: str, value, like: Tensor) -> Tensor:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        array = np.asarray(value, dtype=like.dtype)
    elif isinstance(value, numbers.Integral):
        array = wrap_int(value, np.int64 if like.dtype == np.bool_ else like.dtype)
    else:
        raise TypeError(f"{op}: the other operand must be an integer or bool (tensor or Python "
                        f"number), got {type(value).__name__} {value!r}")
    return Tensor._make(array_module(like.device).asarray(array), False, None)


def _operands(op: str, a, b) -> tuple:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if not isinstance(a, Tensor):
        a = _scalar_operand(op, a, b)
    elif not isinstance(b, Tensor):
        b = _scalar_operand(op, b, a)
    _check_dtype(op, a)
    _check_dtype(op, b)
    if a.device != b.device:
        raise RuntimeError(f"{op}: operands on different devices, {a.device} and {b.device}")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} are not broadcastable") from None
    dtype = np.result_type(a.dtype, b.dtype)
    return a.data.astype(dtype, copy=False), b.data.astype(dtype, copy=False)


def _result(array) -> Tensor:
    return Tensor._make(get_array_module(array).asarray(array), False, None)


def bitwise_and(input, other) -> Tensor:  # noqa: A002  (PyTorch's argument names)
    a, b = _operands("bitwise_and", input, other)
    return _result(a & b)


def bitwise_or(input, other) -> Tensor:  # noqa: A002
    a, b = _operands("bitwise_or", input, other)
    return _result(a | b)


def bitwise_xor(input, other) -> Tensor:  # noqa: A002
    a, b = _operands("bitwise_xor", input, other)
    return _result(a ^ b)


def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002
    """~x: every bit flipped for integers (-x - 1 in two's complement), logical not for bools."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bitwise_not: expected a Tensor, got {type(input).__name__}")
    _check_dtype("bitwise_not", input)
    return _result(~input.data)


def _shift(op: str, a, b, left: bool) -> Tensor:
    a, b = _operands(op, a, b)
    if a.dtype == np.bool_:  # bool << bool is done in int64, as PyTorch
        a, b = a.astype(np.int64), b.astype(np.int64)
    xp = get_array_module(a)
    bits = a.dtype.itemsize * 8
    out_of_range = (b < 0) | (b >= bits)
    count = xp.where(out_of_range, 0, b).astype(a.dtype)
    if left:
        return _result(xp.where(out_of_range, 0, a << count).astype(a.dtype))
    fill = xp.where(a < 0, -1, 0) if a.dtype.kind == "i" else 0
    return _result(xp.where(out_of_range, fill, a >> count).astype(a.dtype))


def bitwise_left_shift(input, other) -> Tensor:  # noqa: A002
    return _shift("bitwise_left_shift", input, other, left=True)


def bitwise_right_shift(input, other) -> Tensor:  # noqa: A002
    """Arithmetic shift for signed integers (the sign bit is copied in), as PyTorch."""
    return _shift("bitwise_right_shift", input, other, left=False)
