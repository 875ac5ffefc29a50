"""minitorch: the zoo's networks (minitorch.models), and a per-op profile of a training step."""
from __future__ import annotations

import collections
import dataclasses
import time

import minitorch as mt
import minitorch.nn.functional as F
from minitorch.autograd import Function
from minitorch.kernel_table import kernels_for, use_kernels
from minitorch.models import get_model

from . import ADAM_BETAS, ADAM_EPS, LR, MOMENTUM, MODELS

ZOO = {"lenet5": "lenet5", "simplenet": "simplenet", "vgg11": "vgg11-small",
       "resnet18": "resnet18-cifar"}


def setup(threads: int) -> str:
    import numba
    mt.set_num_threads(threads)  # minitorch's pool and BLAS's (threadpoolctl)
    return (f"minitorch {mt.__version__} (numba {numba.__version__}, "
            f"{mt.get_num_threads()} threads)")


def build(model: str):
    mt.manual_seed(0)
    return get_model(ZOO[model], in_channels=MODELS[model][0], num_classes=10).train()


def param_count(net) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def _optimizer(optim: str, params):
    return (mt.optim.SGD(params, lr=LR["sgd"], momentum=MOMENTUM) if optim == "sgd" else
            mt.optim.Adam(params, lr=LR["adam"], betas=ADAM_BETAS, eps=ADAM_EPS))


def trainer(net, optim: str, batches):
    opt = _optimizer(optim, net.parameters())
    data = [(mt.tensor(x), mt.tensor(y)) for x, y in batches]
    last = []

    def step(i):
        x, y = data[i % len(data)]
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last[:] = [loss]

    return step, lambda: float(last[0].item())


def flops_per_image(model: str) -> int:
    """Training FLOPs per image from the layer shapes: 2 per multiply-add of every conv and
    linear layer in the forward, x3 for forward + backward (the input and the weight grads each
    cost a forward's GEMM). Pooling, BN, activations and the optimizer are left out."""
    net, macs = build(model), []

    def count(module, inputs, out):
        if isinstance(module, mt.nn.Conv2d):
            kh, kw = module.weight.shape[2:]
            macs.append(out[0].numel() * module.weight.shape[1] * kh * kw)
        elif isinstance(module, mt.nn.Linear):
            macs.append(module.weight.shape[0] * module.weight.shape[1])

    for m in net.modules():
        m.register_forward_hook(count)
    with mt.no_grad():
        net(mt.zeros((1,) + MODELS[model]))
    return 3 * 2 * sum(macs)


