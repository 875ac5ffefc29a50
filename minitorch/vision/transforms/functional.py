"""Image functions with torchvision's names and arguments
(``torchvision.transforms.functional``): the transform classes call these with the random
parameters they drew.

Every function takes the three image kinds of ``_image.py``. A PIL image goes through the
same Pillow call torchvision makes (so results are identical); an array or Tensor goes through
the array kernels of ``_geometry.py`` / ``_color.py``, which follow torchvision's tensor
arithmetic.
"""
from __future__ import annotations

import numbers
from enum import Enum

import numpy as np

from ...backend import get_array_module
from ...tensor import Tensor
from . import _color, _geometry
from ._image import (Image, check_image, describe, fill_per_channel, is_pil, num_channels,
                     on_chw, size_hw)


class InterpolationMode(Enum):
    """torchvision's interpolation names (the values are the same strings)."""
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_FILTERS = {"nearest": 0, "nearest-exact": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3,
                "box": 4, "hamming": 5}  # PIL.Image.Resampling's integer codes


def _mode(interpolation) -> str:
    if isinstance(interpolation, InterpolationMode):
        return interpolation.value
    if isinstance(interpolation, str) and interpolation in _PIL_FILTERS:
        return interpolation
    if isinstance(interpolation, int) and not isinstance(interpolation, bool):
        for name, code in _PIL_FILTERS.items():  # a Pillow constant, as torchvision accepts
            if code == interpolation:
                return name
    raise TypeError(f"interpolation should be an InterpolationMode or a Pillow integer "
                    f"constant, got {interpolation!r}")


def _xp_image(img):
    return img.data if isinstance(img, Tensor) else img


