"""CPU training throughput: minitorch vs PyTorch on LeNet-5 and SimpLeNet (MNIST-shaped data).

    python benchmarks/cpu_throughput.py                       # both models, batch 64 and 256
    python benchmarks/cpu_throughput.py --models lenet5 --batch-sizes 64 --optims sgd --steps 20

For every (model, batch size, optimizer) it trains the same architecture in minitorch and,
when importable, in PyTorch (same thread count: torch.set_num_threads(--threads)), for --steps
timed steps after --warmup untimed ones, on float32 random images (N, 1, 28, 28) with random
labels, and prints images/s and the ratio minitorch / PyTorch. The two alternate for --repeats
runs and each one's best is reported (the machine's load average is printed: on a shared
machine single runs swing by 2x and more). The first minitorch step's time is shown
separately: it includes numba's compile (or cache load) of the CPU kernels.

Then a per-op profile of minitorch training steps: every Function's forward and backward is
wrapped with a timer (the benchmark does this itself; minitorch is not modified), plus the
optimizer step; "other" is what is left (Python glue, graph bookkeeping, loss.item()).
"""
from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minitorch as mt  # noqa: E402
import minitorch.nn.functional as F  # noqa: E402
from minitorch.autograd import Function  # noqa: E402
from minitorch.models import get_model  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


# --------------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(threads: int) -> None:
    import numba
    print(f"command: {' '.join([sys.executable] + sys.argv)}")
    print(f"cpu: {cpu_model()}, {os.cpu_count()} logical cores; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), minitorch "
          f"{mt.__version__}, torch {torch.__version__ if torch else 'not importable'}"
          f"{f' ({threads} threads)' if torch else ''}")
    print()


# --------------------------------------------------------------------------- models
def torch_model(name: str):
    tnn = torch.nn
    if name == "lenet5":
        return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                              tnn.Linear(84, 10))
    return tnn.Sequential(tnn.Conv2d(1, 20, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(20, 50, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                          tnn.Linear(800, 256), tnn.ReLU(), tnn.Linear(256, 10))


def make_batches(batch: int, count: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32),
             rng.integers(0, 10, batch)) for _ in range(count)]


def mt_optimizer(kind, params):
    return mt.optim.SGD(params, lr=0.01, momentum=0.9) if kind == "sgd" else \
        mt.optim.Adam(params, lr=1e-3)


def torch_optimizer(kind, params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9) if kind == "sgd" else \
        torch.optim.Adam(params, lr=1e-3)


