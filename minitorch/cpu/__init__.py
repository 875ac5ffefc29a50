"""Numba kernels for the CPU hot paths: im2col/col2im (convolution) and max pooling.

Each kernel works on C-contiguous NumPy arrays and plain int geometry, so it can be read (and
tested) without the autograd machinery. The ops in ``minitorch/ops`` call them for NumPy arrays
and use their pure ``xp`` (NumPy/CuPy) reference paths otherwise.

Kernels are compiled on first use and cached on disk (``cache=True``): the first call of a
process that finds no cache pays a few seconds of compile time per dtype.
"""
try:
    import numba as _numba  # noqa: F401
    HAVE_NUMBA = True
except ImportError:  # numba is a dependency, but the xp reference paths keep minitorch usable
    HAVE_NUMBA = False

from .allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # before the first training step: see allocator.py
