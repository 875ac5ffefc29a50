"""Shape ops: reshape/view, transpose/permute, squeeze/unsqueeze, expand, indexing, cat/stack,
split/chunk, pad, and moving between devices.

None of these change a value, they only move values around, so every backward moves the
gradient back to where the value came from:

    reshape  -> reshape the gradient back          permute -> apply the inverse permutation
    expand   -> sum over the broadcast dims        getitem -> write it into zeros of the input
    cat      -> slice it into the pieces           pad     -> slice away the padding

Where NumPy can, the forward returns a view (no copy), like PyTorch's views; ``view`` is the
same as ``reshape`` here: NumPy copies when no view exists, where PyTorch would raise.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from .. import backend
from ..autograd import Function
from ..backend import device_of, get_array_module, normalize_device
from ..tensor import Tensor
from .elementwise import unbroadcast


# --------------------------------------------------------------------------- helpers
def normalize_dim(op: str, dim, ndim: int, shape: tuple | None = None, extra: int = 0) -> int:
    """A dim in [-n, n) -> its index in [0, n), with n = ndim + extra (extra=1 for unsqueeze and
    stack, which may name the position after the last dim). A 0-d tensor accepts -1 and 0."""
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__} ({dim!r})") from None
    n = max(ndim + extra, 1)
    if not -n <= d < n:
        shape = f" (shape {tuple(shape)})" if shape is not None else ""
        raise IndexError(f"{op}: dim {d} is out of range for a tensor of {ndim} dims{shape}; "
                         f"valid dims are {-n}..{n - 1}")
    return d % n


def _sizes(op: str, sizes: tuple) -> tuple[int, ...]:
    """Sizes given as varargs ``f(x, 2, 3)`` or as one sequence ``f(x, (2, 3))``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    try:
        return tuple(operator.index(s) for s in sizes)
    except TypeError:
        raise TypeError(f"{op}: sizes must be ints, got {sizes!r}") from None


def _along(axis: int, index) -> tuple:
    """An index tuple selecting ``index`` along ``axis`` and everything along the other dims."""
    return (slice(None),) * axis + (index,)


# --------------------------------------------------------------------------- reshape family
class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