# --------------------------------------------------------------------------- timed runs
def run_minitorch(name, batch, kind, steps, warmup):
    mt.manual_seed(0)
    model = get_model(name)
    opt = mt_optimizer(kind, model.parameters())
    data = [(mt.tensor(x), mt.tensor(y)) for x, y in make_batches(batch)]

    def step(i):
        x, y = data[i % len(data)]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    step(0).item()
    first = time.perf_counter() - t0
    for i in range(1, warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(i)
    loss.item()
    return steps * batch / (time.perf_counter() - t0), first


def run_torch(name, batch, kind, steps, warmup):
    torch.manual_seed(0)
    model = torch_model(name)
    opt = torch_optimizer(kind, model.parameters())
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in make_batches(batch)]

    def step(i):
        x, y = data[i % len(data)]
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for i in range(warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(i)
    loss.item()
    return steps * batch / (time.perf_counter() - t0)


# --------------------------------------------------------------------------- per-op profile
def _all_functions(cls=Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_functions(sub)


class OpTimer:
    """Wraps every Function's forward/backward staticmethods with a timer while active."""

    def __init__(self):
        self.times = collections.defaultdict(float)
        self.calls = collections.Counter()
        self._saved = []

    def _wrap(self, cls, what):
        original = cls.__dict__[what].__func__
        key = (cls.__name__, what)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.times[key] += time.perf_counter() - t0
                self.calls[key] += 1
        self._saved.append((cls, what, cls.__dict__[what]))
        setattr(cls, what, staticmethod(timed))

    def __enter__(self):
        for cls in set(_all_functions()):
            for what in ("forward", "backward"):
                if isinstance(cls.__dict__.get(what), staticmethod):
                    self._wrap(cls, what)
        return self

    def __exit__(self, *exc):
        for cls, what, value in reversed(self._saved):
            setattr(cls, what, value)
        return False


def profile_minitorch(name, batch, kind, steps):
    mt.manual_seed(0)
    model = get_model(name)
    opt = mt_optimizer(kind, model.parameters())
    data = [(mt.tensor(x), mt.tensor(y)) for x, y in make_batches(batch)]
    for i in range(3):  # warm: kernels compiled, optimizer state allocated
        x, y = data[i % len(data)]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    optim_time = 0.0
    with OpTimer() as timer:
        t0 = time.perf_counter()
        for i in range(steps):
            x, y = data[i % len(data)]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            t1 = time.perf_counter()
            opt.step()
            optim_time += time.perf_counter() - t1
        loss.item()
        total = time.perf_counter() - t0
    rows = sorted(timer.times.items(), key=lambda kv: -kv[1])
    print(f"per-op profile: {name}, batch {batch}, {kind}, mean of {steps} steps: "
          f"{1000 * total / steps:.2f} ms/step")
    print(f"  {'op':<22}{'pass':<10}{'ms/step':>9}{'share':>8}{'calls/step':>12}")
    for (op, what), t in rows:
        print(f"  {op:<22}{what:<10}{1000 * t / steps:>9.3f}{100 * t / total:>7.1f}%"
              f"{timer.calls[(op, what)] / steps:>12.1f}")
    accounted = sum(timer.times.values()) + optim_time
    print(f"  {'optimizer.step':<32}{1000 * optim_time / steps:>9.3f}"
          f"{100 * optim_time / total:>7.1f}%")
    print(f"  {'other (python, graph)':<32}{1000 * (total - accounted) / steps:>9.3f}"
          f"{100 * (total - accounted) / total:>7.1f}%")
    print()


# --------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["simplenet", "lenet5"],
                        choices=["simplenet", "lenet5"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--optims", nargs="+", default=["sgd", "adam"], choices=["sgd", "adam"])
    parser.add_argument("--steps", type=int, default=50, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating runs per config; the best of each is reported")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="PyTorch threads (default: all cores)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch runs")
    parser.add_argument("--profile-steps", type=int, default=10,
                        help="steps in the per-op profile (0: no profile)")
    args = parser.parse_args(argv)
    use_torch = torch is not None and not args.no_torch
    if use_torch:
        torch.set_num_threads(args.threads)
    describe_machine(args.threads)

    header = (f"{'model':<10}{'batch':>6}{'optim':>6}{'minitorch img/s':>17}"
              f"{'first step s':>14}{'torch img/s':>13}{'ratio':>8}")
    print(header)
    print("-" * len(header))
    for name in args.models:
        for batch in args.batch_sizes:
            for kind in args.optims:
                # Alternate the two and keep each one's best run: on a shared machine the
                # best of a few is the closest estimate of the uncontended speed.
                mt_ips, t_ips, first = 0.0, float("nan"), None
                for _ in range(args.repeats):
                    ips, first_step = run_minitorch(name, batch, kind, args.steps, args.warmup)
                    mt_ips, first = max(mt_ips, ips), first if first is not None else first_step
                    if use_torch:
                        ips = run_torch(name, batch, kind, args.steps, args.warmup)
                        t_ips = ips if t_ips != t_ips else max(t_ips, ips)
                print(f"{name:<10}{batch:>6}{kind:>6}{mt_ips:>17.0f}{first:>14.3f}"
                      f"{t_ips:>13.0f}{mt_ips / t_ips:>8.2f}", flush=True)
    print()
    if args.profile_steps > 0:
        for name in args.models:
            profile_minitorch(name, args.batch_sizes[0], args.optims[0], args.profile_steps)


if __name__ == "__main__":
    main()
