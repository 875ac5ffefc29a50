"""erf and erfc on NumPy arrays: the CPU tables' ``special`` entry.

NumPy has no erf, so both tables use C's libm ``erf``/``erfc`` (Python's ``math.erf`` is the
same function): compiled into a ufunc by numba for the numba table (float32 inputs use the
float32 libm function), called element by element on Python floats for the reference table
(slow, obviously right; float32 results rounded from float64, so they may differ from the
numba table's in the last bit).
"""
from __future__ import annotations

import functools
import math

import numpy as np



def _erf_scalar(x):  # module-level functions, so numba can cache the compiled ufuncs on disk
    return math.erf(x)


def _erfc_scalar(x):
    return math.erfc(x)


_SCALAR = {"erf": _erf_scalar, "erfc": _erfc_scalar}


def _check(name: str):
    if name not in _SCALAR:
        raise KeyError(f"special: {name!r} is not one of {', '.join(_SCALAR)}")
    return _SCALAR[name]


@functools.lru_cache(maxsize=None)
def _numba_ufunc(name: str):
    import numba
    fn = _check(name)
    return numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)(fn)


def special_numba(name: str, a):
    return np.asarray(_numba_ufunc(name)(a))


def special_reference(name: str, a):
    fn = _check(name)
    return np.asarray(np.frompyfunc(fn, 1, 1)(a).astype(a.dtype) if a.size else np.empty_like(a))
