"""DistributedDataParallel: the same model on every rank, gradients averaged after backward.

Each rank runs forward and backward on its own share of the batch. Averaging the gradients over
the ranks then gives every rank the gradient of the whole batch, so the optimizer steps stay
identical everywhere without ever sending weights again. The averaging is bucketed: parameters
are grouped (in reverse registration order, the order backward reaches them) into buckets of at
most ``bucket_cap_mb``; as soon as every gradient of a bucket has been accumulated, its
all-reduce starts, while backward goes on with the earlier layers. The last gradient of the
backward waits for all buckets and writes the averages back into ``.grad``.

Buffers (batch norm's running statistics): rank 0's are broadcast before each training forward
(PyTorch's ``broadcast_buffers=True``), so every rank normalises with, and saves, the same ones.
"""
from __future__ import annotations

import contextlib

from .. import distributed as dist
from ..autograd import no_grad
from ..backend import get_array_module
from .module import Module


class _Bucket:
    __slots__ = ("params", "ready", "buffer", "request")

    def __init__(self, params):
        self.params, self.ready, self.buffer, self.request = params, set(), None, None


class DistributedDataParallel(Module):
    """``DistributedDataParallel(model)`` after ``dist.init_process_group(...)``; then use it as
    the model. ``with ddp.no_sync():`` skips the averaging (gradient accumulation); the next
    synchronised backward averages the accumulated sums."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, bucket_cap_mb: float = 25.0,
                 find_unused_parameters: bool = False):
        super().__init__()
        if dim != 0:
            raise ValueError(f"DistributedDataParallel: only dim=0 (the batch) is split, got {dim}")
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self._group = dist.group()
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self._sync = True
        # This rank's share of the averaged gradient, times the world size: 1 for equal shares.
        # With uneven shares (the last batch of an epoch), n_local * world / n_global makes the
        # average the gradient of the whole batch's mean loss.
        self.grad_weight = 1.0
        self._check_same_model()
        with no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                self._group.broadcast(t.data, 0)
        self._buckets = self._make_buckets(bucket_cap_mb * 2 ** 20)
        self._launched = 0
        self._bucket_of = {}
        for bucket in self._buckets:
            for p in bucket.params:
                self._bucket_of[id(p)] = bucket
                p.register_post_accumulate_grad_hook(self._grad_ready)

    # ------------------------------------------------------------------ wrap-time checks
    def _check_same_model(self) -> None:
        """Every rank must wrap the same architecture; say where they first differ."""
        mine = [(n, tuple(p.shape), p.dtype.name) for n, p in self.module.named_parameters()]
        mine += [(n, tuple(b.shape), b.dtype.name) for n, b in self.module.named_buffers()]
        everyone = self._group.all_gather_object(mine)
        for rank, theirs in enumerate(everyone):
            if theirs == everyone[0]:
                continue
            if len(theirs) != len(everyone[0]):
                detail = f"{len(theirs)} parameters/buffers vs {len(everyone[0])} on rank 0"
            else:
                a, b = next((a, b) for a, b in zip(everyone[0], theirs) if a != b)
                detail = f"rank 0 has {a}, rank {rank} has {b}"
            raise dist.DistributedError(
                f"DistributedDataParallel: the ranks wrap different models ({detail}); every "
                "rank must build the same model with the same arguments")

    def _make_buckets(self, cap_bytes: float) -> list:
        params = [p for p in self.module.parameters() if p.requires_grad]
        buckets, current, size = [], [], 0
        for p in reversed(params):
            if current and size + p.data.nbytes > cap_bytes:
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += p.data.nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets

    # ------------------------------------------------------------------ gradient averaging
    def _grad_ready(self, param) -> None:
        if not self._sync:
            return
        bucket = self._bucket_of[id(param)]
        if bucket.request is not None or id(param) in bucket.ready:
            raise dist.DistributedError(
                f"DistributedDataParallel: parameter of shape {param.shape} received a second "
                "gradient in one backward (a weight used twice, or backward called twice without "
                "no_sync()); its bucket was already being averaged")
        bucket.ready.add(id(param))
        if len(bucket.ready) == len(bucket.params):
            xp = get_array_module(param.data)
            bucket.buffer = xp.concatenate([p.grad.data.ravel() for p in bucket.params])
            if self.grad_weight != 1.0:
                bucket.buffer *= bucket.buffer.dtype.type(self.grad_weight)
            bucket.request = self._group.start_all_reduce(bucket.buffer, dist.ReduceOp.MEAN)
            self._launched += 1
            if self._launched == len(self._buckets):
                self._finish()

    def _finish(self) -> None:
        for bucket in self._buckets:
            self._group.finish_all_reduce(bucket.request, bucket.buffer, dist.ReduceOp.MEAN)
            offset = 0
            for p in bucket.params:
                n = p.data.size
                p.grad.data = bucket.buffer[offset:offset + n].reshape(p.data.shape)
                offset += n
            bucket.ready.clear()
            bucket.buffer = bucket.request = None
        self._launched = 0

    def _check_previous_backward_finished(self) -> None:
        waiting = [p for b in self._buckets for p in b.params if id(p) not in b.ready]
        if self._launched or any(b.ready for b in self._buckets):
            names = {id(p): n for n, p in self.module.named_parameters()}
            missing = [names[id(p)] for p in waiting][:5]
            raise dist.DistributedError(
                "DistributedDataParallel: the previous backward did not produce gradients for "
                f"every parameter (none for {missing}), so its averaging never finished; "
                "freeze unused parameters (requires_grad=False) before wrapping")

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally; the first backward after the block averages them."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        if self._sync:
            self._check_previous_backward_finished()
        if self.broadcast_buffers and self.training:
            for b in self.module.buffers():
                self._group.broadcast(b.data, 0)
        return self.module(*args, **kwargs)


__all__ = ["DistributedDataParallel"]
