"""The three kinds of image a transform accepts, and how to reach their pixels.

    PIL.Image            what the datasets return when Pillow is installed (as torchvision)
    numpy.ndarray        an image array as the datasets return without Pillow: (H, W, C) or
                         (H, W), usually uint8 (PIL's layout, what ToTensor expects)
    minitorch.Tensor     (..., C, H, W): float in [0, 1] after ToTensor, or uint8

Array kernels (``_geometry.py``, ``_color.py``) work on (..., C, H, W) arrays of either NumPy
or CuPy; ``on_chw`` hands them any non-PIL image in that layout and puts the result back into
the caller's kind, so every transform accepts all three.
"""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor

try:  # Pillow is optional: without it, datasets return arrays and these paths are unused
    from PIL import Image
except ImportError:  # pragma: no cover - exercised only where Pillow is absent
    Image = None


def is_pil(img) -> bool:
    return Image is not None and isinstance(img, Image.Image)


def describe(img) -> str:
    if is_pil(img):
        return f"PIL image (mode {img.mode}, size {img.size})"
    if isinstance(img, Tensor):
        return f"Tensor of shape {tuple(img.shape)} and dtype {img.dtype}"
    if isinstance(img, np.ndarray):
        return f"ndarray of shape {img.shape} and dtype {img.dtype}"
    return type(img).__name__


def check_image(name: str, img) -> None:
    if is_pil(img) or isinstance(img, (Tensor, np.ndarray)):
        if not is_pil(img) and img.ndim < 2:
            raise ValueError(f"{name}: expected an image with at least 2 dims, got "
                             f"{describe(img)}")
        return
    raise TypeError(f"{name}: expected a PIL image, an (H, W[, C]) ndarray or a (..., C, H, W) "
                    f"Tensor, got {describe(img)}")


def on_chw(name: str, img, fn):
    """Run ``fn`` on ``img``'s pixels as a (..., C, H, W) array; return the caller's kind."""
    check_image(name, img)
    if isinstance(img, Tensor):
        data = img.data
        if data.ndim == 2:  # (H, W): a one-channel image without its channel dim
            return Tensor._make(fn(data[None])[0], False, None)
        return Tensor._make(fn(data), False, None)
    if img.ndim == 2:
        return fn(img[None])[0]
    return np.ascontiguousarray(np.moveaxis(fn(np.moveaxis(img, -1, -3)), -3, -1))


def size_hw(img) -> tuple[int, int]:
    """(height, width) of any kind of image."""
    if is_pil(img):
        return img.size[1], img.size[0]
    if isinstance(img, Tensor):
        return int(img.shape[-2]), int(img.shape[-1])
    return int(img.shape[0]), int(img.shape[1])


def num_channels(img) -> int:
    if is_pil(img):
        return len(img.getbands())
    if isinstance(img, Tensor):
        return 1 if img.ndim == 2 else int(img.shape[-3])
    return 1 if img.ndim == 2 else int(img.shape[-1])


def max_value(dtype) -> float:
    """The brightest value of an image dtype: 1.0 for floats, the top of an integer range."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind in "iu" else 1.0 if dtype.kind == "f" \
        else 1.0


def compute_dtype(dtype):
    """Integer images are computed on in float32 (as torchvision), floats in their own dtype."""
    return np.dtype(dtype).type if np.dtype(dtype).kind == "f" else np.float32


def cast_back(xp, out, dtype):
    """A float result back to the image's dtype: integers are rounded (half to even, as
    torch.round) and clipped to their range."""
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return xp.clip(xp.rint(out), info.min, info.max).astype(dtype)
    return out.astype(dtype, copy=False)


def fill_per_channel(name: str, fill, channels: int) -> list[float] | None:
    """``fill`` (None, a number or one value per channel) as one float per channel."""
    if fill is None:
        return None
    values = [float(fill)] if isinstance(fill, (int, float, np.number)) else \
        [float(v) for v in fill]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ValueError(f"{name}: the number of elements in 'fill' ({len(values)}) does not "
                         f"match the number of channels of the image ({channels})")
    return values
