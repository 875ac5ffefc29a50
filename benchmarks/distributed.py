"""Data-parallel measurements on this machine: MPI all-reduce latency and bandwidth, and
training throughput of 2 ranks x 1 thread against 1 rank x 2 threads (same global batch).

    python benchmarks/distributed.py --out benchmarks/results/distributed.md

It starts its own ranks with the mpirun installed beside python (pip install -e
".[distributed]"). Printed and written: the machine, versions, the command, and the tables.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZES = [8, 1 << 10, 1 << 14, 1 << 17, 1 << 20, 1 << 22, 1 << 24, 1 << 26]  # bytes


def mpirun() -> str:
    beside = Path(sys.executable).parent / "mpirun"
    found = str(beside) if beside.exists() else shutil.which("mpirun")
    if found is None:
        sys.exit("benchmarks/distributed.py: no mpirun; pip install -e '.[distributed]'")
    return found


# --------------------------------------------------------------------------- inside the ranks
def rank_allreduce(repeats: int) -> None:
    import minitorch as mt
    import minitorch.distributed as dist
    dist.init_process_group("mpi")
    rows = []
    for size in SIZES:
        t = mt.ones(max(size // 4, 2))
        reps = repeats if size <= 1 << 20 else max(repeats // 10, 3)
        dist.barrier()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(reps):
                dist.all_reduce(t)
            best = min(best, (time.perf_counter() - start) / reps)
        rows.append({"bytes": int(t.data.nbytes), "seconds": best,
                     "bus_GBps": 2 * (dist.get_world_size() - 1) / dist.get_world_size()
                     * t.data.nbytes / best / 1e9})
    if dist.get_rank() == 0:
        print(json.dumps(rows))


def rank_training(model_name: str, batch: int, steps: int) -> None:
    import minitorch as mt
    import minitorch.distributed as dist
    import minitorch.nn.functional as F
    from minitorch.models import get_model
    distributed = dist.launched_by_mpi()
    rank, world = 0, 1
    if distributed:
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    mt.manual_seed(0)
    model = get_model(model_name)
    if distributed:
        from minitorch.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(model)
    opt = mt.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    share = batch // world
    x = mt.tensor(rng.standard_normal((share, 1, 28, 28)).astype(np.float32))
    y = mt.tensor(rng.integers(0, 10, share))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    for _ in range(3):
        step()
    if distributed:
        dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if distributed:
        dist.barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        print(json.dumps({"img_per_s": batch * steps / elapsed, "step_ms": elapsed / steps * 1e3}))


# --------------------------------------------------------------------------- cost model
# Networks a class cluster might have (latency per message, bandwidth per link): assumptions,
# stated as such in the report. "here" is the shared-memory all-reduce measured above.
NETWORKS = {"1 GbE": (50e-6, 0.117e9), "10 GbE": (20e-6, 1.17e9), "100 Gb InfiniBand": (2e-6, 11.7e9)}


def rank_step_time(model_name: str, batch: int, steps: int) -> None:
    """Seconds per training image for one process (one thread), small batch, SGD."""
    import minitorch as mt
    import minitorch.nn.functional as F
    if model_name == "resnet18":
        from minitorch.vision.models import resnet18
        model, shape = resnet18(num_classes=10), (batch, 3, 32, 32)
    else:
        from minitorch.models import get_model
        model, shape = get_model(model_name), (batch, 1, 28, 28)
    opt = mt.optim.SGD(model.parameters(), lr=0.01)
    x = mt.randn(*shape)
    y = mt.randint(0, 10, (batch,))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"s_per_img": min(times[1:]) / batch, "params": params}))


def cost_model(allreduce_rows: list, steps: int) -> list:
    """Ring all-reduce, T(N) = 2(N-1) alpha + 2 (N-1)/N * bytes / beta, against compute
    t_img * B / N per rank (global batch B, no overlap): efficiency = compute / (compute + T)."""
    me = [sys.executable, str(Path(__file__).resolve())]
    measured = {m: json.loads(_run(me + ["--_rank", "steptime", "--_model", m, "--_batch",
                                         "16" if m == "resnet18" else "64",
                                         "--steps", str(max(2, min(steps, 3)))], 1))
                for m in ("lenet5", "resnet18")}
    small, big = allreduce_rows[0], allreduce_rows[-1]
    here = (small["seconds"] / 2, big["bytes"] / big["seconds"])  # 2 ranks: 2(N-1) = 2 steps
    nets = dict(NETWORKS, **{"shared memory here (measured)": here})
    lines = ["", "## Where data-parallel scaling stops (a model, not a measurement)", "",
             "Compute per image measured here (1 thread, SGD step); ring all-reduce of the "
             "float32 gradients, T(N) = 2(N-1)·α + 2(N-1)/N · bytes/β, no overlap; global batch "
             "256 split over N ranks. Efficiency = compute / (compute + T).", "",
             "| model | gradient | compute / step (1 rank) | network (α, β) | N=2 | N=8 | N=32 "
             "| N=128 | largest N with efficiency >= 50% |", "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for model, m in measured.items():
        nbytes, compute = 4 * m["params"], m["s_per_img"] * 256
        for net, (alpha, beta) in nets.items():
            def eff(n):
                t = 2 * (n - 1) * alpha + 2 * (n - 1) / n * nbytes / beta
                return (compute / n) / (compute / n + t)
            limit = max((n for n in range(1, 4097) if eff(n) >= 0.5), default=1)
            lines.append(f"| {model} | {nbytes / 1e6:.2f} MB | {compute * 1e3:,.0f} ms | {net} "
                         f"({alpha * 1e6:.0f} us, {beta / 1e9:.2f} GB/s) | "
                         + " | ".join(f"{eff(n):.0%}" for n in (2, 8, 32, 128)) + f" | {limit} |")
    return lines


# --------------------------------------------------------------------------- driver
def _run(cmd, threads: int) -> str:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               NUMBA_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip().splitlines()[-1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="markdown report path")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--_rank", choices=["allreduce", "train", "steptime"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--_model", default="lenet5", help=argparse.SUPPRESS)
    parser.add_argument("--_batch", type=int, default=256, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._rank == "allreduce":
        return rank_allreduce(args.repeats)
    if args._rank == "train":
        return rank_training(args._model, args._batch, args.steps)
    if args._rank == "steptime":
        return rank_step_time(args._model, args._batch, args.steps)

    me = [sys.executable, str(Path(__file__).resolve())]
    import mpi4py
    import minitorch
    lines = ["# Data-parallel measurements", "",
             f"- command: `python benchmarks/distributed.py {' '.join(argv or sys.argv[1:])}`",
             f"- machine: {platform.platform()}, {os.cpu_count()} cores, "
             f"python {platform.python_version()}",
             f"- minitorch {minitorch.__version__}, numpy {np.__version__}, mpi4py "
             f"{mpi4py.__version__}, MPI: "
             + _run([sys.executable, "-c", "from mpi4py import MPI; "
                     "print(MPI.Get_library_version().splitlines()[0])"], 1),
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "## All-reduce between 2 ranks on this machine (shared memory), best of 3", "",
             "| bytes | time | bus bandwidth |", "|---:|---:|---:|"]
    rows = json.loads(_run([mpirun(), "-n", "2"] + me + ["--_rank", "allreduce",
                                                           "--repeats", str(args.repeats)], 1))
    for r in rows:
        lines.append(f"| {r['bytes']:,} | {r['seconds'] * 1e6:,.1f} us | {r['bus_GBps']:.2f} GB/s |")
    lines += ["", "## Training throughput, same global batch (random MNIST-shaped data, SGD)", "",
              "| model | global batch | 1 rank x 2 threads | 2 ranks x 1 thread | ratio |",
              "|---|---:|---:|---:|---:|"]
    for model in ("lenet5", "simplenet"):
        for batch in (64, 256):
            common = ["--_rank", "train", "--_model", model, "--_batch", str(batch),
                      "--steps", str(args.steps)]
            one = json.loads(_run(me + common, 2))
            two = json.loads(_run([mpirun(), "-n", "2"] + me + common, 1))
            lines.append(f"| {model} | {batch} | {one['img_per_s']:,.0f} img/s | "
                         f"{two['img_per_s']:,.0f} img/s | {two['img_per_s'] / one['img_per_s']:.2f} |")
    lines += cost_model(rows, args.steps)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
