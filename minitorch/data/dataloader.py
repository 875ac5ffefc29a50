"""DataLoader: a dataset, cut into batches of Tensors (PyTorch's ``torch.utils.data.DataLoader``).

    loader = DataLoader(train_set, batch_size=128, shuffle=True, generator=g)
    for images, labels in loader:      # images: Tensor (128, 1, 28, 28), labels: int64 (128,)
        ...

Each epoch (each ``iter(loader)``) draws one permutation of the sample indices from
``generator`` (or minitorch's global generator), so a seed fixes the order of every epoch.
Batches come from ``dataset.get_batch(indices)`` when the dataset has it (one NumPy
fancy-index per field: no Python loop over samples), else from ``dataset[i]`` for each index
followed by ``collate_fn`` (default: stack into Tensors).

Resuming mid-training: ``loader.state_dict()`` holds the current epoch's permutation and how
many batches were already handed out; ``load_state_dict`` makes the next ``iter(loader)``
continue that epoch from the next batch, in the same order.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import get_array_module, normalize_device, to_device
from ..tensor import Tensor
from .dataset import Dataset, randperm


def default_collate(samples: list):
    """Stack a list of samples into one batch, field by field (tuples, lists and dicts keep
    their structure). Arrays and Tensors stack along a new dim 0; Python ints become an int64
    Tensor, floats a float64 Tensor, bools a bool Tensor (PyTorch's rules); strings stay a list."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples have different numbers of fields {sizes}")
        return type(first)(default_collate(list(field)) for field in zip(*samples)) \
            if isinstance(first, tuple) else [default_collate(list(f)) for f in zip(*samples)]
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, Tensor) or hasattr(first, "shape"):
        arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"default_collate: can't stack samples of different shapes "
                             f"{sorted(shapes)}")
        return Tensor._make(get_array_module(*arrays).stack(arrays), False, None)
    if isinstance(first, (bool, np.bool_)):
        return Tensor._make(np.asarray(samples, dtype=np.bool_), False, None)
    if isinstance(first, numbers.Integral):
        return Tensor._make(np.asarray(samples, dtype=np.int64), False, None)
    if isinstance(first, numbers.Real):
        return Tensor._make(np.asarray(samples, dtype=np.float64), False, None)
    raise TypeError(f"default_collate: don't know how to batch samples of type "
                    f"{type(first).__name__}; pass collate_fn=")


def _to_tensors(batch, device):
    """Arrays -> Tensors on ``device`` (structure kept); Tensors are moved."""
    if isinstance(batch, tuple):
        return tuple(_to_tensors(b, device) for b in batch)
    if isinstance(batch, list):
        return [_to_tensors(b, device) for b in batch]
    if isinstance(batch, dict):
        return {k: _to_tensors(v, device) for k, v in batch.items()}
    if isinstance(batch, Tensor):
        return batch if device is None or batch.device == device else batch.to(device)
    if hasattr(batch, "shape"):
        return Tensor._make(to_device(batch, device) if device else batch, False, None)
    return batch


class DataLoader:
    """Iterate ``dataset`` in batches of Tensors.

    Args (PyTorch's names and defaults):
        batch_size: samples per batch. shuffle: a new random order each epoch.
        drop_last: drop the last, smaller batch. generator: the source of the shuffling
        order (a ``minitorch.Generator`` or ``numpy.random.Generator``; None: the global one).
        collate_fn: samples -> batch (disables the batched ``get_batch`` path).
        device: minitorch only: put every batch on this device ("cpu"/"cuda").
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator=None, collate_fn=None, device=None):
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.collate_fn = collate_fn
        self.device = normalize_device(device) if device is not None else None
        self._epoch = 0             # epochs started so far
        self._perm = None           # the order of the epoch in progress
        self._position = 0          # batches of it already handed out
        self._resume = False        # load_state_dict: continue that epoch on the next iter()

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    # ------------------------------------------------------------------ iteration
    def _batches(self, perm: np.ndarray, start: int):
        n_batches = len(self)
        for b in range(start, n_batches):
            yield b, perm[b * self.batch_size:(b + 1) * self.batch_size]

    def _fetch(self, indices: np.ndarray):
        get_batch = getattr(self.dataset, "get_batch", None)
        if self.collate_fn is None and get_batch is not None:
            return get_batch(indices)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self):
        if self._resume:
            self._resume = False
            perm, start = self._perm, self._position
        else:
            n = len(self.dataset)
            perm = randperm(n, self.generator) if self.shuffle else np.arange(n, dtype=np.int64)
            start = 0
            self._epoch += 1
            self._perm, self._position = perm, 0
        for b, indices in self._batches(perm, start):
            batch = _to_tensors(self._fetch(indices), self.device)
            self._position = b + 1
            yield batch

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Where this loader stands: epochs started, the current epoch's order, and how many of
        its batches were handed out (mt.save stores the permutation as an int64 array)."""
        return {"epoch": self._epoch, "position": self._position,
                "permutation": None if self._perm is None else self._perm.copy()}

    def load_state_dict(self, state: dict) -> None:
        perm = state.get("permutation")
        if perm is not None:
            perm = np.asarray(perm.data if isinstance(perm, Tensor) else perm, dtype=np.int64)
            if perm.shape != (len(self.dataset),):
                raise ValueError(f"DataLoader.load_state_dict: the stored permutation has "
                                 f"shape {perm.shape}, but the dataset has {len(self.dataset)} "
                                 "samples")
        self._epoch = int(state["epoch"])
        self._perm = perm
        self._position = int(state["position"])
        self._resume = perm is not None and self._position < len(self)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
