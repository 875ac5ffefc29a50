"""Launch helpers shared by the CUDA ops: dtype and contiguity checks, int32 limits, grids,
output allocation, and ``run`` (look a kernel up through the loader and launch it).

The kernels index with 32-bit ints (cheaper than 64-bit on the GPU) and read C-contiguous
float32/float64 arrays; these helpers enforce that before a launch, so a wrong call is a clear
error and never a silent wrong answer. Kernel arguments are passed as NumPy scalars of the exact
C type (``i32``): CuPy turns a plain Python int into a 64-bit value, which an ``int``
parameter would misread.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from ..backend import get_array_module
from . import loader
from .loader import SCALAR_TYPES

THREADS = 256             # threads per block of the elementwise-style kernels
MAX_BLOCKS = 65535        # grid-stride loops cover the rest
INT32_MAX = 2**31 - 1


def check_dtype(op: str, *arrays) -> np.dtype:
    """All arrays float32, or all float64; returns that dtype."""
    dtypes = [np.dtype(a.dtype) for a in arrays if a is not None]
    if dtypes[0] not in SCALAR_TYPES or any(d != dtypes[0] for d in dtypes):
        names = ", ".join(str(d) for d in dtypes)
        raise TypeError(f"{op}: the CUDA kernels take all-float32 or all-float64 arrays, "
                        f"got {names}")
    return dtypes[0]


def contiguous(a):
    """``a`` as a C-contiguous array (no copy when it already is)."""
    if a is None or a.flags.c_contiguous:
        return a
    return get_array_module(a).ascontiguousarray(a)


def check_int32(op: str, **sizes: int) -> None:
    """Raise when an array the kernels index is too large for 32-bit indices."""
    for name, n in sizes.items():
        if n > INT32_MAX:
            raise ValueError(f"{op}: {name} has {n} elements, more than the CUDA kernels' "
                             f"32-bit indices allow ({INT32_MAX}); use a smaller batch")


def grid_1d(total: int, threads: int = THREADS) -> tuple[tuple[int], tuple[int]]:
    """(grid, block) for a grid-stride loop over ``total`` items."""
    blocks = max(1, min((total + threads - 1) // threads, MAX_BLOCKS))
    return (blocks,), (threads,)


def i32(*values) -> tuple:
    """Python ints -> np.int32 kernel arguments."""
    return tuple(np.int32(v) for v in values)


def device_id(xp) -> object:
    """A hashable id of the current device of array module ``xp`` (for per-device caches)."""
    return xp.cuda.Device().id if hasattr(xp, "cuda") else "cpu"


def run(filename: str, name: str, dtype, grid, block, args, defines: tuple = ()) -> None:
    """Launch kernel ``name`` of kernels/<filename> (compiled for dtype and defines)."""
    loader.get_function(filename, name, dtype, defines)(grid, block, args)


# Fresh outputs of the kernels come from ``empty``; under ``poisoned_outputs()`` (the tests)
# they are filled with NaN (floats) or -777 (ints) first, so an element a kernel forgets to
# write fails a comparison instead of passing by luck.
_poison = contextvars.ContextVar("minitorch_cuda_poison_outputs", default=False)


@contextlib.contextmanager
def poisoned_outputs():
    token = _poison.set(True)
    try:
        yield
    finally:
        _poison.reset(token)


def empty(xp, shape, dtype):
    """An output array for a kernel to fill (poisoned under ``poisoned_outputs``)."""
    out = xp.empty(shape, dtype=dtype)
    if _poison.get():
        out.fill(np.nan if np.dtype(dtype).kind == "f" else -777)
    return out


def empty_like(a):
    return empty(get_array_module(a), a.shape, a.dtype)
