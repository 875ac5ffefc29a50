"""Devices and array modules: the ONE place in minitorch that imports CuPy.

Every op gets its array module with ``xp = get_array_module(array)`` and writes the
same code for NumPy (CPU) and CuPy (GPU). Without CuPy, or without a usable GPU,
``import minitorch`` still works and only ``device="cuda"`` fails, saying why.
"""
from __future__ import annotations

import numpy as np

try:  # CuPy is optional: the `cuda` extra.
    import cupy as _cupy
    _CUPY_IMPORT_ERROR: Exception | None = None
except Exception as exc:  # ImportError, or a broken CUDA install raising at import
    _cupy = None
    _CUPY_IMPORT_ERROR = exc

DEVICES = ("cpu", "cuda")


def cuda_unavailable_reason() -> str | None:
    """Why ``device="cuda"`` cannot be used here, or None when it can."""
    if _cupy is None:
        return f"CuPy is not importable ({_CUPY_IMPORT_ERROR!r}); install minitorch[cuda]"
    try:
        count = _cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CuPy found no usable CUDA driver/device ({exc})"
    if count < 1:
        return "CuPy is installed but no CUDA device is visible"
    return None


def cupy_module():
    """CuPy itself, for minitorch.cuda (kernel loading and launches); a clear error without it."""
    if _cupy is None:
        raise RuntimeError(f"minitorch.cuda needs CuPy, which is not importable "
                           f"({_CUPY_IMPORT_ERROR!r}); install minitorch[cuda]")
    return _cupy


def is_cuda_available() -> bool:
    return cuda_unavailable_reason() is None


def normalize_device(device) -> str:
    """Map None / "cpu" / "cuda" / "cuda:0" / a Tensor's device to "cpu" or "cuda"."""
    if device is None:
        return "cpu"
    name = str(device).split(":")[0]
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES}")
    if name == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"device='cuda' requested but {reason}")
    return name


def array_module(device: str):
    """NumPy for "cpu", CuPy for "cuda"."""
    return _cupy if device == "cuda" else np


def get_array_module(*arrays):
    """CuPy if any argument is a CuPy array, else NumPy."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def device_of(array) -> str:
    return "cuda" if _cupy is not None and isinstance(array, _cupy.ndarray) else "cpu"


def to_device(array, device: str):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    if device_of(array) == device:
        return array
    if device == "cuda":
        normalize_device("cuda")  # raises with the reason if CUDA is unusable
        return _cupy.asarray(array)
    return _cupy.asnumpy(array)


def to_numpy(array) -> np.ndarray:
    return to_device(array, "cpu")
