"""Load kernels/*.cu: source text -> cupy.RawModule -> kernel functions, once per device.

The CUDA C sources are plain text files shipped inside the package (``minitorch.kernels``); in
a source checkout that is not installed they are read from the repo's ``kernels/`` folder.
Each source is compiled by NVRTC (through CuPy) the first time a kernel of it is needed, with
``-Dscalar_t=float`` or ``-Dscalar_t=double`` (the same source serves both dtypes) plus any
tile-shape defines, and the module and each function are memoized per device. Re-creating a
RawModule per call would recompile (or at least re-load) it each time: a known 2x slowdown.

Only ``get_function`` touches CuPy; ``kernel_source`` and ``compile_options`` are plain Python
(the emulated tests and the nvcc check use them to build exactly what the GPU runs).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ..backend import cupy_module

# float32 -> "float", float64 -> "double": the C type substituted for scalar_t.
SCALAR_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

_REPO_KERNELS = Path(__file__).resolve().parents[2] / "kernels"
_sources: dict[str, str] = {}
_modules: dict[tuple, object] = {}    # (device id, file, dtype, defines) -> cupy.RawModule
_functions: dict[tuple, object] = {}  # (device id, file, dtype, defines, name) -> RawKernel


def kernel_source(filename: str) -> str:
    """The text of kernels/<filename>: from the installed package, else from the checkout."""
    text = _sources.get(filename)
    if text is None:
        try:
            text = resources.files("minitorch.kernels").joinpath(filename).read_text()
        except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
            path = _REPO_KERNELS / filename
            if not path.is_file():
                raise FileNotFoundError(
                    f"minitorch.cuda: kernel source {filename!r} is neither in the installed "
                    f"package (minitorch.kernels) nor at {path}") from None
            text = path.read_text()
        _sources[filename] = text
    return text


def compile_options(dtype, defines: tuple = ()) -> tuple[str, ...]:
    """NVRTC options for one (dtype, tile-defines) build of a source file."""
    dt = np.dtype(dtype)
    if dt not in SCALAR_TYPES:
        raise TypeError(f"minitorch.cuda: kernels exist for float32 and float64, not {dt}")
    return ("-std=c++17", f"-Dscalar_t={SCALAR_TYPES[dt]}",
            *(f"-D{name}={value}" for name, value in defines))


def get_function(filename: str, name: str, dtype, defines: tuple = ()):
    """The kernel ``name`` of kernels/<filename> for ``dtype`` on the current device.

    ``defines`` is a tuple of (NAME, value) pairs (hashable: it is part of the memo key).
    The result is called as ``fn(grid, block, args)``, args being CuPy arrays and NumPy
    scalars of the exact C parameter types (np.int32 for ``int``).
    """
    cp = cupy_module()
    dt = np.dtype(dtype)
    device = cp.cuda.Device().id
    key = (device, filename, dt.str, tuple(defines))
    fn = _functions.get(key + (name,))
    if fn is None:
        module = _modules.get(key)
        if module is None:
            module = cp.RawModule(code=kernel_source(filename),
                                  options=compile_options(dt, tuple(defines)))
            _modules[key] = module
        fn = _functions[key + (name,)] = module.get_function(name)
    return fn
