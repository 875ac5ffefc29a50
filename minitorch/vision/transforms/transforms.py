"""The transform classes of ``torchvision.transforms``, with its argument names and defaults.

Random transforms draw their parameters from minitorch's global generator
(``minitorch.manual_seed`` fixes them; in DataLoader workers each worker's generator is seeded
apart, as PyTorch seeds torch's), so a seeded run repeats exactly. Each random class has
torchvision's ``get_params`` static method, and applies ``functional.py`` with what it drew.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from ...random import numpy_generator
from . import functional as F
from ._image import num_channels, size_hw
from .functional import InterpolationMode


def _rng() -> np.random.Generator:
    return numpy_generator(None)


def _uniform(lo: float, hi: float) -> float:
    return float(_rng().uniform(lo, hi)) if hi > lo else float(lo)


def _randint(lo: int, hi: int) -> int:
    """An int in [lo, hi)."""
    return int(_rng().integers(lo, hi))


def _setup_size(name: str, size) -> tuple[int, int]:
    return F._pair(name, size)


def _range(name: str, value, center: float = 0.0, bound=(-math.inf, math.inf),
           clip_first_at_zero: bool = False) -> tuple[float, float] | None:
    """torchvision's convention: a number v means [center - v, center + v], a pair is the
    range itself."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"{name}: if it is a single number, it must be non negative, got "
                             f"{value}")
        lo, hi = center - float(value), center + float(value)
        if clip_first_at_zero:
            lo = max(lo, 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
    else:
        raise TypeError(f"{name}: should be a single number or a sequence of two numbers, got "
                        f"{value!r}")
    if not bound[0] <= lo <= hi <= bound[1]:
        raise ValueError(f"{name}: values should be between {bound[0]} and {bound[1]} (and "
                         f"ordered), got ({lo}, {hi})")
    return lo, hi


class Transform:
    """Base of the transforms here: a callable with a readable repr."""

    def _extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._extra()})"


class Compose(Transform):
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"Compose({inner}\n)"


class Lambda(Transform):
    """Apply a user function."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class ToTensor(Transform):
    """PIL image / (H, W[, C]) ndarray -> float32 (C, H, W) Tensor in [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)


class PILToTensor(Transform):
    def __call__(self, pic):
        return F.pil_to_tensor(pic)


class ToPILImage(Transform):
    def __init__(self, mode: str | None = None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)


class Normalize(Transform):
    """(x - mean) / std per channel, on a float Tensor."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = [float(m) for m in np.ravel(mean)]
        self.std = [float(s) for s in np.ravel(std)]
        self.inplace = inplace

    def __call__(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def _extra(self):
        return f"mean={self.mean}, std={self.std}"


class Resize(Transform):
    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias: bool | None = True):
        if not isinstance(size, (numbers.Integral, list, tuple)) or \
                (isinstance(size, (list, tuple)) and len(size) not in (1, 2)):
            raise TypeError(f"Resize: size should be an int or a sequence of length 1 or 2, "
                            f"got {size!r}")
        self.size, self.max_size, self.antialias = size, max_size, antialias
        self.interpolation = InterpolationMode(F._mode(interpolation))

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def _extra(self):
        return f"size={self.size}, interpolation={self.interpolation.value}"


class CenterCrop(Transform):
    def __init__(self, size):
        self.size = _setup_size("CenterCrop", size)

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def _extra(self):
        return f"size={self.size}"


class Pad(Transform):
    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        F._padding_ltrb(padding)  # validate now, not at the first sample
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"Pad: padding_mode should be constant, edge, reflect or "
                             f"symmetric, got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def _extra(self):
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


class RandomCrop(Transform):
    """A random (h, w) window, after optional ``padding`` (and ``pad_if_needed`` for images
    smaller than the crop)."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant"):
        self.size = _setup_size("RandomCrop", size)
        if padding is not None:
            F._padding_ltrb(padding)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a uniformly random window."""
        h, w = size_hw(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the "
                             f"input image size {(h, w)}")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        return _randint(0, h - th + 1), _randint(0, w - tw + 1), th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        h, w = size_hw(img)
        if self.pad_if_needed and w < self.size[1]:
            img = F.pad(img, [self.size[1] - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < self.size[0]:
            img = F.pad(img, [0, self.size[0] - h], self.fill, self.padding_mode)
        return F.crop(img, *self.get_params(img, self.size))

    def _extra(self):
        return f"size={self.size}, padding={self.padding}"


class RandomResizedCrop(Transform):
    """A random window of random area (``scale``) and aspect ratio (``ratio``), resized."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
        self.size = _setup_size("RandomResizedCrop", size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale {scale} and ratio {ratio} should be "
                             "(min, max)")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation = InterpolationMode(F._mode(interpolation))
        self.antialias = antialias

    @staticmethod
    def get_params(img, scale, ratio) -> tuple[int, int, int, int]:
        """torchvision's recipe: 10 tries at a window inside the image, else a central crop
        with the aspect ratio clamped into ``ratio``."""
        height, width = size_hw(img)
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        top, left, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, h, w, self.size, self.interpolation,
                              self.antialias)


class RandomHorizontalFlip(Transform):
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, img):
        return F.hflip(img) if _rng().random() < self.p else img

    def _extra(self):
        return f"p={self.p}"


class RandomVerticalFlip(Transform):
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, img):
        return F.vflip(img) if _rng().random() < self.p else img

    def _extra(self):
        return f"p={self.p}"


