"""tinygrad (CPU device: kernels generated and compiled with clang): the training step under
TinyJit, which captures its kernels on the first calls and replays them. Threads:
NUM_CPU_THREADS, set before tinygrad is imported (compare_engines.thread_env)."""
from __future__ import annotations

from tinygrad import Tensor, TinyJit, nn
from tinygrad.helpers import Context
from tinygrad.nn.state import get_parameters

from . import ADAM_BETAS, ADAM_EPS, LENET5, LR, MOMENTUM, RESNET18, SIMPLENET, VGG11, VGG11_HIDDEN

MIN_WARMUP = 3  # TinyJit runs the first call, captures the second, replays from the third


def setup(threads: int) -> str:
    from importlib.metadata import version
    from tinygrad import Device
    return f"tinygrad {version('tinygrad')} ({Device.DEFAULT})"


class LeNet:
    def __init__(self, spec, flat):
        c, self.convs, self.fcs, self.pads = 1, [], [], []
        for out, k, pad in spec["convs"]:
            self.convs.append(nn.Conv2d(c, out, k, padding=pad))
            c = out
        f = flat
        for h in spec["fcs"] + [10]:
            self.fcs.append(nn.Linear(f, h))
            f = h

    def __call__(self, x):
        for c in self.convs:
            x = c(x).relu().max_pool2d(2)
        x = x.flatten(1)
        for fc in self.fcs[:-1]:
            x = fc(x).relu()
        return self.fcs[-1](x)


class VGG11Net:
    def __init__(self):
        c, self.features = 3, []
        for v in VGG11:
            self.features.append(v if v == "M" else nn.Conv2d(c, v, 3, padding=1))
            c = c if v == "M" else v
        self.fcs = [nn.Linear(c, VGG11_HIDDEN), nn.Linear(VGG11_HIDDEN, VGG11_HIDDEN),
                    nn.Linear(VGG11_HIDDEN, 10)]

    def __call__(self, x):
        for f in self.features:
            x = x.max_pool2d(2) if f == "M" else f(x).relu()
        x = x.mean((2, 3))
        x = self.fcs[0](x).relu().dropout(0.5)
        x = self.fcs[1](x).relu().dropout(0.5)
        return self.fcs[2](x)


class Block:
    def __init__(self, cin, cout, stride):
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm(cout)
        self.down = []
        if stride != 1 or cin != cout:  # 1x1 projection shortcut
            self.down = [nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm(cout)]

    def __call__(self, x):
        out = self.b2(self.c2(self.b1(self.c1(x)).relu()))
        return (out + (x.sequential(self.down) if self.down else x)).relu()


class ResNet18:
    def __init__(self):
        c = RESNET18[0][0]
        self.c1, self.b1 = nn.Conv2d(3, c, 3, 1, 1, bias=False), nn.BatchNorm(c)
        self.blocks = []
        for cout, stride in RESNET18:
            for s in (stride, 1):
                self.blocks.append(Block(c, cout, s))
                c = cout
        self.fc = nn.Linear(c, 10)

    def __call__(self, x):
        x = self.b1(self.c1(x)).relu().sequential(self.blocks)
        return self.fc(x.mean((2, 3)))


def build(model: str):
    Tensor.manual_seed(0)
    return {"lenet5": lambda: LeNet(LENET5, 400), "simplenet": lambda: LeNet(SIMPLENET, 800),
            "vgg11": VGG11Net, "resnet18": ResNet18}[model]()


def param_count(net) -> int:
    return sum(p.numel() for p in get_parameters(net) if p.is_param)  # not BN running stats


def trainer(net, optim: str, batches):
    params = get_parameters(net)  # the optimizer keeps BN running stats realized as buffers
    opt = (nn.optim.SGD(params, lr=LR["sgd"], momentum=MOMENTUM) if optim == "sgd" else
           nn.optim.Adam(params, lr=LR["adam"], b1=ADAM_BETAS[0], b2=ADAM_BETAS[1], eps=ADAM_EPS))
    data = [(Tensor(x).realize(), Tensor(y.astype("int32")).realize()) for x, y in batches]

    @TinyJit
    def train_step(x, y):
        with Context(TRAINING=1):  # BN batch statistics, dropout on
            opt.zero_grad()
            loss = net(x).sparse_categorical_crossentropy(y).backward()
            opt.step()
            return loss.realize()

    last = []

    def step(i):
        last[:] = [train_step(*data[i % len(data)])]

    return step, lambda: float(last[0].item())
