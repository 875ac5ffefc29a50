"""The CPU emulator of the CUDA kernels (kernels/*.cu): the exact source the GPU runs, on the
CPU, no GPU needed. A test helper: tests/backends.py makes it one of the backends every op test
runs on, and tests/test_kernels_emulated.py tests the kernels through it one by one.

How: each .cu file is compiled as plain C++ with g++ behind a tiny header that defines the
CUDA keywords (__global__, __shared__, __restrict__, ...) and makes blockIdx/threadIdx/blockDim/
gridDim variables. A launcher runs the grid's blocks one after another. Inside a block:
- kernels without __syncthreads run their threads one after another;
- kernels with shared memory and __syncthreads (the tiled convolution, the reductions) run
  each thread of the block as a fiber: a thread runs up to its next __syncthreads, then the
  next one does, so the barrier-separated phases happen exactly as on the GPU (all threads
  finish copying before any multiplies), deterministically.
Kernel arguments go through ``void** args`` like cudaLaunchKernel, and the launcher checks each
argument's byte size against the C parameter type, so an int64 passed for an ``int`` fails here
instead of being misread on the GPU. Every variant built is one minitorch/cuda/loader.py
declares (``loader.builds()``), with the loader's own -D options.

API:
    emulated_get_function(filename, name, dtype, defines=())  a kernel, called like a RawKernel
    emulated_launches()   context: minitorch.cuda's launches go to the emulator (through
                          loader.compile_with), fresh kernel outputs are poisoned (NaN / -777)
    cuda_on_cpu()         context: that, and the CUDA kernel table for NumPy arrays too, so
                          F.conv2d, F.cross_entropy, optim.Adam... take the GPU's path exactly
    launched()            context yielding the list of kernel names the emulator ran inside
    emulated              pytest fixture (module scope) = emulated_launches()
    GXX, needs_gxx        g++'s path (None without it) and the skip mark
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from minitorch.cuda import launch, loader
from minitorch.cuda.table import CUDA
from minitorch.kernel_table import use_kernels

GXX = shutil.which("g++")
needs_gxx = pytest.mark.skipif(GXX is None, reason="g++ not found: kernel emulation skipped")

# --------------------------------------------------------------------------- the emulator
EMU_HEADER = r"""
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <thread>
#include <type_traits>
#include <ucontext.h>
#include <utility>
#include <vector>

struct emu_dim3 { unsigned x = 0, y = 0, z = 0; };
static emu_dim3 blockIdx, blockDim, gridDim;   // blocks run one at a time
static thread_local emu_dim3 threadIdx;        // each emulated thread has its own
static std::barrier<>* emu_barrier = nullptr;  // __syncthreads across OS threads, if set
static void (*emu_yield)() = nullptr;          // else: the fiber scheduler's (the launcher's)

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static   // one copy, shared by the threads of the (single) running block
inline void __syncthreads() { if (emu_yield) emu_yield(); else emu_barrier->arrive_and_wait(); }
using std::max;
using std::min;
"""

EMU_LAUNCHER = r"""
template <typename... A, std::size_t... I>
static void emu_call(void (*k)(A...), void** args, std::index_sequence<I...>) {
    k(*static_cast<std::remove_cv_t<A>*>(args[I])...);
}

// Kernels with __syncthreads run each thread of a block as a fiber (ucontext) on this one OS
// thread: a thread runs until its next __syncthreads (or its end), then the next thread runs;
// a round ends when every live thread has reached the barrier, and the next round starts.
// That is the barrier's meaning, made deterministic (a read of shared memory that a missing
// barrier leaves unordered sees the stale value every time) and cheap (no OS threads).
struct EmuFiber { ucontext_t ctx; emu_dim3 idx; bool done; };
static ucontext_t emu_scheduler;
static std::vector<EmuFiber>* emu_fibers = nullptr;
static unsigned emu_running = 0;
static void (*emu_body)() = nullptr;

static void emu_fiber_yield() {
    swapcontext(&(*emu_fibers)[emu_running].ctx, &emu_scheduler);
}

static void emu_fiber_entry() {
    emu_body();
    (*emu_fibers)[emu_running].done = true;   // uc_link returns to the scheduler
}

