"""CUDA graphs: record a whole training step's kernel launches once, then replay them.

A SimpLeNet step at batch 64 is ~100 small kernels; launched one by one from Python, the GPU
mostly waits for the host. Captured into a CUDA graph, the step is one launch. The names are
PyTorch's (``torch.cuda.CUDAGraph``, ``torch.cuda.graph``)::

    g = CUDAGraph()
    with g.stream:                       # warm up on the capture stream (see rule 3)
        for _ in range(3):
            step(static_x, static_y)
    with graph(g):
        static_loss = step(static_x, static_y)
    for x, y in batches:
        static_x.data[...] = x.data; static_y.data[...] = y.data
        g.replay()                       # static_loss, the parameters, grads: updated

or, the same in one call, ``step = capture_step(fn, static_x, static_y); step(x, y)``.

What a captured step must obey (CUDA's rules, and what they mean here):
1. No host synchronisation: ``.item()``, ``bool(array)``, a copy to the host, a data-dependent
   check that reads a device value. Capture fails with an error naming the cause.
2. Python runs only at capture: every host-side value is frozen into the graph (kernel
   arguments, shapes, the learning rate, a step count passed as a scalar). Code whose work
   depends on a host value that changes from step to step would replay its capture-time
   value, so it refuses to be captured (``is_capturing()``): Adam (its bias corrections come
   from a host step count) and dropout (its seed is drawn on the host) raise; cross-entropy
   skips its host-side target check (the kernel marks a bad target NaN). SGD, with or
   without momentum, captures.
3. Memory: CuPy's pool gives each stream its own blocks, so the warm-up runs on the capture
   stream, where the capture then finds every block it needs already reserved. Every block
   allocated during the capture is held by the graph for as long as it lives: the step's
   temporaries (activations, gradients, the loss) are the graph's working memory, and a block
   freed back to the pool after capture would be handed to other arrays that the next replay
   overwrites.
"""
from __future__ import annotations

import contextlib
import contextvars

from ..backend import cupy_module

_capturing = contextvars.ContextVar("minitorch_cuda_graph_capturing", default=False)


def is_capturing() -> bool:
    """True inside ``graph(...)``: code whose result depends on host values that change from
    step to step can refuse to be captured (rule 2)."""
    return _capturing.get()


class CUDAGraph:
    """A captured sequence of GPU work (``torch.cuda.CUDAGraph``); fill it with ``graph()``."""

    def __init__(self):
        cp = cupy_module()
        self.stream = cp.cuda.Stream(non_blocking=True)   # capture (and warm-up) stream
        self._graph = None
        self._kept: list = []     # every memory block allocated during capture (rule 3)

    @property
    def captured(self) -> bool:
        return self._graph is not None

    def replay(self) -> None:
        """Run the captured work on the current stream (so it is ordered with what follows)."""
        if self._graph is None:
            raise RuntimeError("CUDAGraph.replay: nothing captured yet (use `with graph(g):`)")
        cp = cupy_module()
        self._graph.launch(cp.cuda.get_current_stream())

    def reset(self) -> None:
        """Drop the captured graph and release its memory blocks."""
        self._graph = None
        self._kept.clear()


@contextlib.contextmanager
def graph(cuda_graph: CUDAGraph):
    """Capture the GPU work of the enclosed block into ``cuda_graph`` (``torch.cuda.graph``).

    Nothing in the block runs on the GPU: it is recorded, and runs at ``replay()``.
    """
    if cuda_graph.captured:
        raise RuntimeError("graph(): this CUDAGraph already holds a capture; reset() it first")
    cp = cupy_module()
    pool = cp.get_default_memory_pool()
    kept = cuda_graph._kept

    def keep_alive(nbytes):
        block = pool.malloc(nbytes)
        kept.append(block)
        return block

    stream = cuda_graph.stream
    stream.synchronize()          # the warm-up's work is done before recording starts
    token = _capturing.set(True)
    try:
        with stream, cp.cuda.using_allocator(keep_alive):
            stream.begin_capture()
            try:
                yield cuda_graph
            except Exception as exc:
                _end_quietly(stream)
                kept.clear()
                if _is_capture_error(exc):
                    raise RuntimeError(f"CUDA graph capture failed: {exc}. {_HINT}") from exc
                raise
            except BaseException:
                _end_quietly(stream)
                kept.clear()
                raise
            try:
                captured = stream.end_capture()
            except Exception as exc:   # an invalidated capture reports here
                kept.clear()
                raise RuntimeError(f"CUDA graph capture failed: {exc}. {_HINT}") from exc
    finally:
        _capturing.reset(token)
    cuda_graph._graph = captured


_HINT = ("Every op of a captured step must stay on the device: no .item(), bool(array), "
         "device->host copy or other host synchronisation")


def _end_quietly(stream) -> None:
    """End a capture that failed, so the stream does not stay in capture mode."""
    try:
        stream.end_capture()
    except Exception:
        pass   # the capture is being abandoned; the original error is the one to report


def _is_capture_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return "captur" in text or "not permitted" in text


class CapturedStep:
    """A function of static input tensors, captured; calling it copies a new batch into the
    static inputs and replays. ``outputs`` is what the function returned at capture (e.g. the
    loss tensor), refreshed in place by each call."""

    def __init__(self, cuda_graph: CUDAGraph, static_inputs: tuple, outputs):
        self.graph, self.static_inputs, self.outputs = cuda_graph, static_inputs, outputs

    def __call__(self, *batch):
        if batch:
            if len(batch) != len(self.static_inputs):
                raise ValueError(f"CapturedStep: {len(batch)} inputs given, the step was "
                                 f"captured with {len(self.static_inputs)}")
            for static, new in zip(self.static_inputs, batch):
                new = getattr(new, "data", new)
                if tuple(new.shape) != tuple(static.data.shape):
                    raise ValueError(f"CapturedStep: input shape {tuple(new.shape)} != the "
                                     f"captured {tuple(static.data.shape)} (a graph's shapes "
                                     "are fixed)")
                static.data[...] = new
        self.graph.replay()
        return self.outputs


def capture_step(fn, *static_inputs, warmup: int = 3) -> CapturedStep:
    """Warm ``fn(*static_inputs)`` up ``warmup`` times on the capture stream (compiles kernels,
    fills caches, reserves memory), capture one call, and return it as a ``CapturedStep``.
    The warm-up calls really run (a training step trains); the captured call does not until
    it is replayed."""
    if warmup < 1:
        raise ValueError("capture_step: warmup must be >= 1 (the first call compiles kernels "
                         "and builds caches, which cannot happen during capture)")
    g = CUDAGraph()
    with g.stream:
        for _ in range(warmup):
            fn(*static_inputs)
    with graph(g):
        outputs = fn(*static_inputs)
    return CapturedStep(g, static_inputs, outputs)
