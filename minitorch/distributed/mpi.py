"""The MPI process group: collectives on NumPy arrays through mpi4py.

Each collective is started non-blocking and then polled, so that a rank which never joins
(it crashed, hangs, or runs a different code path) turns into a ``DistributedError`` after the
group's timeout instead of a silent hang. (When a rank is killed, ``mpirun`` itself also stops
the others, with its "BAD TERMINATION" report.)
"""
from __future__ import annotations

import time

import numpy as np

_SPIN_POLLS = 2000
_FIRST_PAUSE_S, _MAX_PAUSE_S = 1e-5, 1e-3


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        from . import DistributedError
        raise DistributedError(
            "minitorch.distributed backend 'mpi' needs mpi4py and an MPI library: "
            f'pip install -e ".[distributed]" ({exc})') from None
    return MPI


class MPIGroup:
    backend = "mpi"

    def __init__(self, timeout_s: float):
        MPI = _mpi()
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.world_size = self.comm.Get_size()
        self.timeout_s = timeout_s
        self._ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    # ------------------------------------------------------------------ waiting
    def wait(self, request, what: str) -> None:
        """Poll ``request`` until it completes, or raise after the timeout. Spins first (a small
        all-reduce takes microseconds), then sleeps between polls, each sleep twice the last up
        to 1 ms, so a long wait leaves the core to the other rank."""
        for _ in range(_SPIN_POLLS):
            if request.Test():
                return
        deadline = time.monotonic() + self.timeout_s
        pause = _FIRST_PAUSE_S
        while not request.Test():
            time.sleep(pause)
            pause = min(2 * pause, _MAX_PAUSE_S)
            if time.monotonic() > deadline:
                from . import DistributedError
                raise DistributedError(
                    f"{what}: rank {self.rank} of {self.world_size} waited {self.timeout_s:g} s "
                    "and the other ranks did not join (one crashed, hangs, or took a "
                    "different code path); stopping instead of hanging")

    @staticmethod
    def _contiguous(array, what: str):
        if not isinstance(array, np.ndarray):
            from . import DistributedError
            raise DistributedError(f"{what}: backend 'mpi' works on CPU (NumPy) arrays, got "
                                   f"{type(array).__module__}.{type(array).__name__}; use "
                                   "backend='nccl' for CUDA tensors")
        if not array.flags.c_contiguous or not array.flags.writeable:
            from . import DistributedError
            raise DistributedError(f"{what}: the tensor must be contiguous and writable "
                                   f"(shape {array.shape}); call .contiguous() first")
        return array

    # ------------------------------------------------------------------ collectives
    def start_all_reduce(self, array, op) -> object:
        """Start an in-place sum/max/min over ranks; returns the request (see finish)."""
        self._contiguous(array, "all_reduce")
        return self.comm.Iallreduce(self.MPI.IN_PLACE, array, op=self._ops[op.value])

    def finish_all_reduce(self, request, array, op) -> None:
        self.wait(request, "all_reduce")
        if op.value == "mean":
            array /= self.world_size

    def all_reduce(self, array, op) -> None:
        self.finish_all_reduce(self.start_all_reduce(array, op), array, op)

    def broadcast(self, array, src: int) -> None:
        self.wait(self.comm.Ibcast(self._contiguous(array, "broadcast"), root=src), "broadcast")

    def all_gather(self, outputs: list, array) -> None:
        self._contiguous(array, "all_gather")
        gathered = np.empty((self.world_size,) + array.shape, dtype=array.dtype)
        self.wait(self.comm.Iallgather(array, gathered), "all_gather")
        for out, value in zip(outputs, gathered):
            out[...] = value

    def all_gather_object(self, obj) -> list:
        """Small Python values (shape signatures, flags): pickled by mpi4py between our own
        ranks only, never read from files."""
        request = self.comm.Ibarrier()
        self.wait(request, "all_gather_object")
        return self.comm.allgather(obj)

    def barrier(self) -> None:
        self.wait(self.comm.Ibarrier(), "barrier")

    def abort(self, code: int = 1) -> None:
        """Stop every rank (after a rank's own error, so the others don't wait for it)."""
        self.comm.Abort(code)
