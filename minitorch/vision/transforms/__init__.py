"""torchvision.transforms for minitorch: the transform classes (``transforms.py``), their
functions (``functional``), and batched random augmentation on the device (``batch``).

    from minitorch.vision import transforms
    t = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor(),
                            transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
"""
from . import batch, functional
from .functional import InterpolationMode
from .transforms import (CenterCrop, ColorJitter, Compose, GaussianNoise, Grayscale, Lambda,
                         Normalize, Pad, PILToTensor, RandomAffine, RandomApply, RandomCrop,
                         RandomGrayscale, RandomHorizontalFlip, RandomResizedCrop,
                         RandomRotation, RandomVerticalFlip, Resize, ToPILImage, ToTensor,
                         Transform)

__all__ = ["batch", "functional", "InterpolationMode", "CenterCrop", "ColorJitter", "Compose",
           "GaussianNoise", "Grayscale", "Lambda", "Normalize", "Pad", "PILToTensor",
           "RandomAffine", "RandomApply", "RandomCrop", "RandomGrayscale",
           "RandomHorizontalFlip", "RandomResizedCrop", "RandomRotation", "RandomVerticalFlip",
           "Resize", "ToPILImage", "ToTensor", "Transform"]
