"""ResNet (He et al. 2015): very deep networks that train, thanks to identity shortcuts.

A residual block computes ``out = relu(F(x) + x)``: the layers learn only the residual F
and the input passes through unchanged on the shortcut. If extra depth isn't useful the block
can learn F = 0 and become the identity, so stacking blocks can't make the training fit worse,
and the gradient reaches early layers through the additions without shrinking layer by layer.
When a block changes the shape (stride 2 or more channels) the shortcut is a 1x1 convolution
with BatchNorm (``downsample``) so the two can be added.

    BasicBlock  (resnet18/34)   3x3 conv -> BN -> ReLU -> 3x3 conv -> BN, + shortcut, ReLU
    Bottleneck  (resnet50)      1x1 reduces the channels 4x, the 3x3 works on the narrow
                                tensor, 1x1 expands back: deep and cheap (the 3x3 costs 16x less)

Module names and state_dict keys are torchvision's: ``conv1 bn1 relu maxpool layer1..layer4
avgpool fc``, blocks ``layer1[0].conv1``, ``layer2[0].downsample[0]``... For feature
extraction freeze everything and replace the head::

    net = models.resnet18(weights="DEFAULT")
    for p in net.parameters():
        p.requires_grad = False
    net.fc = nn.Linear(net.fc.in_features, 10)

AdaptiveAvgPool2d((1, 1)) makes the classifier independent of the input size: a 32x32 image
reaches layer4 as 1x1 and works as in torchvision.
"""
from __future__ import annotations

from typing import Callable

from ... import nn
from ._weights import Weights, WeightsEnum, load_weights, resolve


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding (= dilation, so H, W only change by the stride), no bias
    (the BatchNorm after it has one)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution: mixes channels at each pixel (changes C, not the receptive field)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and the identity shortcut: relu(bn2(conv2(relu(bn1(conv1 x)))) + x)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Callable[..., nn.Module] | None = None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise ValueError("BasicBlock does not support dilation > 1")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce to ``width``) -> 3x3 (carries the stride, as torchvision's "ResNet V1.5")
    -> 1x1 (expand to planes * 4), each with BatchNorm, plus the shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Callable[..., nn.Module] | None = None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Stem (7x7/2 conv, 3x3/2 max-pool) -> four stages of blocks (64, 128, 256, 512 planes;
    stages 2-4 halve H, W) -> global average pool -> fc."""

    def __init__(self, block: type, layers: list[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: list[bool] | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None):
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes, self.dilation = 64, 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("ResNet: replace_stride_with_dilation should be None or a "
                             f"3-element tuple, got {replace_stride_with_dilation}")
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            # Each block's last BN starts at 0, so every block starts as the identity
            # (Goyal et al. 2017): the deep network begins as a shallow one.
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        norm_layer, downsample = self._norm_layer, None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            # The shortcut must match the block's output shape to be added to it.
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.fc(x)


def _url(name: str) -> str:
    return f"https://download.pytorch.org/models/{name}.pth"


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("resnet18-f37072fd"))
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("resnet34-b627a593"))
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_url("resnet50-0676ba61"))
    IMAGENET1K_V2 = Weights(_url("resnet50-11ad3fa6"))  # torchvision's newer training recipe
    DEFAULT = IMAGENET1K_V2


def _resnet(arch: str, block: type, layers: list[int], enum_cls, weights, pretrained,
            kwargs) -> ResNet:
    path, _ = resolve(arch, enum_cls, weights, pretrained, kwargs)
    model = ResNet(block, layers, **kwargs)
    return load_weights(model, path) if path is not None else model


def resnet18(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2] (11.7M parameters)."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], ResNet18_Weights, weights, pretrained,
                   kwargs)


def resnet34(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3] (21.8M parameters)."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], ResNet34_Weights, weights, pretrained,
                   kwargs)


def resnet50(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3] (25.6M parameters)."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], ResNet50_Weights, weights, pretrained,
                   kwargs)
