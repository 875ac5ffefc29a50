"""torchvision.datasets for minitorch: the same classes, arguments and on-disk layouts, so a
folder torchvision already downloaded is reused.

    from minitorch.vision import datasets, transforms
    train = datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor())

Samples are ``(PIL image, int)`` when Pillow is installed, as torchvision's (else the image is
an HWC uint8 array); ``transforms.ToTensor()`` takes both. With ``transform=ToTensor()`` or
``Compose([ToTensor(), Normalize(...)])`` and no target transform, MNIST and CIFAR10 also
make whole batches in one NumPy call (``get_batch``), bit-identical to the per-sample path.
"""
from ._common import DataIntegrityError, DataNotFoundError, VisionDataset
from .cifar import CIFAR10
from .fakedata import FakeData
from .folder import (IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader,
                     find_classes, make_dataset)
from .mnist import MNIST, FashionMNIST

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "FakeData", "ImageFolder", "DatasetFolder",
           "VisionDataset", "DataNotFoundError", "DataIntegrityError", "IMG_EXTENSIONS",
           "default_loader", "find_classes", "make_dataset"]
