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
    parser.add_argument("--_rank", choices=["allreduce", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--_model", default="lenet5", help=argparse.SUPPRESS)
    parser.add_argument("--_batch", type=int, default=256, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._rank == "allreduce":
        return rank_allreduce(args.repeats)
    if args._rank == "train":
        return rank_training(args._model, args._batch, args.steps)

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
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
