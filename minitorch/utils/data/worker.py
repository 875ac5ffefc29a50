"""Worker processes for ``DataLoader(num_workers > 0)``: per-sample work (decoding, transforms)
runs in parallel, and the batches still come out in the sampler's order.

How it runs (PyTorch's design, smaller):
    - ``num_workers`` processes, each with its own task queue and one shared result queue.
    - Batch k goes to worker k % num_workers, so which process (and which random stream) made
      a batch never depends on timing: a seeded run repeats exactly.
    - At most ``prefetch_factor * num_workers`` batches are in flight; results are put back in
      order in the main process.
    - Seeding: the loader draws one ``base_seed`` from its generator; worker i seeds
      minitorch's global generator and Python's ``random`` with ``base_seed + i`` and
      NumPy's legacy global RNG with a state derived from both, as PyTorch does. So random
      transforms differ between workers and repeat across seeded runs. ``get_worker_info()``
      tells code inside a worker which one it is.
    - Tensors travel as their NumPy arrays (a Tensor holds autograd state that shouldn't be
      pickled) and become Tensors again in the main process.
    - A failing sample raises in the main process with the worker's traceback; a worker that
      dies raises a RuntimeError naming its pid and exit code, instead of hanging.
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import random
import time
import traceback
from dataclasses import dataclass

import numpy as np

from ...tensor import Tensor


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process (None in the main one)."""
    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    return _worker_info


class _TensorPayload:
    """A Tensor's array on its way between processes."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _pack(obj):
    if isinstance(obj, Tensor):
        return _TensorPayload(obj.data)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_pack(o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_pack(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    return obj


def _unpack(obj):
    if isinstance(obj, _TensorPayload):
        return Tensor._make(obj.array, False, None)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_unpack(o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unpack(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unpack(v) for k, v in obj.items()}
    return obj


class _Exhausted:
    """Sent back when a worker's copy of an IterableDataset has no more batches."""


class _WorkerFailure:
    """An exception raised inside a worker, carried back as text (it may not pickle)."""

    def __init__(self, worker_id: int, exc: BaseException):
        self.worker_id, self.exc_type = worker_id, type(exc)
        self.text = "".join(traceback.format_exception(exc))

    def reraise(self):
        message = (f"Caught {self.exc_type.__name__} in DataLoader worker process "
                   f"{self.worker_id}.\nOriginal {self.text}")
        try:
            exc = self.exc_type(message)
        except Exception:  # an exception type whose constructor wants other arguments
            exc = RuntimeError(message)
        raise exc


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed this process's generators for worker ``worker_id``; returns its seed."""
    from ... import random as mt_random
    seed = (base_seed + worker_id) % (1 << 64)
    mt_random.manual_seed(seed)
    random.seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(4))
    return seed


def _worker_loop(fetch, dataset, task_queue, result_queue, worker_id, num_workers, base_seed,
                 worker_init_fn):
    global _worker_info
    seed = seed_worker(base_seed, worker_id)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_failure = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception as exc:  # reported with the first batch this worker is asked for
            init_failure = _WorkerFailure(worker_id, exc)
    while True:
        try:
            task = task_queue.get()
        except (KeyboardInterrupt, EOFError, OSError):
            return
        if task is None:
            # shutting down: batches still buffered for an abandoned epoch (next(iter(loader)))
            # are unwanted, and flushing them into a pipe nobody reads would block this exit
            result_queue.cancel_join_thread()
            return
        key, indices = task
        if init_failure is not None:
            result_queue.put((key, init_failure))
            continue
        try:
            result = _pack(fetch(dataset, indices))
        except StopIteration:  # an IterableDataset ran out (``indices`` is the run id)
            result = _Exhausted()
        except Exception as exc:
            result = _WorkerFailure(worker_id, exc)
        result_queue.put((key, result))


class WorkerPool:
    """``num_workers`` processes that turn lists of indices into batches with ``fetch``."""

    _POLL_S = 1.0  # how often a waiting main process checks that its workers are alive

    def __init__(self, fetch, dataset, num_workers: int, base_seed: int, worker_init_fn=None,
                 multiprocessing_context=None, timeout: float = 0):
        if isinstance(multiprocessing_context, str) or multiprocessing_context is None:
            ctx = mp.get_context(multiprocessing_context)
        else:
            ctx = multiprocessing_context
        self.num_workers, self.timeout = num_workers, timeout
        self.result_queue = ctx.Queue()
        self.task_queues, self.workers = [], []
        for i in range(num_workers):
            q = ctx.Queue()
            p = ctx.Process(target=_worker_loop, daemon=True,
                            args=(fetch, dataset, q, self.result_queue, i, num_workers,
                                  base_seed, worker_init_fn))
            p.start()
            self.task_queues.append(q)
            self.workers.append(p)
        self._run = 0  # tags results, so a batch left over from an abandoned epoch is dropped

    def imap(self, batches, prefetch: int):
        """Yield ``fetch(dataset, indices)`` for each entry of ``batches``, in order."""
        self._run += 1
        run, pending, sent, done = self._run, {}, 0, 0
        n = len(batches)
        while done < n:
            while sent < n and sent - done < prefetch * self.num_workers:
                self.task_queues[sent % self.num_workers].put(((run, sent), batches[sent]))
                sent += 1
            while done not in pending:
                (r, k), result = self._get()
                if r == run:
                    pending[k] = result
            result = pending.pop(done)
            done += 1
            if isinstance(result, _WorkerFailure):
                result.reraise()
            yield _unpack(result)

    def iterate(self, prefetch: int):
        """For an IterableDataset: ask the workers, in turn, for their next batch (``fetch``
        gets the run id instead of indices), until every worker's copy is exhausted. Batches
        come out in the order they were asked for: worker 0, 1, ..., 0, 1, ... while all
        are active, as PyTorch's."""
        self._run += 1
        run, n = self._run, self.num_workers
        active, owner, pending = [True] * n, {}, {}
        sent = done = turn = 0
        while True:
            while sent - done < prefetch * n and any(active):
                while not active[turn % n]:
                    turn += 1
                w = turn % n
                turn += 1
                self.task_queues[w].put(((run, sent), run))
                owner[sent] = w
                sent += 1
            if done == sent:
                return
            while done not in pending:
                (r, k), result = self._get()
                if r == run:
                    pending[k] = result
            result, w = pending.pop(done), owner.pop(done)
            done += 1
            if isinstance(result, _Exhausted):
                active[w] = False
                continue
            if isinstance(result, _WorkerFailure):
                result.reraise()
            yield _unpack(result)

    def _get(self):
        start = time.monotonic()
        while True:
            try:
                return self.result_queue.get(timeout=self._POLL_S)
            except queue.Empty:
                dead = [p for p in self.workers if not p.is_alive()]
                if dead:
                    self.shutdown()
                    raise RuntimeError(
                        "DataLoader worker (pid " + ", ".join(
                            f"{p.pid}, exit code {p.exitcode}" for p in dead)
                        + ") exited unexpectedly (killed, out of memory, or a crash in native "
                        "code); run with num_workers=0 to see the error in this process") \
                        from None
                if self.timeout and time.monotonic() - start > self.timeout:
                    self.shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds "
                                       "waiting for a batch from its workers") from None

    def shutdown(self) -> None:
        for q, p in zip(self.task_queues, self.workers):
            if p.is_alive():
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
        for p in self.workers:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=1)
        for q in self.task_queues + [self.result_queue]:
            q.cancel_join_thread()
            q.close()
        self.workers, self.task_queues = [], []

    @property
    def alive(self) -> bool:
        return bool(self.workers) and all(p.is_alive() for p in self.workers)
