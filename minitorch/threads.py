"""How many CPU threads minitorch uses, and the one thread pool that uses them.

    mt.set_num_threads(2)          # as torch.set_num_threads
    mt.get_num_threads()
    MINITORCH_NUM_THREADS=2 python train.py        python -m minitorch train --threads 2

Why one pool. The CPU work of a training step is GEMMs (BLAS) plus numba kernels (im2col,
col2im, pooling, the optimizer step) plus NumPy elementwise code. Two thread pools spinning at
once (OpenBLAS's and numba's) fought for the two cores of the development machine and made
steps several times *slower*. So the heavy ops split their work into fixed-size chunks (a few
images of a convolution, a block of pooling planes) and ``parallel_for`` hands the chunks to
this module's threads; inside a chunk every kernel and GEMM runs on one thread. BLAS is held
at one thread throughout: its static split of each GEMM waits for its slowest thread at every
call, and on a busy machine (another process on the second core) that made a 2-thread
SimpLeNet step 3x slower than BLAS on one thread next to this pool.

Why chunks are fixed and scheduled dynamically. The chunk boundaries depend on the shapes
only, never on the thread count, and partial sums (a convolution's weight gradient) are added
in chunk order: results are bit-identical for any number of threads. Whichever thread is free
takes the next chunk, and the calling thread works too, so on a busy machine a descheduled
worker delays one chunk, not the whole op (a static split waits for its slowest thread).

The default: the cores this process may run on (``os.sched_getaffinity``), less the load the
rest of the machine already puts on them (the 1-minute load average, read once at the first
parallel op), at least 1. ``MINITORCH_NUM_THREADS=n`` (or else ``OMP_NUM_THREADS=n``, PyTorch's
variable) replaces that default; ``set_num_threads(n)`` overrides both. The setting is applied
(to the pool and to BLAS) by ``set_num_threads`` or at the first op that uses the pool.
"""
from __future__ import annotations

import itertools
import os
import queue
import threading

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "default_num_threads", "parallel_for",
           "map_blocks"]

ENV_VAR = "MINITORCH_NUM_THREADS"

_num_threads: int | None = None     # None: not chosen yet (default_num_threads() on first use)
_pool: queue.SimpleQueue | None = None    # the workers' job tickets
_pool_size = 0
_lock = threading.Lock()
_local = threading.local()          # .busy: this thread is running a chunk (no nesting)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check(n, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{where}: the number of threads must be a positive int, got {n!r}")
    return n


def _env_threads(name: str):
    text = os.environ.get(name)
    if text is None or not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r}: expected a positive integer number of threads")
    return value


def default_num_threads() -> int:
    """``MINITORCH_NUM_THREADS`` if set, else ``OMP_NUM_THREADS`` (as PyTorch), else the
    cores that the machine's load leaves idle."""
    for name in (ENV_VAR, "OMP_NUM_THREADS"):
        value = _env_threads(name)
        if value is not None:
            return value
    cores = _cores()
    try:
        busy = int(os.getloadavg()[0])  # includes this process's own recent work: at most 1
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy + 1))


