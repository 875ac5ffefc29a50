"""Small-input forms of the zoo's architectures, for 28x28 (MNIST) and 32x32 (CIFAR) images.

torchvision's networks are built for 224x224: their stems shrink the image 4x (ResNet, 7x7/2
conv + 3x3/2 max-pool) or their five pools shrink it 32x (VGG), which leaves a 28x28 digit
at 1x1 (or at nothing: VGG's fifth pool of a 1x1 map) before most layers have seen it. The
forms here keep torchvision's module names, so ``state_dict`` keys match and ported weights
still map onto every layer whose shape did not change (``load_state_dict(strict=False)`` then
names the ones that did):

    resnet18_cifar/34/50   ResNet with a 3x3 stride-1 ``conv1`` and no max-pool (``maxpool``
                           is an Identity): layer1 works on the full 28x28 / 32x32 image.
                           Keys = torchvision's; only ``conv1.weight`` changes shape (3x3).
    cifar_resnet(depth)    He et al. 2015, section 4.2: the CIFAR ResNets, 3 stages of 16, 32,
                           64 channels with (depth - 2) / 6 BasicBlocks each (resnet20: 0.27M
                           parameters), torchvision's names (conv1 bn1 layer1..3 fc).
                           ``residual=False`` drops every shortcut: the paper's "plain" net of
                           the same depth, the one whose training gets worse as it gets deeper.
    vgg_small(cfg)         VGG's ``features`` without the fifth max-pool (28 -> 14 -> 7 -> 3
                           -> 1), a global average pool and a 512-512-classes classifier
                           (``classifier.6`` is still the output layer). ``width`` scales every
                           layer's channels (width 1: vgg11's conv weights load unchanged).

All take ``in_channels`` (1 for MNIST-like data, 3 for CIFAR) and ``num_classes``.
"""
from __future__ import annotations

from .. import nn
from ..vision.models.resnet import BasicBlock, Bottleneck, ResNet, conv1x1, conv3x3
from ..vision.models.vgg import CFGS, VGG


# --------------------------------------------------------------------------- ResNet
def small_stem_resnet(block, layers, in_channels: int = 1, num_classes: int = 10,
                      **kwargs) -> ResNet:
    """torchvision's ResNet with a CIFAR stem: 3x3 stride-1 conv1 and no max-pool."""
    model = ResNet(block, layers, num_classes=num_classes, **kwargs)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def resnet18_cifar(in_channels: int = 1, num_classes: int = 10, **kwargs) -> ResNet:
    return small_stem_resnet(BasicBlock, [2, 2, 2, 2], in_channels, num_classes, **kwargs)


def resnet34_cifar(in_channels: int = 1, num_classes: int = 10, **kwargs) -> ResNet:
    return small_stem_resnet(BasicBlock, [3, 4, 6, 3], in_channels, num_classes, **kwargs)


def resnet50_cifar(in_channels: int = 1, num_classes: int = 10, **kwargs) -> ResNet:
    return small_stem_resnet(Bottleneck, [3, 4, 6, 3], in_channels, num_classes, **kwargs)


class PlainBlock(BasicBlock):
    """A BasicBlock without its shortcut: relu(bn2(conv2(relu(bn1(conv1 x))))). Same
    parameters as BasicBlock (minus the downsample's), so a plain and a residual net of one
    depth differ only in the additions."""

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


class CifarResNet(nn.Module):
    """conv1 (3x3, 16) -> layer1 (16) -> layer2 (32, stride 2) -> layer3 (64, stride 2) ->
    global average pool -> fc. ``depth`` = 6n + 2 layers with weights."""

    def __init__(self, depth: int = 20, in_channels: int = 1, num_classes: int = 10,
                 residual: bool = True, widths=(16, 32, 64)):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, "
                             f"44, 56, 110), got {depth}")
        blocks = (depth - 2) // 6
        self.block = BasicBlock if residual else PlainBlock
        self.inplanes = widths[0]
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(widths[0], blocks, 1, residual)
        self.layer2 = self._make_layer(widths[1], blocks, 2, residual)
        self.layer3 = self._make_layer(widths[2], blocks, 2, residual)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int, residual: bool):
        downsample = None
        # The shortcut needs a 1x1 projection where the shape changes (the paper's option B);
        # a plain net has no shortcut to project.
        if residual and (stride != 1 or self.inplanes != planes):
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride),
                                       nn.BatchNorm2d(planes))
        layers = [self.block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [self.block(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def cifar_resnet(depth: int = 20, in_channels: int = 1, num_classes: int = 10,
                 residual: bool = True) -> CifarResNet:
    return CifarResNet(depth, in_channels, num_classes, residual)


# --------------------------------------------------------------------------- VGG
def _small_features(cfg: list, batch_norm: bool, in_channels: int, width: float):
    """torchvision's ``make_layers`` (same indices) minus the last max-pool, channels x width."""
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg[:-1] if cfg[-1] == "M" else cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out = max(1, int(round(v * width)))
        layers.append(nn.Conv2d(c, out, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        c = out
    return nn.Sequential(*layers), c


def vgg_small(cfg: str = "A", batch_norm: bool = False, in_channels: int = 1,
              num_classes: int = 10, width: float = 1.0, hidden: int | None = None,
              dropout: float = 0.5) -> VGG:
    """A VGG for 28x28 / 32x32 input: torchvision's ``features`` (cfg A/B/D/E = vgg11/13/16/19)
    without the fifth pool, ``avgpool`` to 1x1, ``classifier`` hidden-hidden-classes (hidden
    defaults to the last conv's channels)."""
    if cfg not in CFGS:
        raise ValueError(f"vgg_small: cfg must be one of {sorted(CFGS)}, got {cfg!r}")
    features, channels = _small_features(CFGS[cfg], batch_norm, in_channels, width)
    hidden = hidden or channels
    model = VGG(features, num_classes=num_classes, dropout=dropout)  # torchvision's init
    model.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    model.classifier = nn.Sequential(
        nn.Linear(channels, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
        nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
        nn.Linear(hidden, num_classes))
    for m in model.classifier.modules():  # VGG's init for the new, smaller classifier
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    return model


__all__ = ["small_stem_resnet", "resnet18_cifar", "resnet34_cifar", "resnet50_cifar",
           "PlainBlock", "CifarResNet", "cifar_resnet", "vgg_small"]
