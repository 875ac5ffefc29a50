"""One script for a machine with a GPU: verify and time minitorch's CUDA backend, end to end.

    python benchmarks/gpu_suite.py [--data ROOT] [--out DIR] [--quick] [--budget-s 450]
    python benchmarks/gpu_suite.py --dry-run-cpu      # no GPU: exercise the script on the CPU
    bash benchmarks/device_run.sh                     # the lent device's one call (README)

Sections (each records its error and the run goes on, so one run gives a full report):
  env         device, SM count, driver, CUDA runtime, CuPy / PyTorch / NumPy versions, nvcc
  ops         every op forward + backward on cuda vs the NumPy path (cpu) and vs PyTorch
  kernels     each conv/pool kernel vs cuDNN (PyTorch) on the LeNet-5 / SimpLeNet layer shapes,
              and the implicit-GEMM conv vs im2col + cuBLAS; every timed kernel's result is
              also compared with a float64 NumPy reference (tolerance F32_TOL)
  train_step  one SimpLeNet training step (Adam) vs PyTorch eager at batch 64 / 512 / 2048;
              and the step captured as a CUDA graph (minitorch/cuda/graph.py, SGD with
              momentum: see there why), replays checked against as many eager steps
  epoch       one full MNIST training epoch of SimpLeNet on the GPU, then test accuracy
              (>= EPOCH_MIN_ACCURACY); the data must travel with the working tree (README)
  pytest      `pytest -m cuda` (the GPU tests), with whatever time is left, pass/fail counts
  targets     the issue's performance targets, each marked met or not (reported, not failed)

Exit status: 0 only when every section that ran passed, and nothing was skipped except by
--skip (or, in a CPU dry run, the GPU-only sections). A section fails when it raised, when
any of its rows raised or missed its tolerance, or when it has no rows at all.

The report (report.json, report.md) goes to benchmarks/results/ (or --out) and, when $OUT
is set (the lent device machine's output folder), to $OUT too. A dry run writes to --out or
a temporary folder, never over the committed device report.

Timing: CUDA events around the region (cupy.cuda.Event for minitorch, torch.cuda.Event for
PyTorch), warm-up runs first (compiles, cuDNN autotuning, pool growth), median of repeats.
Each timing also records the host time spent issuing the work: when it is >= LAUNCH_BOUND of
the device time, the GPU was waiting for Python and the row says "launch-bound" (batch 64
mostly is; the larger batches measure the kernels). float32 throughout; PyTorch is timed with
TF32 off (like-for-like float32), the cuDNN conv also with its default TF32 setting.

Numerics: CuPy compiles every kernel with -ftz=true (it appends the flag after the caller's
options, so it cannot be turned off per module): float32 denormals (< 1.2e-38) flush to zero
on the GPU and not on the CPU. No result of these shapes depends on them; the tolerances below
would show it if one did.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
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
BATCHES = (64, 512, 2048)     # 64 is mostly launch overhead; 512 and 2048 measure the kernels
RESULTS = REPO / "benchmarks" / "results"
DEVICE_DATA = REPO / ".device_data"   # ignored folder that a device run carries (README)
F32_TOL = 1e-5            # float32 kernel vs float64 NumPy: relative error, norm-wise
F64_TOL = 1e-9            # float64 op vs the NumPy path / PyTorch
GRAPH_TOL = 1e-5          # replayed graph steps vs as many eager steps (float32 parameters)
LAUNCH_BOUND = 0.8        # host issue time / device time at which a timing is launch-bound
EPOCH_MIN_ACCURACY = 0.97     # SimpLeNet after one MNIST epoch (Adam 1e-3) reaches ~0.985
QUICK_MIN_ACCURACY = 0.70     # after the 50 steps of --quick / --dry-run-cpu


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
def row_status(row: dict, errors: dict, tol: float) -> str:
    """'ERROR' if the row recorded an exception, 'FAIL' if an error value is missing, not
    finite or above tol, else 'pass'. ``errors``: name -> measured relative error."""
    if any(k == "error" or k.endswith("_error") for k in row):
        return "ERROR"
    bad = {k: v for k, v in errors.items()
           if v is None or not np.isfinite(v) or v > tol}
    if bad:
        row["over_tolerance"] = {k: v for k, v in bad.items()}
        return "FAIL"
    return "pass"


def section_status(result: dict) -> str:
    """ok / FAIL / ERROR / skipped for a section's result (see the module docstring)."""
    if "skipped" in result:
        return "skipped"
    if "error" in result:
        return "ERROR"
    if result.get("failed", 0):
        return "FAIL"
    rows = result.get("rows")
    if rows is not None:
        if not rows:
            return "FAIL"
        if any(r.get("status") != "pass" for r in rows):
            return "FAIL"
    if result.get("status") not in (None, "pass", "ok"):
        return "FAIL"
    return "ok"


