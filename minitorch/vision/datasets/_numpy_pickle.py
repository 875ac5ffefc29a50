"""The allowlist that lets ``minitorch.safe_pickle`` rebuild pickled NumPy arrays of numbers
(the CIFAR "python" release: dicts of uint8 arrays pickled by Python 2), and nothing else.

A pickled ndarray names three globals: ``_reconstruct`` (makes an empty array), ``ndarray``
(the class BUILD then fills with ``__setstate__``) and ``dtype``; newer NumPy pickles use
``_frombuffer`` instead. Each is replaced by a function that accepts only numeric dtypes:
an object dtype would let the pickle put arbitrary (allowlisted) objects into an array, and
a data file has no reason to contain one.
"""
from __future__ import annotations

import numpy as np

from ...safe_pickle import UnsafePickleError

_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex


def _numeric_dtype(spec, align=False, copy=False) -> np.dtype:
    if not isinstance(spec, (str, bytes)):
        raise UnsafePickleError(f"numpy.dtype({spec!r}): only dtype names are allowed")
    spec = spec.decode("latin1") if isinstance(spec, bytes) else spec
    dtype = np.dtype(spec, align=bool(align), copy=True)  # a private copy: BUILD mutates it
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
        raise UnsafePickleError(f"numpy.dtype({spec!r}): only numeric dtypes are allowed, "
                                f"not {dtype}")
    return dtype


def _reconstruct(cls, shape, typecode):
    if cls is not np.ndarray:
        raise UnsafePickleError(f"numpy _reconstruct of {cls!r}: only numpy.ndarray is allowed")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS:
        raise UnsafePickleError(f"numpy _frombuffer with dtype {dtype!r}: only numeric "
                                "dtypes are allowed")
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order).copy()


def _build_dtype(dtype: np.dtype, state) -> np.dtype:
    dtype.__setstate__(state)  # NumPy's own byte-order/flags restore, on our private copy
    if dtype.kind not in _NUMERIC_KINDS:
        raise UnsafePickleError(f"numpy dtype state {state!r} turned it into {dtype}")
    return dtype


def _build_array(array: np.ndarray, state) -> np.ndarray:
    if not isinstance(state, tuple) or len(state) != 5 or not isinstance(state[2], np.dtype) \
            or state[2].kind not in _NUMERIC_KINDS:
        raise UnsafePickleError("numpy ndarray state: expected (version, shape, numeric "
                                f"dtype, is_fortran, bytes), got {str(state)[:120]}")
    array.__setstate__(state)
    return array


def numpy_allowlist() -> tuple[dict, dict]:
    """(allowed globals, BUILD overrides) for ``safe_pickle.load``."""
    allowed = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[f"{module}._reconstruct"] = _reconstruct
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[f"{module}._frombuffer"] = _frombuffer
    allowed["numpy.dtype"] = _numeric_dtype
    allowed["numpy.ndarray"] = np.ndarray
    build = {np.ndarray: _build_array}
    for code in "?bBhHiIlLqQefdgFDG":
        build[type(np.dtype(code))] = _build_dtype
    return allowed, build
