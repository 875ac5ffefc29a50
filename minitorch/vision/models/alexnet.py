"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), as torchvision has it.

What it brought over LeNet: depth (5 conv + 3 fully-connected layers), ReLU instead of
saturating tanh (several times faster training), dropout in the big fully-connected layers
against overfitting, overlapping 3x3/2 max-pooling, and a large first kernel (11x11 stride 4)
that cuts a 224x224 image to 55x55 at once. torchvision's version is the "one weird trick"
variant: 64/192/384/256/256 channels, no LocalResponseNorm, no split over two GPUs.

``features`` / ``avgpool`` (AdaptiveAvgPool2d((6, 6))) / ``classifier`` as in torchvision;
``classifier.6`` is the output layer. The smallest input it takes is 63x63 (the third
max-pool needs at least 3x3), so use 64x64 for quick experiments, not 32x32.
"""
from __future__ import annotations

from ... import nn
from ._weights import Weights, WeightsEnum, load_weights, resolve


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))
        # No custom init: torchvision keeps PyTorch's layer defaults for AlexNet.

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


class AlexNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth")
    DEFAULT = IMAGENET1K_V1


def alexnet(*, weights=None, progress: bool = True, pretrained=None, **kwargs) -> AlexNet:
    """AlexNet, 61.1M parameters (most of them in classifier.1: 9216 x 4096)."""
    path, _ = resolve("alexnet", AlexNet_Weights, weights, pretrained, kwargs)
    model = AlexNet(**kwargs)
    return load_weights(model, path) if path is not None else model
