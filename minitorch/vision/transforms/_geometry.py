"""Geometric array kernels on (..., C, H, W) NumPy/CuPy arrays: resize, pad, crop and the
affine warp (rotation, translation, scale, shear). Each follows torchvision's tensor
functions' arithmetic, so results agree with ``torchvision.transforms.functional`` on tensors.

Notation: H, W input height/width; OH, OW output height/width; N images of C channels.

Resize is separable: out = Wy @ x @ Wx^T with one (OH, H) and one (OW, W) weight matrix.
Bilinear with ``antialias=True`` (torchvision's default) uses PIL's filter: a triangle
stretched by the scale factor when shrinking, so every input pixel contributes; without it,
the classic two-tap interpolation (``align_corners=False``).

The affine warp is inverse mapping: for each output pixel centre, the (inverse) matrix gives
where it comes from in the input, in coordinates centred on the image (torchvision's
convention), then nearest or bilinear sampling with zeros outside (``grid_sample`` with
``align_corners=False``).
"""
from __future__ import annotations

import math

import numpy as np

from ...backend import get_array_module
from ._image import cast_back, compute_dtype


# --------------------------------------------------------------------------- resize
def _aa_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out, in) antialiased triangle-filter weights (PIL's / torch's ``antialias=True``)."""
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0      # the triangle's half-width, in input pixels
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    w = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        taps = np.maximum(0.0, 1.0 - np.abs((np.arange(lo, hi) - center + 0.5) * invscale))
        total = taps.sum()
        w[i, lo:hi] = taps / total if total else taps
    return w


def _bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out, in) two-tap bilinear weights, ``align_corners=False`` (source clamped at 0)."""
    scale = in_size / out_size
    src = np.maximum((np.arange(out_size) + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo
    w = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(w, (rows, lo), 1.0 - frac)
    np.add.at(w, (rows, hi), frac)
    return w


def _nearest_index(in_size: int, out_size: int) -> np.ndarray:
    """torch's "nearest": floor(dst * in/out), computed in float32 as torch does."""
    scale = np.float32(in_size / out_size)
    idx = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, in_size - 1)


def resize(x, size: tuple[int, int], interpolation: str = "bilinear", antialias: bool = True):
    """(..., C, H, W) -> (..., C, OH, OW)."""
    xp = get_array_module(x)
    (h, w), (oh, ow) = x.shape[-2:], size
    if interpolation == "nearest":
        return x[..., xp.asarray(_nearest_index(h, oh))[:, None],
                 xp.asarray(_nearest_index(w, ow))[None, :]]
    if interpolation != "bilinear":
        raise ValueError(f"resize: interpolation {interpolation!r} is supported for PIL images "
                         "only; arrays and Tensors take 'nearest' or 'bilinear'")
    weights = _aa_weights if antialias else _bilinear_weights
    dtype = compute_dtype(x.dtype)
    wy = xp.asarray(weights(h, oh), dtype=dtype)
    wx = xp.asarray(weights(w, ow), dtype=dtype)
    out = xp.matmul(xp.matmul(wy, x.astype(dtype, copy=False)), wx.T)
    return cast_back(xp, out, x.dtype)


def resized_shape(h: int, w: int, size, max_size: int | None = None) -> tuple[int, int]:
    """torchvision's rule: an int matches the shorter edge (keeping the aspect ratio, the
    longer edge truncated), a pair (h, w) is the exact size."""
    if isinstance(size, (list, tuple)) and len(size) == 2:
        if max_size is not None:
            raise ValueError("Resize: max_size is only supported with a single int size, got "
                             f"size={list(size)}")
        return int(size[0]), int(size[1])
    size = int(size[0] if isinstance(size, (list, tuple)) else size)
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    if max_size is not None:
        if max_size <= size:
            raise ValueError(f"Resize: max_size = {max_size} must be strictly greater than the "
                             f"requested size for the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


# --------------------------------------------------------------------------- pad and crop
def pad(x, left: int, top: int, right: int, bottom: int, fill=0, mode: str = "constant"):
    """Pad (negative amounts crop) the last two dims. ``fill``: a number or one per channel."""
    xp = get_array_module(x)
    h, w = x.shape[-2:]
    x = x[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    if mode != "constant":
        return xp.pad(x, widths, mode=mode)
    fills = np.atleast_1d(np.asarray(fill if fill is not None else 0, dtype=np.float64))
    if fills.size == 1:
        return xp.pad(x, widths, mode="constant", constant_values=x.dtype.type(fills[0]))
    out = xp.empty(x.shape[:-2] + (x.shape[-2] + top + bottom, x.shape[-1] + left + right),
                   dtype=x.dtype)
    out[...] = xp.asarray(fills.astype(x.dtype))[:, None, None]
    out[..., top:top + x.shape[-2], left:left + x.shape[-1]] = x
    return out


def crop(x, top: int, left: int, height: int, width: int):
    """The (height, width) window at (top, left); parts outside the image are zeros."""
    h, w = x.shape[-2:]
    if 0 <= top and 0 <= left and top + height <= h and left + width <= w:
        return x[..., top:top + height, left:left + width]
    inside = x[..., max(top, 0):max(top + height, 0), max(left, 0):max(left + width, 0)]
    pad_top, pad_left = min(max(-top, 0), height), min(max(-left, 0), width)
    return pad(inside, pad_left, pad_top, width - pad_left - inside.shape[-1],
               height - pad_top - inside.shape[-2])


def center_crop_box(h: int, w: int, ch: int, cw: int) -> tuple[int, int]:
    """(top, left) of a centred (ch, cw) window: round-half-even, as torchvision."""
    return int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))


# --------------------------------------------------------------------------- affine
def inverse_affine_matrix(center, angle: float, translate, scale: float, shear) -> list[float]:
    """The 2x3 matrix (row-major, 6 floats) that maps an output pixel back to its source:
    the inverse of  T(translate) * C * Rotate(angle) * Scale * ShearY * ShearX * C^-1.
    ``angle`` and ``shear`` in degrees, ``center`` = C's offset (torchvision's formula)."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [v / scale for v in (d, -b, 0.0, -c, a, 0.0)]  # the rotation-shear part's inverse
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
    m[2] += cx
    m[5] += cy
    return m


def expanded_size(matrix, w: int, h: int) -> tuple[int, int]:
    """(OW, OH) that holds the whole warped image (``expand=True``), as torchvision/PIL."""
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    new = pts @ np.asarray(matrix, dtype=np.float32).reshape(2, 3).T
    lo, hi = new.min(0) + np.array([w * 0.5, h * 0.5], np.float32), \
        new.max(0) + np.array([w * 0.5, h * 0.5], np.float32)
    tol = np.float32(1e-4)  # so -1e-15 rounding noise doesn't add a pixel
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def warp_affine(x, matrices, out_hw=None, interpolation: str = "nearest", fill=None):
    """Inverse-warp a batch: x (N, C, H, W), matrices (N, 6) in centred coordinates (the
    per-image output of ``inverse_affine_matrix``). ``fill``: None (zeros, no mask) or one
    value per channel for the pixels that come from outside the image (torchvision's mask)."""
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"affine/rotate: interpolation {interpolation!r} is supported for PIL "
                         "images only; arrays and Tensors take 'nearest' or 'bilinear'")
    xp = get_array_module(x)
    n, c, h, w = x.shape
    oh, ow = out_hw or (h, w)
    dtype = compute_dtype(x.dtype)
    theta = xp.asarray(np.asarray(matrices, dtype=np.float64).reshape(-1, 2, 3), dtype=dtype)
    # output pixel centres, relative to the output's centre
    bx = xp.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, dtype=dtype)[None, None, :]
    by = xp.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, dtype=dtype)[None, :, None]
    t = theta[:, :, :, None, None]
    # normalised [-1, 1] source coordinates (as affine_grid), then pixel coordinates
    gx = (bx * (t[:, 0, 0] / dtype(0.5 * w)) + by * (t[:, 0, 1] / dtype(0.5 * w))
          + t[:, 0, 2] / dtype(0.5 * w))
    gy = (bx * (t[:, 1, 0] / dtype(0.5 * h)) + by * (t[:, 1, 1] / dtype(0.5 * h))
          + t[:, 1, 2] / dtype(0.5 * h))
    ix = ((gx + 1) * w - 1) / 2
    iy = ((gy + 1) * h - 1) / 2
    src = x.astype(dtype, copy=False).reshape(n, c, h * w)

    def gather(yy, xx):
        """Source pixels at integer (yy, xx) (N, OH, OW) -> (N, C, OH, OW), and validity.
        One take_along_axis on the flattened image: far cheaper than 4-D fancy indexing."""
        valid = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        lin = (xp.clip(yy, 0, h - 1) * w + xp.clip(xx, 0, w - 1)).reshape(n, 1, oh * ow)
        vals = xp.take_along_axis(src, xp.broadcast_to(lin, (n, c, oh * ow)), axis=2)
        valid = valid.astype(dtype)[:, None]
        return vals.reshape(n, c, oh, ow) * valid, valid

    if interpolation == "nearest":
        out, mask = gather(xp.rint(iy).astype(np.int64), xp.rint(ix).astype(np.int64))
    else:
        x0, y0 = xp.floor(ix), xp.floor(iy)
        fx, fy = (ix - x0)[:, None], (iy - y0)[:, None]
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out, mask = 0, 0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                vals, valid = gather(y0 + dy, x0 + dx)
                out = out + vals * (wy * wx)
                mask = mask + valid * (wy * wx)
    if fill is not None:
        fill_img = xp.asarray(np.asarray(fill, dtype=np.float64), dtype=dtype)[None, :, None,
                                                                                None]
        if interpolation == "nearest":
            out = xp.where(mask < 0.5, fill_img, out)
        else:
            out = out * mask + (1.0 - mask) * fill_img
    return cast_back(xp, out, x.dtype)
