"""DataLoader: a dataset, cut into batches of Tensors (PyTorch's ``torch.utils.data.DataLoader``).

    loader = DataLoader(train_set, batch_size=128, shuffle=True, generator=g, num_workers=2)
    for images, labels in loader:      # images: Tensor (128, 1, 28, 28), labels: int64 (128,)
        ...

Which indices, in what order: a ``sampler`` (default ``RandomSampler`` when ``shuffle``, else
``SequentialSampler``) gives one epoch's order; ``batch_size`` cuts it into batches (or a
``batch_sampler`` gives the batches itself). Each ``iter(loader)`` is a new epoch and draws a
new order, from ``generator`` or minitorch's global generator, so a seed fixes every epoch.

How a batch is made: from ``dataset.get_batch(indices)`` when the dataset has it (one NumPy
fancy-index per field, no Python loop over samples), else from ``dataset[i]`` for each index
followed by ``collate_fn`` (default: ``default_collate``). With ``num_workers > 0`` that work
runs in worker processes (``worker.py``): what pays off for per-sample transforms.

An ``IterableDataset`` is a stream instead: no sampler, batches of ``batch_size`` consecutive
items; with workers, each iterates its own copy and they take turns handing out batches.

Resuming mid-training: ``loader.state_dict()`` holds the current epoch's order and how many
batches were already handed out; ``load_state_dict`` makes the next ``iter(loader)`` continue
that epoch from the next batch, in the same order. (Random per-sample transforms inside
worker processes restart from their seeds, so those are not resumed bit for bit.)
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np

from ...backend import normalize_device, to_device
from ...cuda.prefetch import prefetch_to_device
from ...tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, numpy_generator
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import WorkerPool


def _to_tensors(batch, device):
    """Arrays -> Tensors on ``device`` (structure kept); Tensors are moved."""
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_tensors(b, device) for b in batch))
    if isinstance(batch, tuple):
        return tuple(_to_tensors(b, device) for b in batch)
    if isinstance(batch, list):
        return [_to_tensors(b, device) for b in batch]
    if isinstance(batch, dict):
        return {k: _to_tensors(v, device) for k, v in batch.items()}
    if isinstance(batch, Tensor):
        return batch if device is None or batch.device == device else batch.to(device)
    if hasattr(batch, "shape") and hasattr(batch, "dtype"):
        return Tensor._make(to_device(batch, device) if device else batch, False, None)
    return batch


class _Fetcher:
    """indices -> one batch; a picklable object so worker processes can run it too."""

    def __init__(self, collate_fn, auto_collation: bool):
        self.collate_fn, self.auto_collation = collate_fn, auto_collation

    def __call__(self, dataset, indices):
        if not self.auto_collation:                  # batch_size=None: one sample per index
            return self.collate_fn(dataset[int(indices[0])])
        get_batch = getattr(dataset, "get_batch", None)
        if self.collate_fn is default_collate and get_batch is not None:
            return list(get_batch(np.asarray(indices)))
        return self.collate_fn([dataset[int(i)] for i in indices])


class _IterableFetcher:
    """The next batch of an IterableDataset's stream (``run`` restarts it: a new epoch)."""

    def __init__(self, collate_fn, batch_size, drop_last: bool):
        self.collate_fn, self.batch_size, self.drop_last = collate_fn, batch_size, drop_last
        self._run, self._it = None, None

    def __call__(self, dataset, run):
        if run != self._run or self._it is None:
            self._run, self._it = run, iter(dataset)
        if self.batch_size is None:
            return self.collate_fn(next(self._it))        # StopIteration ends the stream
        items = list(itertools.islice(self._it, self.batch_size))
        if not items or (self.drop_last and len(items) < self.batch_size):
            self._it = iter(())
            raise StopIteration
        return self.collate_fn(items)


