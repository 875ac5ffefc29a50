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


# A kernel that needs NVRTC to compile and checks its own result: the availability probe.
_PROBE_SOURCE = r"""
extern "C" __global__ void minitorch_probe(float* x, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = 2.0f * x[i] + 1.0f;
}
"""
_INSTALL_HINT = ('pip install "minitorch[cuda]" (CuPy with the CUDA 12 toolkit wheels: '
                 'cupy-cuda12x[ctk]), or a CUDA toolkit on the library path')


def probe_cuda(cp) -> str | None:
    """Why CUDA is unusable through the CuPy module ``cp``, or None when it works: a device is
    visible, NVRTC compiles a kernel that then runs and gives the right answer, and cuBLAS
    loads and multiplies. (Counting devices is not enough: CuPy installed without NVRTC or
    cuBLAS sees the GPU and fails at the first kernel.)"""
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CuPy found no usable CUDA driver/device ({type(exc).__name__}: {exc})"
    if count < 1:
        return "CuPy is installed but no CUDA device is visible"
    try:
        kernel = cp.RawModule(code=_PROBE_SOURCE).get_function("minitorch_probe")
        x = cp.arange(64, dtype=cp.float32)
        kernel((1,), (64,), (x, np.int32(64)))
        got = cp.asnumpy(x)
    except Exception as exc:
        return (f"CuPy sees {count} CUDA device(s) but cannot compile and run a kernel "
                f"(NVRTC missing or broken? {type(exc).__name__}: {exc}); {_INSTALL_HINT}")
    if not np.array_equal(got, 2 * np.arange(64, dtype=np.float32) + 1):
        return "a test kernel compiled and ran on the GPU but returned wrong values"
    try:
        a = cp.full((4, 4), 0.5, dtype=cp.float32)
        product = cp.asnumpy(a @ a)
    except Exception as exc:
        return (f"CuPy sees {count} CUDA device(s) but cuBLAS does not load or run "
                f"({type(exc).__name__}: {exc}); {_INSTALL_HINT}")
    if not np.allclose(product, 1.0):
        return "cuBLAS ran but a 4x4 matrix product came out wrong"
    return None


_probe_result: list = []   # [reason or None], filled by the first cuda_unavailable_reason()


def cuda_unavailable_reason() -> str | None:
    """Why ``device="cuda"`` cannot be used here, or None when it can (probed once, cached)."""
    if _cupy is None:
        return f"CuPy is not importable ({_CUPY_IMPORT_ERROR!r}); {_INSTALL_HINT}"
    if not _probe_result:
        _probe_result.append(probe_cuda(_cupy))
    return _probe_result[0]


def cupy_module():
    """CuPy itself, for minitorch.cuda (kernel loading and launches); a clear error without it."""
    if _cupy is None:
        raise RuntimeError(f"minitorch.cuda needs CuPy, which is not importable "
                           f"({_CUPY_IMPORT_ERROR!r}); install minitorch[cuda]")
    return _cupy


def is_cuda_available() -> bool:
    return cuda_unavailable_reason() is None


def normalize_device(device) -> str:
    """Map None / "cpu" / "cuda" / "cuda:N" / a device / a Tensor's device to "cpu" or "cuda".

    minitorch keeps CUDA arrays on CuPy's current device, so "cuda:N" is accepted only when N
    is that device; any other index is an error saying why (never a silent move to another
    GPU than the one named).
    """
    if device is None:
        return "cpu"
    spec = str(device)
    name, colon, index = spec.partition(":")
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES}")
    if colon and not index.isdigit():
        raise ValueError(f"invalid device {spec!r}: the index after ':' must be a "
                         "non-negative integer")
    if name == "cpu":
        if colon and int(index) != 0:
            raise ValueError(f"invalid device {spec!r}: the CPU has only index 0")
        return name
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"device={spec!r} requested but {reason}")
    if colon:
        _check_cuda_index(spec, int(index))
    return name


def _check_cuda_index(spec: str, index: int) -> None:
    count = _cupy.cuda.runtime.getDeviceCount()
    if index >= count:
        raise RuntimeError(f"device={spec!r}: no such CUDA device ({count} visible: "
                           f"cuda:0..cuda:{count - 1})")
    current = _cupy.cuda.Device().id
    if index != current:
        raise RuntimeError(f"device={spec!r}: minitorch places CUDA tensors on the current "
                           f"device, cuda:{current}; make cuda:{index} current first "
                           f"(cupy.cuda.Device({index}).use(), or `with "
                           f"cupy.cuda.Device({index}):`)")


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
