"""Colour array kernels on (..., C, H, W) NumPy/CuPy arrays, with torchvision's tensor
arithmetic: integer images are computed in float32 and cast back by truncation where
torchvision does (``.to(uint8)``).

A factor may be a Python number or an array that broadcasts against the image (one per image
of a batch: shape (N, 1, 1, 1)), so ``transforms.batch`` reuses every kernel.
"""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ._image import compute_dtype, max_value

# ITU-R 601-2 luma, the weights torchvision's tensor path uses
_LUMA = (0.2989, 0.587, 0.114)


def _factor(xp, factor, dtype):
    """A number stays a scalar of ``dtype``; per-image factors become an array on xp."""
    if np.ndim(factor) == 0 and not hasattr(factor, "device"):
        return dtype(float(factor))
    return xp.asarray(factor, dtype=dtype)


def blend(img, other, ratio):
    """ratio * img + (1 - ratio) * other, clipped to the dtype's range, in img's dtype."""
    xp = get_array_module(img)
    dtype = compute_dtype(img.dtype)
    # 1 - ratio in float64 first, as torch does with a Python-number ratio
    rest = _factor(xp, 1.0 - np.asarray(ratio, dtype=np.float64), dtype)
    ratio = _factor(xp, ratio, dtype)
    out = ratio * img.astype(dtype, copy=False) + rest * other
    out = xp.clip(out, 0, max_value(img.dtype))
    return out.astype(img.dtype, copy=False)  # integers: truncation, as torch's .to(uint8)


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """(..., 3, H, W) -> (..., 1 or 3, H, W); a 1-channel image is returned as it is."""
    xp = get_array_module(img)
    if img.shape[-3] == 3:
        dtype = compute_dtype(img.dtype)
        r, g, b = (img[..., k, :, :].astype(dtype, copy=False) for k in range(3))
        gray = (dtype(_LUMA[0]) * r + dtype(_LUMA[1]) * g + dtype(_LUMA[2]) * b)
        gray = gray.astype(img.dtype, copy=False)[..., None, :, :]
    elif img.shape[-3] == 1:
        gray = img.copy()
    else:
        raise ValueError(f"rgb_to_grayscale: expected 1 or 3 channels, got an image of shape "
                         f"{tuple(img.shape)}")
    if num_output_channels == 3:
        return xp.broadcast_to(gray, gray.shape[:-3] + (3,) + gray.shape[-2:]).copy()
    return gray


def adjust_brightness(img, factor):
    xp = get_array_module(img)
    return blend(img, xp.zeros((), dtype=compute_dtype(img.dtype)), factor)


def adjust_contrast(img, factor):
    """Blend with the image's mean grey level (one number per image)."""
    dtype = compute_dtype(img.dtype)
    gray = rgb_to_grayscale(img) if img.shape[-3] == 3 else img
    mean = gray.astype(np.float64).mean(axis=(-3, -2, -1), keepdims=True).astype(dtype)
    return blend(img, mean, factor)


def adjust_saturation(img, factor):
    if img.shape[-3] == 1:  # a grey image has no saturation (PIL's behaviour)
        return img
    gray = rgb_to_grayscale(img).astype(compute_dtype(img.dtype))
    return blend(img, gray, factor)


def rgb_to_hsv(img):
    """float (..., 3, H, W) in [0, 1] -> hue, saturation, value, each (..., H, W)."""
    xp = get_array_module(img)
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc  # grey pixels: h = s = 0, and no division by zero below
    cr = maxc - minc
    one = xp.ones_like(maxc)
    s = cr / xp.where(eqc, one, maxc)
    div = xp.where(eqc, one, cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = xp.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return h.astype(img.dtype), s, maxc


def hsv_to_rgb(h, s, v):
    """The inverse of ``rgb_to_hsv``: (..., H, W) x 3 -> (..., 3, H, W)."""
    xp = get_array_module(h)
    i = xp.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = xp.clip(v * (1.0 - s), 0.0, 1.0)
    q = xp.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    table = xp.stack([xp.stack(c, axis=-3) for c in ((v, q, p, p, t, v), (t, v, v, q, p, p),
                                                     (p, p, t, v, v, q))], axis=-4)
    # table: (..., 3, 6, H, W); pick sector i for each pixel
    return xp.take_along_axis(table, i[..., None, None, :, :], axis=-3)[..., 0, :, :]


def adjust_hue(img, hue_factor):
    """Rotate the hue by ``hue_factor`` turns (in [-0.5, 0.5])."""
    xp = get_array_module(img)
    if img.shape[-3] == 1:
        return img
    integer = np.dtype(img.dtype).kind in "iu"
    x = img.astype(np.float32) / np.float32(max_value(img.dtype)) if integer else img
    h, s, v = rgb_to_hsv(x)
    shift = _factor(xp, hue_factor, x.dtype.type)
    if getattr(shift, "ndim", 0):
        shift = shift[..., 0, :, :]  # (N, 1, 1, 1) -> (N, 1, 1), to match h's (N, H, W)
    h = xp.mod(h + shift, 1.0)
    out = hsv_to_rgb(h, s, v)
    if integer:  # torchvision's float -> uint8: scale by 255.999 and truncate
        return (out * np.float32(max_value(img.dtype) + 1.0 - 1e-3)).astype(img.dtype)
    return out.astype(img.dtype, copy=False)
