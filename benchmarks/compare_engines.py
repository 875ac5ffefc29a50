"""CPU training throughput side by side: minitorch, PyTorch, JAX and the NumPy engines.

    python benchmarks/compare_engines.py                  # the default grid (~12 min, 2 idle cores)
    python benchmarks/compare_engines.py --full           # every model at every setting
    python benchmarks/compare_engines.py --engines minitorch torch --models simplenet \\
        --batch-sizes 256 --threads 2                     # one comparison
    python benchmarks/compare_engines.py --profile-only   # minitorch's per-op profile only

Trains LeNet-5 and SimpLeNet (MNIST shape, 1x28x28) and VGG-11 and ResNet-18 (CIFAR shape,
3x32x32; the zoo's small-input forms) on the same fixed random batches (benchmarks/engines)
in every engine that is importable, and reports training images/s: the best of --repeats
timed windows of about --window-images images each, after --warmup untimed steps (the first
step, which includes JIT compilation or kernel-cache loads, is shown on its own). Each
(engine, thread count) runs in a fresh subprocess pinned to that many cores with
OMP/MKL/OPENBLAS/NUMBA_NUM_THREADS (and XLA_FLAGS for JAX) set before any import, plus the
engine's own setting (torch.set_num_threads, ...).

Default grid: LeNet-5 and SimpLeNet at batch 64 and 256, SGD and Adam, 1 and 2 threads;
VGG-11 and ResNet-18 at batch 64 only, 2 threads, SGD, 3 steps a window (--big-* flags;
--full runs them on the whole grid); an engine slow enough that a window would take over
--max-window-s runs fewer steps and one window (marked * in the table). Also measured in the same run: the machine's
sgemm peak (NumPy float32 matmul) at each thread count, each row's fraction of it (training
FLOPs from the layer shapes), peak memory per training step (benchmarks/engines: peak RSS
during the timed steps minus RSS before the model was built), and a per-op profile of
minitorch training steps. Writes PREFIX.json, PREFIX.md (tables) and PREFIX.png (bar chart
of the ratios to PyTorch), PREFIX = --out.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

import engines  # noqa: E402  (benchmarks/engines: NumPy only at import)

# engine -> (name in the tables, import name); benchmarks/engines/<engine>_engine.py runs it
ENGINES = {"minitorch": ("minitorch", "minitorch"), "torch": ("PyTorch", "torch"),
           "jax": ("JAX (jit)", "jax"), "dezero": ("DeZero", "dezero"),
           "tinygrad": ("tinygrad (TinyJit)", "tinygrad")}
DEFAULT_ENGINES = ["minitorch", "torch", "jax", "dezero"]
LEFT_OUT = {
    "tinygrad": "tinygrad 0.14 (CPU device, needs clang) generates and compiles its kernels per "
                "configuration: measured here, 107 s before TinyJit replays a LeNet-5 step "
                "(batch 16) and 400 s for ResNet-18 (batch 4), which then ran 5 s a step; "
                "that is past this run's budget (add it with --engines ... tinygrad)",
    "chainer": "Chainer 7.8.1 does not install (its setup.py imports pkg_resources, gone from "
               "setuptools >= 81) and, installed by hand, does not import on NumPy 2 "
               "(np.sctypes was removed)",
}
BIG = ("vgg11", "resnet18")  # the --big-* settings unless --full
OPTIMS = ["sgd", "adam"]
LABELS = {"lenet5": "LeNet-5", "simplenet": "SimpLeNet", "vgg11": "VGG-11", "resnet18": "ResNet-18"}


# --------------------------------------------------------------------------- subprocesses
def thread_env(engine: str, threads: int) -> dict:
    """Every thread-pool knob we know of, set before the engine is imported."""
    env = {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "NUMBA_NUM_THREADS", "MINITORCH_NUM_THREADS")}
    if engine == "jax":  # XLA's CPU client: Eigen's intra-op pool
        env["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                            f"intra_op_parallelism_threads={threads}")
    if engine == "tinygrad":
        env["NUM_CPU_THREADS"] = str(threads)
    return env


def run_worker(engine: str, threads: int, jobs: list, timeout: float) -> list:
    """Run ``jobs`` in a fresh ``python compare_engines.py --worker`` subprocess; one result
    dict per job (with "error" where it failed), each printed as it arrives."""
    env = {**os.environ, **thread_env(engine, threads), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine,
           "--threads", str(threads), "--jobs", json.dumps(jobs)]
    results = []
    with tempfile.TemporaryFile("w+") as stderr:  # a file: a chatty engine can't block a pipe
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        for line in proc.stdout:
            if line.startswith("RESULT "):
                results.append(json.loads(line[len("RESULT "):]))
                print_row(results[-1])
        proc.wait()
        timed_out = not timer.is_alive()
        timer.cancel()
        stderr.seek(0)
        last = (stderr.read().strip().splitlines() or ["no output"])[-1]
    why = f"worker killed after {timeout:.0f} s" if timed_out else f"worker exited early: {last}"
    return results + [{**job, "engine": engine, "threads": threads, "error": why}
                      for job in jobs[len(results):]]


def print_row(r: dict) -> None:
    """Progress line for one finished job."""
    if r.get("kind") != "train":
        return
    what = (f"  {r['engine']:<10}{LABELS[r['model']]:<10} b{r['batch']:<4}{r['optim']:<5}"
            f"{r['threads']}t ")
    if "error" in r:
        print(what + f"ERROR {r['error']}", flush=True)
    else:
        print(what + f"{r['images_per_s']:>9,.0f} img/s  first step {r['first_step_s']:6.2f} s  "
              f"peak {r['peak_mem_mb']:7.1f} MB  loss {r['loss_first']:.3f} -> "
              f"{r['loss_last']:.3f}", flush=True)


def worker_main(engine_name: str, threads: int, jobs: list) -> None:
    """Inside the subprocess: pin to ``threads`` cores, import the engine, run the jobs."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cores)
    if engine_name == "numpy":
        engine, version = None, None
    else:
        engine = importlib.import_module(f"engines.{engine_name}_engine")
        version = engine.setup(threads)
    # Prime: a tiny LeNet-5 run with each optimizer loads the engine's lazily loaded libraries
    # and code paths (their pages count in the resident set), so they are in every measured
    # job's baseline instead of in the first job's "peak memory".
    for optim in sorted({job["optim"] for job in jobs if job["kind"] == "train"}):
        engines.measure(engine, "lenet5", 2, optim, steps=1, warmup=1, repeats=1)
    for job in jobs:
        out = {**job, "engine": engine_name, "threads": threads, "version": version,
               "planned_steps": job.get("steps"), "planned_repeats": job.get("repeats")}
        try:
            if job["kind"] == "train":
                out.update(engines.measure(engine, job["model"], job["batch"], job["optim"],
                                           job["steps"], job["warmup"], job["repeats"],
                                           job["max_window_s"]))
            elif job["kind"] == "sgemm":
                out.update(sgemm_peak(job["n"], job["repeats"]))
            elif job["kind"] == "flops":
                out["flops_per_image"] = engine.flops_per_image(job["model"])
            elif job["kind"] == "profile":
                batches = engines.make_batches(job["model"], job["batch"])
                out.update(engine.profile(job["model"], job["batch"], job["optim"], job["steps"],
                                          batches))
        except Exception as exc:  # one failed job must not lose the others' results
            out["error"] = f"{type(exc).__name__}: {exc}"
        print("RESULT " + json.dumps(out), flush=True)


