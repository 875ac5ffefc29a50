"""The geometry of a 2-D sliding window (convolution, pooling), as one named object.

Notation (NCHW, shared by ops/conv.py, ops/pool.py, minitorch/cpu and minitorch/cuda)::

    N batch, C channels, H x W input size
    KH x KW kernel (window) size, SH, SW stride, PH, PW padding (top / left), DH, DW dilation
    OH x OW output size, e.g. for a convolution OH = (H + 2PH - DH(KH-1) - 1)//SH + 1

The argument checks of each op (``conv2d``'s, ``max_pool2d``'s, ...) build one ``Geometry2d``;
everything after them (the Functions, every kernel table) reads its fields by name. The
kernels take the top/left padding and OH, OW; the bottom/right padding is whatever makes OH x OW
windows fit (``pad_end``), so asymmetric ("same") padding and ceil_mode need nothing extra.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple


def pair(value, name: str, op: str) -> tuple[int, int]:
    """An int or a pair of ints -> (h, w); anything else is a clear error."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value), int(value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        return int(value[0]), int(value[1])
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


def out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """PyTorch's floor rule: (size + 2*pad - dilation*(kernel-1) - 1)//stride + 1."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def adaptive_output_size(op: str, x, output_size) -> tuple[int, int]:
    """(OH, OW) of an adaptive pooling of a (C, H, W) or (N, C, H, W) input: ``output_size``
    is an int or a pair, where None keeps that input size; anything else is a clear error."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                         f"got shape {x.shape}")
    H, W = x.shape[-2:]
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = (H if output_size[0] is None else output_size[0],
                       W if output_size[1] is None else output_size[1])
    OH, OW = pair(output_size, "output_size", op)
    if min(OH, OW) < 1 or min(H, W) < 1:
        raise ValueError(f"{op}: output_size {(OH, OW)} and input size {(H, W)} (input "
                         f"{x.shape}) must be >= 1")
    return OH, OW


class Geometry2d(NamedTuple):
    """Window size, stride, top/left padding, dilation and output size of a 2-D window op."""

    KH: int
    KW: int
    SH: int
    SW: int
    PH: int
    PW: int
    DH: int
    DW: int
    OH: int
    OW: int

    def pad_end(self, H: int, W: int) -> tuple[int, int]:
        """Bottom/right padding (>= 0) that makes every one of the OH x OW windows lie inside
        the padded H x W image: the last window ends at (OH-1)*SH + DH*(KH-1) + 1."""
        return (max(0, (self.OH - 1) * self.SH + self.DH * (self.KH - 1) + 1 - H - self.PH),
                max(0, (self.OW - 1) * self.SW + self.DW * (self.KW - 1) + 1 - W - self.PW))

    def pad_widths(self, H: int, W: int) -> tuple:
        """``xp.pad`` widths for an (N, C, H, W) array padded as ``pad_end`` says."""
        PB, PR = self.pad_end(H, W)
        return (0, 0), (0, 0), (self.PH, PB), (self.PW, PR)

    def taps(self):
        """(kh, kw, rows, cols) for every kernel offset: the strided slices of the padded input
        that the OH x OW windows see at that offset (one array op per offset)."""
        for kh in range(self.KH):
            for kw in range(self.KW):
                h0, w0 = kh * self.DH, kw * self.DW
                yield kh, kw, (slice(h0, h0 + self.SH * (self.OH - 1) + 1, self.SH),
                               slice(w0, w0 + self.SW * (self.OW - 1) + 1, self.SW))
