"""One script for a machine with a GPU: verify and time minitorch's CUDA backend, end to end.

    python benchmarks/gpu_suite.py [--out DIR] [--data ROOT] [--quick] [--budget-s 480]

Sections (each records its error and the run goes on, so one run gives a full report):
  env         device, driver, CUDA runtime, CuPy / PyTorch / NumPy versions, nvcc
  pytest      `pytest -m cuda` (the GPU tests), pass/fail/skip counts
  ops         every op forward + backward on cuda vs the NumPy path (cpu) and vs PyTorch CUDA
  kernels     each conv/pool kernel vs cuDNN (PyTorch) on the LeNet-5 / SimpLeNet layer shapes,
              batch 64 and 512, and the implicit-GEMM conv vs im2col + cuBLAS (generic CuPy ops,
              and the im2col kernel + cuBLAS)
  train_step  one SimpLeNet training step (Adam) vs PyTorch eager, batch 64 and 512; and the
              minitorch step captured as a CUDA graph, where capture works
  epoch       one full MNIST training epoch of SimpLeNet on the GPU, then test accuracy
Writes report.json and report.md to --out (default $OUT, else ./gpu_report). Without a GPU
every GPU section is recorded as "skipped: no GPU (...)", which exercises everything else.

Timing: CUDA events around the region (cupy.cuda.Event for minitorch, torch.cuda.Event for
PyTorch), warm-up runs first (compiles, cuDNN autotuning, pool growth), median of repeats.
float32 throughout; PyTorch is timed with TF32 off (a like-for-like float32 comparison) and
the cuDNN conv also with its default TF32 setting.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import minitorch as mt  # noqa: E402
from minitorch.backend import cuda_unavailable_reason  # noqa: E402

try:
    import torch
    import torch.nn.functional as TF
except Exception:  # the suite still runs (and says so) without PyTorch
    torch = TF = None

NO_GPU = cuda_unavailable_reason()
BATCHES = (64, 512)


class Target:
    """Where the sections run: the GPU, or (--dry-run-cpu) the CPU with host timers, so the
    whole script can be exercised on a machine without a GPU."""
    device, torch_device = "cuda", "cuda"

    def xp(self):
        return cupy()

    def time(self, fn, warmup=3, reps=15):
        return time_cupy(fn, warmup, reps)

    def time_torch(self, fn, warmup=3, reps=15):
        return time_torch(fn, warmup, reps)


class CpuTarget(Target):
    device, torch_device = "cpu", "cpu"

    def xp(self):
        return np

    def time(self, fn, warmup=1, reps=3):
        return time_host(fn, min(warmup, 1), min(reps, 3))

    def time_torch(self, fn, warmup=1, reps=3):
        return time_host(fn, min(warmup, 1), min(reps, 3))


T = Target()


# --------------------------------------------------------------------------- bookkeeping
class Suite:
    def __init__(self, budget_s: float):
        self.report: dict = {"command": " ".join([sys.executable] + sys.argv),
                             "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        self.t0 = time.monotonic()
        self.budget_s = budget_s

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.t0)

    def section(self, name: str, fn, *, needs_gpu=True, needs_torch=False, min_left=0.0):
        """Run one section; store its result, or why it was skipped, or its error."""
        start = time.monotonic()
        if needs_gpu and NO_GPU:
            result = {"skipped": f"no GPU ({NO_GPU})"}
        elif needs_torch and torch is None:
            result = {"skipped": "PyTorch not importable"}
        elif self.left() < min_left:
            result = {"skipped": f"time budget: {self.left():.0f}s left, needs ~{min_left:.0f}s"}
        else:
            try:
                result = fn()
            except Exception as exc:
                result = {"error": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc(limit=8)}
        result = dict(result) if isinstance(result, dict) else {"result": result}
        result["seconds"] = round(time.monotonic() - start, 2)
        self.report[name] = result
        status = ("skipped" if "skipped" in result else "ERROR" if "error" in result else "ok")
        print(f"[gpu_suite] {name}: {status} ({result['seconds']}s)"
              + (f" - {result.get('skipped') or result.get('error')}" if status != "ok" else ""),
              flush=True)
        return result


def cupy():
    from minitorch.backend import cupy_module
    return cupy_module()


def time_host(fn, warmup=1, reps=3):
    """Median milliseconds by the host clock (the CPU dry run only)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def time_cupy(fn, warmup=3, reps=15):
    """Median milliseconds of fn() on the current stream (cupy.cuda.Event)."""
    cp = cupy()
    for _ in range(warmup):
        fn()
    cp.cuda.Stream.null.synchronize()
    times = []
    for _ in range(reps):
        a, b = cp.cuda.Event(), cp.cuda.Event()
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(cp.cuda.get_elapsed_time(a, b))
    return statistics.median(times)