class DataLoader:
    """Iterate ``dataset`` in batches of Tensors.

    Args (PyTorch's names and defaults):
        batch_size: samples per batch (None: no batching, one converted sample at a time).
        shuffle: a new random order each epoch. sampler / batch_sampler: custom orders.
        num_workers: worker processes for making batches (0: in this process).
        collate_fn: samples -> batch (disables the batched ``get_batch`` path).
        pin_memory: with ``device="cuda"``, each batch goes through pinned host memory and
            is copied on a copy stream one batch ahead, overlapping the training step
            (minitorch/cuda/prefetch.py); without a device it changes nothing (batches stay
            host arrays).
        drop_last: drop the last, smaller batch. timeout: seconds to wait for a worker batch
        (0: forever, while the workers live). worker_init_fn(worker_id): run in each worker
        after seeding. multiprocessing_context: a start method name or context.
        generator: the source of the shuffling order and of the workers' base seed (a
        ``minitorch.Generator`` or ``numpy.random.Generator``; None: the global one).
        prefetch_factor: batches in flight per worker (default 2). persistent_workers: keep
        the worker processes between epochs.
        device: minitorch only: put every batch on this device ("cpu"/"cuda").
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", device=None):
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be a non-negative integer, "
                             f"got {num_workers!r}; use num_workers=0 to disable "
                             "multiprocessing")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                             "multiprocessing; let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, numbers.Integral)
                                            or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor must be a positive integer, got "
                             f"{prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching "
                                 "and is mutually exclusive with drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer (or None), "
                             f"got {batch_size!r}")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._auto_collation = batch_sampler is not None or \
            (self._iterable and batch_size is not None)
        self._custom_batches = batch_sampler is not None and not (
            type(batch_sampler) is BatchSampler and batch_sampler.sampler is sampler)
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self.pin_memory, self.pin_memory_device = bool(pin_memory), pin_memory_device
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = (2 if prefetch_factor is None else int(prefetch_factor)) \
            if num_workers > 0 else None
        self.persistent_workers = bool(persistent_workers)
        self.device = normalize_device(device) if device is not None else None
        self._pool = None           # the persistent workers, once started
        self._epoch = 0             # epochs started so far
        self._perm = None           # the order of the epoch in progress
        self._bounds = None         # where each of its batches starts and ends in _perm
        self._position = 0          # batches of it already handed out
        self._resume = False        # load_state_dict: continue that epoch on the next iter()

    def __len__(self) -> int:
        if self._iterable:  # the stream's own length, if it declares one
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    # ------------------------------------------------------------------ one epoch's order
    def _draw_epoch(self) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's indices in order, and the batch boundaries within them."""
        if self._custom_batches:
            batches = [np.asarray(b, dtype=np.int64).reshape(-1) for b in self.batch_sampler]
            sizes = [b.size for b in batches]
            order = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
            return order, np.cumsum([0] + sizes).astype(np.int64)
        order = getattr(self.sampler, "order", None)
        order = np.asarray(order() if callable(order) else
                           np.fromiter((int(i) for i in self.sampler), dtype=np.int64),
                           dtype=np.int64)
        return order, self._regular_bounds(order.size)

    def _regular_bounds(self, n: int) -> np.ndarray:
        size = self.batch_size or 1
        n_batches = n // size if self.drop_last else -(-n // size)
        return np.minimum(np.arange(n_batches + 1, dtype=np.int64) * size, n)

    # ------------------------------------------------------------------ iteration
    def __iter__(self):
        # A generator: the epoch's order is drawn at the first next(), as PyTorch's samplers do.
        if self._iterable:
            yield from self._iter_stream()
            return
        if self._resume:
            self._resume = False
            perm, bounds, start = self._perm, self._bounds, self._position
        else:
            perm, bounds = self._draw_epoch()
            start = 0
            self._epoch += 1
            self._perm, self._bounds, self._position = perm, bounds, 0
        batches = [perm[a:b] for a, b in zip(bounds[start:-1], bounds[start + 1:])]
        fetch = _Fetcher(self.collate_fn, self._auto_collation)
        pool = None
        if self.num_workers == 0:
            results = (fetch(self.dataset, indices) for indices in batches)
        else:
            pool = self._workers(fetch)
            results = pool.imap(batches, self.prefetch_factor)
        results = self._pinned(results)
        try:
            for b, batch in enumerate(results, start):
                batch = _to_tensors(batch, self.device)
                self._position = b + 1
                yield batch
        finally:
            if pool is not None and not self.persistent_workers:
                pool.shutdown()

    def _iter_stream(self):
        """An IterableDataset's epoch: its batches as they come (no order to resume)."""
        self._epoch += 1
        self._perm, self._bounds, self._position = None, None, 0
        fetch = _IterableFetcher(self.collate_fn, self.batch_size, self.drop_last)
        pool = None
        if self.num_workers == 0:
            def local():
                while True:
                    try:
                        yield fetch(self.dataset, self._epoch)
                    except StopIteration:
                        return
            results = local()
        else:
            pool = self._workers(fetch)
            results = pool.iterate(self.prefetch_factor)
        results = self._pinned(results)
        try:
            for batch in results:
                self._position += 1
                yield _to_tensors(batch, self.device)
        finally:
            if pool is not None and not self.persistent_workers:
                pool.shutdown()

    def _pinned(self, results):
        """With pin_memory and device="cuda": each batch copied to the GPU one batch ahead,
        through pinned memory on a copy stream (minitorch/cuda/prefetch.py)."""
        if self.pin_memory and self.device == "cuda":
            return prefetch_to_device(results)
        return results

    def _workers(self, fetch) -> WorkerPool:
        if self.persistent_workers and self._pool is not None and self._pool.alive:
            return self._pool
        base_seed = int(numpy_generator(self.generator).integers(0, 2 ** 63 - 1))
        pool = WorkerPool(fetch, self.dataset, self.num_workers, base_seed,
                          self.worker_init_fn, self.multiprocessing_context, self.timeout)
        if self.persistent_workers:
            self._pool = pool
        return pool

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Where this loader stands: epochs started, the current epoch's order, and how many of
        its batches were handed out (mt.save stores the permutation as an int64 array). With a
        custom ``batch_sampler`` the batch boundaries are stored too."""
        state = {"epoch": self._epoch, "position": self._position,
                 "permutation": None if self._perm is None else self._perm.copy()}
        if self._custom_batches and self._bounds is not None:
            state["batch_bounds"] = self._bounds.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        perm, bounds = state.get("permutation"), state.get("batch_bounds")
        if perm is not None:
            perm = np.asarray(perm.data if isinstance(perm, Tensor) else perm, dtype=np.int64)
            if bounds is not None:
                bounds = np.asarray(bounds.data if isinstance(bounds, Tensor) else bounds,
                                    dtype=np.int64)
                if bounds.ndim != 1 or bounds.size == 0 or bounds[-1] != perm.size:
                    raise ValueError("DataLoader.load_state_dict: the stored batch_bounds "
                                     f"{bounds.tolist()[:8]} don't end at the permutation's "
                                     f"length {perm.size}")
            else:
                expected = len(self.sampler) if hasattr(self.sampler, "__len__") else perm.size
                if perm.shape != (expected,):
                    raise ValueError(f"DataLoader.load_state_dict: the stored permutation has "
                                     f"shape {perm.shape}, but the dataset has {expected} "
                                     "samples per epoch")
                bounds = self._regular_bounds(perm.size)
        self._epoch = int(state["epoch"])
        self._perm, self._bounds = perm, bounds
        self._position = int(state["position"])
        self._resume = perm is not None and self._position < len(bounds) - 1

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, num_workers={self.num_workers})")
