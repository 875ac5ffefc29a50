"""DeZero 0.0.13 ("Deep Learning from Scratch 3"): a NumPy engine (im2col + tensordot conv).

DeZero 0.0.13 refers to ``np.int`` at import time (a default argument in dezero/transforms.py),
which NumPy 1.24 removed; it is aliased to ``int`` for the import only. Its layers are built
lazily from the first input; here every weight is set up front as float32 (its own init
multiplies by a float64 NumPy scalar, which NumPy 2 promotes to float64 weights).
"""
from __future__ import annotations

import numpy as np

_aliased = not hasattr(np, "int")
if _aliased:
    np.int = int  # DeZero 0.0.13 predates NumPy 1.24
import dezero  # noqa: E402
import dezero.functions as F  # noqa: E402
import dezero.layers as L  # noqa: E402
from dezero import optimizers  # noqa: E402
if _aliased:
    del np.int

from . import LENET5, LR, MOMENTUM, RESNET18, SIMPLENET, VGG11, VGG11_HIDDEN, init_weight  # noqa: E402

_rng = np.random.default_rng(0)


def setup(threads: int) -> str:
    from importlib.metadata import version
    return f"dezero {version('dezero')} (NumPy's BLAS threads)"


def conv(cin, cout, k, stride=1, pad=0, bias=True):
    layer = L.Conv2d(cout, k, stride, pad, nobias=not bias, in_channels=cin)
    layer.W.data = init_weight(_rng, (cout, cin, k, k))
    return layer


def linear(fin, fout):
    layer = L.Linear(fout, in_size=fin)
    layer.W.data = np.ascontiguousarray(init_weight(_rng, (fout, fin)).T)  # DeZero: x @ W
    return layer


def bn(c):
    layer = L.BatchNorm()
    layer.avg_mean.data, layer.avg_var.data = np.zeros(c, np.float32), np.ones(c, np.float32)
    layer.gamma.data, layer.beta.data = np.ones(c, np.float32), np.zeros(c, np.float32)
    return layer


class Seq(dezero.Model):
    """DeZero tracks a model's parameters through its Layer attributes; ``add`` registers each
    layer once as l0, l1, ... and returns it (or them) to be kept in a list or tuple, which
    DeZero does not track, so no layer is counted (and updated) twice."""

    def add(self, *layers):
        for layer in layers:
            setattr(self, f"l{len(self._params)}", layer)
        return layers[0] if len(layers) == 1 else layers


class LeNet(Seq):
    def __init__(self, spec, flat):
        super().__init__()
        c, self.convs, self.fcs = 1, [], []
        for out, k, pad in spec["convs"]:
            self.convs.append(self.add(conv(c, out, k, pad=pad)))
            c = out
        f = flat
        for h in spec["fcs"] + [10]:
            self.fcs.append(self.add(linear(f, h)))
            f = h

    def forward(self, x):
        for c in self.convs:
            x = F.pooling(F.relu(c(x)), 2, 2)
        x = x.reshape(x.shape[0], -1)
        for fc in self.fcs[:-1]:
            x = F.relu(fc(x))
        return self.fcs[-1](x)


class VGG11Net(Seq):
    def __init__(self):
        super().__init__()
        c, self.features = 3, []
        for v in VGG11:
            self.features.append(v if v == "M" else self.add(conv(c, v, 3, pad=1)))
            c = c if v == "M" else v
        self.fcs = [self.add(linear(c, VGG11_HIDDEN)), self.add(linear(VGG11_HIDDEN, VGG11_HIDDEN)),
                    self.add(linear(VGG11_HIDDEN, 10))]

    def forward(self, x):
        for f in self.features:
            x = F.pooling(x, 2, 2) if f == "M" else F.relu(f(x))
        x = F.average_pooling(x, x.shape[2]).reshape(x.shape[0], -1)
        x = F.dropout(F.relu(self.fcs[0](x)))
        x = F.dropout(F.relu(self.fcs[1](x)))
        return self.fcs[2](x)


class Block(Seq):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.main = self.add(conv(cin, cout, 3, stride, 1, bias=False), bn(cout),
                             conv(cout, cout, 3, 1, 1, bias=False), bn(cout))
        self.down = ()
        if stride != 1 or cin != cout:  # 1x1 projection shortcut
            self.down = self.add(conv(cin, cout, 1, stride, bias=False), bn(cout))

    def forward(self, x):
        c1, b1, c2, b2 = self.main
        out = b2(c2(F.relu(b1(c1(x)))))
        shortcut = self.down[1](self.down[0](x)) if self.down else x
        return F.relu(out + shortcut)


class ResNet18(Seq):
    def __init__(self):
        super().__init__()
        c = RESNET18[0][0]
        self.stem = self.add(conv(3, c, 3, 1, 1, bias=False), bn(c))
        self.blocks = []
        for cout, stride in RESNET18:
            for s in (stride, 1):
                self.blocks.append(self.add(Block(c, cout, s)))
                c = cout
        self.fc = [self.add(linear(c, 10))]

    def forward(self, x):
        x = F.relu(self.stem[1](self.stem[0](x)))
        for block in self.blocks:
            x = block(x)
        return self.fc[0](F.average_pooling(x, x.shape[2]).reshape(x.shape[0], -1))


def build(model: str):
    return {"lenet5": lambda: LeNet(LENET5, 400), "simplenet": lambda: LeNet(SIMPLENET, 800),
            "vgg11": VGG11Net, "resnet18": ResNet18}[model]()


def param_count(net) -> int:
    # BatchNorm's running statistics are Parameters in DeZero (to be saved); not trained
    return sum(p.data.size for p in net.params() if p.name not in ("avg_mean", "avg_var"))


def trainer(net, optim: str, batches):
    opt = (optimizers.MomentumSGD(LR["sgd"], MOMENTUM) if optim == "sgd" else
           optimizers.Adam(alpha=LR["adam"])).setup(net)
    last = []

    def step(i):
        x, y = batches[i % len(batches)]
        loss = F.softmax_cross_entropy(net(x), y)
        net.cleargrads()
        loss.backward()
        opt.update()
        last[:] = [loss]

    return step, lambda: float(last[0].data)