# --------------------------------------------------------------------------- per-op profile
def _all_functions(cls=Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_functions(sub)


class OpTimer:
    """While active, times every Function's forward and backward (wrapping the staticmethods)
    and every kernel-table entry (im2col, col2im, pooling, adam_step, ...: a timed copy of the
    table, installed with use_kernels), each kernel call under the Function pass that made it.
    minitorch itself is not modified."""

    def __init__(self):
        self.times = collections.defaultdict(float)   # (op, pass) or (op, pass, kernel)
        self.calls = collections.Counter()
        self._saved, self._active = [], [("(no op)", "")]

    def _timed(self, fn, key, kernel=False):
        def timed(*args, **kwargs):
            full = self._active[-1] + key if kernel else key
            if not kernel:
                self._active.append(key)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.times[full] += time.perf_counter() - t0
                self.calls[full] += 1
                if not kernel:
                    self._active.pop()
        return timed

    def __enter__(self):
        for cls in set(_all_functions()):
            for what in ("forward", "backward"):
                if isinstance(cls.__dict__.get(what), staticmethod):
                    self._saved.append((cls, what, cls.__dict__[what]))
                    fn = self._timed(cls.__dict__[what].__func__, (cls.__name__, what))
                    setattr(cls, what, staticmethod(fn))
        table = kernels_for(mt.zeros(1).data)
        timed = {f.name: self._timed(getattr(table, f.name), (f.name,), kernel=True)
                 for f in dataclasses.fields(table) if callable(getattr(table, f.name))}
        self._kernels = use_kernels(dataclasses.replace(table, **timed))
        self._kernels.__enter__()
        return self

    def __exit__(self, *exc):
        self._kernels.__exit__(*exc)
        for cls, what, value in reversed(self._saved):
            setattr(cls, what, value)
        return False


def _row(op, what, seconds, calls, steps, total) -> dict:
    return {"op": op, "pass": what, "ms_per_step": 1000 * seconds / steps,
            "share": seconds / total, "calls_per_step": calls / steps}


def profile(model: str, batch: int, optim: str, steps: int, batches) -> dict:
    """Where a training step's time goes: each Function's forward/backward (inclusive of the
    kernels it calls), each kernel-table entry, optimizer.step, and the rest ("other": Python
    glue, graph bookkeeping, zero_grad, the loss's .item())."""
    net = build(model)
    opt = _optimizer(optim, net.parameters())
    data = [(mt.tensor(x), mt.tensor(y)) for x, y in batches]

    def run(count: int) -> float:
        """``count`` training steps; the time spent in optimizer.step."""
        in_opt = 0.0
        for i in range(count):
            x, y = data[i % len(data)]
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            t1 = time.perf_counter()
            opt.step()
            in_opt += time.perf_counter() - t1
        loss.item()
        return in_opt

    run(2)  # warm: kernels compiled, optimizer state allocated
    with OpTimer() as timer:
        t0 = time.perf_counter()
        opt_time = run(steps)
        total = time.perf_counter() - t0
    functions = sum(t for key, t in timer.times.items() if len(key) == 2)
    rows = []
    for key, t in sorted(timer.times.items(), key=lambda kv: -kv[1]):
        if len(key) == 2:  # a Function's pass, then the kernels it called
            rows.append(_row(key[0], key[1], t, timer.calls[key], steps, total))
            rows += [_row(f"  {k[2]}", "", tk, timer.calls[k], steps, total)
                     for k, tk in sorted(timer.times.items(), key=lambda kv: -kv[1])
                     if len(k) == 3 and k[:2] == key]
    rows += [_row(f"  {k[2]}", "(optimizer)", t, timer.calls[k], steps, total)
             for k, t in timer.times.items() if k[0] == "(no op)"]
    rows.append(_row("optimizer.step", "", opt_time, steps, steps, total))
    rows.append(_row("other (python, graph)", "", total - functions - opt_time, steps, steps, total))
    return {"model": model, "batch": batch, "optim": optim, "steps": steps,
            "ms_per_step": 1000 * total / steps, "rows": rows,
            "summary": summarize(timer.times, opt_time, total, steps)}


# the categories, from Function names (first match wins)
_CATEGORIES = [("Conv2dDirect", "direct conv"), ("Conv2dWinograd", "winograd conv"), ("Conv", "conv"), ("Pool", "pooling"), ("BatchNorm", "batch norm"),
               ("CrossEntropy", "loss"), ("Linear", "linear"), ("ReLU", "activations")]


def summarize(times: dict, opt_time: float, total: float, steps: int) -> dict:
    """ms/step by category: a conv's im2col and col2im apart from the rest of its time (its
    GEMMs and layout copies), direct and Winograd convolutions (Conv2dDirect, Conv2dWinograd)
    by pass, pooling, BN, loss,
    linear layers, activations, other ops, the optimizer, and Python/graph overhead (what no
    Function or optimizer step accounts for)."""
    ms = collections.defaultdict(float)
    for key, t in times.items():
        if len(key) != 2:  # a kernel call: counted in its Function's time
            continue
        category = next((c for name, c in _CATEGORIES if name in key[0]), "other ops")
        if category in ("direct conv", "winograd conv"):  # its kernels are the whole op
            ms[f"{category} {key[1]}"] += t                # one line per pass
            continue
        if category != "conv":
            ms[category] += t
            continue
        for k, tk in times.items():  # the conv's own kernel calls, taken out of its time
            if len(k) == 3 and k[:2] == key:
                ms[k[2] if k[2] in ("im2col", "col2im") else "conv: other kernels"] += tk
                t -= tk
        ms[f"conv {key[1]}: GEMMs, copies"] += t
    ms["optimizer.step"] = opt_time
    ms["python, graph"] = total - sum(t for key, t in times.items() if len(key) == 2) - opt_time
    return {k: 1000 * v / steps for k, v in sorted(ms.items(), key=lambda kv: -kv[1]) if v}
