"""Datasets: indexable collections of samples (PyTorch's ``torch.utils.data`` names).

A map-style ``Dataset`` answers ``len(ds)`` and ``ds[i] -> sample``. Calling ``ds[i]`` once per
image costs a few microseconds of Python each, which is a large share of an MNIST epoch. So an
array-backed dataset may also define

    get_batch(indices: np.ndarray) -> tuple of arrays       # already stacked, one per field

and the ``DataLoader`` then fetches a whole batch with one fancy-indexing call per field.
``TensorDataset``, ``Subset`` (when its parent has it) and ``MNIST`` do.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ...backend import get_array_module
from ...tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} does not define __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (and ``__len__`` if they know it).

    With ``num_workers > 0`` every worker iterates its own copy, so a dataset that should not
    be read twice splits itself with ``get_worker_info()`` (PyTorch's protocol)."""

    def __iter__(self):
        raise TypeError(f"{type(self).__name__} does not define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate it, it has no "
                        "__getitem__")

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """IterableDatasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def _check_index(name: str, index: int, length: int) -> int:
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"{name}: index {index} is out of range for a dataset of {length} "
                         "samples")
    return index % length


class TensorDataset(Dataset):
    """Samples are the rows of equally long tensors/arrays: ``ds[i] == (x[i], y[i])``."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [tuple(a.shape) for a in self.arrays]
            raise ValueError(f"TensorDataset: all tensors need the same size in dim 0, got "
                             f"shapes {shapes}")
        self.tensors = tuple(Tensor._make(a, False, None) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        i = _check_index("TensorDataset", index, len(self))
        return tuple(Tensor._make(a[i], False, None) for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple:
        xp = get_array_module(self.arrays[0])
        idx = xp.asarray(indices)  # CuPy arrays are indexed with device indices
        return tuple(a[idx] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [{-n}, {n}) for a dataset of {n} "
                             f"samples, got range [{self.indices.min()}, {self.indices.max()}]")
        self.indices %= max(n, 1)

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, index):
        return self.dataset[self.indices[_check_index("Subset", index, len(self))]]

    def __getattr__(self, name):
        # Only reached for names a Subset lacks: get_batch (when the parent has it), classes...
        if name.startswith("__") or name in ("dataset", "indices"):
            raise AttributeError(name)
        attr = getattr(self.dataset, name)
        if name == "get_batch":
            return lambda indices: attr(self.indices[np.asarray(indices)])
        return attr


class ConcatDataset(Dataset):
    """Datasets one after the other."""

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use "
                                "ChainDataset)")
        self.offsets = np.cumsum([0] + [len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index):
        i = _check_index("ConcatDataset", index, len(self))
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return self.datasets[k][i - int(self.offsets[k])]


def randperm(n: int, generator=None) -> np.ndarray:
    """A random permutation of range(n) as an int64 NumPy array, drawn from ``generator`` (a
    ``minitorch.Generator`` or a ``numpy.random.Generator``), else from minitorch's global
    generator, so ``mt.manual_seed(s)`` makes shuffling and splitting reproducible."""
    return numpy_generator(generator).permutation(n).astype(np.int64, copy=False)


def numpy_generator(generator=None) -> np.random.Generator:
    """The ``numpy.random.Generator`` behind ``generator`` (None: minitorch's default one)."""
    if isinstance(generator, np.random.Generator):
        return generator
    from ... import random as mt_random
    return mt_random.numpy_generator(generator)


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    """Integer lengths, or fractions summing to 1 (PyTorch's rule: the remainder is dealt out
    one sample at a time to the first splits)."""
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        if sum(lengths) != n:
            raise ValueError(f"random_split: lengths {list(lengths)} sum to {sum(lengths)}, "
                             f"but the dataset has {n} samples")
        return [int(x) for x in lengths]
    if not math.isclose(sum(lengths), 1.0, abs_tol=1e-9) or min(lengths) < 0:
        raise ValueError(f"random_split: fractions {list(lengths)} must be >= 0 and sum to 1")
    out = [int(math.floor(n * f)) for f in lengths]
    for k in range(n - sum(out)):
        out[k % len(out)] += 1
    return out


def random_split(dataset: Dataset, lengths: Sequence[float], generator=None) -> list[Subset]:
    """Split into non-overlapping random Subsets of the given lengths (or fractions)."""
    sizes = _split_lengths(lengths, len(dataset))
    perm = randperm(len(dataset), generator)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
