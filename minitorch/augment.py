"""``--augment SPEC``: data augmentation named on the command line, run on whole batches on the
training device (``minitorch.vision.transforms.batch``).

The grammar: transforms separated by commas, applied in the order written; each is a name,
then its parameters after colons::

    --augment "crop:4,flip,rotate:10,noise:0.05"

    crop:P            pad P pixels (zeros) on every side, then a random crop back to H x W
    flip[:p]          horizontal flip with probability p (default 0.5)
    vflip[:p]         vertical flip
    rotate:D          rotation by a uniform angle in [-D, D] degrees (bilinear)
    translate:F       shift by up to F * width / F * height pixels (RandomAffine translate)
    scale:LO:HI       zoom by a uniform factor in [LO, HI] (RandomAffine scale)
    brightness:B      brightness factor in [1 - B, 1 + B] (ColorJitter)
    contrast:C        contrast factor in [1 - C, 1 + C]
    noise:S           add N(0, S^2) Gaussian noise, clipped to [0, 1]

The transforms act on images in [0, 1]: the pipeline un-does the dataset's normalisation,
augments and normalises again, so zero padding is black and the noise level means the same on
every dataset. Every random draw comes from one ``minitorch.Generator`` (seeded by the
training run, saved and restored by its checkpoints), so an augmented run repeats exactly and
a resumed one continues bit-identically.
"""
from __future__ import annotations

import numpy as np

from .backend import get_array_module
from .tensor import Tensor
from .vision.transforms import InterpolationMode
from .vision.transforms import batch as B


class AugmentSpecError(ValueError):
    """An ``--augment`` string that does not parse (the message says what was expected)."""


# name -> (parameter names, default values (None: required), builder(params, H, W, generator))
_TRANSFORMS = {
    "crop": (("padding",), (None,),
             lambda p, h, w, g: B.RandomCrop((h, w), padding=int(p[0]), generator=g)),
    "flip": (("p",), (0.5,), lambda p, h, w, g: B.RandomHorizontalFlip(p[0], generator=g)),
    "vflip": (("p",), (0.5,), lambda p, h, w, g: B.RandomVerticalFlip(p[0], generator=g)),
    "rotate": (("degrees",), (None,),
               lambda p, h, w, g: B.RandomRotation(p[0], InterpolationMode.BILINEAR,
                                                   generator=g)),
    "translate": (("fraction",), (None,),
                  lambda p, h, w, g: B.RandomAffine(0, translate=(p[0], p[0]),
                                                    interpolation=InterpolationMode.BILINEAR,
                                                    generator=g)),
    "scale": (("low", "high"), (None, None),
              lambda p, h, w, g: B.RandomAffine(0, scale=(p[0], p[1]),
                                                interpolation=InterpolationMode.BILINEAR,
                                                generator=g)),
    "brightness": (("amount",), (None,),
                   lambda p, h, w, g: B.ColorJitter(brightness=p[0], generator=g)),
    "contrast": (("amount",), (None,),
                 lambda p, h, w, g: B.ColorJitter(contrast=p[0], generator=g)),
    "noise": (("sigma",), (None,), lambda p, h, w, g: B.GaussianNoise(0.0, p[0], generator=g)),
}
NAMES = tuple(_TRANSFORMS)


def _usage(name: str) -> str:
    params, defaults = _TRANSFORMS[name][:2]
    return name + "".join(f":{p.upper()}" if d is None else f"[:{p.upper()}]"
                          for p, d in zip(params, defaults))


def parse(spec: str) -> list[tuple[str, tuple[float, ...]]]:
    """``"crop:4,flip"`` -> [("crop", (4.0,)), ("flip", (0.5,))], with every parameter given
    or defaulted; a bad name, count or number raises AugmentSpecError naming the part."""
    if not isinstance(spec, str) or not spec.strip():
        raise AugmentSpecError("--augment: expected transforms like 'crop:4,flip,rotate:10', "
                               f"got {spec!r}")
    steps = []
    for part in spec.split(","):
        name, *args = [s.strip() for s in part.strip().split(":")]
        if name not in _TRANSFORMS:
            raise AugmentSpecError(f"--augment: unknown transform {name!r} in {spec!r}; known: "
                                   + ", ".join(_usage(n) for n in NAMES))
        params, defaults, _ = _TRANSFORMS[name]
        if len(args) > len(params) or len(args) < sum(d is None for d in defaults):
            raise AugmentSpecError(f"--augment: {part.strip()!r}: expected {_usage(name)}")
        try:
            values = [float(a) for a in args]
        except ValueError:
            raise AugmentSpecError(f"--augment: {part.strip()!r}: parameters must be numbers "
                                   f"({_usage(name)})") from None
        values += list(defaults[len(values):])
        if any(not np.isfinite(v) or v < 0 for v in values):
            raise AugmentSpecError(f"--augment: {part.strip()!r}: parameters must be finite "
                                   "and >= 0")
        if name == "crop" and values[0] != int(values[0]):
            raise AugmentSpecError(f"--augment: {part.strip()!r}: the padding is whole pixels")
        if name in ("flip", "vflip") and values[0] > 1:
            raise AugmentSpecError(f"--augment: {part.strip()!r}: a probability is in [0, 1]")
        if name == "scale" and not 0 < values[0] <= values[1]:
            raise AugmentSpecError(f"--augment: {part.strip()!r}: need 0 < LOW <= HIGH")
        steps.append((name, tuple(values)))
    return steps


class Augment:
    """The parsed spec as one callable on a normalised (N, C, H, W) batch Tensor.

    ``mean`` / ``std``: the dataset's normalisation (per channel or one value), undone before
    the transforms and redone after; ``generator`` supplies every random draw."""

    def __init__(self, spec: str, mean=0.0, std=1.0, generator=None):
        self.spec, self.steps, self.generator = spec, parse(spec), generator
        self._transforms, self._size = [], None  # built for the first batch's H x W
        self.mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(-1, 1, 1)

    def __call__(self, x: Tensor) -> Tensor:
        data = x.data
        xp = get_array_module(data)
        mean, std = xp.asarray(self.mean), xp.asarray(self.std)
        if self._size != tuple(data.shape[-2:]):
            self._size = h, w = tuple(data.shape[-2:])
            self._transforms = [_TRANSFORMS[name][2](params, h, w, self.generator)
                                for name, params in self.steps]
        y = Tensor._make(data * std + mean, False, None)
        for t in self._transforms:
            y = t(y)
        return Tensor._make(((y.data - mean) / std).astype(data.dtype, copy=False), False, None)

    def __repr__(self) -> str:
        return f"Augment({self.spec!r})"


class AugmentedBatches:
    """An iterable of (x, y) batches with ``augment`` applied to each x: what the training
    loop iterates instead of the loader itself (the loader keeps its own state for
    checkpoints)."""

    def __init__(self, batches, augment):
        self.batches, self.augment = batches, augment

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for x, y in self.batches:
            yield self.augment(x), y


__all__ = ["parse", "Augment", "AugmentedBatches", "AugmentSpecError", "NAMES"]
