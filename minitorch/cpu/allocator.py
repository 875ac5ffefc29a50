"""Keep freed array memory in the process, for the next training step to reuse.

A training step allocates and frees the same large arrays every time (activations, col
matrices, gradients: megabytes each). With glibc's defaults, malloc serves arrays above a
threshold (128 KB, raised on the fly up to 32 MB) with fresh ``mmap`` pages and hands freed
memory at the top of its heap back to the kernel once more than twice that threshold is free.
So every step page-faults its working set in again: each new page is zeroed by the kernel, and
two threads faulting at once wait on the same process-wide lock. Measured on the 2-core
development machine, SimpLeNet at batch 256: 1,800 page faults (7 MB) and 10 ms of system
time per 63 ms step with 2 threads; with the settings below, 2 faults, 0.3 ms and 57 ms.

``keep_freed_memory`` raises both thresholds, once, at import (minitorch/cpu/__init__.py):
arrays up to _MMAP_BYTES come from the heap, and up to _TRIM_BYTES of free heap is kept. The
process's resident size then stays at its peak instead of going up and down each step, as with
PyTorch's caching allocator on the GPU or the jemalloc/tcmalloc that PyTorch's CPU tuning
guide suggests. Only glibc has mallopt; elsewhere (macOS, musl) this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # glibc's malloc.h
_MMAP_BYTES = 256 << 20   # arrays larger than this still get their own mmap
_TRIM_BYTES = 1 << 30     # free heap kept for reuse, at most

_applied = False


def keep_freed_memory() -> bool:
    """Apply the thresholds (once per process); True if glibc took them."""
    global _applied
    if _applied:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        # Order matters: setting either one switches off glibc's on-the-fly adjustment.
        _applied = bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)
                        and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES))
    except (OSError, AttributeError):  # no usable libc: keep the defaults
        return False
    return _applied
