"""PyTorch (eager, CPU): torch.nn layers, torchvision's ResNet-18 with the CIFAR stem."""
from __future__ import annotations

import torch
import torch.nn as nn

from . import ADAM_BETAS, ADAM_EPS, LENET5, LR, MOMENTUM, RESNET18, SIMPLENET, VGG11, VGG11_HIDDEN



def setup(threads: int) -> str:
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    return f"torch {torch.__version__} ({torch.get_num_threads()} threads)"


def _lenet(in_ch: int, spec: dict, flat: int) -> nn.Sequential:
    layers, c = [], in_ch
    for out, k, pad in spec["convs"]:
        layers += [nn.Conv2d(c, out, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2)]
        c = out
    layers.append(nn.Flatten())
    f = flat
    for h in spec["fcs"]:
        layers += [nn.Linear(f, h), nn.ReLU()]
        f = h
    return nn.Sequential(*layers, nn.Linear(f, 10))


def _vgg11() -> nn.Sequential:
    layers, c = [], 3
    for v in VGG11:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(c, VGG11_HIDDEN), nn.ReLU(True), nn.Dropout(0.5),
                         nn.Linear(VGG11_HIDDEN, VGG11_HIDDEN), nn.ReLU(True), nn.Dropout(0.5),
                         nn.Linear(VGG11_HIDDEN, 10))


def _resnet18() -> nn.Module:
    from torchvision.models.resnet import BasicBlock, ResNet
    net = ResNet(BasicBlock, [2] * len(RESNET18), num_classes=10)
    net.conv1 = nn.Conv2d(3, RESNET18[0][0], 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net


def build(model: str) -> nn.Module:
    torch.manual_seed(0)
    net = {"lenet5": lambda: _lenet(1, LENET5, 400), "simplenet": lambda: _lenet(1, SIMPLENET, 800),
           "vgg11": _vgg11, "resnet18": _resnet18}[model]()
    return net.train()


def param_count(net) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def trainer(net, optim: str, batches):
    params = net.parameters()
    opt = (torch.optim.SGD(params, lr=LR["sgd"], momentum=MOMENTUM) if optim == "sgd" else
           torch.optim.Adam(params, lr=LR["adam"], betas=ADAM_BETAS, eps=ADAM_EPS))
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    last = []

    def step(i):
        x, y = data[i % len(data)]
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last[:] = [loss]

    return step, lambda: float(last[0].item())
