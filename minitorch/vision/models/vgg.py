"""VGG (Simonyan & Zisserman 2014): depth from stacks of 3x3 convolutions.

The idea the lectures take from VGG: two stacked 3x3 convolutions see a 5x5 window and three
see 7x7, like one big kernel, but with fewer weights (3 * 9C^2 = 27C^2 against 49C^2 for
7x7) and a ReLU between each pair, so the stack is more non-linear. Every stage is a few
3x3 'same' convolutions then a 2x2 max-pool that halves H and W; the channels double
(64 -> 128 -> 256 -> 512) to keep the work per stage similar.

Module names and state_dict keys are torchvision's: ``features`` (the conv stack, indexed as
one Sequential: ``features.0.weight``), ``avgpool`` (AdaptiveAvgPool2d((7, 7))) and
``classifier`` (``classifier.6`` is the last Linear, the one replaced for fine-tuning)::

    net = models.vgg11(weights="DEFAULT")
    net.classifier[6] = nn.Linear(net.classifier[6].in_features, 10)

The adaptive pool makes any input of at least 32x32 work: after five halvings a 32x32 image is
1x1, which the pool repeats to 7x7 for the classifier, as in torchvision.
"""
from __future__ import annotations

from ... import nn
from ._weights import Weights, WeightsEnum, load_weights, resolve

# Numbers are 3x3 conv output channels, "M" a 2x2 max-pool. A..E are the paper's columns.
CFGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],            # vgg11
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],   # vgg13
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],                                                          # vgg16
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],                                                     # vgg19
}


def make_layers(cfg: list, batch_norm: bool = False) -> nn.Sequential:
    """The ``features`` stack: conv3x3 (pad 1 keeps H, W) [-> BatchNorm] -> ReLU, and pools."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """features -> avgpool (to 7x7) -> flatten -> classifier (two 4096-unit layers + output)."""

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            # torchvision's scheme: He init scaled by fan_out for the ReLU convs, small
            # normal weights for the big fully-connected layers, zero biases.
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


def _url(name: str) -> str:
    return f"https://download.pytorch.org/models/{name}.pth"


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg11-8a719046"))
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg11_bn-6002323d"))
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg13-19584684"))
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg13_bn-abd245e5"))
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg16-397923af"))
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg16_bn-6c64b313"))
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg19-dcbb9e9d"))
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("vgg19_bn-c79401a0"))
    DEFAULT = IMAGENET1K_V1


def _vgg(arch: str, cfg: str, batch_norm: bool, enum_cls, weights, pretrained, progress,
         kwargs) -> VGG:
    path, _ = resolve(arch, enum_cls, weights, pretrained, kwargs)
    if path is not None:
        kwargs.setdefault("init_weights", False)  # the file overwrites every tensor anyway
    model = VGG(make_layers(CFGS[cfg], batch_norm=batch_norm), **kwargs)
    return load_weights(model, path) if path is not None else model


def vgg11(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    """VGG-11 (configuration A): 8 conv + 3 fully-connected layers."""
    return _vgg("vgg11", "A", False, VGG11_Weights, weights, pretrained, progress, kwargs)


def vgg11_bn(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    """VGG-11 with BatchNorm after every convolution."""
    return _vgg("vgg11_bn", "A", True, VGG11_BN_Weights, weights, pretrained, progress, kwargs)


def vgg13(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    """VGG-13 (configuration B): 10 conv + 3 fully-connected layers."""
    return _vgg("vgg13", "B", False, VGG13_Weights, weights, pretrained, progress, kwargs)


def vgg13_bn(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    return _vgg("vgg13_bn", "B", True, VGG13_BN_Weights, weights, pretrained, progress, kwargs)


def vgg16(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    """VGG-16 (configuration D): 13 conv + 3 fully-connected layers."""
    return _vgg("vgg16", "D", False, VGG16_Weights, weights, pretrained, progress, kwargs)


def vgg16_bn(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    return _vgg("vgg16_bn", "D", True, VGG16_BN_Weights, weights, pretrained, progress, kwargs)


def vgg19(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    """VGG-19 (configuration E): 16 conv + 3 fully-connected layers."""
    return _vgg("vgg19", "E", False, VGG19_Weights, weights, pretrained, progress, kwargs)


def vgg19_bn(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> VGG:
    return _vgg("vgg19_bn", "E", True, VGG19_BN_Weights, weights, pretrained, progress, kwargs)