def sgemm_peak(n: int, repeats: int) -> dict:
    """GFLOP/s of NumPy's float32 (n x n) @ (n x n) (2 n^3 FLOPs), best of ``repeats``, and
    the BLAS NumPy uses (threadpoolctl's view: library, version, kernel, threads)."""
    import numpy as np
    a, b = (np.random.default_rng(i).standard_normal((n, n)).astype(np.float32) for i in (0, 1))
    a @ b  # warm: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    try:
        from threadpoolctl import threadpool_info
        blas = [{k: i.get(k) for k in ("internal_api", "version", "architecture",
                                        "threading_layer", "num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        blas = "threadpoolctl not installed (pip install threadpoolctl)"
    return {"gflops": 2 * n ** 3 / best / 1e9, "blas": blas}


# --------------------------------------------------------------------------- the machine
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {"cpu": cpu_model(), "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "load_average": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(not set)")}


# --------------------------------------------------------------------------- the plan
def plan(args) -> list:
    """(model, batch, optim, threads) configurations, with their steps."""
    configs = []
    for model in args.models:
        big = model in BIG and not args.full
        for threads in (args.big_threads if big else args.threads):
            for batch in (args.big_batch_sizes if big else args.batch_sizes):
                for optim in (args.big_optims if big else args.optims):
                    steps = (args.big_steps if big else
                             max(args.min_steps, round(args.window_images / batch)))
                    configs.append(dict(kind="train", model=model, batch=batch, optim=optim,
                                        steps=steps, threads=threads,
                                        warmup=args.big_warmup if big else args.warmup,
                                        repeats=args.big_repeats if big else args.repeats,
                                        max_window_s=args.max_window_s))
    return configs


def settings(args) -> str:
    """What the grid was, in words, for the report."""
    def grid(batches, optims, threads):
        return (f"batch {'/'.join(map(str, batches))}, {'/'.join(optims)}, "
                f"{'/'.join(map(str, threads))} threads")
    small = (f"{args.window_images} images a window (at least {args.min_steps} steps), best of "
             f"{args.repeats}, after {args.warmup} warm-up steps")
    if args.full:
        return f"every model at {grid(args.batch_sizes, args.optims, args.threads)}: {small}"
    return (f"LeNet-5 and SimpLeNet at {grid(args.batch_sizes, args.optims, args.threads)}: "
            f"{small}. VGG-11 and ResNet-18 on fewer settings, to fit the run's budget (--full: "
            f"the whole grid): {grid(args.big_batch_sizes, args.big_optims, args.big_threads)}, "
            f"{args.big_steps} steps a window, best of {args.big_repeats}, after "
            f"{args.big_warmup} warm-up step(s)")


def available(engine: str) -> str | None:
    """None when ``engine`` can run here, else why not."""
    package = ENGINES[engine][1]
    if importlib.util.find_spec(package) is None:
        return f"not importable (pip install {package}, or pip install -e '.[bench]')"
    return None


# --------------------------------------------------------------------------- reports
def fmt(v, digits=0):
    """Thousands separators; small throughputs (big networks) keep a decimal."""
    return f"{v:,.{digits}f}" if v >= 100 or digits else f"{v:.1f}"


def tables(result: dict) -> str:
    """The markdown report: throughput with ratios to PyTorch, memory, the profile."""
    rows, names = result["rows"], result["engines"]
    label = {e: engines_label(e) for e in names}
    by = {(r["engine"], r["model"], r["batch"], r["optim"], r["threads"]): r for r in rows}
    keys = sorted({(r["model"], r["batch"], r["optim"], r["threads"]) for r in rows},
                  key=lambda k: (list(LABELS).index(k[0]), k[3], k[1], OPTIMS.index(k[2])))
    m = result["machine"]
    out = [f"# {result['title']}", "",
           f"`{result['command']}`", "",
           f"{m['cpu']}, {m['logical_cores']} logical cores; load average "
           f"{', '.join(map(str, m['load_average']))} at the start, "
           f"{', '.join(map(str, result['load_average_end']))} at the end; "
           f"{result['duration_s'] / 60:.1f} min; {result['date']}", "",
           "Versions: " + "; ".join(f"{v}" for v in result["versions"].values()), "",
           "sgemm peak (NumPy float32 matmul, " + f"{result['sgemm_n']}^3): " +
           ", ".join(f"{t} thread{'s' * (int(t) > 1)} {g['gflops']:.1f} GFLOP/s"
                     for t, g in result["sgemm"].items()) +
           f"; BLAS: {json.dumps(next(iter(result['sgemm'].values()))['blas'])}", ""]
    if "settings" in result:
        out += [f"Settings: {result['settings']}.", ""]
    for why in result["skipped"].values():
        out.append(f"- left out: {why}")
    out += ["", "## Training images/s (best of the repeats; ratio to PyTorch)", "",
            "| model | batch | optim | threads | " + " | ".join(label[e] for e in names) +
            " | minitorch % of sgemm peak |",
            "|---|--:|---|--:|" + "--:|" * len(names) + "--:|"]
    for k in keys:
        torch_ips = by.get(("torch",) + k, {}).get("images_per_s")
        cells = []
        for e in names:
            r = by.get((e,) + k)
            if r is None:
                cells.append("")
            elif "error" in r:
                cells.append("error")
            else:
                ratio = f" ({r['images_per_s'] / torch_ips:.2f}x)" if torch_ips and e != "torch" else ""
                cut = "*" if (r["steps"], r["repeats"]) < (r["planned_steps"], r["planned_repeats"]) else ""
                cells.append(fmt(r["images_per_s"]) + cut + ratio)
        mt = by.get(("minitorch",) + k, {})
        peak = result["sgemm"].get(str(k[3]), {}).get("gflops")
        frac = (f"{100 * mt['images_per_s'] * result['flops_per_image'][k[0]] / (peak * 1e9):.0f}%"
                if mt.get("images_per_s") and peak and k[0] in result["flops_per_image"] else "")
        out.append(f"| {LABELS[k[0]]} | {k[1]} | {k[2]} | {k[3]} | " + " | ".join(cells) +
                   f" | {frac} |")
    out += ["", "\\* fewer steps or windows than planned: a window would have taken over "
            f"{result['max_window_s']:.0f} s (the JSON has each row's steps and repeats)."]
    out += ["", "## Peak memory per training step, MB (ratio to PyTorch)", "",
            "Peak resident set during the timed steps minus the resident set before the network "
            "was built, in the engine's own subprocess (the same measurement for every engine).",
            "", "| model | batch | optim | threads | " + " | ".join(label[e] for e in names) + " |",
            "|---|--:|---|--:|" + "--:|" * len(names)]
    for k in keys:
        torch_mb = by.get(("torch",) + k, {}).get("peak_mem_mb")
        cells = []
        for e in names:
            r = by.get((e,) + k)
            if r is None or "error" in r:
                cells.append("" if r is None else "error")
            else:
                ratio = f" ({r['peak_mem_mb'] / torch_mb:.2f}x)" if torch_mb and e != "torch" else ""
                cells.append(fmt(r["peak_mem_mb"], 1) + ratio)
        out.append(f"| {LABELS[k[0]]} | {k[1]} | {k[2]} | {k[3]} | " + " | ".join(cells) + " |")
    out += ["", "Training FLOPs per image (conv and linear layers, forward x3): " +
            ", ".join(f"{LABELS[k]} {v / 1e6:,.1f} M" for k, v in result["flops_per_image"].items())
            + ". These are the direct computation's FLOPs, the same count for every engine; "
            "minitorch's Winograd 3x3 layers (VGG-11, ResNet-18) do 2.25x fewer multiplies, so "
            "their % of the sgemm peak is of that nominal work and may pass 100%.", ""]
    errors = [r for r in rows if "error" in r]
    if errors:
        out += ["## Errors", ""] + [f"- {r['engine']} {r['model']} b{r['batch']} {r['optim']} "
                                    f"{r['threads']}t: {r['error']}" for r in errors] + [""]
    for p in result["profiles"]:
        out += profile_table(p)
    return "\n".join(out)


def engines_label(engine: str) -> str:
    return ENGINES[engine][0]


def profile_table(p: dict) -> list:
    if "error" in p:
        return [f"## Per-op profile: {p['model']} failed: {p['error']}", ""]
    out = [f"## Per-op profile of minitorch: {LABELS[p['model']]}, batch {p['batch']}, "
           f"{p['optim']}, {p['threads']} threads: {p['ms_per_step']:.1f} ms/step "
           f"(mean of {p['steps']} steps)", "",
           "Each Function's forward/backward (its time includes the indented kernel-table calls "
           "it made: im2col, col2im, pooling, ...; the rest of a conv's time is its GEMMs and "
           "layout copies); optimizer.step and other (Python glue, graph walk, zero_grad, "
           "loss.item()) complete the step.",
           "", "By category (ms/step): " + ", ".join(f"{k} {v:.1f}"
                                                     for k, v in p.get("summary", {}).items()),
           "", "| op | pass | ms/step | share | calls/step |", "|---|---|--:|--:|--:|"]
    for r in p["rows"]:
        out.append(f"| {r['op']} | {r['pass']} | {r['ms_per_step']:.2f} | "
                   f"{100 * r['share']:.1f}% | {r['calls_per_step']:.1f} |")
    return out + [""]


def bar_chart(result: dict, path: str) -> str | None:
    """One panel per model: each engine's images/s as a ratio to PyTorch, per configuration."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not importable: no PNG (pip install matplotlib)"
    rows = [r for r in result["rows"] if "error" not in r]
    by = {(r["engine"], r["model"], r["batch"], r["optim"], r["threads"]): r for r in rows}
    others = [e for e in result["engines"] if e != "torch"]
    models = [m for m in LABELS if any(r["model"] == m for r in rows)]
    if not models or not others:
        return "no rows to plot"
    fig, axes = plt.subplots(len(models), 1, figsize=(10, 2.2 + 1.6 * len(models)), squeeze=False)
    width = 0.8 / len(others)
    for ax, model in zip(axes[:, 0], models):
        keys = sorted({k[1:] for k in by if k[1] == model},
                      key=lambda k: (k[3], k[1], OPTIMS.index(k[2])))
        ratios = {e: [by[(e,) + k]["images_per_s"] / by[("torch",) + k]["images_per_s"]
                      if (e,) + k in by and ("torch",) + k in by else None for k in keys]
                  for e in others}
        for j, e in enumerate(others):
            # bars grow from 1.0 (PyTorch) up or down, on a log scale: 2x and 0.5x look alike
            ax.bar([i + (j - (len(others) - 1) / 2) * width for i in range(len(keys))],
                   [r - 1 if r else 0 for r in ratios[e]], width, bottom=1,
                   label=engines_label(e))
        ax.set_yscale("log")
        shown = [r for rs in ratios.values() for r in rs if r] or [1]
        ticks = [2.0 ** p for p in range(-6, 7) if min(shown) / 2 <= 2.0 ** p <= max(shown) * 2]
        ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
        ax.minorticks_off()
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xlim(-0.5, max(len(keys), 4) - 0.5)
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([f"b{b} {o}\n{t} thr" for _, b, o, t in keys], fontsize=8)
        ax.set_ylabel("img/s / PyTorch's")
        ax.set_title(LABELS[model], fontsize=10, loc="left")
    axes[0, 0].legend(ncol=len(others), fontsize=8, loc="lower right", bbox_to_anchor=(1, 1),
                      frameon=False)  # above the first panel, right of its title
    m = result["machine"]
    fig.suptitle(f"{result['title']}\nTraining images/s relative to PyTorch's (1.0 = PyTorch); "
                 f"{m['cpu']}, {m['logical_cores']} cores, load average "
                 f"{m['load_average'][0]:.1f}, {result['date']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# --------------------------------------------------------------------------- main
def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--engines", nargs="+", default=DEFAULT_ENGINES, choices=list(ENGINES))
    p.add_argument("--models", nargs="+", default=list(LABELS), choices=list(LABELS))
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 256])
    p.add_argument("--optims", nargs="+", default=OPTIMS, choices=OPTIMS)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--window-images", type=int, default=2048,
                   help="images per timed window (LeNet-5, SimpLeNet): steps = this / batch")
    p.add_argument("--min-steps", type=int, default=4, help="at least this many steps a window")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    p.add_argument("--repeats", type=int, default=3, help="timed windows; the best is reported")
    p.add_argument("--full", action="store_true",
                   help="VGG-11 and ResNet-18 on the whole grid with the small models' settings")
    p.add_argument("--big-batch-sizes", nargs="+", type=int, default=[64])
    p.add_argument("--big-optims", nargs="+", default=["sgd"], choices=OPTIMS)
    p.add_argument("--big-threads", nargs="+", type=int, default=[2])
    p.add_argument("--big-steps", type=int, default=3, help="timed steps a window (VGG, ResNet)")
    p.add_argument("--big-warmup", type=int, default=1)
    p.add_argument("--big-repeats", type=int, default=2)
    p.add_argument("--max-window-s", type=float, default=15,
                   help="an engine whose warm-up says a timed window would take longer runs "
                        "fewer steps (at least 1) and then one window (marked * in the table)")
    p.add_argument("--sgemm-n", type=int, default=2048, help="square matrix size for the peak")
    p.add_argument("--profile", nargs="*", default=["simplenet:256:adam", "resnet18:64:sgd"],
                   metavar="MODEL:BATCH:OPTIM", help="minitorch per-op profiles (none: off)")
    p.add_argument("--profile-steps", type=int, default=5)
    p.add_argument("--profile-only", action="store_true", help="only the per-op profiles")
    p.add_argument("--out", default=os.path.join(HERE, "results", "compare_engines"),
                   help="PREFIX of PREFIX.json, PREFIX.md, PREFIX.png")
    p.add_argument("--title", default="CPU training throughput: minitorch and the engines "
                                      "users would pick instead")
    p.add_argument("--report-from", metavar="JSON",
                   help="write PREFIX.md and PREFIX.png from an earlier run's JSON, run nothing")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--jobs", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    if args.worker:
        worker_main(args.worker, args.threads[0], json.loads(args.jobs))
        return 0
    if args.report_from:  # re-render the tables and the chart of an earlier run
        with open(args.report_from) as f:
            return write(json.load(f), args.out)
    start, command = time.time(), " ".join([os.path.basename(sys.executable)] +
                                           [os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    result = {"title": args.title, "command": command, "machine": machine(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "sgemm_n": args.sgemm_n, "max_window_s": args.max_window_s, "sgemm": {}, "versions": {}, "skipped": {},
              "rows": [], "profiles": [], "flops_per_image": {}, "problems": [],
              "settings": settings(args)}
    m = result["machine"]
    print(f"command: {command}\nmachine: {m['cpu']}, {m['logical_cores']} logical cores "
          f"({m['usable_cores']} usable), load average {m['load_average']}, "
          f"OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}\npython {m['python']}, {m['platform']}")
    print(f"settings: {result['settings']}")
    names = [e for e in args.engines if not args.profile_only or e == "minitorch"]
    for e in names:
        why = available(e)
        if why:
            result["skipped"][e] = f"{e}: {why}"
    for e in ENGINES:
        if e not in args.engines and e in LEFT_OUT:
            result["skipped"][e] = f"{e}: {LEFT_OUT[e]}"
    result["skipped"]["chainer"] = f"chainer: {LEFT_OUT['chainer']}"
    result["engines"] = [e for e in names if e not in result["skipped"]]
    for why in result["skipped"].values():
        print(f"left out: {why}")
    configs = [] if args.profile_only else plan(args)
    thread_counts = sorted({c["threads"] for c in configs} | set(args.threads[-1:]))

    for threads in thread_counts:
        (r,) = run_worker("numpy", threads, [dict(kind="sgemm", n=args.sgemm_n, repeats=5)],
                          args.timeout)
        result["sgemm"][str(threads)] = r
        print(f"sgemm peak, {threads} thread(s): "
              + (r["error"] if "error" in r else f"{r['gflops']:.1f} GFLOP/s; BLAS {r['blas']}"),
              flush=True)
    # minitorch's worker also counts the FLOPs (at its first thread count) and profiles (at
    # the last): fewer subprocess start-ups
    extra = {t: [] for t in thread_counts}
    if "minitorch" in result["engines"]:
        extra[thread_counts[0]] += [dict(kind="flops", model=m) for m in args.models]
        extra[thread_counts[-1]] += [dict(kind="profile", model=model, batch=int(batch),
                                          optim=optim, steps=args.profile_steps)
                                     for model, batch, optim in (spec.split(":")
                                                                 for spec in args.profile)]
    for threads in thread_counts:
        for e in result["engines"]:
            jobs = [{k: v for k, v in c.items() if k != "threads"} for c in configs
                    if c["threads"] == threads] + (list(extra[threads]) if e == "minitorch" else [])
            if not jobs:
                continue
            print(f"{e}, {threads} thread(s): {len(jobs)} jobs", flush=True)
            for r in run_worker(e, threads, jobs, args.timeout):
                if r.get("version"):
                    result["versions"][e] = r["version"]
                if r["kind"] == "train":
                    result["rows"].append(r)
                elif r["kind"] == "profile":
                    result["profiles"].append(r)
                elif "error" in r:
                    result["problems"].append(f"FLOP count of {r['model']}: {r['error']}")
                else:
                    result["flops_per_image"][r["model"]] = r["flops_per_image"]

    result["problems"] += check(result)
    result["duration_s"] = time.time() - start
    result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    return write(result, args.out)


def write(result: dict, prefix: str) -> int:
    """PREFIX.json, PREFIX.md and PREFIX.png from ``result``; prints the report and problems;
    the exit status (1 when there were problems)."""
    report = tables(result)
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    with open(prefix + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(prefix + ".md", "w") as f:
        f.write(report + "\n")
    why_no_png = bar_chart(result, prefix + ".png") if result["rows"] else "no rows"
    print("\n" + report)
    print(f"\nwrote {prefix}.json, {prefix}.md"
          + (f", {prefix}.png" if not why_no_png else f" ({why_no_png})"))
    for p in result["problems"]:
        print(f"PROBLEM: {p}")
    return 1 if result["problems"] else 0


def check(result: dict) -> list:
    """Rows that failed, and engines whose network differs from minitorch's (parameters)."""
    problems = [f"{r['engine']} {r['model']} b{r['batch']} {r['optim']} {r['threads']}t: "
                f"{r['error']}" for r in result["rows"] if "error" in r]
    problems += [f"profile {p['model']}: {p['error']}" for p in result["profiles"] if "error" in p]
    reference = {r["model"]: r["params"] for r in result["rows"]
                 if r["engine"] == "minitorch" and "params" in r}
    for r in result["rows"]:
        want = reference.get(r["model"])
        if "params" in r and want is not None and r["params"] != want:
            problems.append(f"{r['engine']} {r['model']}: {r['params']:,} parameters, "
                            f"minitorch's has {want:,}: not the same network")
    return sorted(set(problems))


if __name__ == "__main__":
    sys.exit(main())