class RandomApply(Transform):
    """Apply all of ``transforms`` with probability ``p``."""

    def __init__(self, transforms, p: float = 0.5):
        self.transforms, self.p = list(transforms), p

    def __call__(self, img):
        if _rng().random() >= self.p:
            return img
        for t in self.transforms:
            img = t(img)
        return img


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` ((-d, d) for a number d)."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center=None, fill=0):
        self.degrees = _range("RandomRotation: degrees", degrees)
        self.interpolation = InterpolationMode(F._mode(interpolation))
        self.expand, self.center, self.fill = expand, center, fill

    @staticmethod
    def get_params(degrees) -> float:
        return _uniform(float(degrees[0]), float(degrees[1]))

    def __call__(self, img):
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def _extra(self):
        return f"degrees={self.degrees}, interpolation={self.interpolation.value}"


class RandomAffine(Transform):
    """Random rotation (``degrees``), translation (``translate`` = max fractions of width and
    height), zoom (``scale`` range) and shear (``shear``: a number or (min, max) for x, or
    (xmin, xmax, ymin, ymax)), all about the image centre."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None):
        self.degrees = _range("RandomAffine: degrees", degrees)
        if translate is not None:
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"RandomAffine: translate should be a pair of fractions in "
                                 f"[0, 1], got {translate!r}")
        if scale is not None:
            if len(scale) != 2 or not all(s > 0 for s in scale):
                raise ValueError(f"RandomAffine: scale values should be positive, got "
                                 f"{scale!r}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _range("RandomAffine: shear", shear)
            elif len(shear) not in (2, 4):
                raise ValueError(f"RandomAffine: shear should be a number or a sequence of 2 "
                                 f"or 4 numbers, got {shear!r}")
            shear = tuple(float(s) for s in shear)
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = InterpolationMode(F._mode(interpolation))
        self.fill, self.center = fill, center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """(angle, (tx, ty), scale, (shear_x, shear_y)); ``img_size`` is [width, height]."""
        angle = _uniform(float(degrees[0]), float(degrees[1]))
        if translate is not None:
            max_dx, max_dy = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            tx, ty = int(round(_uniform(-max_dx, max_dx))), int(round(_uniform(-max_dy, max_dy)))
        else:
            tx, ty = 0, 0
        scale = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = _uniform(shears[2], shears[3])
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def __call__(self, img):
        h, w = size_hw(img)
        angle, translate, scale, shear = self.get_params(self.degrees, self.translate,
                                                         self.scale, self.shear, [w, h])
        return F.affine(img, angle, list(translate), scale, list(shear), self.interpolation,
                        self.fill, self.center)

    def _extra(self):
        return (f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
                f"shear={self.shear}")


class ColorJitter(Transform):
    """Random brightness, contrast, saturation and hue, applied in a random order. A number
    b means a factor in [max(0, 1 - b), 1 + b] (hue h: a shift in [-h, h], h <= 0.5)."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = self._factor_range("brightness", brightness)
        self.contrast = self._factor_range("contrast", contrast)
        self.saturation = self._factor_range("saturation", saturation)
        hue = _range("ColorJitter: hue", hue, center=0.0, bound=(-0.5, 0.5))
        self.hue = None if hue == (0.0, 0.0) else hue

    @staticmethod
    def _factor_range(name, value):
        r = _range(f"ColorJitter: {name}", value, center=1.0, bound=(0.0, math.inf),
                   clip_first_at_zero=True)
        return None if r == (1.0, 1.0) else r

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order of the four adjustments, and each factor or None)."""
        order = _rng().permutation(4)
        factors = [None if r is None else _uniform(r[0], r[1])
                   for r in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def __call__(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation,
                                            self.hue)
        for k in order:
            if k == 0 and b is not None:
                img = F.adjust_brightness(img, b)
            elif k == 1 and c is not None:
                img = F.adjust_contrast(img, c)
            elif k == 2 and s is not None:
                img = F.adjust_saturation(img, s)
            elif k == 3 and h is not None:
                img = F.adjust_hue(img, h)
        return img

    def _extra(self):
        return (f"brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue}")


class Grayscale(Transform):
    def __init__(self, num_output_channels: int = 1):
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)


class RandomGrayscale(Transform):
    def __init__(self, p: float = 0.1):
        self.p = p

    def __call__(self, img):
        if _rng().random() < self.p:
            return F.rgb_to_grayscale(img, num_channels(img))
        return img


class GaussianNoise(Transform):
    """Add Gaussian noise N(mean, sigma^2) to a float image in [0, 1], then clip to [0, 1]
    (``clip=True``): torchvision.transforms.v2.GaussianNoise."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True):
        if sigma < 0:
            raise ValueError(f"GaussianNoise: sigma shouldn't be negative, got {sigma}")
        self.mean, self.sigma, self.clip = float(mean), float(sigma), bool(clip)

    def __call__(self, img):
        return F.gaussian_noise(img, self.mean, self.sigma, self.clip)

    def _extra(self):
        return f"mean={self.mean}, sigma={self.sigma}, clip={self.clip}"


__all__ = ["Compose", "Lambda", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Resize",
           "CenterCrop", "Pad", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomApply", "RandomRotation", "RandomAffine",
           "ColorJitter", "Grayscale", "RandomGrayscale", "GaussianNoise", "InterpolationMode",
           "Transform"]
