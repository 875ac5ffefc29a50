"""Data-parallel collectives: one process per rank, started by an MPI launcher (``mpirun``).

minitorch invents no transport of its own. Ranks talk through MPI (``mpi4py``, the route
ChainerMN and Horovod take), and GPUs through NCCL (CuPy's bindings), which MPI bootstraps:

    mpirun -n 2 python train.py          # pip install -e ".[distributed]" brings mpirun

    import minitorch.distributed as dist
    dist.init_process_group("mpi")        # rank and world size come from the launcher
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    dist.broadcast(t, src=0); dist.all_gather(out_list, t); dist.barrier()

Collectives work in place on the tensor's array (NumPy on the CPU; CuPy on the GPU with
"nccl", without a host copy). Every blocking collective has a timeout: a rank that stops
taking part (crashed, stuck, or running different code) makes the others raise
``DistributedError`` naming the collective and the timeout, instead of hanging forever.
"""
from __future__ import annotations

import datetime
import enum
import os

from ..tensor import Tensor


class DistributedError(RuntimeError):
    """A collective failed or timed out, or the process group is misused."""


class ReduceOp(enum.Enum):
    SUM = "sum"
    MEAN = "mean"  # SUM divided by the world size (PyTorch's ReduceOp.AVG)
    AVG = "mean"
    MAX = "max"
    MIN = "min"


DEFAULT_TIMEOUT = datetime.timedelta(minutes=5)
_LAUNCHER_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK",
                       "PMIX_RANK")
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_group = None


def launched_by_mpi() -> bool:
    """True when an MPI launcher started this process with more than one rank."""
    for name in _LAUNCHER_SIZE_VARS:
        if os.environ.get(name, "1").isdigit() and int(os.environ.get(name, "1")) > 1:
            return True
    return False


def is_available() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init_process_group(backend: str = "mpi", timeout: datetime.timedelta = DEFAULT_TIMEOUT):
    """Join the ranks the launcher started. backend "mpi" (CPU arrays) or "nccl" (CuPy arrays,
    one GPU per rank, bootstrapped through MPI)."""
    global _group
    if _group is not None:
        raise DistributedError("init_process_group: the process group is already initialized "
                               f"(backend {_group.backend!r}); call destroy_process_group first")
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if seconds <= 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    from .mpi import MPIGroup
    if backend == "mpi":
        _group = MPIGroup(seconds)
    elif backend == "nccl":
        from .nccl import NCCLGroup
        _group = NCCLGroup(MPIGroup(seconds))
    else:
        raise ValueError(f"init_process_group: backend must be 'mpi' or 'nccl', got {backend!r}")
    return _group


def destroy_process_group() -> None:
    global _group
    _group = None


def is_initialized() -> bool:
    return _group is not None


def group():
    if _group is None:
        raise DistributedError("minitorch.distributed: call init_process_group() first")
    return _group


def get_rank() -> int:
    return group().rank


def get_world_size() -> int:
    return group().world_size


def get_backend() -> str:
    return group().backend


def _array(tensor, op: str):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a minitorch Tensor, got {type(tensor).__name__}")
    return tensor.data


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM) -> Tensor:
    """Reduce ``tensor`` over all ranks, in place; every rank gets the result."""
    group().all_reduce(_array(tensor, "all_reduce"), ReduceOp(op))
    return tensor


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``tensor`` on every rank with rank ``src``'s values, in place."""
    group().broadcast(_array(tensor, "broadcast"), _check_rank(src, "broadcast"))
    return tensor


def all_gather(tensor_list: list, tensor: Tensor) -> list:
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` (PyTorch's argument order)."""
    g = group()
    if len(tensor_list) != g.world_size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for "
                         f"world size {g.world_size}")
    for t in tensor_list:
        if _array(t, "all_gather").shape != tensor.data.shape or t.dtype != tensor.dtype:
            raise ValueError(f"all_gather: every output must be {tensor.shape} {tensor.dtype}, "
                             f"got {t.shape} {t.dtype}")
    g.all_gather([t.data for t in tensor_list], _array(tensor, "all_gather"))
    return tensor_list


def barrier() -> None:
    group().barrier()


def _check_rank(rank: int, op: str) -> int:
    size = group().world_size
    if not isinstance(rank, int) or not 0 <= rank < size:
        raise ValueError(f"{op}: rank must be in [0, {size}), got {rank!r}")
    return rank


__all__ = ["DistributedError", "ReduceOp", "all_gather", "all_reduce", "barrier", "broadcast",
           "destroy_process_group", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "is_available", "is_initialized", "launched_by_mpi"]
