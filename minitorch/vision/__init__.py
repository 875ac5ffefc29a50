"""Vision: torchvision's three packages under minitorch.

    from minitorch.vision import datasets, transforms, models   # was: from torchvision import ...

``datasets`` (MNIST, FashionMNIST, CIFAR10, FakeData, ImageFolder) read torchvision's on-disk
layouts, ``transforms`` are torchvision's augmentations drawing from minitorch's generator, and
``models`` holds torchvision's architectures with its module and state_dict names; ``utils``
has ``make_grid``.

They are imported on first use (``minitorch.vision.models`` ...), so ``import
minitorch.vision`` stays cheap and doesn't load Pillow or every model definition.
"""
import importlib

__all__ = ["datasets", "transforms", "models", "utils"]


def __getattr__(name):
    if name in __all__:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module  # later lookups skip this hook
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
