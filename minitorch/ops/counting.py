"""Counting and lookup ops with integer results (no gradients): one_hot, bincount, unique,
searchsorted, bucketize."""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import require_tensor


def _int_result(array) -> Tensor:
    return Tensor._make(get_array_module(array).asarray(array).astype(np.int64, copy=False),
                        False, None)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (..., num_classes) with a 1 at each entry's class (F.one_hot); num_classes -1:
    max + 1."""
    x = require_tensor("one_hot", tensor)
    if x.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (class index) tensor, got {x.dtype}")
    xp = get_array_module(x.data)
    if num_classes == -1:
        if x.numel() == 0:
            raise RuntimeError("one_hot: can't infer num_classes from an empty tensor")
        num_classes = int(x.data.max()) + 1
    if x.numel() and (int(x.data.min()) < 0 or int(x.data.max()) >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes}), got "
                           f"{int(x.data.min())}..{int(x.data.max())}")
    return _int_result(x.data[..., None] == xp.arange(num_classes))


def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value 0..max occurs in a 1-d non-negative integer tensor (with
    ``weights``: their sums, as float)."""
    x = require_tensor("bincount", input)
    if x.ndim != 1 or x.dtype.kind not in "iu" or (x.numel() and int(x.data.min()) < 0):
        raise ValueError(f"bincount: expected a 1-d tensor of non-negative integers, got shape "
                         f"{x.shape}, dtype {x.dtype}")
    xp = get_array_module(x.data)
    if weights is None:
        return _int_result(xp.bincount(x.data, minlength=minlength))
    w = weights.data if isinstance(weights, Tensor) else xp.asarray(weights)
    out = xp.bincount(x.data, weights=w, minlength=minlength)
    dtype = w.dtype if np.dtype(w.dtype).kind == "f" else np.float64
    return Tensor._make(out.astype(dtype), False, None)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim=None):
    """The distinct values (sorted), with optionally the inverse indices (input's shape) and
    the counts, as torch.unique; ``dim``: distinct slices along that dim."""
    x = require_tensor("unique", input)
    xp = get_array_module(x.data)
    result = xp.unique(x.data, return_inverse=True, return_counts=True,
                       axis=None if dim is None else int(dim))
    values, inverse, counts = result
    out = [Tensor._make(values, False, None)]
    if return_inverse:
        shape = x.shape if dim is None else (x.shape[int(dim)],)
        out.append(_int_result(inverse.reshape(shape)))
    if return_counts:
        out.append(_int_result(counts))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(sorted_sequence: Tensor, input, *, right: bool = False, side=None) -> Tensor:  # noqa: A002
    """Where each value would be inserted into the sorted last dim to keep it sorted: the
    first such place (``right``: the last). A batched sequence (..., n) takes values
    (..., m) with the same leading dims."""
    seq = require_tensor("searchsorted", sorted_sequence)
    xp = get_array_module(seq.data)
    if side is not None:
        right = side == "right"
    values = input.data if isinstance(input, Tensor) else xp.asarray(input)
    how = "right" if right else "left"
    if seq.ndim == 1:
        return _int_result(xp.searchsorted(seq.data, values, side=how))
    if seq.shape[:-1] != values.shape[:-1]:
        raise ValueError(f"searchsorted: leading dims of sorted_sequence {seq.shape} and input "
                         f"{tuple(values.shape)} must match")
    seq2d = seq.data.reshape(-1, seq.shape[-1])
    val2d = values.reshape(seq2d.shape[0], -1)
    rows = [xp.searchsorted(s, v, side=how) for s, v in zip(seq2d, val2d)]  # one per row
    out = xp.stack(rows) if rows else xp.zeros(val2d.shape, dtype=np.int64)
    return _int_result(out.reshape(values.shape))


def bucketize(input, boundaries: Tensor, *, right: bool = False) -> Tensor:  # noqa: A002
    """The bucket index of each value: i with boundaries[i-1] < x <= boundaries[i]
    (``right``: boundaries[i-1] <= x < boundaries[i])."""
    require_tensor("bucketize", boundaries)
    if boundaries.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-d, got shape {boundaries.shape}")
    return searchsorted(boundaries, input, right=right)
