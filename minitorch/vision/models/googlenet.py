"""GoogLeNet / Inception v1 (Szegedy et al. 2014), as torchvision has it.

The Inception module runs four branches side by side on the same input and concatenates
their channels (``torch.cat(outputs, 1)``): a 1x1, a 3x3, a "5x5" and a 3x3 max-pool, so
the network chooses per layer which receptive field to use. 1x1 convolutions in front of the
3x3 and 5x5 branches (and after the pool) first *reduce* the channels: the expensive kernels
then run on a thin tensor. That bottleneck is why a 22-layer GoogLeNet has 12x fewer
parameters than AlexNet. (torchvision's "5x5" branch is in fact 3x3, a bug kept for its
published weights; it is kept here too so those weights load.)

Each convolution is ``BasicConv2d``: conv (no bias) -> BatchNorm(eps=0.001) -> ReLU.

Auxiliary classifiers: ``aux1`` (after inception4a) and ``aux2`` (after inception4d) are
small heads that, in training, add their loss to push gradient into the middle of the deep
network. In train mode with ``aux_logits=True`` the forward returns
``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; in eval mode only the logits. The
paper's recipe weights each auxiliary loss by 0.3 (``googlenet_loss`` below)::

    out = net(x)                      # net.train()
    loss = googlenet_loss(out, y)     # = CE(logits) + 0.3 * (CE(aux2) + CE(aux1))

``transform_input=True`` maps an input normalised with ImageNet's mean/std to the (x - 0.5)
/ 0.5 scaling the ported weights expect. Inputs of 15x15 and up work (32x32 is fine).
"""
from __future__ import annotations

import warnings
from collections import namedtuple

from ... import nn
from ...nn import functional as F
from ...ops.loss import cross_entropy
from ...ops.shape import cat
from ._weights import Weights, WeightsEnum, load_weights, resolve

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
_GoogLeNetOutputs = GoogLeNetOutputs


class BasicConv2d(nn.Module):
    """conv -> BatchNorm -> ReLU (the conv has no bias: BatchNorm's beta plays its role)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches, concatenated along channels:
    ch1x1 + ch3x3 + ch5x5 + pool_proj output channels."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, conv_block=None):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3red, kernel_size=1),
                                     conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5red, kernel_size=1),
                                     conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary head: pool to 4x4, 1x1 conv to 128 channels, fc 2048 -> 1024 -> classes."""

    def __init__(self, in_channels: int, num_classes: int, conv_block=None,
                 dropout: float = 0.7):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, (4, 4))
        x = self.conv(x).flatten(1)
        x = F.relu(self.fc1(x), inplace=True)
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 transform_input: bool = False, init_weights: bool | None = None,
                 blocks=None, dropout: float = 0.2, dropout_aux: float = 0.7):
        super().__init__()
        if blocks is None:
            blocks = [BasicConv2d, Inception, InceptionAux]
        if len(blocks) != 3:
            raise ValueError(f"GoogLeNet: blocks length should be 3 instead of {len(blocks)}")
        if init_weights is None:
            warnings.warn("GoogLeNet: init_weights=None means True (torchvision warns the same"
                          " way); pass init_weights explicitly to silence this", FutureWarning,
                          stacklevel=2)
            init_weights = True
        conv_block, inception_block, inception_aux_block = blocks
        self.aux_logits, self.transform_input = aux_logits, transform_input

        self.conv1 = conv_block(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = conv_block(64, 64, kernel_size=1)
        self.conv3 = conv_block(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        #                                 in   1x1  3x3red 3x3 5x5red 5x5 pool
        self.inception3a = inception_block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception_block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception_block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception_block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception_block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception_block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception_block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inception_block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception_block(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = inception_aux_block(512, num_classes, dropout=dropout_aux)
            self.aux2 = inception_aux_block(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x):
        if not self.transform_input:
            return x
        # ImageNet-normalised input -> the (x - 0.5) / 0.5 scaling of the ported weights.
        x_ch0 = x[:, 0].unsqueeze(1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x_ch1 = x[:, 1].unsqueeze(1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x_ch2 = x[:, 2].unsqueeze(1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return cat((x_ch0, x_ch1, x_ch2), 1)

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.avgpool(x).flatten(1)
        x = self.fc(self.dropout(x))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet_loss(outputs, target, aux_weight: float = 0.3, criterion=cross_entropy):
    """The auxiliary-loss training recipe: loss(logits) + aux_weight * (loss(aux2) +
    loss(aux1)). Plain logits (eval mode, or aux_logits=False) give just loss(logits)."""
    if not isinstance(outputs, GoogLeNetOutputs):
        return criterion(outputs, target)
    loss = criterion(outputs.logits, target)
    for aux in (outputs.aux_logits2, outputs.aux_logits1):
        if aux is not None:
            loss = loss + aux_weight * criterion(aux, target)
    return loss


class GoogLeNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights("https://download.pytorch.org/models/googlenet-1378be20.pth")
    DEFAULT = IMAGENET1K_V1


def googlenet(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> GoogLeNet:
    """GoogLeNet (Inception v1), 6.6M parameters.

    With torchvision's published weights, as torchvision does: transform_input defaults to
    True, the file's auxiliary heads are loaded and then dropped unless ``aux_logits=True``
    was asked for. A weights file given by path loads into the model ``kwargs`` describe."""
    wanted_aux = kwargs.get("aux_logits", False)
    path, named = resolve("googlenet", GoogLeNet_Weights, weights, pretrained, kwargs)
    if path is None:
        return GoogLeNet(**kwargs)
    if named is not None:
        kwargs.setdefault("transform_input", True)
        kwargs["aux_logits"] = True
    kwargs.setdefault("init_weights", False)
    model = load_weights(GoogLeNet(**kwargs), path)
    if named is not None and not wanted_aux:
        model.aux_logits = False
        model.aux1 = None
        model.aux2 = None
    return model
