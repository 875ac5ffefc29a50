"""The NCCL process group: collectives on CuPy arrays, GPU to GPU, without a host copy.

MPI starts the ranks and carries NCCL's unique id from rank 0 to the others; after that every
collective is an NCCL call on the current CUDA stream. Rank r uses GPU ``r % device_count``.
Waiting polls a CUDA event with the group's timeout, and aborts the communicator when it runs
out, so a lost rank is an error, not a hang.
"""
from __future__ import annotations

import time

from ..backend import cupy_module

_POLL_SECONDS = 0.0005


class NCCLGroup:
    backend = "nccl"

    def __init__(self, bootstrap):
        cp = cupy_module()
        try:
            from cupy.cuda import nccl
        except ImportError as exc:
            from . import DistributedError
            raise DistributedError(f"backend 'nccl' needs CuPy built with NCCL ({exc}); "
                                   "install the nvidia-nccl wheel for your CUDA") from None
        self.cp, self.nccl, self.mpi = cp, nccl, bootstrap
        self.rank, self.world_size = bootstrap.rank, bootstrap.world_size
        self.timeout_s = bootstrap.timeout_s
        self.device = cp.cuda.Device(self.rank % cp.cuda.runtime.getDeviceCount())
        self.device.use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = bootstrap.comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(self.world_size, uid, self.rank)
        self._dtypes = {"float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
                        "float64": nccl.NCCL_FLOAT64, "int8": nccl.NCCL_INT8,
                        "uint8": nccl.NCCL_UINT8, "int32": nccl.NCCL_INT32,
                        "int64": nccl.NCCL_INT64}
        self._ops = {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX,
                     "min": nccl.NCCL_MIN}

    def _check(self, array, what: str):
        from . import DistributedError
        if not isinstance(array, self.cp.ndarray):
            raise DistributedError(f"{what}: backend 'nccl' works on CUDA tensors, got "
                                   f"{type(array).__module__}.{type(array).__name__}")
        if array.dtype.name not in self._dtypes or not array.flags.c_contiguous:
            raise DistributedError(f"{what}: needs a contiguous tensor of one of "
                                   f"{sorted(self._dtypes)}, got {array.dtype} shape {array.shape}")
        return self._dtypes[array.dtype.name]

    def wait(self, what: str) -> None:
        """Wait for the collectives queued on the current stream, or abort after the timeout."""
        event = self.cp.cuda.Event(disable_timing=True)
        event.record()
        deadline = time.monotonic() + self.timeout_s
        while not event.done:
            if time.monotonic() > deadline:
                self.comm.abort()
                from . import DistributedError
                raise DistributedError(f"{what}: rank {self.rank} of {self.world_size} waited "
                                       f"{self.timeout_s:g} s for the other GPUs; NCCL aborted")
            time.sleep(_POLL_SECONDS)

    def start_all_reduce(self, array, op) -> None:
        dtype = self._check(array, "all_reduce")
        stream = self.cp.cuda.get_current_stream().ptr
        self.comm.allReduce(array.data.ptr, array.data.ptr, array.size, dtype,
                            self._ops[op.value], stream)

    def finish_all_reduce(self, request, array, op) -> None:
        self.wait("all_reduce")
        if op.value == "mean":
            array /= self.world_size

    def all_reduce(self, array, op) -> None:
        self.finish_all_reduce(self.start_all_reduce(array, op), array, op)

    def broadcast(self, array, src: int) -> None:
        dtype = self._check(array, "broadcast")
        self.comm.bcast(array.data.ptr, array.size, dtype, src,
                        self.cp.cuda.get_current_stream().ptr)
        self.wait("broadcast")

    def all_gather(self, outputs: list, array) -> None:
        dtype = self._check(array, "all_gather")
        gathered = self.cp.empty((self.world_size,) + array.shape, dtype=array.dtype)
        self.comm.allGather(array.data.ptr, gathered.data.ptr, array.size, dtype,
                            self.cp.cuda.get_current_stream().ptr)
        self.wait("all_gather")
        for out, value in zip(outputs, gathered):
            out[...] = value

    def all_gather_object(self, obj) -> list:
        return self.mpi.all_gather_object(obj)

    def barrier(self) -> None:
        self.wait("barrier")
        self.mpi.barrier()

    def abort(self, code: int = 1) -> None:
        self.comm.abort()
        self.mpi.abort(code)
