"""torchvision.utils' ``make_grid``: a batch of images tiled into one image, the way lectures
show a batch, a layer's filters or its feature maps::

    grid = make_grid(images, nrow=8, normalize=True)      # (3, H', W')
    plt.imshow(grid.permute(1, 2, 0).numpy())

Shapes: N images, C channels, H x W each; P = padding. A grid of ``xmaps = min(nrow, N)``
columns and ``ymaps = ceil(N / xmaps)`` rows is (C, ymaps * (H + P) + P, xmaps * (W + P) + P),
filled with ``pad_value`` around and between the images. One-channel images become three
(grey RGB), as in torchvision, so a grid of them shows with ``imshow``.
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["make_grid"]


def _images(tensor):
    """The input as an (N, C, H, W) array: a 4-D tensor, a list of 3-D ones, or one image."""
    if isinstance(tensor, (list, tuple)) and tensor and all(isinstance(t, Tensor) for t in tensor):
        xp = get_array_module(tensor[0].data)
        if len({tuple(t.shape) for t in tensor}) != 1:
            raise ValueError(f"make_grid: the images in a list must have one shape, got "
                             f"{sorted({tuple(t.shape) for t in tensor})}")
        images = xp.stack([t.detach().data for t in tensor])
    elif isinstance(tensor, Tensor):
        images = tensor.detach().data
    else:
        raise TypeError(f"make_grid: expected a tensor or a list of tensors, got "
                        f"{type(tensor).__name__}")
    xp = get_array_module(images)
    if images.ndim == 2:                 # (H, W): one grey image
        images = images[None]
    if images.ndim == 3:                 # (C, H, W): one image
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"make_grid: expected (N, C, H, W) images (or one (C, H, W) or "
                         f"(H, W) image), got shape {tuple(images.shape)}")
    if images.shape[1] == 1:             # grey -> RGB, so every grid is an RGB image
        images = xp.concatenate([images] * 3, axis=1)
    return images


def _rescale(images, value_range):
    """Clamp to value_range (default: the images' own min and max) and map it to [0, 1]."""
    low, high = value_range if value_range is not None else (images.min(), images.max())
    images = images.clip(low, high)
    return (images - low) / max(float(high - low), 1e-5)


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple[float, float] | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile (N, C, H, W) images (or a list of (C, H, W) ones) into one (C, H', W') image,
    ``nrow`` images per row (torchvision.utils.make_grid's arguments and numbers).

    normalize: map ``value_range`` (default: the min and max over all images, or over each
    image when ``scale_each``) to [0, 1], clamping values outside it. A single image comes back
    as itself (C, H, W), without padding, as in torchvision."""
    images = _images(tensor)
    xp = get_array_module(images)
    if normalize:
        images = (xp.stack([_rescale(im, value_range) for im in images]) if scale_each
                  else _rescale(images, value_range))
    if images.shape[0] == 1:
        return Tensor._make(xp.array(images[0]), False, None)
    n, c, h, w = images.shape
    xmaps = min(nrow, n)
    ymaps = math.ceil(n / xmaps)
    step_h, step_w = h + padding, w + padding
    grid = xp.full((c, ymaps * step_h + padding, xmaps * step_w + padding), pad_value,
                   dtype=images.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        top, left = y * step_h + padding, x * step_w + padding
        grid[:, top:top + h, left:left + w] = images[k]
    return Tensor._make(grid, False, None)