def time_torch(fn, warmup=3, reps=15):
    """Median milliseconds of fn() on PyTorch's current stream (torch.cuda.Event)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def rel_err(a, b) -> float:
    """||a - b|| / ||b|| in float64 (0 for two zero arrays)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape {a.shape} vs {b.shape}")
    nb = np.linalg.norm(b)
    d = np.linalg.norm(a - b)
    return float(d / nb) if nb > 0 else float(d)


# --------------------------------------------------------------------------- env
def section_env():
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "numpy": np.__version__, "minitorch": getattr(mt, "__version__", "?"),
            "torch": getattr(torch, "__version__", None), "cuda_unavailable_reason": NO_GPU}
    try:
        out = subprocess.run(["nvcc", "--version"], capture_output=True, text=True, timeout=30)
        info["nvcc"] = out.stdout.strip().splitlines()[-1] if out.returncode == 0 else None
    except Exception as exc:
        info["nvcc"] = f"unavailable ({exc})"
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                              "clocks.max.sm", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
        info["nvidia_smi"] = out.stdout.strip() if out.returncode == 0 else out.stderr.strip()
    except Exception as exc:
        info["nvidia_smi"] = f"unavailable ({exc})"
    if not NO_GPU:
        cp = cupy()
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"]
        info.update(device=name.decode() if isinstance(name, bytes) else name,
                    sm_count=props["multiProcessorCount"],
                    compute_capability=f"{props['major']}.{props['minor']}",
                    cuda_runtime=cp.cuda.runtime.runtimeGetVersion(),
                    cuda_driver=cp.cuda.runtime.driverGetVersion(), cupy=cp.__version__)
    if torch is not None and torch.cuda.is_available():
        info.update(torch_cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    torch_device=torch.cuda.get_device_name())
    return info


# --------------------------------------------------------------------------- pytest
def section_pytest(timeout_s: float):
    import xml.etree.ElementTree as ET
    xml = Path(os.environ.get("TMPDIR", "/tmp")) / "minitorch_gpu_pytest.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
           f"--junitxml={xml}", "tests"]
    try:
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        rc, tail = out.returncode, (out.stdout + out.stderr)[-6000:]
    except subprocess.TimeoutExpired as exc:
        rc, tail = "timeout", f"pytest ran past {timeout_s:.0f}s: {str(exc.stdout)[-4000:]}"
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures = []
    if xml.is_file():
        for case in ET.parse(xml).getroot().iter("testcase"):
            kinds = {child.tag for child in case}
            name = f"{case.get('classname')}::{case.get('name')}"
            if "failure" in kinds:
                counts["failed"] += 1
                failures.append(name)
            elif "error" in kinds:
                counts["errors"] += 1
                failures.append(name)
            elif "skipped" in kinds:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
    return {"command": " ".join(cmd), "returncode": rc, **counts,
            "failures": failures[:50], "output_tail": tail}


# --------------------------------------------------------------------------- op checks
def _inputs(specs, seed):
    rng = np.random.default_rng(seed)
    arrays = []
    for s in specs:
        if isinstance(s, tuple) and s and s[0] == "int":      # ("int", shape, high)
            arrays.append(rng.integers(0, s[2], size=s[1]).astype(np.int64))
        elif isinstance(s, tuple) and s and s[0] == "pos":    # ("pos", shape)
            arrays.append(rng.uniform(0.5, 2.0, size=s[1]))
        else:
            arrays.append(rng.standard_normal(s))
    return arrays


