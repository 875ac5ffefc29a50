"""erf and erfc on CuPy arrays: the CUDA table's ``special`` entry, CUDA's own ``erf``/``erfc``
as a CuPy elementwise kernel (compiled once per function). Not a kernels/*.cu source, so the
CPU emulator does not run it: it is one line of CUDA's math library, tested on a real GPU
(the cuda-marked erf cases)."""
from __future__ import annotations

import functools

from ..backend import cupy_module


@functools.lru_cache(maxsize=None)
def _kernel(name: str):
    if name not in ("erf", "erfc"):
        raise KeyError(f"special: {name!r} is not one of erf, erfc")
    return cupy_module().ElementwiseKernel("T x", "T y", f"y = {name}(x)", f"minitorch_{name}")


def special(name: str, a):
    return _kernel(name)(a)