template <typename... A>
static int emu_launch(void (*k)(A...), const unsigned* g, const unsigned* b, void** args,
                      const long long* sizes, int nargs, int threaded) {
    if (nargs != (int)sizeof...(A)) return -1;
    const long long expect[] = {(long long)sizeof(A)...};
    for (int i = 0; i < nargs; ++i)
        if (sizes[i] != expect[i]) return -100 - i;   // argument i has the wrong C type
    gridDim = {g[0], g[1], g[2]};
    blockDim = {b[0], b[1], b[2]};
    const unsigned nthreads = b[0] * b[1] * b[2];
    static void (*kernel)(A...);
    static void** kargs;
    kernel = k;
    kargs = args;
    constexpr std::size_t STACK = 128 * 1024;
    std::vector<EmuFiber> fibers(threaded ? nthreads : 0);
    std::vector<char> stacks(threaded ? nthreads * STACK : 0);
    for (unsigned bz = 0; bz < g[2]; ++bz)
    for (unsigned by = 0; by < g[1]; ++by)
    for (unsigned bx = 0; bx < g[0]; ++bx) {
        blockIdx = {bx, by, bz};
        if (!threaded) {
            for (unsigned t = 0; t < nthreads; ++t) {
                threadIdx = {t % b[0], (t / b[0]) % b[1], t / (b[0] * b[1])};
                emu_call(k, args, std::index_sequence_for<A...>{});
            }
            continue;
        }
        emu_fibers = &fibers;
        emu_body = [] { emu_call(kernel, kargs, std::index_sequence_for<A...>{}); };
        emu_yield = emu_fiber_yield;
        for (unsigned t = 0; t < nthreads; ++t) {
            EmuFiber& f = fibers[t];
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = stacks.data() + (std::size_t)t * STACK;
            f.ctx.uc_stack.ss_size = STACK;
            f.ctx.uc_link = &emu_scheduler;
            makecontext(&f.ctx, emu_fiber_entry, 0);
            f.idx = {t % b[0], (t / b[0]) % b[1], t / (b[0] * b[1])};
            f.done = false;
        }
        for (bool live = true; live;) {        // one round per barrier
            live = false;
            for (unsigned t = 0; t < nthreads; ++t) {
                if (fibers[t].done) continue;
                emu_running = t;
                threadIdx = fibers[t].idx;
                swapcontext(&emu_scheduler, &fibers[t].ctx);
                live = live || !fibers[t].done;
            }
        }
        emu_yield = nullptr;
        emu_fibers = nullptr;
    }
    return 0;
}
#define EMU_EXPORT(name) \
    extern "C" int emu_##name(const unsigned* g, const unsigned* b, void** args, \
                              const long long* sizes, int nargs, int threaded) { \
        return emu_launch(name, g, b, args, sizes, nargs, threaded); }
"""

_KERNEL_NAME = re.compile(r'extern "C" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(')
_CTYPES = {np.dtype(np.int32): ctypes.c_int32, np.dtype(np.int64): ctypes.c_int64,
           np.dtype(np.uint64): ctypes.c_uint64,
           np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_libs: dict[tuple, tuple] = {}


def _build_dir() -> Path:
    path = Path(__file__).resolve().parents[1] / ".pytest_cache" / "kernel_emulator"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build(filename: str, dtype, defines: tuple = ()):
    """Compile kernels/<filename> for dtype/defines as a shared library (cached by hash)."""
    key = (filename, np.dtype(dtype).str, defines)
    if key in _libs:
        return _libs[key]
    source = loader.kernel_source(filename)
    names = _KERNEL_NAME.findall(source)
    assert names, f"no extern \"C\" __global__ kernels found in {filename}"
    # -D options exactly as the loader gives NVRTC (minus -std, which g++ gets as c++20).
    opts = [o for o in loader.compile_options(dtype, defines) if o.startswith("-D")]
    text = (EMU_HEADER + EMU_LAUNCHER + f'#line 1 "kernels/{filename}"\n' + source
            + "\n" + "".join(f"EMU_EXPORT({n})\n" for n in names))
    digest = hashlib.sha256((text + " ".join(opts)).encode()).hexdigest()[:16]
    out = _build_dir() / f"{Path(filename).stem}-{digest}.so"
    if not out.exists():
        cpp = out.with_suffix(".cpp")
        cpp.write_text(text)
        cmd = [GXX, "-std=c++20", "-O0", "-shared", "-fPIC", "-pthread", "-Wall", "-Werror",
               "-Wno-unknown-pragmas", *opts, "-o", str(out) + ".tmp", str(cpp)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, f"g++ failed on {filename}:\n{res.stderr[-4000:]}"
        Path(str(out) + ".tmp").rename(out)
    _libs[key] = (ctypes.CDLL(str(out)), "__syncthreads" in source)
    return _libs[key]


class EmulatedKernel:
    """Called like a cupy.RawKernel: kernel(grid, block, args)."""

    def __init__(self, lib, name: str, threaded: bool):
        self.fn = getattr(lib, f"emu_{name}")
        self.fn.restype = ctypes.c_int
        self.name, self.threaded = name, threaded

    def __call__(self, grid, block, args, shared_mem=0):
        for log in _logs:
            log.append(self.name)
        g = (ctypes.c_uint * 3)(*(tuple(grid) + (1, 1))[:3])
        b = (ctypes.c_uint * 3)(*(tuple(block) + (1, 1))[:3])
        assert all(v >= 1 for v in g) and all(v >= 1 for v in b), (grid, block)
        assert b[0] * b[1] * b[2] <= 1024, f"{self.name}: block {tuple(block)} > 1024 threads"
        holders, sizes = [], []
        for i, a in enumerate(args):
            if a is None:                       # CuPy passes None as a NULL pointer
                holders.append(ctypes.c_void_p(None))
            elif isinstance(a, np.ndarray):
                assert a.flags.c_contiguous, f"{self.name}: argument {i} is not C-contiguous"
                holders.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.generic):
                holders.append(_CTYPES[a.dtype](a.item()))
            elif isinstance(a, bool):
                raise TypeError(f"{self.name}: argument {i} is a Python bool")
            elif isinstance(a, int):            # CuPy turns a Python int into an int64
                holders.append(ctypes.c_int64(a))
            elif isinstance(a, float):
                holders.append(ctypes.c_double(a))
            else:
                raise TypeError(f"{self.name}: argument {i} has unsupported type {type(a)}")
            sizes.append(ctypes.sizeof(holders[-1]))
        argv = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
        sz = (ctypes.c_longlong * len(sizes))(*sizes)
        rc = self.fn(g, b, argv, sz, len(holders), int(self.threaded))
        assert rc != -1, f"{self.name}: called with {len(holders)} arguments, wrong count"
        assert rc == 0, (f"{self.name}: argument {-100 - rc} has the wrong C type "
                         f"({sizes[-100 - rc]} bytes)")


def emulated_get_function(filename, name, dtype, defines=()):
    lib, threaded = build(filename, dtype, tuple(defines))
    return EmulatedKernel(lib, name, threaded)


def build_all() -> None:
    """Build every variant the GPU can run, in parallel: g++ time dominates a cold run; later
    runs find the libraries cached under .pytest_cache/kernel_emulator."""
    missing = [b for b in loader.builds() if (b[0], np.dtype(b[1]).str, b[2]) not in _libs]
    if missing:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(lambda b: build(*b), missing))


_logs: list[list] = []


@contextlib.contextmanager
def launched():
    """Yields a list that collects the name of every kernel the emulator runs inside."""
    log: list[str] = []
    _logs.append(log)
    try:
        yield log
    finally:
        _logs.remove(log)


@contextlib.contextmanager
def emulated_launches():
    """Every kernel launch of minitorch.cuda in the enclosed code runs on the emulator, and
    fresh kernel outputs are poisoned, so an element a kernel forgets to write shows."""
    if GXX is None:
        pytest.skip("g++ not found: kernel emulation skipped")
    build_all()
    with loader.compile_with(emulated_get_function), launch.poisoned_outputs():
        yield


@contextlib.contextmanager
def cuda_on_cpu():
    """The GPU's whole dispatch on NumPy arrays: the CUDA kernel table, emulated launches."""
    with emulated_launches(), use_kernels(CUDA):
        yield


@pytest.fixture(scope="module")
def emulated():
    """Route minitorch.cuda's kernel launches to the CPU emulator; poison fresh outputs.
    (Module-scoped: nothing in it changes between hypothesis examples.)"""
    with emulated_launches():
        yield