def _op_cases():
    F = mt.nn.functional
    c = []
    # name, minitorch fn, torch fn, input specs
    c.append(("conv2d lenet1 (pad 2, bias)", lambda x, w, b: F.conv2d(x, w, b, padding=2),
              lambda x, w, b: TF.conv2d(x, w, b, padding=2), [(4, 1, 28, 28), (6, 1, 5, 5), (6,)]))
    c.append(("conv2d simplenet2", lambda x, w, b: F.conv2d(x, w, b),
              lambda x, w, b: TF.conv2d(x, w, b), [(4, 20, 12, 12), (50, 20, 5, 5), (50,)]))
    c.append(("conv2d stride2 dil2 groups2 nobias",
              lambda x, w: F.conv2d(x, w, None, stride=2, padding=1, dilation=2, groups=2),
              lambda x, w: TF.conv2d(x, w, None, stride=2, padding=1, dilation=2, groups=2),
              [(3, 4, 11, 10), (6, 2, 3, 3)]))
    c.append(("max_pool2d 2x2", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
              [(4, 6, 24, 24)]))
    c.append(("max_pool2d 3x3 s2 p1 ceil", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
              lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 10, 9)]))
    c.append(("avg_pool2d 3x3 s2 p1 ceil excl-pad",
              lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
              lambda x: TF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
              [(2, 3, 10, 9)]))
    c.append(("avg_pool2d 2x2", lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2),
              [(4, 6, 28, 28)]))
    c.append(("relu", F.relu, TF.relu, [(64, 256)]))
    c.append(("linear", F.linear, TF.linear, [(64, 800), (256, 800), (256,)]))
    c.append(("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(33, 17), (17, 9)]))
    c.append(("cross_entropy", F.cross_entropy, TF.cross_entropy, [(64, 10), ("int", (64,), 10)]))
    c.append(("log_softmax", lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1),
              [(16, 10)]))
    c.append(("mse_loss", F.mse_loss, TF.mse_loss, [(8, 5), (8, 5)]))
    c.append(("batch_norm train",
              lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
              lambda x, g, b: TF.batch_norm(x, None, None, g, b, training=True),
              [(16, 6, 5, 5), (6,), (6,)]))
    c.append(("tanh", mt.tanh, lambda x: torch.tanh(x), [(8, 9)]))
    c.append(("sigmoid", mt.sigmoid, lambda x: torch.sigmoid(x), [(8, 9)]))
    c.append(("broadcast add/mul", lambda a, b: a * b + a, lambda a, b: a * b + a,
              [(4, 1, 5), (3, 5)]))
    c.append(("sum/mean", lambda a: a.sum() + mt.mean(a, 1).sum(),
              lambda a: a.sum() + a.mean(1).sum(), [(6, 7)]))
    c.append(("flatten", lambda a: mt.flatten(a, 1), lambda a: torch.flatten(a, 1),
              [(4, 3, 2, 2)]))
    return c


def _run_mt(fn, arrays, device):
    xs = [mt.Tensor(a, requires_grad=a.dtype.kind == "f", device=device) for a in arrays]
    out = fn(*xs)
    up = np.random.default_rng(99).standard_normal(out.shape)
    out.backward(mt.Tensor(up, device=device) if out.ndim else None)
    to_np = mt.backend.to_numpy
    grads = [None if x.grad is None else to_np(x.grad.data) for x in xs]
    return to_np(out.data), grads, up


def section_ops():
    rows = []
    for name, mt_fn, t_fn, specs in _op_cases():
        row = {"op": name}
        try:
            arrays = _inputs(specs, seed=len(rows))
            cpu_out, cpu_grads, up = _run_mt(mt_fn, arrays, "cpu")
            gpu_out, gpu_grads, _ = _run_mt(mt_fn, arrays, T.device)
            row["fwd_vs_cpu"] = rel_err(gpu_out, cpu_out)
            row["grad_vs_cpu"] = max((rel_err(g, c) for g, c in zip(gpu_grads, cpu_grads)
                                      if c is not None), default=0.0)
            if torch is not None:
                ts = [torch.tensor(a, device=T.torch_device, requires_grad=a.dtype.kind == "f")
                      for a in arrays]
                ref = t_fn(*ts)
                ref.backward(torch.tensor(up, device=T.torch_device) if ref.ndim else None)
                row["fwd_vs_torch"] = rel_err(gpu_out, ref.detach().cpu().numpy())
                row["grad_vs_torch"] = max((rel_err(g, t.grad.cpu().numpy())
                                            for g, t in zip(gpu_grads, ts)
                                            if t.grad is not None and g is not None),
                                           default=0.0)
            worst = max(v for k, v in row.items() if k != "op")
            row["status"] = "pass" if worst < 1e-9 else "FAIL"   # float64 inputs
        except Exception as exc:
            row["status"] = "ERROR"
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
    return {"rows": rows, "passed": sum(r["status"] == "pass" for r in rows),
            "failed": sum(r["status"] != "pass" for r in rows),
            "rule": "float64 inputs; pass when every relative error < 1e-9"}


# --------------------------------------------------------------------------- kernel timings
LAYERS = {  # name: (C, H, W, OC, K, padding)
    "lenet5.conv1": (1, 28, 28, 6, 5, 2),
    "lenet5.conv2": (6, 14, 14, 16, 5, 0),
    "simplenet.conv1": (1, 28, 28, 20, 5, 0),
    "simplenet.conv2": (20, 12, 12, 50, 5, 0),
}
POOLS = {  # name: (C, H, W) of a 2x2/2 max pool input
    "lenet5.pool1": (6, 28, 28), "lenet5.pool2": (16, 10, 10),
    "simplenet.pool1": (20, 24, 24), "simplenet.pool2": (50, 8, 8),
}


def section_kernels(batches, reps):
    from minitorch.cpu.im2col import col2im_xp, im2col_xp
    from minitorch.cuda import ops as K
    cp = cupy()
    rows = []

    def add(row):
        rows.append(row)
        print("   ", json.dumps(row), flush=True)

    for N in batches:
        for name, (C, H, W, OC, KS, P) in LAYERS.items():
            OH, OW = H + 2 * P - KS + 1, W + 2 * P - KS + 1
            geom = (KS, KS, 1, 1, P, P, 1, 1, OH, OW)
            rng = np.random.default_rng(0)
            xh = rng.standard_normal((N, C, H, W)).astype(np.float32)
            wh = (rng.standard_normal((OC, C, KS, KS)) * 0.1).astype(np.float32)
            bh = rng.standard_normal(OC).astype(np.float32)
            gyh = rng.standard_normal((N, OC, OH, OW)).astype(np.float32)
            x, w, b, gy = (cp.asarray(a) for a in (xh, wh, bh, gyh))
            row = {"layer": name, "batch": N, "shape": f"{C}x{H}x{W} -> {OC}@{KS}x{KS}",
                   "gflop_fwd": round(2 * N * OC * OH * OW * C * KS * KS / 1e9, 3)}
            try:
                row["fwd_ours_ms"] = time_cupy(lambda: K.conv2d_forward(x, w, b, geom), reps=reps)
                row["wgrad_ours_ms"] = time_cupy(
                    lambda: K.conv2d_weight_grad(x, gy, w.shape, geom), reps=reps)
                row["dgrad_ours_ms"] = time_cupy(
                    lambda: K.conv2d_input_grad(gy, w, x.shape, geom), reps=reps)

                def fwd_generic():   # im2col from generic CuPy slicing + cuBLAS GEMM
                    col = im2col_xp(x, *geom)
                    y = (w.reshape(OC, -1) @ col).reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)
                    return y + b.reshape(1, OC, 1, 1)

                def fwd_im2col_kernel():   # the im2col kernel + cuBLAS GEMM
                    col = K.im2col(x, *geom)
                    y = (w.reshape(OC, -1) @ col).reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)
                    return y + b.reshape(1, OC, 1, 1)

                gmat = cp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(OC, -1)
                row["fwd_im2col_generic_cublas_ms"] = time_cupy(fwd_generic, reps=reps)
                row["fwd_im2col_kernel_cublas_ms"] = time_cupy(fwd_im2col_kernel, reps=reps)
                row["wgrad_im2col_kernel_cublas_ms"] = time_cupy(
                    lambda: gmat @ K.im2col(x, *geom).T, reps=reps)
                row["dgrad_generic_col2im_ms"] = time_cupy(
                    lambda: col2im_xp(w.reshape(OC, -1).T @ gmat, x.shape, *geom), reps=reps)
                # correctness of the timed kernels at this size (float32 vs float64 NumPy)
                y = cp.asnumpy(K.conv2d_forward(x, w, b, geom))
                col64 = im2col_xp(xh.astype(np.float64), *geom)
                yref = (wh.astype(np.float64).reshape(OC, -1) @ col64).reshape(
                    OC, N, OH, OW).transpose(1, 0, 2, 3) + bh.reshape(1, OC, 1, 1)
                row["fwd_rel_err"] = rel_err(y, yref)
                gw = cp.asnumpy(K.conv2d_weight_grad(x, gy, w.shape, geom))
                gwref = (gyh.astype(np.float64).transpose(1, 0, 2, 3).reshape(OC, -1)
                         @ col64.T).reshape(wh.shape)
                row["wgrad_rel_err"] = rel_err(gw, gwref)
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
            if torch is not None:
                try:
                    xt, wt, bt, gyt = (torch.as_tensor(a, device="cuda")
                                       for a in (xh, wh, bh, gyh))
                    torch.backends.cudnn.benchmark = True
                    torch.backends.cudnn.allow_tf32 = False
                    row["fwd_cudnn_ms"] = time_torch(lambda: TF.conv2d(xt, wt, bt, padding=P),
                                                     reps=reps)
                    bw = torch.ops.aten.convolution_backward

                    def wgrad_t():
                        return bw(gyt, xt, wt, [OC], [1, 1], [P, P], [1, 1], False, [0, 0], 1,
                                  [False, True, False])

                    def dgrad_t():
                        return bw(gyt, xt, wt, [OC], [1, 1], [P, P], [1, 1], False, [0, 0], 1,
                                  [True, False, False])

                    row["wgrad_cudnn_ms"] = time_torch(wgrad_t, reps=reps)
                    row["dgrad_cudnn_ms"] = time_torch(dgrad_t, reps=reps)
                    torch.backends.cudnn.allow_tf32 = True
                    row["fwd_cudnn_tf32_ms"] = time_torch(
                        lambda: TF.conv2d(xt, wt, bt, padding=P), reps=reps)
                    torch.backends.cudnn.allow_tf32 = False
                except Exception as exc:
                    row["torch_error"] = f"{type(exc).__name__}: {exc}"
            add(row)
        for name, (C, H, W) in POOLS.items():
            row = {"layer": name, "batch": N, "shape": f"{C}x{H}x{W} max/avg 2x2"}
            geom = (2, 2, 2, 2, 0, 0, 1, 1, H // 2, W // 2)
            xh = np.random.default_rng(1).standard_normal((N, C, H, W)).astype(np.float32)
            gyh = np.random.default_rng(2).standard_normal((N, C, H // 2, W // 2)).astype(
                np.float32)
            try:
                x, gy = cp.asarray(xh), cp.asarray(gyh)
                out, idx = K.max_pool(x, *geom)
                row["maxpool_fwd_ours_ms"] = time_cupy(lambda: K.max_pool(x, *geom), reps=reps)
                row["maxpool_bwd_ours_ms"] = time_cupy(
                    lambda: K.max_pool_backward(gy, idx, x.shape, *geom), reps=reps)
                div = cp.full((H // 2, W // 2), 4.0, dtype=cp.float32)
                row["avgpool_fwd_ours_ms"] = time_cupy(
                    lambda: K.avg_pool(x, div, 2, 2, 2, 2, 0, 0, H // 2, W // 2), reps=reps)
                row["avgpool_bwd_ours_ms"] = time_cupy(
                    lambda: K.avg_pool_backward(gy, div, x.shape, 2, 2, 2, 2, 0, 0, H // 2,
                                                W // 2), reps=reps)
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
            if torch is not None:
                try:
                    xt, gyt = torch.as_tensor(xh, device="cuda"), torch.as_tensor(gyh,
                                                                                  device="cuda")
                    _, it = torch.ops.aten.max_pool2d_with_indices(xt, [2, 2], [2, 2])
                    row["maxpool_fwd_torch_ms"] = time_torch(
                        lambda: torch.ops.aten.max_pool2d_with_indices(xt, [2, 2], [2, 2]),
                        reps=reps)
                    row["maxpool_bwd_torch_ms"] = time_torch(
                        lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                            gyt, xt, [2, 2], [2, 2], [0, 0], [1, 1], False, it), reps=reps)
                    row["avgpool_fwd_torch_ms"] = time_torch(lambda: TF.avg_pool2d(xt, 2),
                                                             reps=reps)
                    row["avgpool_bwd_torch_ms"] = time_torch(
                        lambda: torch.ops.aten.avg_pool2d_backward(
                            gyt, xt, [2, 2], [2, 2], [0, 0], False, True, None), reps=reps)
                except Exception as exc:
                    row["torch_error"] = f"{type(exc).__name__}: {exc}"
            add(row)
    return {"rows": rows, "dtype": "float32", "note": "ms, median of CUDA-event timings"}


# --------------------------------------------------------------------------- training step
def _torch_simplenet():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 20, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(20, 50, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(800, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))


def _mt_step(model, opt, x, y):
    opt.zero_grad()
    loss = mt.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def section_train_step(batches, reps):
    rows = []
    for N in batches:
        row = {"batch": N}
        rng = np.random.default_rng(N)
        xh = rng.standard_normal((N, 1, 28, 28)).astype(np.float32)
        yh = rng.integers(0, 10, N).astype(np.int64)
        try:
            model = mt.models.SimpLeNet().to(T.device)
            opt = mt.optim.Adam(model.parameters(), lr=1e-3)
            x, y = mt.Tensor(xh, device=T.device), mt.Tensor(yh, device=T.device)
            row["minitorch_ms"] = T.time(lambda: _mt_step(model, opt, x, y), warmup=5, reps=reps)
        except Exception as exc:
            row["minitorch_error"] = f"{type(exc).__name__}: {exc}"
        if T.device == "cuda":
            try:  # the same step captured once as a CUDA graph, then replayed
                row["minitorch_graph_ms"] = _graph_step_ms(model, opt, x, y, reps)
            except Exception as exc:
                row["minitorch_graph_error"] = f"{type(exc).__name__}: {exc}"
        if torch is not None:
            try:
                if T.torch_device == "cuda":
                    torch.backends.cudnn.benchmark = True
                    torch.backends.cudnn.allow_tf32 = False
                tm = _torch_simplenet().to(T.torch_device)
                topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
                xt = torch.as_tensor(xh, device=T.torch_device)
                yt = torch.as_tensor(yh, device=T.torch_device)

                def tstep():
                    topt.zero_grad()
                    TF.cross_entropy(tm(xt), yt).backward()
                    topt.step()

                row["torch_eager_ms"] = T.time_torch(tstep, warmup=5, reps=reps)
            except Exception as exc:
                row["torch_error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
        print("   ", json.dumps(row), flush=True)
    return {"rows": rows, "model": "SimpLeNet, Adam lr=1e-3, float32", "device": T.device}


def _graph_step_ms(model, opt, x, y, reps):
    """Capture one minitorch step on a side stream as a CUDA graph and time its replays.
    Fails (and the report says why) if the step synchronizes or allocates fresh memory."""
    cp = cupy()
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        for _ in range(3):
            _mt_step(model, opt, x, y)     # warm: memory-pool blocks and modules exist
        stream.synchronize()
        stream.begin_capture()
        try:
            _mt_step(model, opt, x, y)
        finally:
            graph = stream.end_capture()
    return _time_graph(graph, stream, reps)


def _time_graph(graph, stream, reps):
    cp = cupy()
    for _ in range(3):
        graph.launch(stream)
    stream.synchronize()
    times = []
    for _ in range(reps):
        a, b = cp.cuda.Event(), cp.cuda.Event()
        a.record(stream)
        graph.launch(stream)
        b.record(stream)
        b.synchronize()
        times.append(cp.cuda.get_elapsed_time(a, b))
    return statistics.median(times)


# --------------------------------------------------------------------------- one epoch
def section_epoch(data_root, batch_size, max_steps=None):
    xp = T.xp()
    sync = (lambda: xp.cuda.Stream.null.synchronize()) if T.device == "cuda" else (lambda: None)
    from minitorch.data.mnist import MNIST
    train, test = MNIST(root=data_root, train=True), MNIST(root=data_root, train=False)
    mean, std = MNIST.mean, MNIST.std

    def to_gpu(ds):
        x = ((ds.data.astype(np.float32) / 255.0 - mean) / std)[:, None]
        return xp.asarray(x), xp.asarray(ds.targets)

    xtr, ytr = to_gpu(train)
    xte, yte = to_gpu(test)
    mt.manual_seed(0)
    model = mt.models.SimpLeNet().to(T.device)
    opt = mt.optim.Adam(model.parameters(), lr=1e-3)
    order = xp.asarray(np.random.default_rng(0).permutation(len(ytr)))
    steps = len(ytr) // batch_size if max_steps is None else max_steps
    sync()
    start = time.perf_counter()
    losses = []
    for s in range(steps):
        idx = order[s * batch_size:(s + 1) * batch_size]
        loss = _mt_step(model, opt, mt.Tensor._make(xtr[idx], False, None),
                        mt.Tensor._make(ytr[idx], False, None))
        if s % 100 == 0:
            losses.append(float(loss.item()))
    sync()
    seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    n_test = len(yte) if max_steps is None else 2000
    with mt.no_grad():
        for i in range(0, n_test, 1000):
            logits = model(mt.Tensor._make(xte[i:i + 1000], False, None))
            correct += int((xp.argmax(logits.data, axis=1) == yte[i:i + 1000]).sum())
    return {"device": T.device, "steps": steps, "batch_size": batch_size, "train_seconds": round(seconds, 2),
            "ms_per_step": round(1000 * seconds / max(steps, 1), 3),
            "images_per_s": round(steps * batch_size / seconds, 1),
            "loss_every_100_steps": losses, "test_images": n_test,
            "test_accuracy": correct / n_test}


# --------------------------------------------------------------------------- report
def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _table(rows, keys):
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")
    return "\n".join(lines)


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    md = [f"# minitorch GPU suite\n\ncommand: `{report['command']}`  \nstarted: "
          f"{report['started']}  \ntotal: {report.get('total_seconds', '(running)')} s\n"]
    if report.get("note"):
        md.append(f"**{report['note']}**\n")
    env = report.get("env", {})
    md.append("## Environment\n\n" + "\n".join(f"- {k}: {_fmt(v)}" for k, v in env.items()))
    for name in ("pytest", "ops", "kernels", "train_step", "epoch"):
        sec = report.get(name, {})
        md.append(f"\n## {name}\n")
        if "skipped" in sec or "error" in sec:
            md.append(f"{'skipped' if 'skipped' in sec else 'ERROR'}: "
                      f"{sec.get('skipped') or sec.get('error')}\n")
            if "traceback" in sec:
                md.append("```\n" + sec["traceback"] + "\n```")
            continue
        if name == "pytest":
            md.append(f"passed {sec.get('passed')}, failed {sec.get('failed')}, errors "
                      f"{sec.get('errors')}, skipped {sec.get('skipped')} "
                      f"(rc {sec.get('returncode')})\n")
            if sec.get("failures"):
                md.append("failures:\n" + "\n".join(f"- {f}" for f in sec["failures"]))
        elif name == "ops":
            md.append(f"{sec.get('passed')} passed, {sec.get('failed')} not ({sec.get('rule')})"
                      "\n\n" + _table(sec.get("rows", []), ["op", "status", "fwd_vs_cpu",
                                                            "grad_vs_cpu", "fwd_vs_torch",
                                                            "grad_vs_torch", "error"]))
        elif name == "kernels":
            rows = sec.get("rows", [])
            conv = [r for r in rows if "gflop_fwd" in r]
            pool = [r for r in rows if "gflop_fwd" not in r]
            md.append(_table(conv, ["layer", "batch", "shape", "fwd_ours_ms", "fwd_cudnn_ms",
                                    "fwd_cudnn_tf32_ms", "fwd_im2col_kernel_cublas_ms",
                                    "fwd_im2col_generic_cublas_ms", "wgrad_ours_ms",
                                    "wgrad_cudnn_ms", "wgrad_im2col_kernel_cublas_ms",
                                    "dgrad_ours_ms", "dgrad_cudnn_ms",
                                    "dgrad_generic_col2im_ms", "fwd_rel_err",
                                    "wgrad_rel_err", "error", "torch_error"]))
            md.append("\n" + _table(pool, ["layer", "batch", "maxpool_fwd_ours_ms",
                                           "maxpool_fwd_torch_ms", "maxpool_bwd_ours_ms",
                                           "maxpool_bwd_torch_ms", "avgpool_fwd_ours_ms",
                                           "avgpool_fwd_torch_ms", "avgpool_bwd_ours_ms",
                                           "avgpool_bwd_torch_ms", "error", "torch_error"]))
        elif name == "train_step":
            md.append(_table(sec.get("rows", []), ["batch", "minitorch_ms",
                                                   "minitorch_graph_ms", "torch_eager_ms",
                                                   "minitorch_error", "minitorch_graph_error",
                                                   "torch_error"]))
        else:
            md.append("\n".join(f"- {k}: {_fmt(v)}" for k, v in sec.items()))
    (out / "report.md").write_text("\n".join(md) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_report",
                   help="report directory (default $OUT, else ./gpu_report)")
    p.add_argument("--data", default=os.environ.get("MINITORCH_DATA"),
                   help="dataset root holding mnist/ (default $MINITORCH_DATA)")
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats, batch 64 only, 50 epoch steps (a smoke run)")
    p.add_argument("--budget-s", type=float, default=480.0,
                   help="soft wall-clock budget; later sections skip when it runs out")
    p.add_argument("--pytest-timeout-s", type=float, default=200.0)
    p.add_argument("--skip", default="", help="comma-separated sections to skip")
    p.add_argument("--dry-run-cpu", action="store_true",
                   help="no GPU: run the ops / train_step / epoch code on the CPU (host timers, "
                        "few steps) to check the script itself; kernels and pytest are skipped")
    args = p.parse_args(argv)
    global T
    if args.dry_run_cpu:
        T = CpuTarget()
        args.quick = True
        suite_note = "DRY RUN ON THE CPU: no GPU numbers in this report"
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    batches = BATCHES[:1] if args.quick else BATCHES
    reps = 5 if args.quick else 20
    suite = Suite(args.budget_s)
    out = Path(args.out)
    if args.dry_run_cpu:
        suite.report["note"] = suite_note

    def run(name, fn, **kw):
        if name in skip:
            suite.report[name] = {"skipped": "--skip"}
            return
        suite.section(name, fn, **kw)
        write_report(suite.report, out)   # after every section: a crash still leaves a report

    run("env", section_env, needs_gpu=False)
    run("pytest", lambda: section_pytest(min(args.pytest_timeout_s, max(30, suite.left() - 200))),
        needs_gpu=True, min_left=60)
    cpu_ok = {"needs_gpu": not args.dry_run_cpu}
    run("ops", section_ops, min_left=30, **cpu_ok)
    run("kernels", lambda: section_kernels(batches, reps), min_left=60)
    run("train_step", lambda: section_train_step(batches, reps), min_left=30, **cpu_ok)
    if args.data is None:
        suite.report["epoch"] = {"skipped": "no data root: pass --data or set MINITORCH_DATA"}
    else:
        run("epoch", lambda: section_epoch(args.data, 64, 50 if args.quick else None),
            min_left=45, **cpu_ok)
    suite.report["total_seconds"] = round(time.monotonic() - suite.t0, 1)
    write_report(suite.report, out)
    print(f"[gpu_suite] wrote {out / 'report.json'} and {out / 'report.md'} "
          f"({suite.report['total_seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
