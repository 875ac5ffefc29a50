"""Batches copied to the GPU one step ahead, through pinned host memory, on a copy stream.

``DataLoader(..., device="cuda", pin_memory=True)`` hands its host batches to
``prefetch_to_device``. Without it each batch is a plain ``cupy.asarray``: a synchronous copy
from pageable memory that the GPU's compute waits for. With it, while the model trains on
batch k, batch k+1 is already copied:

1. its arrays are staged into pinned (page-locked) host buffers, which the GPU's copy engine
   reads directly, so the copy can run asynchronously;
2. the copy is issued on a separate stream, after the work queued so far on the current
   stream (the device blocks it writes may be ones that work just freed: CuPy's pool reuses
   blocks in the current stream's order);
3. batch k is handed out once its own copy (issued one batch earlier) has finished; only then
   are its pinned buffers released, since the pinned pool may hand them out again at once.

Batch structure is kept (tuples, named tuples, lists, dicts); NumPy arrays move, anything else
(Tensors, ints, strings) passes through for the DataLoader to handle as before.
"""
from __future__ import annotations

import numpy as np

from ..backend import cupy_module


def _map_arrays(fn, batch):
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_map_arrays(fn, b) for b in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_map_arrays(fn, b) for b in batch)
    if isinstance(batch, dict):
        return {k: _map_arrays(fn, v) for k, v in batch.items()}
    return fn(batch) if isinstance(batch, np.ndarray) else batch


def _pinned_copy(cp, a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` in pinned host memory (a NumPy array over a pinned buffer)."""
    memory = cp.cuda.alloc_pinned_memory(max(a.nbytes, 1))
    pinned = np.frombuffer(memory, dtype=a.dtype, count=a.size).reshape(a.shape)
    pinned[...] = a
    return pinned


def prefetch_to_device(batches):
    """Yield ``batches`` (host batches) with their NumPy arrays as CuPy arrays, each batch's
    copy issued while the previous batch is in use (see the module docstring)."""
    cp = cupy_module()
    copy_stream = cp.cuda.Stream(non_blocking=True)
    pending = None                       # (batch on the device, copy done event, pinned)
    for batch in batches:
        copy_stream.wait_event(cp.cuda.get_current_stream().record())      # rule 2
        pinned = []

        def upload(a):
            staged = _pinned_copy(cp, np.ascontiguousarray(a))
            pinned.append(staged)
            device = cp.empty(a.shape, dtype=a.dtype)     # on the current stream's pool
            device.set(staged, stream=copy_stream)        # asynchronous: staged is pinned
            return device

        on_device = _map_arrays(upload, batch)
        ready = copy_stream.record()
        if pending is not None:
            yield _hand_out(pending)
        pending = (on_device, ready, pinned)
    if pending is not None:
        yield _hand_out(pending)


def _hand_out(pending):
    on_device, ready, pinned = pending
    ready.synchronize()     # this batch's copy (issued a batch ago) is done: rule 3
    pinned.clear()
    return on_device