class Suite:
    def __init__(self, budget_s: float):
        self.report: dict = {"command": " ".join([sys.executable] + sys.argv),
                             "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        self.t0 = time.monotonic()
        self.budget_s = budget_s
        self.allowed_skips: set[str] = set()

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.t0)

    def section(self, name: str, fn, *, needs_gpu=True, needs_torch=False, min_left=0.0):
        """Run one section; store its result (with its status), or why it was skipped."""
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
        result["status"] = section_status(result)
        self.report[name] = result
        status = result["status"]
        detail = result.get("skipped") or result.get("error") or ""
        if status == "FAIL" and "rows" in result:
            bad = [r for r in result["rows"] if r.get("status") != "pass"]
            detail = f"{len(bad)} of {len(result['rows'])} rows not passing" if bad else "no rows"
        print(f"[gpu_suite] {name}: {status} ({result['seconds']}s)"
              + (f" - {detail}" if detail else ""), flush=True)
        return result

    def failures(self) -> list[str]:
        """Sections that failed, raised, or were skipped without being allowed to."""
        out = []
        for name, sec in self.report.items():
            if not isinstance(sec, dict) or "status" not in sec:
                continue
            if sec["status"] in ("FAIL", "ERROR"):
                out.append(f"{name}: {sec['status']}")
            elif sec["status"] == "skipped" and name not in self.allowed_skips:
                out.append(f"{name}: skipped ({sec['skipped']})")
        return out


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
    return {"ms": statistics.median(times), "host_ms": statistics.median(times),
            "launch_bound": None}


def _timing(device_ms: list, host_ms: list) -> dict:
    ms, host = statistics.median(device_ms), statistics.median(host_ms)
    return {"ms": ms, "host_ms": host, "launch_bound": bool(host >= LAUNCH_BOUND * ms)}


def time_cupy(fn, warmup=3, reps=15):
    """Median milliseconds of fn() on the current stream (cupy.cuda.Event), and the host time
    spent issuing it (no sync inside): {"ms", "host_ms", "launch_bound"}."""
    cp = cupy()
    for _ in range(warmup):
        fn()
    cp.cuda.get_current_stream().synchronize()
    times, host = [], []
    for _ in range(reps):
        a, b = cp.cuda.Event(), cp.cuda.Event()
        a.record()
        t = time.perf_counter()
        fn()
        host.append(1000 * (time.perf_counter() - t))
        b.record()
        b.synchronize()
        times.append(cp.cuda.get_elapsed_time(a, b))
    return _timing(times, host)