def get_num_threads() -> int:
    """The number of threads minitorch's CPU ops use (see the module docstring)."""
    if _num_threads is None:
        set_num_threads(default_num_threads())
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for minitorch's CPU ops (as ``torch.set_num_threads``); BLAS is held
    at one thread (see the module docstring). Results do not depend on ``n``."""
    global _num_threads
    _num_threads = _check(n, "set_num_threads")
    _set_blas_threads(1)


def _set_blas_threads(n: int) -> None:
    """Every BLAS loaded *now* runs ``n`` threads. Looked up afresh each time (a few ms, and
    only at set_num_threads and the pool's first use): a library imported after minitorch
    (torch brings its own BLAS) must be found too."""
    try:
        from threadpoolctl import ThreadpoolController
        libs = ThreadpoolController().select(user_api="blas").lib_controllers
    except Exception:  # noqa: BLE001 - no threadpoolctl or an unknown BLAS: leave it be
        return
    for lib in libs:
        lib.set_num_threads(n)


class _Job:
    """One parallel_for call: its chunks are taken by the caller and by every worker that
    picks up one of its tickets before the caller has finished (``closed``); the caller then
    waits only for the workers still running a chunk (``active``)."""

    __slots__ = ("fn", "count", "chunks", "lock", "active", "closed", "done", "error")

    def __init__(self, fn, count: int):
        self.fn, self.count = fn, count
        self.chunks = itertools.count()  # next() on it is atomic under the GIL: each i once
        self.lock = threading.Lock()
        self.active, self.closed, self.done, self.error = 0, False, None, None

    def work(self) -> None:
        _local.busy = True
        try:
            for i in self.chunks:
                if i >= self.count:
                    return
                self.fn(i)
        finally:
            _local.busy = False

    def help(self) -> None:
        """A worker's share: nothing if the caller is already done with the job."""
        with self.lock:
            if self.closed:
                return
            self.active += 1
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc
        finally:
            with self.lock:
                self.active -= 1
                if self.closed and self.active == 0:
                    self.done.set()

    def finish(self) -> None:
        """The caller's end of the job: no new helpers, wait for the running ones."""
        with self.lock:
            self.closed = True
            if self.active == 0:
                return
            self.done = threading.Event()
        self.done.wait()


def _worker(tickets: queue.SimpleQueue) -> None:
    while True:
        tickets.get().help()


def _workers(n: int) -> queue.SimpleQueue:
    """The queue of job tickets that ``n`` (at least) daemon worker threads serve. Plain
    threads and one queue, not a ThreadPoolExecutor: its futures and waits cost 20-40 us per
    parallel_for on the 2-core box, against ~25 parallel ops in a 5 ms LeNet-5 step."""
    global _pool, _pool_size
    with _lock:
        if _pool is None:
            _pool = queue.SimpleQueue()
        while _pool_size < n:
            threading.Thread(target=_worker, args=(_pool,), daemon=True,
                             name=f"minitorch-{_pool_size}").start()
            _pool_size += 1
        return _pool


def _forget_pool_in_child() -> None:
    """A forked child (a DataLoader worker) has none of the parent's threads: start afresh."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def parallel_for(fn, count: int) -> None:
    """``fn(i)`` for every i in range(count), on up to ``get_num_threads()`` threads (the
    caller's included), each chunk on one thread, in no particular order. ``fn`` must release
    the GIL for its heavy part (numba ``nogil`` kernels, NumPy's GEMMs and ufuncs) and write
    only its own chunk's output. Called from inside a chunk, it runs serially."""
    threads = min(get_num_threads(), count)
    if threads <= 1 or getattr(_local, "busy", False):
        for i in range(count):
            fn(i)
        return
    tickets = _workers(threads - 1)
    job = _Job(fn, count)
    for _ in range(threads - 1):
        tickets.put(job)
    try:
        job.work()
    finally:
        job.finish()   # also after an error here: no worker may still write into the output
    if job.error is not None:
        raise job.error


_BLOCK_ELEMENTS = 1 << 16   # elements per block of an elementwise op (256 KB of float32)


def map_blocks(fn, out, *arrays):
    """``fn(*arrays, out=out)`` for an elementwise NumPy ``fn``, on fixed flat blocks spread
    over the threads (each block's temporaries stay in cache). Arrays of other kinds (CuPy),
    small ones, and any that are not C-contiguous of out's shape: one plain call."""
    size = out.size
    if (size < 2 * _BLOCK_ELEMENTS or type(out) is not np.ndarray
            or not all(type(a) is np.ndarray and a.shape == out.shape
                       and a.flags.c_contiguous for a in (out, *arrays))):
        return fn(*arrays, out=out)
    flat = [a.reshape(-1) for a in (out, *arrays)]

    def run(i):
        s = slice(i * _BLOCK_ELEMENTS, (i + 1) * _BLOCK_ELEMENTS)
        fn(*(a[s] for a in flat[1:]), out=flat[0][s])

    parallel_for(run, -(-size // _BLOCK_ELEMENTS))
    return out


# BLAS is held at one thread from the import on, not only from the first parallel op:
# OpenBLAS's multi-threaded sgemm does not give the bits of its single-threaded one, so a
# product computed before the pool's first use (an MLP's first forward) made a run, and a run
# resumed from a checkpoint, depend on when that first use came.
_set_blas_threads(1)
