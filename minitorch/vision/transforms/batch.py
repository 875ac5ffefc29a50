"""Batched augmentation: one call transforms a whole (N, C, H, W) Tensor on its device (NumPy
on the CPU, CuPy on the GPU), each image with its own random parameters.

    augment = transforms.Compose([transforms.batch.RandomCrop(32, padding=4),
                                  transforms.batch.RandomHorizontalFlip()])
    for x, y in loader:                 # x: (N, 3, 32, 32) on the training device
        x = augment(x)

Per-sample transforms in a Dataset cost Python work for every image; these cost a few array
operations per batch, after the batch is on the device. They use the same kernels as the
per-sample transforms (``_geometry.py``, ``_color.py``), so an image transformed here with
given parameters equals the per-sample result with those parameters.

Parameters are drawn for all N images at once, from ``generator`` (a ``minitorch.Generator``)
or minitorch's global generator. Deterministic transforms (``Normalize``, ``Resize``,
``CenterCrop``, ``Pad``, ``Grayscale``, ``GaussianNoise``) already take (N, C, H, W) Tensors
and need no batched twin. ``ColorJitter`` draws one order of the four adjustments per batch
(torchvision draws one per image) and one factor per image.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend import get_array_module
from ...random import numpy_generator
from ...tensor import Tensor
from . import _color, _geometry
from . import functional as F
from ._image import describe, fill_per_channel
from .transforms import ColorJitter as _ColorJitter
from .transforms import RandomAffine as _RandomAffine
from .transforms import Transform, _range, _setup_size


def _batch(name: str, x) -> tuple:
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"transforms.batch.{name}: expected a (N, C, H, W) Tensor, got "
                         f"{describe(x)}")
    data = x.data
    return data, get_array_module(data)


def _out(array) -> Tensor:
    return Tensor._make(array, False, None)


class _Random(Transform):
    def __init__(self, generator=None):
        self.generator = generator

    @property
    def rng(self) -> np.random.Generator:
        return numpy_generator(self.generator)


class RandomCrop(_Random):
    """A random (h, w) window per image, after optional ``padding`` (see
    ``transforms.RandomCrop``)."""

    def __init__(self, size, padding=None, fill=0, padding_mode: str = "constant",
                 generator=None):
        super().__init__(generator)
        self.size = _setup_size("batch.RandomCrop", size)
        self.padding = None if padding is None else F._padding_ltrb(padding)
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, x):
        data, xp = _batch("RandomCrop", x)
        if self.padding is not None:
            fills = fill_per_channel("batch.RandomCrop", self.fill, data.shape[1])
            data = _geometry.pad(data, *self.padding, fill=fills, mode=self.padding_mode)
        n, _, h, w = data.shape
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"transforms.batch.RandomCrop: required crop size {(th, tw)} is "
                             f"larger than the (padded) image size {(h, w)}")
        tops = xp.asarray(self.rng.integers(0, h - th + 1, size=n))
        lefts = xp.asarray(self.rng.integers(0, w - tw + 1, size=n))
        # Every (th, tw) window of every image, as a strided view (no copy), then one gather
        # of the chosen window per image.
        sn, sc, sh, sw = data.strides
        windows = xp.lib.stride_tricks.as_strided(
            data, (n, h - th + 1, w - tw + 1, data.shape[1], th, tw), (sn, sh, sw, sc, sh, sw))
        return _out(xp.ascontiguousarray(windows[xp.arange(n), tops, lefts]))


class _RandomFlip(_Random):
    axis = -1

    def __init__(self, p: float = 0.5, generator=None):
        super().__init__(generator)
        self.p = p

    def __call__(self, x):
        data, xp = _batch(type(self).__name__, x)
        flip = xp.asarray(self.rng.random(data.shape[0]) < self.p)[:, None, None, None]
        return _out(xp.where(flip, xp.flip(data, axis=self.axis), data))


class RandomHorizontalFlip(_RandomFlip):
    axis = -1


class RandomVerticalFlip(_RandomFlip):
    axis = -2


def _warp(x, matrices, interpolation, fill, name):
    data, xp = _batch(name, x)
    fills = fill_per_channel(f"batch.{name}", fill, data.shape[1])
    return _out(_geometry.warp_affine(data, matrices, None, F._mode(interpolation), fills))


class RandomRotation(_Random):
    """Each image rotated by its own angle from ``degrees`` (about the centre, same size)."""

    def __init__(self, degrees, interpolation=F.InterpolationMode.NEAREST, fill=0,
                 generator=None):
        super().__init__(generator)
        self.degrees = _range("batch.RandomRotation: degrees", degrees)
        self.interpolation, self.fill = interpolation, fill

    def __call__(self, x):
        angles = self.rng.uniform(self.degrees[0], self.degrees[1], size=x.shape[0])
        matrices = [_geometry.inverse_affine_matrix([0.0, 0.0], -a, [0.0, 0.0], 1.0,
                                                    [0.0, 0.0]) for a in angles]
        return _warp(x, matrices, self.interpolation, self.fill, "RandomRotation")


class RandomAffine(_Random):
    """Each image with its own rotation, translation, scale and shear (``RandomAffine``'s
    arguments and ranges)."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=F.InterpolationMode.NEAREST, fill=0, generator=None):
        super().__init__(generator)
        spec = _RandomAffine(degrees, translate, scale, shear, interpolation, fill)
        self.degrees, self.translate, self.scale, self.shear = \
            spec.degrees, spec.translate, spec.scale, spec.shear
        self.interpolation, self.fill = interpolation, fill

    def __call__(self, x):
        n, _, h, w = x.shape
        rng = self.rng
        angles = rng.uniform(self.degrees[0], self.degrees[1], size=n)
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * w, self.translate[1] * h
            tx = np.round(rng.uniform(-max_dx, max_dx, size=n))
            ty = np.round(rng.uniform(-max_dy, max_dy, size=n))
        else:
            tx = ty = np.zeros(n)
        scales = rng.uniform(*self.scale, size=n) if self.scale is not None else np.ones(n)
        shear_x = rng.uniform(self.shear[0], self.shear[1], size=n) \
            if self.shear is not None else np.zeros(n)
        shear_y = rng.uniform(self.shear[2], self.shear[3], size=n) \
            if self.shear is not None and len(self.shear) == 4 else np.zeros(n)
        matrices = [_geometry.inverse_affine_matrix([0.0, 0.0], angles[i], [tx[i], ty[i]],
                                                    scales[i], [shear_x[i], shear_y[i]])
                    for i in range(n)]
        return _warp(x, matrices, self.interpolation, self.fill, "RandomAffine")


class ColorJitter(_Random):
    """Brightness, contrast, saturation and hue factors drawn per image (ranges as
    ``transforms.ColorJitter``), applied in one random order per batch."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, generator=None):
        super().__init__(generator)
        spec = _ColorJitter(brightness, contrast, saturation, hue)
        self.brightness, self.contrast = spec.brightness, spec.contrast
        self.saturation, self.hue = spec.saturation, spec.hue

    def __call__(self, x):
        data, xp = _batch("ColorJitter", x)
        rng, n = self.rng, data.shape[0]
        kernels = (_color.adjust_brightness, _color.adjust_contrast, _color.adjust_saturation,
                   _color.adjust_hue)
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        for k in rng.permutation(4):
            if ranges[k] is not None:
                factors = rng.uniform(ranges[k][0], ranges[k][1], size=n).reshape(n, 1, 1, 1)
                data = kernels[k](data, xp.asarray(factors))
        return _out(data)


class GaussianNoise(_Random):
    """``transforms.GaussianNoise`` for a batch (noise drawn from ``generator``)."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True,
                 generator=None):
        super().__init__(generator)
        if sigma < 0 or not math.isfinite(sigma):
            raise ValueError(f"batch.GaussianNoise: sigma should be finite and >= 0, got {sigma}")
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def __call__(self, x):
        _batch("GaussianNoise", x)
        return F.gaussian_noise(x, self.mean, self.sigma, self.clip, self.generator)


__all__ = ["RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
           "RandomAffine", "ColorJitter", "GaussianNoise"]
