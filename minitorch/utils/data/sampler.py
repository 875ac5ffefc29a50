"""Samplers: which dataset indices an epoch visits, and in what order (torch's names).

    SequentialSampler(ds)                      0, 1, ..., len(ds) - 1
    RandomSampler(ds, replacement=False, num_samples=None, generator=None)
    SubsetRandomSampler(indices, generator=None)
    WeightedRandomSampler(weights, num_samples, replacement=True, generator=None)
    BatchSampler(sampler, batch_size, drop_last)   lists of indices, one per batch

Random samplers draw from ``generator`` (a ``minitorch.Generator`` or ``numpy.random.Generator``)
or, when it is None, from minitorch's global generator, so ``mt.manual_seed`` fixes the order.
Each ``iter(sampler)`` draws a fresh order. ``order()`` returns that order as one int64 array,
which is what the DataLoader cuts into batches (and stores in its ``state_dict`` to resume).
"""
from __future__ import annotations

import numbers
from typing import Iterator, Sequence

import numpy as np

from .dataset import numpy_generator, randperm


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and, when they can, ``__len__``."""

    def __init__(self, data_source=None):
        pass  # PyTorch accepts (and ignores) data_source here too

    def __iter__(self) -> Iterator[int]:
        raise TypeError(f"{type(self).__name__} does not define __iter__")

    def order(self) -> np.ndarray:
        """One epoch's indices as an int64 array (draws, for random samplers)."""
        return np.fromiter((int(i) for i in self), dtype=np.int64)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, every epoch."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __len__(self) -> int:
        return len(self.data_source)

    def order(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(self.order().tolist())


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer, got {value!r}")
    return int(value)


class RandomSampler(Sampler):
    """A random permutation of the dataset each epoch; with ``replacement=True``,
    ``num_samples`` indices drawn uniformly with replacement."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a bool, got {replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None:
            _positive_int("RandomSampler", "num_samples", num_samples)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __len__(self) -> int:
        return self.num_samples

    def order(self) -> np.ndarray:
        n = len(self.data_source)
        if self.replacement:
            return numpy_generator(self.generator).integers(
                0, n, size=self.num_samples, dtype=np.int64)
        # Without replacement, more samples than the dataset holds: whole permutations
        # back to back, then part of one more (PyTorch's rule).
        full, rest = divmod(self.num_samples, n) if n else (0, 0)
        parts = [randperm(n, self.generator) for _ in range(full)]
        if rest:
            parts.append(randperm(n, self.generator)[:rest])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def __iter__(self):
        return iter(self.order().tolist())


class SubsetRandomSampler(Sampler):
    """The given ``indices``, in a new random order each epoch."""

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = generator

    def __len__(self) -> int:
        return int(self.indices.size)

    def order(self) -> np.ndarray:
        return self.indices[randperm(self.indices.size, self.generator)]

    def __iter__(self):
        return iter(self.order().tolist())


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))`` drawn with probability proportional to
    ``weights`` (with or without replacement)."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None):
        weights = np.asarray(getattr(weights, "data", weights), dtype=np.float64).reshape(-1)
        if weights.size == 0 or not np.all(np.isfinite(weights)) or (weights < 0).any() \
                or weights.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, >= 0 and not all "
                             f"zero, got {weights[:8].tolist()}{'...' if weights.size > 8 else ''}")
        self.num_samples = _positive_int("WeightedRandomSampler", "num_samples", num_samples)
        if not replacement and self.num_samples > int((weights > 0).sum()):
            raise ValueError(f"WeightedRandomSampler: can't draw {self.num_samples} samples "
                             f"without replacement from {int((weights > 0).sum())} non-zero "
                             "weights")
        self.weights, self.replacement, self.generator = weights, bool(replacement), generator

    def __len__(self) -> int:
        return self.num_samples

    def order(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        return numpy_generator(self.generator).choice(
            p.size, size=self.num_samples, replace=self.replacement, p=p).astype(np.int64)

    def __iter__(self):
        return iter(self.order().tolist())


class BatchSampler(Sampler):
    """Groups ``sampler``'s indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        self.batch_size = _positive_int("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a bool, got {drop_last!r}")
        self.sampler, self.drop_last = sampler, drop_last

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch
