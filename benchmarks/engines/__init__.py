"""What every engine module shares: the four networks' shapes, the fixed batches, the timed
training loop and the memory measurement. ``benchmarks/compare_engines.py`` runs them.

An engine module (``minitorch_engine``, ``torch_engine``, ``jax_engine``, ``dezero_engine``,
``tinygrad_engine``) is imported only inside that engine's own subprocess, after the thread
environment is set (so the parent, which never imports them, keeps their names and import
names: compare_engines.ENGINES), and has:

    MIN_WARMUP (optional)     untimed steps it needs before its steady state (TinyJit: 3)
    setup(threads) -> str     its own thread setting (after the env vars); returns "name version"
    build(model) -> net       the network (one of MODELS), in training mode
    param_count(net) -> int   trainable parameters (the parent checks they match minitorch's)
    trainer(net, optim, batches) -> (step(i), finish() -> float)
                              step(i) runs one training step on batches[i % len(batches)]:
                              forward, mean cross-entropy, zero grads, backward, optimizer step;
                              finish() waits for queued work (JAX, tinygrad are asynchronous) and
                              returns the last loss as a float.

Optimizers: SGD(lr=0.01, momentum=0.9) and Adam(lr=1e-3) with PyTorch's update rules.
"""
from __future__ import annotations

import ctypes
import gc
import time

import numpy as np

# model name -> (input shape C, H, W); LeNet-5 and SimpLeNet are the MNIST-shaped networks of
# the lectures, VGG-11 and ResNet-18 their CIFAR-10-shaped (3x32x32) small-input forms.
MODELS = {"lenet5": (1, 28, 28), "simplenet": (1, 28, 28),
          "vgg11": (3, 32, 32), "resnet18": (3, 32, 32)}
NUM_CLASSES = 10

# The architectures every engine builds (minitorch's zoo is the definition: see
# minitorch/models/lenet.py and small.py; the parameter counts are checked against it).
LENET5 = dict(convs=[(6, 5, 2), (16, 5, 0)], fcs=[120, 84])         # (out, kernel, padding)
SIMPLENET = dict(convs=[(20, 5, 0), (50, 5, 0)], fcs=[256])
# VGG-11 (cfg "A") without its fifth max-pool (32 -> 16 -> 8 -> 4 -> 2), then a global average
# pool and a 512-512-10 classifier with dropout 0.5 (minitorch's "vgg11-small").
VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512]
VGG11_HIDDEN = 512
# ResNet-18 with a CIFAR stem (3x3 stride-1 conv, no max-pool; "resnet18-cifar"): four stages
# of two BasicBlocks, (channels, first stride); BN after every conv; 1x1 projection shortcuts.
RESNET18 = [(64, 1), (128, 2), (256, 2), (512, 2)]
LR = {"sgd": 0.01, "adam": 1e-3}
MOMENTUM = 0.9
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
BN_EPS, BN_MOMENTUM = 1e-5, 0.1


def make_batches(model: str, batch: int, count: int = 4, seed: int = 0):
    """``count`` fixed (images float32 NCHW, labels int64) batches, the same in every engine."""
    rng = np.random.default_rng(seed)
    shape = (batch,) + MODELS[model]
    return [(rng.standard_normal(shape).astype(np.float32),
             rng.integers(0, NUM_CLASSES, batch).astype(np.int64)) for _ in range(count)]


def init_weight(rng, shape) -> np.ndarray:
    """float32 weights (out, in, ...) uniform in +-1/sqrt(fan_in), PyTorch's default scale, for
    the engines whose init we write: every engine starts near loss ln(10) and none diverges
    into inf/NaN arithmetic, which would time something else."""
    bound = 1 / np.sqrt(np.prod(shape[1:]))
    return rng.uniform(-bound, bound, shape).astype(np.float32)


# --------------------------------------------------------------------------- memory
# Peak memory of a training step: the peak resident set size (VmHWM) during the timed steps
# minus the resident set before the network was built. The kernel's peak counter is reset
# (/proc/self/clear_refs "5", Linux >= 4.0) after the warm-up steps, so JIT compilation's
# transient memory is not counted; malloc_trim first returns freed heap to the system, so a
# previous configuration's freed memory cannot hide this one's growth. The same method for
# every engine: it counts everything a step keeps or allocates (parameters, gradients,
# optimizer state, activations, workspaces, allocator caches), whoever allocated it.
def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def release_memory() -> int:
    """Collect garbage, return freed heap to the system; the resident set in KiB."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the baseline may include freed heap (an underestimate of growth)
    return _status_kb("VmRSS")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_kb() -> int:
    return _status_kb("VmHWM")


# --------------------------------------------------------------------------- the timed loop
def measure(engine, model: str, batch: int, optim: str, steps: int, warmup: int,
            repeats: int, max_window_s: float = float("inf")) -> dict:
    """Train ``model`` in ``engine``: ``warmup`` untimed steps (the first one timed alone: it
    includes JIT compilation / kernel cache loads), then ``repeats`` windows of ``steps``
    steps; images/s of the best window and the peak memory over all timed windows.

    An engine whose last warm-up step says a window would take over ``max_window_s`` gets
    fewer steps (at least 1) and, at 1 step, a single window: the returned ``steps`` and
    ``repeats`` say what ran."""
    warmup = max(warmup, getattr(engine, "MIN_WARMUP", 1))
    batches = make_batches(model, batch)
    baseline = release_memory()
    net = engine.build(model)
    step, finish = engine.trainer(net, optim, batches)
    t0 = time.perf_counter()
    step(0)
    loss_first = finish()
    first = last = time.perf_counter() - t0
    for i in range(1, warmup):
        t0 = time.perf_counter()
        step(i)
        finish()
        last = time.perf_counter() - t0
    if last * steps > max_window_s:
        steps = max(1, int(max_window_s / last))
        repeats = 1 if steps == 1 else repeats
    release_memory()  # what warm-up (JIT compilation) freed goes back: not counted as peak
    reset_peak()
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        loss = finish()
        best = max(best, steps * batch / (time.perf_counter() - t0))
    return {"images_per_s": best, "first_step_s": first, "steps": steps, "repeats": repeats,
            "peak_mem_mb": (peak_kb() - baseline) / 1024, "params": engine.param_count(net),
            "loss_first": loss_first, "loss_last": loss}