def _infer_shape(op: str, x: Tensor, shape: tuple) -> tuple[int, ...]:
    """Resolve one -1 and check the element count; the error names both shapes and counts."""
    numel = x.numel()
    if shape.count(-1) > 1:
        raise ValueError(f"{op}: only one dim can be -1, got shape {shape}")
    if any(s < -1 for s in shape):
        raise ValueError(f"{op}: invalid negative size in shape {shape}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0:
            raise ValueError(f"{op}: shape {shape} is ambiguous for input of shape {x.shape}: "
                             "with a 0 among the other sizes, -1 could be any value")
        if numel % known:
            raise ValueError(f"{op}: shape {shape} is invalid for input of shape {x.shape} "
                             f"({numel} elements): {numel} is not a multiple of {known}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise ValueError(f"{op}: shape {shape} is invalid for input of shape {x.shape} "
                         f"({numel} elements); the new shape has {known} elements")
    return shape


def reshape(x: Tensor, *shape) -> Tensor:
    """``reshape(x, 2, -1)`` or ``reshape(x, (2, -1))``; one -1 is inferred."""
    shape = _infer_shape("reshape", x, _sizes("reshape", shape))
    return x if shape == x.shape else Reshape.apply(x, shape=shape)


def view(x: Tensor, *shape) -> Tensor:
    """Same as ``reshape`` (NumPy returns a view when one exists, else a copy)."""
    shape = _infer_shape("view", x, _sizes("view", shape))
    return x if shape == x.shape else Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim (inclusive) into one. A 0-d tensor becomes shape (1,)."""
    s = normalize_dim("flatten", start_dim, x.ndim, x.shape)
    e = normalize_dim("flatten", end_dim, x.ndim, x.shape)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} must not come after end_dim {end_dim} "
                         f"(tensor of shape {x.shape})")
    if x.ndim == 0:
        return Reshape.apply(x, shape=(1,))
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return x if shape == x.shape else Reshape.apply(x, shape=shape)


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims: all of them, or those in ``dim`` (int or tuple). Naming a dim whose
    size is not 1 is a no-op, as in PyTorch."""
    if dim is None:
        axes = range(x.ndim)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = [normalize_dim("squeeze", d, x.ndim, x.shape) for d in dims]
    shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return x if shape == x.shape else Reshape.apply(x, shape=shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at position ``dim`` (in [-ndim-1, ndim])."""
    d = normalize_dim("unsqueeze", dim, x.ndim, x.shape, extra=1)
    return Reshape.apply(x, shape=x.shape[:d] + (1,) + x.shape[d:])


# --------------------------------------------------------------------------- permute family
class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(tuple(int(d) for d in np.argsort(ctx.dims)))  # inverse permutation


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder the dims: output dim i is input dim dims[i]. ``permute(x, 2, 0, 1)`` or a tuple."""
    dims = tuple(normalize_dim("permute", d, x.ndim, x.shape) for d in _sizes("permute", dims))
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of a "
                         f"tensor of shape {x.shape}")
    return Permute.apply(x, dims=dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    d0 = normalize_dim("transpose", dim0, x.ndim, x.shape)
    d1 = normalize_dim("transpose", dim1, x.ndim, x.shape)
    dims = list(range(x.ndim))
    if x.ndim:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(x, dims=tuple(dims))


# --------------------------------------------------------------------------- expand, copies
class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return get_array_module(a).broadcast_to(a, shape)  # a read-only view, no copy

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


def expand(x: Tensor, *sizes) -> Tensor:
    """Broadcast size-1 dims (and new leading dims) to ``sizes``; -1 keeps a size."""
    sizes = _sizes("expand", sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                         f"number of dims ({x.ndim}) of the tensor of shape {x.shape}")
    shape = list(sizes)
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise ValueError(f"expand: size {s} is not allowed for the new leading dim {i} "
                                 f"(sizes {sizes}, tensor shape {x.shape})")
            continue
        n = x.shape[i - lead]
        if s == -1:
            shape[i] = n
        elif s != n and n != 1:
            raise ValueError(f"expand: the expanded size {s} must match the existing size {n} "
                             f"at non-singleton dim {i - lead} (tensor shape {x.shape}, sizes "
                             f"{sizes})")
    return Expand.apply(x, shape=tuple(shape))


class Identity(Function):
    """A copy (``clone``) or a C-contiguous copy (``contiguous``): the gradient passes as is."""

    @staticmethod
    def forward(ctx, a, contiguous_only):
        if contiguous_only and a.flags.c_contiguous:
            return a
        return a.copy()  # C order

    @staticmethod
    def backward(ctx, g):
        return g


def contiguous(x: Tensor) -> Tensor:
    """A C-contiguous tensor with the same values: ``x`` itself when it already is one."""
    return x if x.data.flags.c_contiguous else Identity.apply(x, contiguous_only=True)


def clone(x: Tensor) -> Tensor:
    """A copy that does not share memory with ``x``; gradients flow back to ``x``."""
    return Identity.apply(x, contiguous_only=False)


# --------------------------------------------------------------------------- indexing
class GetItem(Function):
    """x[index] with NumPy's indexing rules (PyTorch's, plus negative slice steps).

    Backward writes g into zeros of the input's shape at the same index. With integer arrays
    an index can repeat (x[[0, 0]]): plain assignment would keep only one of the two gradients,
    so those go through ``xp.add.at``, which accumulates.
    """

    @staticmethod
    def forward(ctx, a, index, advanced):
        ctx.shape, ctx.index, ctx.advanced = a.shape, index, advanced
        return a[index]

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        if ctx.advanced:
            xp.add.at(grad, _bool_masks_as_ints(ctx.index, xp), g)
        else:
            grad[ctx.index] = g
        return grad


def _bool_masks_as_ints(index: tuple, xp) -> tuple:
    """Replace each k-dim bool mask by its k nonzero() integer arrays (the same selection), so
    add.at only ever sees integer indices."""
    out = []
    for item in index:
        if hasattr(item, "dtype") and item.dtype == np.bool_ and item.ndim:
            out.extend(xp.nonzero(item))
        else:
            out.append(item)
    return tuple(out)


def _describe(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    parts = []
    for it in items:
        if isinstance(it, Tensor) or hasattr(it, "dtype") and getattr(it, "ndim", 0):
            parts.append(f"<{np.dtype(it.dtype).name} array of shape {tuple(it.shape)}>")
        else:
            parts.append(repr(it))
    return "[" + ", ".join(parts) + "]"


def _convert_index(x: Tensor, index) -> tuple[tuple, bool]:
    """User index -> a tuple of xp-ready items, and whether it contains an integer array."""
    xp = get_array_module(x.data)
    items = index if isinstance(index, tuple) else (index,)
    out, advanced = [], False
    for it in items:
        if it is None or it is Ellipsis or isinstance(it, slice):
            out.append(it)
            continue
        if isinstance(it, (bool, np.bool_)):
            out.append(bool(it))
            continue
        if isinstance(it, (int, np.integer)):
            out.append(int(it))
            continue
        if isinstance(it, Tensor):
            it = it.data
        elif isinstance(it, (list, tuple)):
            it = np.asarray(it)
            if it.size == 0:
                it = it.astype(np.int64)  # x[[]] selects nothing (NumPy would see float64)
        if not hasattr(it, "dtype") or it.dtype.kind not in "biu":
            kind = getattr(getattr(it, "dtype", None), "name", type(it).__name__)
            raise TypeError(f"getitem: invalid index {kind} for a tensor of shape {x.shape}: "
                            "use ints, slices, None, ..., integer or bool tensors/lists")
        it = xp.asarray(backend.to_device(it, device_of(x.data)))
        advanced = advanced or it.dtype.kind in "iu"  # bool masks alone can't repeat
        out.append(it)
    if not any(it is Ellipsis for it in out):
        out.append(Ellipsis)  # so x[0] of a 1-d array is a 0-d array, not a NumPy scalar
    return tuple(out), advanced


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]``: ints, slices (any step), None, ..., integer/bool tensors, lists or arrays,
    and tuples of these. Integer arrays and bool masks copy; ints, slices, None, ... give views."""
    idx, advanced = _convert_index(x, index)
    try:
        return GetItem.apply(x, index=idx, advanced=advanced)
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor of shape {x.shape}, index "
                         f"{_describe(index)})") from None


# --------------------------------------------------------------------------- cat, stack
def _check_same(op: str, tensors) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{op}: expected a non-empty list or tuple of Tensors, got "
                        f"{type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a sequence of Tensors, but item {i} is a "
                            f"{type(t).__name__}")
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.device != first.device:
            raise RuntimeError(f"{op}: all tensors must be on the same device, got tensor 0 on "
                               f"{first.device} and tensor {i} on {t.device}")
        if t.dtype != first.dtype:
            raise TypeError(f"{op}: all tensors must have the same dtype, got tensor 0 "
                            f"{first.dtype} and tensor {i} {t.dtype}; convert with .to(dtype)")
    return list(tensors)


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.bounds = np.cumsum([0] + [a.shape[axis] for a in arrays]).tolist()
        return get_array_module(*arrays).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        b = ctx.bounds
        return tuple(g[_along(ctx.axis, slice(b[i], b[i + 1]))] if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim; all other sizes, the dtype and device must match."""
    tensors = _check_same("cat", tensors)
    first = tensors[0]
    axis = normalize_dim("cat", dim, first.ndim, first.shape)
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat: tensor {i} is 0-d (shape ()) and can't be concatenated; "
                             "use stack")
        if t.ndim != first.ndim or any(n != m for k, (n, m) in enumerate(zip(t.shape, first.shape))
                                       if k != axis):
            raise ValueError(f"cat: tensor {i} has shape {t.shape} but tensor 0 has shape "
                             f"{first.shape}: sizes must match except in dim {axis}")
    return Cat.apply(*tensors, axis=axis)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return get_array_module(*arrays).stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(g[_along(ctx.axis, i)] if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack equal-shaped tensors along a new dim at position ``dim``."""
    tensors = _check_same("stack", tensors)
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.shape != first.shape:
            raise ValueError(f"stack: all tensors must have the same shape, got tensor 0 "
                             f"{first.shape} and tensor {i} {t.shape}")
    axis = normalize_dim("stack", dim, first.ndim, first.shape, extra=1)
    return Stack.apply(*tensors, axis=axis)


# --------------------------------------------------------------------------- split, chunk
def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of size ``split_size`` (the last may be smaller), or of the listed sizes.

    Each piece is a slice ``x[..., start:stop, ...]`` with its own backward; the gradients of
    the pieces add up in x.grad.
    """
    if x.ndim == 0:
        raise ValueError("split: can't split a 0-d tensor")
    axis = normalize_dim("split", dim, x.ndim, x.shape)
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [operator.index(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} must be non-negative and sum to the size "
                             f"{n} of dim {axis} (tensor of shape {x.shape})")
    else:
        size = operator.index(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise ValueError(f"split: split_size must be positive, got {size} (tensor of shape "
                             f"{x.shape}, dim {axis})")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    starts = np.cumsum([0] + sizes).tolist()
    return tuple(getitem(x, _along(axis, slice(starts[i], starts[i + 1])))
                 for i in range(len(sizes)))


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer when they run out)."""
    chunks = operator.index(chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: can't chunk a 0-d tensor")
    n = x.shape[normalize_dim("chunk", dim, x.ndim, x.shape)]
    if n == 0:  # PyTorch: `chunks` empty pieces
        return split(x, [0] * chunks, dim)
    return split(x, -(-n // chunks), dim)


# --------------------------------------------------------------------------- pad
class PadConstant(Function):
    """Copy a into the middle of a tensor filled with ``value``; negative pads crop.

    Per dim with size n and pads (l, r): the input's [max(-l,0), n - max(-r,0)) lands at
    output position max(l, 0). Backward reads that window back out of g.
    """

    @staticmethod
    def forward(ctx, a, widths, value):
        xp = get_array_module(a)
        src, dst, shape = [], [], []
        for n, (lo, hi) in zip(a.shape, widths):
            keep = n - max(-lo, 0) - max(-hi, 0)
            src.append(slice(max(-lo, 0), max(-lo, 0) + keep))
            dst.append(slice(max(lo, 0), max(lo, 0) + keep))
            shape.append(n + lo + hi)
        ctx.shape, ctx.src, ctx.dst = a.shape, tuple(src), tuple(dst)
        out = xp.full(tuple(shape), value, dtype=a.dtype)
        out[ctx.dst] = a[ctx.src]
        return out

    @staticmethod
    def backward(ctx, g):
        if all(s.start == 0 and s.stop == n for s, n in zip(ctx.src, ctx.shape)):
            return g[ctx.dst]  # no cropping: the input's gradient is a window of g
        grad = get_array_module(g).zeros(ctx.shape, dtype=g.dtype)
        grad[ctx.src] = g[ctx.dst]
        return grad


class PadGather(Function):
    """reflect / replicate / circular: along each padded dim, output position j copies input
    position src[j] (src = np.pad(arange(n), (lo, hi), mode) spells it out; e.g. reflect by 2
    of n=4: src = [2, 1, 0, 1, 2, 3, 2, 1]).

    Backward, per dim: the middle of g (positions lo..lo+n) is the input's own gradient; each
    border position j then adds its gradient onto the input position src[j] it copied. A short
    loop over the (few) border positions: no scatter, deterministic on the GPU too.
    """

    @staticmethod
    def forward(ctx, a, sources):
        xp = get_array_module(a)
        ctx.sources = sources  # [(axis, lo, n, src as a NumPy array)]
        for axis, _, _, src in sources:
            a = xp.take(a, xp.asarray(src), axis=axis)
        return a

    @staticmethod
    def backward(ctx, g):
        for axis, lo, n, src in reversed(ctx.sources):
            grad = g[_along(axis, slice(lo, lo + n))].copy()
            for j in [*range(lo), *range(lo + n, len(src))]:
                grad[_along(axis, int(src[j]))] += g[_along(axis, j)]
            g = grad
        return g


_NUMPY_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """F.pad: ``pad`` lists (before, after) pairs starting from the LAST dim, e.g.
    (left, right, top, bottom) pads W by left/right and H by top/bottom.

    mode "constant" fills with ``value`` (negative pads crop); "reflect" mirrors without
    repeating the edge (pads < size), "replicate" repeats the edge, "circular" wraps around
    (pads <= size).
    """
    pads = _sizes("pad", (pad,))
    if len(pads) % 2 or len(pads) // 2 > x.ndim:
        raise ValueError(f"pad: pad {pads} must have an even length of at most 2 * ndim "
                         f"({2 * x.ndim} for a tensor of shape {x.shape})")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        widths[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    if mode == "constant":
        for axis, (n, (lo, hi)) in enumerate(zip(x.shape, widths)):
            if max(-lo, 0) + max(-hi, 0) > n:
                raise ValueError(f"pad: negative pads ({lo}, {hi}) crop more than the size {n} "
                                 f"of dim {axis} (tensor of shape {x.shape})")
        return PadConstant.apply(x, widths=tuple(widths), value=value)
    if mode not in _NUMPY_PAD_MODE:
        raise ValueError(f"pad: unknown mode {mode!r}; expected 'constant', 'reflect', "
                         "'replicate' or 'circular'")
    sources = []
    for axis, (n, (lo, hi)) in enumerate(zip(x.shape, widths)):
        if lo == hi == 0:
            continue
        limit = {"reflect": n - 1, "replicate": float("inf") if n else -1, "circular": n}[mode]
        if min(lo, hi) < 0 or max(lo, hi) > limit:
            raise ValueError(f"pad: {mode} padding ({lo}, {hi}) of dim {axis} (size {n}, tensor "
                             f"shape {x.shape}) must be non-negative and at most {limit}")
        sources.append((axis, lo, n, np.pad(np.arange(n), (lo, hi), mode=_NUMPY_PAD_MODE[mode])))
    return PadGather.apply(x, sources=sources) if sources else x


# --------------------------------------------------------------------------- devices
class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.source = device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, g):
        return backend.to_device(g, ctx.source)  # the gradient goes back to where the input lives


def to_device(x: Tensor, device) -> Tensor:
    """A differentiable copy of ``x`` on ``device`` ("cpu" or "cuda"); x itself if already there."""
    device = normalize_device(device)
    return x if x.device == device else ToDevice.apply(x, device=device)
