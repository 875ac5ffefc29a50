"""Forward + backward time of the higher-cost ops, minitorch vs PyTorch, side by side in one
run (same float32 inputs, same thread count, best of N):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/op_speed.py [--repeats 10]

conv_transpose2d, conv1d, interpolate (bilinear, nearest), LSTM, GRU, MultiheadAttention.
Prints the machine, versions, the command and a markdown table (ratio > 1: minitorch faster).
"""
from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

import minitorch as mt
import minitorch.nn as mnn
import minitorch.nn.functional as F


def _best(fn, repeats: int) -> float:
    fn()  # warm-up (numba compiles, caches fill)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cases(torch):
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def functional(name, mt_fn, t_fn, *arrays):
        def run_mt():
            xs = [mt.tensor(a, requires_grad=True) for a in arrays]
            mt_fn(*xs).sum().backward()

        def run_t():
            xs = [torch.tensor(a, requires_grad=True) for a in arrays]
            t_fn(*xs).sum().backward()
        return name, run_mt, run_t

    def module(name, make_mt, make_t, x):
        m, t = make_mt(), make_t()

        def run_mt():
            out = m(mt.tensor(x, requires_grad=True))
            (out[0] if isinstance(out, tuple) else out).sum().backward()

        def run_t():
            out = t(torch.tensor(x, requires_grad=True))
            (out[0] if isinstance(out, tuple) else out).sum().backward()
        return name, run_mt, run_t

    tf = torch.nn.functional
    yield functional("conv_transpose2d 64->32, 3x3 s2, 16x16, batch 32",
                     lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
                     lambda x, w: tf.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
                     arr(32, 64, 16, 16), arr(64, 32, 3, 3))
    yield functional("conv1d 64->64, k5, L 256, batch 32",
                     lambda x, w: F.conv1d(x, w, padding=2), lambda x, w: tf.conv1d(x, w, padding=2),
                     arr(32, 64, 256), arr(64, 64, 5))
    yield functional("interpolate bilinear x2, 64ch 32x32, batch 16",
                     lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
                     lambda x: tf.interpolate(x, scale_factor=2, mode="bilinear"),
                     arr(16, 64, 32, 32))
    yield functional("interpolate nearest x2, 64ch 32x32, batch 16",
                     lambda x: F.interpolate(x, scale_factor=2),
                     lambda x: tf.interpolate(x, scale_factor=2), arr(16, 64, 32, 32))
    yield module("LSTM 128->256, 2 layers, L 50, batch 32",
                 lambda: mnn.LSTM(128, 256, 2), lambda: torch.nn.LSTM(128, 256, 2),
                 arr(50, 32, 128))
    yield module("GRU 128->256, L 50, batch 32", lambda: mnn.GRU(128, 256),
                 lambda: torch.nn.GRU(128, 256), arr(50, 32, 128))
    x = arr(64, 32, 256)
    yield ("MultiheadAttention E 256, 8 heads, L 64, batch 32",
           *_mha(mnn.MultiheadAttention(256, 8), torch.nn.MultiheadAttention(256, 8), x, torch))


def _mha(m, t, x, torch):
    def run_mt():
        q = mt.tensor(x, requires_grad=True)
        m(q, q, q)[0].sum().backward()

    def run_t():
        q = torch.tensor(x, requires_grad=True)
        t(q, q, q)[0].sum().backward()
    return run_mt, run_t


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        sys.exit("benchmarks/op_speed.py compares against PyTorch: pip install torch")
    print(f"command: python benchmarks/op_speed.py {' '.join(argv or sys.argv[1:])}")
    print(f"machine: {platform.platform()}, python {platform.python_version()}, numpy "
          f"{np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print("\n| op (forward + backward, float32) | minitorch | PyTorch | ratio |")
    print("|---|---:|---:|---:|")
    for name, run_mt, run_t in cases(torch):
        a, b = _best(run_mt, args.repeats), _best(run_t, args.repeats)
        print(f"| {name} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.2f} |", flush=True)


if __name__ == "__main__":
    main()
