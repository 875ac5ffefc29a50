"""Ordering ops: sort, argsort, topk, kthvalue, median.

Each finds integer indices first (no gradient: an order is piecewise constant), then takes the
values with ``gather``: the gradient of each output goes back to the element it came from
(gather's backward, a scatter-add).

NaN sorts as the largest value (last ascending, first descending), as PyTorch. Ties keep
their input order when ``stable=True``; minitorch's sort is always stable (PyTorch allows any
order of ties without it).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import require_tensor
from .indexing import gather
from .shape import normalize_dim

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])


def _order(xp, a, axis: int, descending: bool):
    """Stable argsort along axis. Descending: the ascending stable order of the reversed
    array, reversed back, so ties stay in input order and NaN (last ascending) comes first."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    rev = xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis)
    return (n - 1) - rev


def _prepare(op: str, input, dim):
    x = require_tensor(op, input)
    axis = normalize_dim(op, dim, x.ndim, x.shape)
    return (x.reshape(1) if x.ndim == 0 else x), axis


def _indices(array) -> Tensor:
    return Tensor._make(array.astype(np.int64, copy=False), False, None)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):  # noqa: A002
    """(values, indices) sorted along dim (stable in any case; NaN largest)."""
    x, axis = _prepare("sort", input, dim)
    idx = _indices(_order(get_array_module(x.data), x.data, axis, bool(descending)))
    values = gather(x, axis, idx)
    if input.ndim == 0:
        return SortResult(values.reshape(()), idx.reshape(()))
    return SortResult(values, idx)


def argsort(input: Tensor, dim: int = -1, descending: bool = False,  # noqa: A002
            stable: bool = False) -> Tensor:
    """The indices that sort input along dim (int64)."""
    require_tensor("argsort", input)
    return sort(input, dim, descending, stable).indices


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True,  # noqa: A002
         sorted: bool = True):  # noqa: A002
    """(values, indices) of the k largest (or smallest) along dim, in sorted order."""
    x, axis = _prepare("topk", input, dim)
    n = x.shape[axis]
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k ({k}) must be an int in [0, {n}] (the size of dim {axis} of "
                         f"the input of shape {input.shape})")
    order = _order(get_array_module(x.data), x.data, axis, bool(largest))
    idx = _indices(order[(slice(None),) * axis + (slice(0, int(k)),)])
    values = gather(x, axis, idx)
    if input.ndim == 0:
        return TopkResult(values.reshape(()), idx.reshape(()))
    return TopkResult(values, idx)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):  # noqa: A002
    """(values, indices) of the k-th smallest element along dim (k counts from 1)."""
    x, axis = _prepare("kthvalue", input, dim)
    n = x.shape[axis]
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"kthvalue: k ({k}) must be an int in [1, {n}] (the size of dim "
                         f"{axis} of the input of shape {input.shape})")
    order = _order(get_array_module(x.data), x.data, axis, False)
    idx = _indices(order[(slice(None),) * axis + (slice(k - 1, k),)])
    values = gather(x, axis, idx)
    if input.ndim == 0 or not keepdim:
        shape = () if input.ndim == 0 else tuple(values.shape[:axis] + values.shape[axis + 1:])
        return KthvalueResult(values.reshape(shape), idx.reshape(shape))
    return KthvalueResult(values, idx)


def median(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A002
    """The lower median (the ((n - 1) // 2)-th smallest, no averaging), as PyTorch: a 0-d
    tensor over all elements, or (values, indices) along ``dim``. A slice holding a NaN has
    median NaN (its first NaN), as PyTorch."""
    x = require_tensor("median", input)
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError("median: can't take the median of an empty tensor")
        return median(x.reshape(-1), 0).values
    x, axis = _prepare("median", x, dim)
    n = x.shape[axis]
    if n == 0:
        raise RuntimeError(f"median: dim {axis} of the input of shape {input.shape} is empty")
    xp = get_array_module(x.data)
    pick = (slice(None),) * axis + (slice((n - 1) // 2, (n - 1) // 2 + 1),)
    index = _order(xp, x.data, axis, False)[pick]
    if x.dtype.kind == "f":
        nan = xp.isnan(x.data)
        has_nan = nan.any(axis=axis, keepdims=True)
        index = xp.where(has_nan, xp.argmax(nan, axis=axis, keepdims=True), index)
    idx = _indices(index)
    values = gather(x, axis, idx)
    if input.ndim == 0 or not keepdim:
        shape = () if input.ndim == 0 else tuple(values.shape[:axis] + values.shape[axis + 1:])
        return MedianResult(values.reshape(shape), idx.reshape(shape))
    return MedianResult(values, idx)
