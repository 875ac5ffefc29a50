"""Load kernels/*.cu: source text -> cupy.RawModule -> kernel functions, once per device.

The CUDA C sources are plain text files shipped inside the package (``minitorch.kernels``); in
a source checkout that is not installed they are read from the repo's ``kernels/`` folder.
Each source is compiled by NVRTC (through CuPy) the first time a kernel of it is needed, with
``-Dscalar_t=float`` or ``-Dscalar_t=double`` (the same source serves both dtypes) plus any
tile-shape defines, and the module and each function are memoized per device. Re-creating a
RawModule per call would recompile (or at least re-load) it each time: a known 2x slowdown.

Only ``get_function`` touches CuPy; ``kernel_source``, ``compile_options`` and ``builds`` are
plain Python (the emulated tests and .ci/compile_kernels.sh use them to build exactly what the
GPU runs). ``VARIANTS`` declares, once, every define set a source is compiled with beyond the
dtype; ``get_function`` refuses any other, so nothing can launch that CI did not compile.
``compile_with(builder)`` hands the kernel lookups of the enclosed code to ``builder`` (the
tests' CPU emulator, tests/emulator.py) instead of NVRTC.

Denormals: CuPy appends ``-ftz=true`` to the options of every module it compiles (after ours,
so a module cannot turn it off), so float32 values below 1.2e-38 flush to zero in these
kernels on the GPU, where NumPy and the CPU emulator keep them. float64 is unaffected.
Nothing in these models depends on such values; a result that did would differ between the
devices by at most those flushed values' contributions.
"""
from __future__ import annotations

import contextlib
import contextvars
from importlib import resources
from pathlib import Path

import numpy as np

from ..backend import cupy_module

# float32 -> "float", float64 -> "double": the C type substituted for scalar_t.
SCALAR_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

_REPO_KERNELS = Path(__file__).resolve().parents[2] / "kernels"

# Tile shapes (BM, BN, TM, TN) of conv_direct.cu: BM tiles output channels (a LeNet layer has
# 6..50, so a 64-row tile would idle most threads of a 6-channel layer); BN tiles output
# pixels (forward) or k (weight grad). minitorch/cuda/ops.py picks among exactly these: the
# largest giving >= 132 blocks, so the narrow ones (BN = 32) are for small batches.
CONV_TILES = ((16, 32, 2, 4), (16, 64, 2, 4), (32, 32, 4, 4), (32, 64, 4, 4), (64, 32, 4, 4),
              (64, 64, 4, 4), (32, 128, 4, 4))


def conv_tile_defines(tile) -> tuple:
    BM, BN, TM, TN = tile
    return (("CONV_BM", BM), ("CONV_BN", BN), ("CONV_TM", TM), ("CONV_TN", TN))


# Every compiled variant beyond the dtype: file -> the define tuples it is built with (files
# not listed are built once per dtype, with no defines).
VARIANTS = {"conv_direct.cu": tuple(conv_tile_defines(t) for t in CONV_TILES)}
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


def kernel_files() -> list[str]:
    """The names of every kernels/*.cu source (from the checkout, else the installed package)."""
    if _REPO_KERNELS.is_dir():
        return sorted(p.name for p in _REPO_KERNELS.glob("*.cu"))
    return sorted(p.name for p in resources.files("minitorch.kernels").iterdir()
                  if p.name.endswith(".cu"))


def builds():
    """(filename, dtype, defines) for every variant the GPU can run: what CI compiles."""
    for filename in kernel_files():
        for dtype in SCALAR_TYPES:
            for defines in VARIANTS.get(filename, ((),)):
                yield filename, dtype, tuple(defines)


def _check_variant(filename: str, defines: tuple) -> None:
    if tuple(defines) not in VARIANTS.get(filename, ((),)):
        raise ValueError(f"minitorch.cuda: {filename} is not built with defines {defines}; "
                         f"declared variants: {VARIANTS.get(filename, ((),))} (loader.VARIANTS)")


_builder = contextvars.ContextVar("minitorch_kernel_builder", default=None)


@contextlib.contextmanager
def compile_with(builder):
    """Look kernels up with ``builder(filename, name, dtype, defines)`` in the enclosed code."""
    token = _builder.set(builder)
    try:
        yield
    finally:
        _builder.reset(token)


def get_function(filename: str, name: str, dtype, defines: tuple = ()):
    """The kernel ``name`` of kernels/<filename> for ``dtype`` on the current device.

    ``defines`` is a tuple of (NAME, value) pairs (hashable: it is part of the memo key).
    The result is called as ``fn(grid, block, args)``, args being CuPy arrays and NumPy
    scalars of the exact C parameter types (np.int32 for ``int``).
    """
    _check_variant(filename, defines)
    builder = _builder.get()
    if builder is not None:
        return builder(filename, name, dtype, tuple(defines))
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