def time_torch(fn, warmup=3, reps=15):
    """As time_cupy, on PyTorch's current stream (torch.cuda.Event)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times, host = [], []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        t = time.perf_counter()
        fn()
        host.append(1000 * (time.perf_counter() - t))
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return _timing(times, host)


def put(row: dict, key: str, timing: dict) -> None:
    """row[key] = milliseconds; the timings that were launch-bound are listed in the row."""
    row[key] = round(timing["ms"], 4)
    if timing["launch_bound"]:
        row.setdefault("launch_bound", []).append(key)


def rel_err(a, b) -> float:
    """||a - b|| / ||b|| in float64 (||a - b|| for an all-zero b)."""
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
            "torch": getattr(torch, "__version__", None), "cuda_unavailable_reason": NO_GPU,
            "float32_denormals": "flushed to zero in minitorch's kernels (CuPy appends "
                                 "-ftz=true to every NVRTC compile), kept on the CPU"}
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
                    cuda_driver=cp.cuda.runtime.driverGetVersion(), cupy=cp.__version__,
                    nvrtc=".".join(map(str, cp.cuda.nvrtc.getVersion())))
    if torch is not None and torch.cuda.is_available():
        info.update(torch_cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    torch_device=torch.cuda.get_device_name())
    return info


# --------------------------------------------------------------------------- pytest
def section_pytest(timeout_s: float, junit: str | None = None):
    import xml.etree.ElementTree as ET
    xml = Path(junit) if junit else Path(tempfile.gettempdir()) / "minitorch_gpu_pytest.xml"
    xml.unlink(missing_ok=True)
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
    # A timeout, a crash, no test run at all, or any failure is a failed section.
    ok = rc == 0 and counts["passed"] > 0 and not counts["failed"] and not counts["errors"]
    return {"command": " ".join(cmd), "returncode": rc, **counts,
            "status": "pass" if ok else "FAIL", "failures": failures[:50], "output_tail": tail}


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
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
        row["status"] = row_status(row, {k: v for k, v in row.items() if k.endswith(
            ("_vs_cpu", "_vs_torch"))}, F64_TOL)
        rows.append(row)
    return {"rows": rows, "passed": sum(r["status"] == "pass" for r in rows),
            "failed": sum(r["status"] != "pass" for r in rows),
            "rule": f"float64 inputs; pass when every relative error < {F64_TOL:g}"}


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
KERNEL_BATCHES = (64, 512)


def _conv_row(K, cp, N, name, C, H, W, OC, KS, P, reps):
    """Time one conv layer's kernels (ours, im2col + cuBLAS, cuDNN) and check ours against a
    float64 reference computed on the GPU from the same float32 inputs."""
    from minitorch.cpu.im2col import col2im_xp, im2col_xp
    from minitorch.ops.geometry import Geometry2d
    OH, OW = H + 2 * P - KS + 1, W + 2 * P - KS + 1
    g = Geometry2d(KS, KS, 1, 1, P, P, 1, 1, OH, OW)
    rng = np.random.default_rng(0)
    xh = rng.standard_normal((N, C, H, W)).astype(np.float32)
    wh = (rng.standard_normal((OC, C, KS, KS)) * 0.1).astype(np.float32)
    bh = rng.standard_normal(OC).astype(np.float32)
    gyh = rng.standard_normal((N, OC, OH, OW)).astype(np.float32)
    x, w, b, gy = (cp.asarray(a) for a in (xh, wh, bh, gyh))
    row = {"layer": name, "batch": N, "shape": f"{C}x{H}x{W} -> {OC}@{KS}x{KS}",
           "gflop_fwd": round(2 * N * OC * OH * OW * C * KS * KS / 1e9, 3)}
    errors = {}
    try:
        put(row, "fwd_ours_ms", time_cupy(lambda: K.conv2d_forward(x, w, b, g), reps=reps))
        put(row, "wgrad_ours_ms", time_cupy(
            lambda: K.conv2d_weight_grad(x, gy, w.shape, g), reps=reps))
        put(row, "dgrad_ours_ms", time_cupy(
            lambda: K.conv2d_input_grad(gy, w, x.shape, g), reps=reps))

        def fwd_generic():   # im2col from generic CuPy slicing + cuBLAS GEMM
            col = im2col_xp(x, g)
            y = (w.reshape(OC, -1) @ col).reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)
            return y + b.reshape(1, OC, 1, 1)

        def fwd_im2col_kernel():   # the im2col kernel + cuBLAS GEMM
            col = K.im2col(x, g)
            y = (w.reshape(OC, -1) @ col).reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)
            return y + b.reshape(1, OC, 1, 1)

        gmat = cp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(OC, -1)
        put(row, "fwd_im2col_generic_cublas_ms", time_cupy(fwd_generic, reps=reps))
        put(row, "fwd_im2col_kernel_cublas_ms", time_cupy(fwd_im2col_kernel, reps=reps))
        put(row, "wgrad_im2col_kernel_cublas_ms", time_cupy(
            lambda: gmat @ K.im2col(x, g).T, reps=reps))
        put(row, "dgrad_generic_col2im_ms", time_cupy(
            lambda: col2im_xp(w.reshape(OC, -1).T @ gmat, x.shape, g), reps=reps))
        # Each timed kernel of ours vs float64 array code on the same inputs.
        x64, w64, b64, gy64 = (a.astype(cp.float64) for a in (x, w, b, gy))
        col64 = im2col_xp(x64, g)
        yref = (w64.reshape(OC, -1) @ col64).reshape(OC, N, OH, OW).transpose(1, 0, 2, 3) \
            + b64.reshape(1, OC, 1, 1)
        errors["fwd_rel_err"] = rel_err(cp.asnumpy(K.conv2d_forward(x, w, b, g)),
                                        cp.asnumpy(yref))
        gmat64 = cp.ascontiguousarray(gy64.transpose(1, 0, 2, 3)).reshape(OC, -1)
        errors["wgrad_rel_err"] = rel_err(cp.asnumpy(K.conv2d_weight_grad(x, gy, w.shape, g)),
                                          cp.asnumpy((gmat64 @ col64.T).reshape(w.shape)))
        gxref = col2im_xp(w64.reshape(OC, -1).T @ gmat64, x.shape, g)
        errors["dgrad_rel_err"] = rel_err(cp.asnumpy(K.conv2d_input_grad(gy, w, x.shape, g)),
                                          cp.asnumpy(gxref))
        errors["im2col_rel_err"] = rel_err(cp.asnumpy(K.im2col(x, g)), cp.asnumpy(col64))
        row.update(errors)
        row["fwd_speedup_vs_im2col_generic"] = round(
            row["fwd_im2col_generic_cublas_ms"] / row["fwd_ours_ms"], 3)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    if torch is not None:
        try:
            xt, wt, bt, gyt = (torch.as_tensor(a, device="cuda") for a in (xh, wh, bh, gyh))
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.allow_tf32 = False
            put(row, "fwd_cudnn_ms", time_torch(lambda: TF.conv2d(xt, wt, bt, padding=P),
                                                reps=reps))
            bw = torch.ops.aten.convolution_backward
            args = ([OC], [1, 1], [P, P], [1, 1], False, [0, 0], 1)
            put(row, "wgrad_cudnn_ms", time_torch(
                lambda: bw(gyt, xt, wt, *args, [False, True, False]), reps=reps))
            put(row, "dgrad_cudnn_ms", time_torch(
                lambda: bw(gyt, xt, wt, *args, [True, False, False]), reps=reps))
            torch.backends.cudnn.allow_tf32 = True
            put(row, "fwd_cudnn_tf32_ms", time_torch(
                lambda: TF.conv2d(xt, wt, bt, padding=P), reps=reps))
            torch.backends.cudnn.allow_tf32 = False
        except Exception as exc:
            row["torch_error"] = f"{type(exc).__name__}: {exc}"
    row["status"] = row_status(row, errors if "error" not in row else {}, F32_TOL)
    return row


def _pool_row(K, cp, N, name, C, H, W, reps):
    from minitorch.cpu.pool import (avg_pool_backward_xp, avg_pool_xp, max_pool_backward_xp,
                                    max_pool_xp)
    from minitorch.ops.geometry import Geometry2d
    row = {"layer": name, "batch": N, "shape": f"{C}x{H}x{W} max/avg 2x2"}
    g = Geometry2d(2, 2, 2, 2, 0, 0, 1, 1, H // 2, W // 2)
    xh = np.random.default_rng(1).standard_normal((N, C, H, W)).astype(np.float32)
    gyh = np.random.default_rng(2).standard_normal((N, C, H // 2, W // 2)).astype(np.float32)
    errors = {}
    try:
        x, gy = cp.asarray(xh), cp.asarray(gyh)
        div = cp.full((H // 2, W // 2), 4.0, dtype=cp.float32)
        out, idx = K.max_pool(x, g)
        put(row, "maxpool_fwd_ours_ms", time_cupy(lambda: K.max_pool(x, g), reps=reps))
        put(row, "maxpool_bwd_ours_ms", time_cupy(
            lambda: K.max_pool_backward(gy, idx, x.shape, g), reps=reps))
        put(row, "avgpool_fwd_ours_ms", time_cupy(lambda: K.avg_pool(x, div, g), reps=reps))
        put(row, "avgpool_bwd_ours_ms", time_cupy(
            lambda: K.avg_pool_backward(gy, div, x.shape, g), reps=reps))
        ref_out, ref_idx = max_pool_xp(x, g)      # array code: exact for a max
        errors["maxpool_fwd_rel_err"] = rel_err(cp.asnumpy(out), cp.asnumpy(ref_out))
        errors["maxpool_idx_mismatches"] = float(int((idx != ref_idx).sum()))
        errors["maxpool_bwd_rel_err"] = rel_err(
            cp.asnumpy(K.max_pool_backward(gy, idx, x.shape, g)),
            cp.asnumpy(max_pool_backward_xp(gy.astype(cp.float64), ref_idx, x.shape, g)))
        div64 = div.astype(cp.float64)
        errors["avgpool_fwd_rel_err"] = rel_err(
            cp.asnumpy(K.avg_pool(x, div, g)),
            cp.asnumpy(avg_pool_xp(x.astype(cp.float64), div64, g)))
        errors["avgpool_bwd_rel_err"] = rel_err(
            cp.asnumpy(K.avg_pool_backward(gy, div, x.shape, g)),
            cp.asnumpy(avg_pool_backward_xp(gy.astype(cp.float64), div64, x.shape, g)))
        row.update(errors)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    if torch is not None:
        try:
            xt, gyt = torch.as_tensor(xh, device="cuda"), torch.as_tensor(gyh, device="cuda")
            _, it = torch.ops.aten.max_pool2d_with_indices(xt, [2, 2], [2, 2])
            put(row, "maxpool_fwd_torch_ms", time_torch(
                lambda: torch.ops.aten.max_pool2d_with_indices(xt, [2, 2], [2, 2]), reps=reps))
            put(row, "maxpool_bwd_torch_ms", time_torch(
                lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                    gyt, xt, [2, 2], [2, 2], [0, 0], [1, 1], False, it), reps=reps))
            put(row, "avgpool_fwd_torch_ms", time_torch(lambda: TF.avg_pool2d(xt, 2), reps=reps))
            put(row, "avgpool_bwd_torch_ms", time_torch(
                lambda: torch.ops.aten.avg_pool2d_backward(
                    gyt, xt, [2, 2], [2, 2], [0, 0], False, True, None), reps=reps))
        except Exception as exc:
            row["torch_error"] = f"{type(exc).__name__}: {exc}"
    row["status"] = row_status(row, errors if "error" not in row else {}, F32_TOL)
    return row


def section_kernels(batches, reps):
    from minitorch.cuda import ops as K
    cp = cupy()
    rows = []
    for N in batches:
        for name, (C, H, W, OC, KS, P) in LAYERS.items():
            rows.append(_conv_row(K, cp, N, name, C, H, W, OC, KS, P, reps))
            print("   ", json.dumps(rows[-1]), flush=True)
        for name, (C, H, W) in POOLS.items():
            rows.append(_pool_row(K, cp, N, name, C, H, W, reps))
            print("   ", json.dumps(rows[-1]), flush=True)
    return {"rows": rows, "dtype": "float32",
            "rule": f"each kernel's relative error vs float64 array code < {F32_TOL:g}; "
                    "max-pool indices equal",
            "note": "ms, median of CUDA-event timings"}


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


def _torch_step(tm, topt, xt, yt):
    topt.zero_grad()
    TF.cross_entropy(tm(xt), yt).backward()
    topt.step()


def _batch(N):
    rng = np.random.default_rng(N)
    return (rng.standard_normal((N, 1, 28, 28)).astype(np.float32),
            rng.integers(0, 10, N).astype(np.int64))


def _images_per_s(row, key, N):
    if row.get(key):
        row[key.replace("_ms", "_img_s")] = round(1000 * N / row[key], 1)


def section_train_step(batches, reps):
    rows = []
    for N in batches:
        row = {"batch": N, "optimizer": "Adam"}
        xh, yh = _batch(N)
        try:
            model = mt.models.SimpLeNet().to(T.device)
            opt = mt.optim.Adam(model.parameters(), lr=1e-3)
            x, y = mt.Tensor(xh, device=T.device), mt.Tensor(yh, device=T.device)
            put(row, "minitorch_ms", T.time(lambda: _mt_step(model, opt, x, y), warmup=5,
                                            reps=reps))
            _images_per_s(row, "minitorch_ms", N)
        except Exception as exc:
            row["minitorch_error"] = f"{type(exc).__name__}: {exc}"
        if torch is not None:
            try:
                tm = _torch_model()
                topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
                xt = torch.as_tensor(xh, device=T.torch_device)
                yt = torch.as_tensor(yh, device=T.torch_device)
                put(row, "torch_eager_ms", T.time_torch(lambda: _torch_step(tm, topt, xt, yt),
                                                        warmup=5, reps=reps))
                _images_per_s(row, "torch_eager_ms", N)
            except Exception as exc:
                row["torch_error"] = f"{type(exc).__name__}: {exc}"
        if row.get("minitorch_ms") and row.get("torch_eager_ms"):
            row["throughput_vs_torch"] = round(row["torch_eager_ms"] / row["minitorch_ms"], 3)
        row["status"] = row_status(row, {}, 0.0)
        rows.append(row)
        print("   ", json.dumps(row), flush=True)
        if T.device == "cuda":
            rows.append(_graph_row(N, xh, yh, reps))
            print("   ", json.dumps(rows[-1]), flush=True)
    return {"rows": rows, "model": "SimpLeNet, float32", "device": T.device,
            "rule": "a row passes when it ran; a graph row also when its replays equal as "
                    f"many eager steps (relative error < {GRAPH_TOL:g})"}


def _torch_model():
    if T.torch_device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    return _torch_simplenet().to(T.torch_device)


GRAPH_WARMUP, GRAPH_CHECK_REPLAYS = 3, 3


def _graph_row(N, xh, yh, reps):
    """The SGD-with-momentum step captured as a CUDA graph: replays vs eager, correctness
    (replays == as many eager steps from the same start) and timing, vs PyTorch eager SGD.
    SGD because its update reads no host-side counter (graph.py, rule 2): Adam's bias
    corrections are host scalars that a replay would freeze at the captured step."""
    from minitorch.cuda.graph import capture_step
    row = {"batch": N, "optimizer": "SGD(momentum=0.9)"}
    errors = {}
    try:
        def fresh():
            mt.manual_seed(0)
            model = mt.models.SimpLeNet().to("cuda")
            return model, mt.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        eager_model, eager_opt = fresh()
        graph_model, graph_opt = fresh()
        x, y = mt.Tensor(xh, device="cuda"), mt.Tensor(yh, device="cuda")
        step = capture_step(lambda a, b: _mt_step(graph_model, graph_opt, a, b), x, y,
                            warmup=GRAPH_WARMUP)
        for _ in range(GRAPH_CHECK_REPLAYS):
            step()
        for _ in range(GRAPH_WARMUP + GRAPH_CHECK_REPLAYS):
            eager_loss = _mt_step(eager_model, eager_opt, x, y)
        errors["graph_params_vs_eager"] = max(
            rel_err(a.detach().numpy(), b.detach().numpy())
            for a, b in zip(graph_model.parameters(), eager_model.parameters()))
        errors["graph_loss_vs_eager"] = rel_err(step.outputs.detach().numpy(),
                                                eager_loss.detach().numpy())
        row.update(errors)
        put(row, "minitorch_graph_ms", time_cupy(step, reps=reps))
        put(row, "minitorch_ms", time_cupy(lambda: _mt_step(eager_model, eager_opt, x, y),
                                           warmup=2, reps=reps))
        _images_per_s(row, "minitorch_graph_ms", N)
    except Exception as exc:
        row["minitorch_graph_error"] = f"{type(exc).__name__}: {exc}"
    if torch is not None:
        try:
            tm = _torch_model()
            topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
            xt, yt = torch.as_tensor(xh, device="cuda"), torch.as_tensor(yh, device="cuda")
            put(row, "torch_eager_ms", time_torch(lambda: _torch_step(tm, topt, xt, yt),
                                                  warmup=5, reps=reps))
        except Exception as exc:
            row["torch_error"] = f"{type(exc).__name__}: {exc}"
    if row.get("minitorch_graph_ms") and row.get("torch_eager_ms"):
        row["graph_throughput_vs_torch"] = round(row["torch_eager_ms"]
                                                 / row["minitorch_graph_ms"], 3)
    row["status"] = row_status(row, errors if "minitorch_graph_error" not in row else {},
                               GRAPH_TOL)
    return row


# --------------------------------------------------------------------------- one epoch
def resolve_data_root(arg: str | None) -> Path | None:
    """--data may name the root holding mnist/ or the mnist/ folder itself; without it, the
    carried .device_data/ of the checkout, else $MINITORCH_DATA."""
    candidates = [arg] if arg else [str(DEVICE_DATA) if DEVICE_DATA.is_dir() else None,
                                    os.environ.get("MINITORCH_DATA")]
    for c in candidates:
        if c:
            path = Path(c)
            return path.parent if path.name == "mnist" else path
    return None


def section_epoch(data_root, batch_size, max_steps=None):
    xp = T.xp()
    sync = (lambda: xp.cuda.Stream.null.synchronize()) if T.device == "cuda" else (lambda: None)
    from minitorch.data.mnist import MNIST
    train, test = MNIST(root=data_root, train=True), MNIST(root=data_root, train=False)
    mean, std = MNIST.mean, MNIST.std

    def to_device(ds):
        x = ((ds.data.astype(np.float32) / 255.0 - mean) / std)[:, None]
        return xp.asarray(x), xp.asarray(ds.targets)

    xtr, ytr = to_device(train)
    xte, yte = to_device(test)
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
    accuracy = correct / n_test
    need = EPOCH_MIN_ACCURACY if max_steps is None else QUICK_MIN_ACCURACY
    return {"device": T.device, "data": str(data_root), "steps": steps,
            "batch_size": batch_size, "train_seconds": round(seconds, 2),
            "ms_per_step": round(1000 * seconds / max(steps, 1), 3),
            "images_per_s": round(steps * batch_size / seconds, 1),
            "loss_every_100_steps": losses, "test_images": n_test,
            "test_accuracy": accuracy, "min_accuracy": need,
            "status": "pass" if accuracy >= need else "FAIL"}


# --------------------------------------------------------------------------- targets
def section_targets(report: dict) -> dict:
    """The issue's performance targets, from the rows above: reported, never failed (a slow
    kernel is a finding, not a broken run)."""
    out = []
    kernels = report.get("kernels", {}).get("rows", [])
    conv = [r for r in kernels if "fwd_speedup_vs_im2col_generic" in r]
    if conv:
        worst = min(conv, key=lambda r: r["fwd_speedup_vs_im2col_generic"])
        out.append({"target": "implicit-GEMM conv forward faster than im2col + cuBLAS from "
                              "CuPy ops, every layer and batch",
                    "value": f"worst {worst['fwd_speedup_vs_im2col_generic']}x "
                             f"({worst['layer']}, batch {worst['batch']})",
                    "met": worst["fwd_speedup_vs_im2col_generic"] > 1.0})
    steps = report.get("train_step", {}).get("rows", [])
    for optimizer, key, batch, need in (("Adam", "throughput_vs_torch", 512, 0.5),
                                        ("SGD(momentum=0.9)", "graph_throughput_vs_torch", 64,
                                         1.0)):
        row = next((r for r in steps if r.get("batch") == batch
                    and r.get("optimizer") == optimizer and key in r), None)
        what = ("SimpLeNet step at batch 512 >= 0.5x PyTorch eager" if batch == 512 else
                "captured-graph SimpLeNet step at batch 64 >= 1.0x PyTorch eager")
        out.append({"target": what, "value": None if row is None else f"{row[key]}x",
                    "met": None if row is None else row[key] >= need})
    return {"targets": out}


# --------------------------------------------------------------------------- report
def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return "" if v is None else str(v)


def _table(rows, keys):
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")
    return "\n".join(lines)


SECTIONS = ("env", "ops", "kernels", "train_step", "epoch", "pytest", "targets")
CONV_KEYS = ["layer", "batch", "status", "fwd_ours_ms", "fwd_cudnn_ms", "fwd_cudnn_tf32_ms",
             "fwd_im2col_kernel_cublas_ms", "fwd_im2col_generic_cublas_ms",
             "fwd_speedup_vs_im2col_generic", "wgrad_ours_ms", "wgrad_cudnn_ms",
             "wgrad_im2col_kernel_cublas_ms", "dgrad_ours_ms", "dgrad_cudnn_ms",
             "dgrad_generic_col2im_ms", "fwd_rel_err", "wgrad_rel_err", "dgrad_rel_err",
             "launch_bound", "error", "torch_error"]
POOL_KEYS = ["layer", "batch", "status", "maxpool_fwd_ours_ms", "maxpool_fwd_torch_ms",
             "maxpool_bwd_ours_ms", "maxpool_bwd_torch_ms", "avgpool_fwd_ours_ms",
             "avgpool_fwd_torch_ms", "avgpool_bwd_ours_ms", "avgpool_bwd_torch_ms",
             "maxpool_idx_mismatches", "maxpool_bwd_rel_err", "avgpool_fwd_rel_err",
             "avgpool_bwd_rel_err", "launch_bound", "error", "torch_error"]
STEP_KEYS = ["batch", "optimizer", "status", "minitorch_ms", "minitorch_graph_ms",
             "torch_eager_ms", "minitorch_img_s", "minitorch_graph_img_s", "torch_eager_img_s",
             "throughput_vs_torch", "graph_throughput_vs_torch", "graph_params_vs_eager",
             "launch_bound", "minitorch_error", "minitorch_graph_error", "torch_error"]


def write_report(report: dict, out_dirs) -> None:
    md = [f"# minitorch GPU suite\n\ncommand: `{report['command']}`  \nstarted: "
          f"{report['started']}  \ntotal: {report.get('total_seconds', '(running)')} s  \n"
          f"result: **{report.get('result', '(running)')}**\n"]
    if report.get("note"):
        md.append(f"**{report['note']}**\n")
    if report.get("failures"):
        md.append("failures:\n" + "\n".join(f"- {f}" for f in report["failures"]) + "\n")
    env = report.get("env", {})
    md.append("## Environment\n\n" + "\n".join(f"- {k}: {_fmt(v)}" for k, v in env.items()))
    for name in SECTIONS[1:]:
        sec = report.get(name, {})
        md.append(f"\n## {name}: {sec.get('status', 'not run')}\n")
        if "skipped" in sec or "error" in sec:
            md.append(f"{'skipped' if 'skipped' in sec else 'ERROR'}: "
                      f"{sec.get('skipped') or sec.get('error')}\n")
            if "traceback" in sec:
                md.append("```\n" + sec["traceback"] + "\n```")
            continue
        if sec.get("rule"):
            md.append(f"rule: {sec['rule']}\n")
        if name == "pytest":
            md.append(f"passed {sec.get('passed')}, failed {sec.get('failed')}, errors "
                      f"{sec.get('errors')}, skipped {sec.get('skipped')} "
                      f"(rc {sec.get('returncode')})\n")
            if sec.get("failures"):
                md.append("failures:\n" + "\n".join(f"- {f}" for f in sec["failures"]))
        elif name == "ops":
            md.append(_table(sec.get("rows", []), ["op", "status", "fwd_vs_cpu", "grad_vs_cpu",
                                                   "fwd_vs_torch", "grad_vs_torch", "error"]))
        elif name == "kernels":
            rows = sec.get("rows", [])
            md.append(_table([r for r in rows if "gflop_fwd" in r], CONV_KEYS))
            md.append("\n" + _table([r for r in rows if "gflop_fwd" not in r], POOL_KEYS))
        elif name == "train_step":
            md.append(_table(sec.get("rows", []), STEP_KEYS))
            md.append(f"\n`launch_bound` lists the timings whose host issue time was >= "
                      f"{LAUNCH_BOUND:g} of the device time: the GPU waited for Python.")
        elif name == "targets":
            md.append(_table(sec.get("targets", []), ["target", "value", "met"]))
        else:
            md.append("\n".join(f"- {k}: {_fmt(v)}" for k, v in sec.items()))
    text = "\n".join(md) + "\n"
    for out in out_dirs:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
        (out / "report.md").write_text(text)


def output_dirs(args) -> list[Path]:
    """benchmarks/results/ (or --out), and $OUT when set; a dry run never writes over the
    committed device report."""
    if args.out:
        dirs = [Path(args.out)]
    elif args.dry_run_cpu:
        dirs = [Path(tempfile.gettempdir()) / "minitorch_gpu_suite_dry_run"]
    else:
        dirs = [RESULTS]
    env_out = os.environ.get("OUT")
    if env_out and Path(env_out).resolve() not in {d.resolve() for d in dirs}:
        dirs.append(Path(env_out))
    return dirs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None,
                   help="report directory (default benchmarks/results/; $OUT gets a copy)")
    p.add_argument("--data", default=None,
                   help="dataset root holding mnist/, or that mnist/ folder (default: the "
                        "checkout's .device_data/, else $MINITORCH_DATA)")
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats, batch 64 only, 50 epoch steps (a smoke run)")
    p.add_argument("--budget-s", type=float, default=450.0,
                   help="wall-clock budget; pytest gets what the other sections leave, and a "
                        "section without time left is skipped (a failure)")
    p.add_argument("--pytest-timeout-s", type=float, default=240.0)
    p.add_argument("--junit", default=None,
                   help="where the CUDA tests' JUnit XML goes (default: a temporary file)")
    p.add_argument("--skip", default="", help="comma-separated sections to skip")
    p.add_argument("--dry-run-cpu", action="store_true",
                   help="no GPU: run the ops / train_step / epoch code on the CPU (host timers, "
                        "few steps) to check the script itself; kernels and pytest are skipped")
    args = p.parse_args(argv)
    global T
    T = CpuTarget() if args.dry_run_cpu else Target()
    if args.dry_run_cpu:
        args.quick = True
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(SECTIONS)
    if unknown:
        p.error(f"--skip: unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    batches = BATCHES[:1] if args.quick else BATCHES
    kernel_batches = KERNEL_BATCHES[:1] if args.quick else KERNEL_BATCHES
    reps = 5 if args.quick else 20
    suite = Suite(args.budget_s)
    suite.allowed_skips = set(skip)
    if args.dry_run_cpu:
        suite.report["note"] = "DRY RUN ON THE CPU: no GPU numbers in this report"
        suite.allowed_skips |= {"pytest", "kernels"}     # GPU-only
    outs = output_dirs(args)

    def run(name, fn, **kw):
        if name in skip:
            suite.report[name] = {"skipped": "--skip", "status": "skipped"}
            return
        suite.section(name, fn, **kw)
        write_report(suite.report, outs)   # after every section: a crash still leaves a report

    cpu_ok = {"needs_gpu": not args.dry_run_cpu}
    run("env", section_env, needs_gpu=False)
    run("ops", section_ops, min_left=30, **cpu_ok)
    run("kernels", lambda: section_kernels(kernel_batches, reps), min_left=60)
    run("train_step", lambda: section_train_step(batches, reps), min_left=30, **cpu_ok)
    data_root = resolve_data_root(args.data)

    def epoch():
        if data_root is None:
            raise FileNotFoundError(
                "no MNIST data: pass --data, or carry .device_data/mnist (benchmarks/README.md)")
        return section_epoch(data_root, 64, 50 if args.quick else None)

    run("epoch", epoch, min_left=45, **cpu_ok)
    run("pytest", lambda: section_pytest(min(args.pytest_timeout_s, suite.left() - 15),
                                         args.junit), min_left=60)
    run("targets", lambda: section_targets(suite.report), needs_gpu=False)
    suite.report["total_seconds"] = round(time.monotonic() - suite.t0, 1)
    failures = suite.failures()
    suite.report["failures"] = failures
    suite.report["result"] = "FAILED" if failures else "passed"
    write_report(suite.report, outs)
    print(f"[gpu_suite] wrote report.json and report.md to {', '.join(map(str, outs))} "
          f"({suite.report['total_seconds']}s)")
    if failures:
        print("[gpu_suite] FAILED: " + "; ".join(failures), flush=True)
        return 1
    print("[gpu_suite] passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