# --------------------------------------------------------------------------- conversion
def to_tensor(pic) -> Tensor:
    """A PIL image or an (H, W[, C]) ndarray -> a (C, H, W) Tensor; uint8 is scaled to float32
    [0, 1] (divided by 255), other dtypes are kept."""
    if is_pil(pic):
        array = np.array(pic, dtype={"I": np.int32, "I;16": np.int16, "F": np.float32}.get(
            pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            array = 255 * array
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2 or 3 dimensional (H, W[, C]), got "
                             f"{pic.ndim} dims (shape {pic.shape})")
        array = pic
    else:
        raise TypeError(f"to_tensor: pic should be a PIL image or an ndarray, got "
                        f"{describe(pic)} (a Tensor needs no conversion)")
    if array.ndim == 2:
        array = array[:, :, None]
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        chw = chw.astype(np.float32) / np.float32(255)
    return Tensor._make(chw, False, None)


def pil_to_tensor(pic) -> Tensor:
    """A PIL image -> its (C, H, W) pixels, dtype kept (no scaling)."""
    if not is_pil(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL image, got {describe(pic)}")
    array = np.array(pic, copy=True)
    if array.ndim == 2:
        array = array[:, :, None]
    return Tensor._make(np.ascontiguousarray(array.transpose(2, 0, 1)), False, None)


def to_pil_image(pic, mode: str | None = None):
    """A (C, H, W) Tensor or an (H, W[, C]) ndarray -> a PIL image. Float pixels in [0, 1]
    are scaled by 255 and truncated to uint8, as torchvision."""
    if Image is None:
        raise ImportError("to_pil_image needs Pillow (pip install pillow)")
    if isinstance(pic, Tensor):
        array = np.asarray(pic.numpy() if hasattr(pic, "numpy") else pic.data)
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3:
            raise ValueError(f"to_pil_image: a Tensor should be (C, H, W) or (H, W), got "
                             f"shape {array.shape}")
        array = array.transpose(1, 2, 0)
        if array.dtype.kind == "f":
            array = (array * 255).astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        array = pic[:, :, None] if pic.ndim == 2 else pic
        if array.ndim != 3:
            raise ValueError(f"to_pil_image: an ndarray should be (H, W[, C]), got shape "
                             f"{pic.shape}")
    else:
        raise TypeError(f"to_pil_image: pic should be a Tensor or an ndarray, got "
                        f"{describe(pic)}")
    channels = array.shape[2]
    if channels == 1:
        array = array[:, :, 0]
        default = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                   np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(array.dtype)
    else:
        default = {2: "LA", 3: "RGB", 4: "RGBA"}.get(channels) if array.dtype == np.uint8 \
            else None
    mode = mode or default
    if mode is None:
        raise TypeError(f"to_pil_image: can't make a PIL image of {channels} channels of dtype "
                        f"{array.dtype}; pass mode= or convert to uint8")
    return Image.fromarray(np.ascontiguousarray(array), mode=mode)


# --------------------------------------------------------------------------- size queries
def get_dimensions(img) -> list[int]:
    check_image("get_dimensions", img)
    return [num_channels(img), *size_hw(img)]


def get_image_size(img) -> list[int]:
    """[width, height], as torchvision."""
    h, w = size_hw(img)
    return [w, h]


def get_image_num_channels(img) -> int:
    return num_channels(img)


# --------------------------------------------------------------------------- normalize
def normalize(tensor: Tensor, mean, std, inplace: bool = False) -> Tensor:
    """(x - mean[c]) / std[c] for each channel c of a float (..., C, H, W) Tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: expected a Tensor (put ToTensor() before Normalize), got "
                        f"{describe(tensor)}")
    x = tensor.data
    if np.dtype(x.dtype).kind != "f":
        raise TypeError(f"normalize: input tensor should be a float tensor, got {x.dtype}")
    if x.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image of size (..., C, H, W), got "
                         f"shape {tuple(x.shape)}")
    xp = get_array_module(x)
    mean_a = xp.asarray(np.asarray(mean, dtype=np.float64), dtype=x.dtype).reshape(-1, 1, 1)
    std_a = xp.asarray(np.asarray(std, dtype=np.float64), dtype=x.dtype).reshape(-1, 1, 1)
    if bool((std_a == 0).any()):
        raise ValueError(f"normalize: std evaluated to zero after conversion to {x.dtype}, "
                         f"leading to division by zero (std={list(np.ravel(std))})")
    if mean_a.shape[0] not in (1, x.shape[-3]) or std_a.shape[0] not in (1, x.shape[-3]):
        raise ValueError(f"normalize: {mean_a.shape[0]} means and {std_a.shape[0]} stds for an "
                         f"image of {x.shape[-3]} channels (shape {tuple(x.shape)})")
    if inplace:
        x -= mean_a
        x /= std_a
        return tensor
    return Tensor._make((x - mean_a) / std_a, False, None)


# --------------------------------------------------------------------------- geometry
def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
           antialias: bool | None = True):
    """Resize to ``size``: (h, w), or an int for the shorter edge (aspect ratio kept)."""
    check_image("resize", img)
    h, w = size_hw(img)
    oh, ow = _geometry.resized_shape(h, w, size, max_size)
    mode = _mode(interpolation)
    if is_pil(img):
        return img.resize((ow, oh), _PIL_FILTERS[mode])
    if (oh, ow) == (h, w):
        return img
    return on_chw("resize", img, lambda x: _geometry.resize(x, (oh, ow), mode,
                                                            antialias is not False))


def _padding_ltrb(padding) -> tuple[int, int, int, int]:
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    if isinstance(padding, (list, tuple)) and len(padding) in (1, 2, 4) and \
            all(isinstance(p, numbers.Integral) for p in padding):
        p = [int(v) for v in padding]
        if len(p) == 1:
            return (p[0],) * 4
        if len(p) == 2:
            return p[0], p[1], p[0], p[1]
        return p[0], p[1], p[2], p[3]
    raise ValueError(f"pad: padding must be an int or a 1, 2, or 4 element sequence of ints, "
                     f"got {padding!r}")


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad each border (``padding``: all, (left/right, top/bottom) or (left, top, right,
    bottom)); ``padding_mode`` constant (with ``fill``), edge, reflect or symmetric."""
    check_image("pad", img)
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(f"pad: padding_mode should be constant, edge, reflect or symmetric, "
                         f"got {padding_mode!r}")
    left, top, right, bottom = _padding_ltrb(padding)
    fills = fill_per_channel("pad", 0 if fill is None else fill, num_channels(img))
    if is_pil(img):
        array = np.asarray(img)
        chw = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        if img.mode != "F":
            fills = [int(f) for f in fills]  # PIL fills integer images with integers
        out = _geometry.pad(chw, left, top, right, bottom, fills, padding_mode)
        out = out[0] if array.ndim == 2 else np.moveaxis(out, 0, -1)
        result = Image.fromarray(np.ascontiguousarray(out), mode=img.mode)
        if img.mode == "P":
            result.putpalette(img.getpalette())
        return result
    return on_chw("pad", img, lambda x: _geometry.pad(x, left, top, right, bottom, fills,
                                                      padding_mode))


def crop(img, top: int, left: int, height: int, width: int):
    """The (height, width) window whose top-left corner is (top, left); zeros outside."""
    check_image("crop", img)
    if is_pil(img):
        return img.crop((left, top, left + width, top + height))
    return on_chw("crop", img, lambda x: _geometry.crop(x, top, left, height, width))


def _pair(name: str, size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, (list, tuple)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{name}: size should be an int or a sequence of 1 or 2 ints (h, w), got "
                     f"{size!r}")


def center_crop(img, output_size):
    """The centred window of ``output_size``; an image smaller than that is zero-padded."""
    check_image("center_crop", img)
    ch, cw = _pair("center_crop", output_size)
    h, w = size_hw(img)
    if ch > h or cw > w:
        img = pad(img, [(cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                        (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0])
        h, w = size_hw(img)
        if (ch, cw) == (h, w):
            return img
    top, left = _geometry.center_crop_box(h, w, ch, cw)
    return crop(img, top, left, ch, cw)


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


def hflip(img):
    check_image("hflip", img)
    if is_pil(img):
        return img.transpose(Image.FLIP_LEFT_RIGHT)
    return on_chw("hflip", img, lambda x: x[..., ::-1].copy())


def vflip(img):
    check_image("vflip", img)
    if is_pil(img):
        return img.transpose(Image.FLIP_TOP_BOTTOM)
    return on_chw("vflip", img, lambda x: x[..., ::-1, :].copy())


def _pil_fill(fill, img):
    """torchvision's fill for Pillow: one int per band (floats for mode F)."""
    values = fill_per_channel("fill", 0 if fill is None else fill, num_channels(img))
    if img.mode != "F":
        values = [int(v) for v in values]
    return values[0] if len(values) == 1 else tuple(values)


def _warp(name, img, matrix, interpolation, fill, out_hw=None):
    fills = fill_per_channel(name, fill, num_channels(img))

    def run(x):
        lead = x.shape[:-3]
        flat = x.reshape((-1,) + x.shape[-3:])
        out = _geometry.warp_affine(flat, [matrix] * flat.shape[0], out_hw, interpolation,
                                    fills)
        return out.reshape(lead + out.shape[-3:])
    return on_chw(name, img, run)


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center=None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the image
    centre); ``expand`` grows the output to hold the whole rotated image."""
    check_image("rotate", img)
    if not isinstance(angle, (int, float)):
        raise TypeError(f"rotate: angle should be int or float, got {type(angle).__name__}")
    mode = _mode(interpolation)
    if is_pil(img):
        return img.rotate(angle, _PIL_FILTERS[mode], expand, center,
                          fillcolor=_pil_fill(fill, img))
    h, w = size_hw(img)
    center_f = [0.0, 0.0] if center is None else \
        [float(c) - s * 0.5 for c, s in zip(center, (w, h))]
    # the grid convention turns the other way: -angle rotates counter-clockwise on screen
    matrix = _geometry.inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    out_hw = None
    if expand:
        ow, oh = _geometry.expanded_size(matrix, w, h)
        out_hw = (oh, ow)
    return _warp("rotate", img, matrix, mode, fill, out_hw)


def _shear_pair(shear) -> list[float]:
    if isinstance(shear, numbers.Number):
        return [float(shear), 0.0]
    shear = [float(s) for s in shear]
    if len(shear) == 1:
        return [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"affine: shear should be a number or a sequence of two values, got "
                         f"{shear}")
    return shear


def affine(img, angle: float, translate, scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate by ``angle`` degrees, shift by ``translate`` (dx, dy) pixels, zoom by ``scale``
    and shear by ``shear`` degrees (x, or (x, y)), about ``center`` (default: the centre)."""
    check_image("affine", img)
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise ValueError(f"affine: translate should be a sequence of length 2, got {translate!r}")
    if scale <= 0.0:
        raise ValueError(f"affine: scale should be positive, got {scale}")
    angle, shear, mode = float(angle), _shear_pair(shear), _mode(interpolation)
    h, w = size_hw(img)
    if is_pil(img):
        c = [w * 0.5, h * 0.5] if center is None else list(center)
        matrix = _geometry.inverse_affine_matrix(c, angle, list(translate), scale, shear)
        return img.transform(img.size, Image.AFFINE, matrix, _PIL_FILTERS[mode],
                             fillcolor=_pil_fill(fill, img))
    center_f = [0.0, 0.0] if center is None else \
        [float(c) - s * 0.5 for c, s in zip(center, (w, h))]
    matrix = _geometry.inverse_affine_matrix(center_f, angle, [float(t) for t in translate],
                                             scale, shear)
    return _warp("affine", img, matrix, mode, fill)


# --------------------------------------------------------------------------- colour
def _check_factor(name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name}: factor ({factor}) is not non-negative")


def adjust_brightness(img, brightness_factor: float):
    _check_factor("adjust_brightness", brightness_factor)
    check_image("adjust_brightness", img)
    if is_pil(img):
        from PIL import ImageEnhance
        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    return on_chw("adjust_brightness", img,
                  lambda x: _color.adjust_brightness(x, brightness_factor))


def adjust_contrast(img, contrast_factor: float):
    _check_factor("adjust_contrast", contrast_factor)
    check_image("adjust_contrast", img)
    if is_pil(img):
        from PIL import ImageEnhance
        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    return on_chw("adjust_contrast", img, lambda x: _color.adjust_contrast(x, contrast_factor))


def adjust_saturation(img, saturation_factor: float):
    _check_factor("adjust_saturation", saturation_factor)
    check_image("adjust_saturation", img)
    if is_pil(img):
        from PIL import ImageEnhance
        return ImageEnhance.Color(img).enhance(saturation_factor)
    return on_chw("adjust_saturation", img,
                  lambda x: _color.adjust_saturation(x, saturation_factor))


def adjust_hue(img, hue_factor: float):
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) is not in [-0.5, 0.5]")
    check_image("adjust_hue", img)
    if is_pil(img):
        if img.mode in ("L", "1", "I", "F"):
            return img
        h, s, v = img.convert("HSV").split()
        hue = np.array(h, dtype=np.uint8)
        with np.errstate(over="ignore"):
            hue += np.int32(hue_factor * 255).astype(np.uint8)  # wraps around, on purpose
        return Image.merge("HSV", (Image.fromarray(hue, "L"), s, v)).convert(img.mode)
    return on_chw("adjust_hue", img, lambda x: _color.adjust_hue(x, hue_factor))


def rgb_to_grayscale(img, num_output_channels: int = 1):
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels should be 1 or 3, got "
                         f"{num_output_channels}")
    check_image("rgb_to_grayscale", img)
    if is_pil(img):
        gray = img.convert("L")
        if num_output_channels == 3:
            return Image.merge("RGB", (gray, gray, gray))
        return gray
    return on_chw("rgb_to_grayscale", img,
                  lambda x: _color.rgb_to_grayscale(x, num_output_channels))


to_grayscale = rgb_to_grayscale


def gaussian_noise(inpt, mean: float = 0.0, sigma: float = 0.1, clip: bool = True,
                   generator=None):
    """Add N(mean, sigma^2) noise to a float image (clipped to [0, 1] when ``clip``);
    torchvision.transforms.v2.functional.gaussian_noise."""
    if is_pil(inpt) or not isinstance(inpt, (Tensor, np.ndarray)):
        raise TypeError(f"gaussian_noise: expected a float Tensor or ndarray (put ToTensor() "
                        f"before GaussianNoise), got {describe(inpt)}")
    x = _xp_image(inpt)
    if np.dtype(x.dtype).kind != "f":
        raise ValueError(f"gaussian_noise: input tensor is expected to be in float dtype, got "
                         f"dtype={x.dtype}")
    if sigma < 0:
        raise ValueError(f"gaussian_noise: sigma shouldn't be negative, got {sigma}")
    from ... import random as mt_random
    xp = get_array_module(x)
    noise = mt_random.numpy_generator(generator).standard_normal(x.shape)
    out = x + xp.asarray(mean + noise * sigma, dtype=x.dtype)
    if clip:
        out = xp.clip(out, 0, 1)
    return Tensor._make(out, False, None) if isinstance(inpt, Tensor) else out
