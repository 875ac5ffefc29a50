"""Collation: a list of samples -> one batch (torch's ``default_collate`` / ``default_convert``).

The structure of a sample is kept, field by field: tuples and lists give a list of batched
fields (as PyTorch, a namedtuple stays that namedtuple), dicts a dict. Leaves are batched by
type: arrays and Tensors stack along a new dim 0 (NumPy arrays keep their dtype, as
``torch.as_tensor`` does), Python ints become an int64 Tensor, floats a float64 Tensor, bools
a bool Tensor, NumPy scalars a Tensor of their dtype, and strings stay a list.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...backend import get_array_module
from ...tensor import Tensor


def _tensor(array) -> Tensor:
    return Tensor._make(array, False, None)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_collate(samples: list):
    """Stack ``samples`` (one per dataset index) into a batch; see the module docstring."""
    if not len(samples):
        raise ValueError("default_collate: got an empty list of samples")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples have different numbers of fields "
                             f"{sorted(sizes)}; each sample must have the same structure")
        fields = [default_collate(list(f)) for f in zip(*samples)]
        return type(first)(*fields) if _is_namedtuple(first) else fields
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, Tensor) or (hasattr(first, "shape") and hasattr(first, "dtype")):
        arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"default_collate: can't stack samples of different shapes "
                             f"{sorted(shapes)} (pad or resize them, or pass collate_fn=)")
        if np.dtype(arrays[0].dtype).kind in "OUS":
            raise TypeError(f"default_collate: can't batch arrays of dtype {arrays[0].dtype}; "
                            "pass collate_fn=")
        return _tensor(get_array_module(*arrays).stack(arrays))
    if isinstance(first, (bool, np.bool_)):
        return _tensor(np.asarray(samples, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return _tensor(np.asarray(samples, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return _tensor(np.asarray(samples, dtype=np.float64))
    raise TypeError(f"default_collate: don't know how to batch samples of type "
                    f"{type(first).__name__}; pass collate_fn=")


def default_convert(sample):
    """Without automatic batching (``batch_size=None``): NumPy arrays in ``sample`` become
    Tensors, everything else is kept (torch's ``default_convert``)."""
    if isinstance(sample, Tensor):
        return sample
    if isinstance(sample, np.ndarray) and sample.dtype.kind not in "OUS":
        return _tensor(sample)
    if isinstance(sample, np.generic) and not isinstance(sample, (np.str_, np.bytes_)):
        return _tensor(np.asarray(sample))
    if isinstance(sample, dict):
        return {k: default_convert(v) for k, v in sample.items()}
    if _is_namedtuple(sample):
        return type(sample)(*(default_convert(v) for v in sample))
    if isinstance(sample, tuple):
        return [default_convert(v) for v in sample]
    if isinstance(sample, list):
        return [default_convert(v) for v in sample]
    return sample
