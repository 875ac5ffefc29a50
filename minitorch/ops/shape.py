"""Shape ops: reshape/view, transpose/permute, squeeze/unsqueeze, expand, indexing, cat/stack,
split/chunk, pad, and moving between devices.

None of these change a value, they only move values around, so every backward moves the
gradient back to where the value came from:

    reshape  -> reshape the gradient back          permute -> apply the inverse permutation
    expand   -> sum over the broadcast dims        getitem -> write it into zeros of the input
    cat      -> slice it into the pieces           pad     -> slice away the padding

View semantics are PyTorch's (see tensor.py): reshape, flatten, squeeze, unsqueeze, permute,
transpose, expand and basic indexing return views when the memory allows (``_as_view`` marks
them: shared version counter, base, and the steps to rebuild them); ``view`` raises where no
view exists, ``reshape`` then copies. Advanced indexing copies. ``CopySlices`` is the in-place
write of a region of a base (``t[i] = v``, ``view.add_(w)``) with its backward.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from .. import backend
from ..autograd import Context, Function
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


def _as_view(x: Tensor, out: Tensor, fn, **params) -> Tensor:
    """Mark ``out = fn.apply(x, **params)`` as a view of x when its memory is x's (NumPy's
    reshape copies when it must): shared version counter, the base that owns the memory, and
    the (Function, params) steps that rebuild it from the base."""
    if out is x or not get_array_module(x.data).may_share_memory(out.data, x.data):
        return out
    out._version_counter = x._version_counter
    out._base = x if x._base is None else x._base
    out._view_ops = (x._view_ops or ()) + ((fn, params),)
    out._view_epoch = x._version_counter.rebases
    return out


def _reshaped(x: Tensor, shape: tuple) -> Tensor:
    return x if shape == x.shape else _as_view(x, Reshape.apply(x, shape=shape), Reshape,
                                               shape=shape)


def _region(array, steps: tuple):
    """Replay view ``steps`` on an array: the region of it that the view covers (a view)."""
    region = array
    for fn, params in steps:
        region = fn.forward(Context((False,)), region, **params)
    if region.size and not get_array_module(array).may_share_memory(region, array):
        raise RuntimeError(f"in-place write: the view's memory is no longer its base's (shape "
                           f"{tuple(array.shape)}); was the base's .data rebound?")
    return region


def _empty_with_layout(xp, shape: tuple, strides: tuple, dtype):
    """An empty array whose dims lie in memory in the order of ``strides`` (NumPy's
    ``empty_like(order="K")`` without the template array): views of the template stay views."""
    outer_first = sorted(range(len(shape)), key=lambda i: -abs(strides[i]))
    buf = xp.empty(tuple(shape[i] for i in outer_first), dtype=dtype)
    return buf.transpose(tuple(int(i) for i in np.argsort(outer_first)))


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
    return _reshaped(x, shape)


def view(x: Tensor, *shape) -> Tensor:
    """Like ``reshape``, but always a view of x's memory: raises where that needs a copy."""
    shape = _infer_shape("view", x, _sizes("view", shape))
    out = _reshaped(x, shape)
    if out._base is None and out is not x and x.numel():
        raise RuntimeError(f"view: view size is not compatible with input tensor's size and "
                           f"stride (at least one dimension spans across two contiguous "
                           f"subspaces): input of shape {x.shape} with strides "
                           f"{tuple(st // x.data.itemsize for st in x.data.strides)}, view "
                           f"shape {shape}. Use .reshape(...) instead.")
    return out


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim (inclusive) into one. A 0-d tensor becomes shape (1,)."""
    s = normalize_dim("flatten", start_dim, x.ndim, x.shape)
    e = normalize_dim("flatten", end_dim, x.ndim, x.shape)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} must not come after end_dim {end_dim} "
                         f"(tensor of shape {x.shape})")
    if x.ndim == 0:
        return _reshaped(x, (1,))
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return _reshaped(x, shape)


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims: all of them, or those in ``dim`` (int or tuple). Naming a dim whose
    size is not 1 is a no-op, as in PyTorch."""
    if dim is None:
        axes = range(x.ndim)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = [normalize_dim("squeeze", d, x.ndim, x.shape) for d in dims]
    shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return _reshaped(x, shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at position ``dim`` (in [-ndim-1, ndim])."""
    d = normalize_dim("unsqueeze", dim, x.ndim, x.shape, extra=1)
    shape = x.shape[:d] + (1,) + x.shape[d:]
    return _as_view(x, Reshape.apply(x, shape=shape), Reshape, shape=shape)


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
    return _as_view(x, Permute.apply(x, dims=dims), Permute, dims=dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    d0 = normalize_dim("transpose", dim0, x.ndim, x.shape)
    d1 = normalize_dim("transpose", dim1, x.ndim, x.shape)
    dims = list(range(x.ndim))
    if x.ndim:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    dims = tuple(dims)
    return _as_view(x, Permute.apply(x, dims=dims), Permute, dims=dims)


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
    shape = tuple(shape)
    return _as_view(x, Expand.apply(x, shape=shape), Expand, shape=shape)


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
    """x[index] with NumPy's rules; ``getitem`` below turns PyTorch's rules into two of these.

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


_FULL = slice(None)


def _index_item(x: Tensor, it):
    """One user index item -> an int, a slice, None, Ellipsis, a Python bool, or an integer or
    bool xp array (a copy: the index must not change under a saved GetItem)."""
    if it is None or it is Ellipsis or isinstance(it, slice):
        return it
    if isinstance(it, (bool, np.bool_)):
        return bool(it)
    if isinstance(it, (int, np.integer)):
        return int(it)
    if isinstance(it, Tensor):
        it = it.data.copy()
    elif isinstance(it, (list, tuple)):
        it = np.asarray(it)
        if it.size == 0:
            it = it.astype(np.int64)  # x[[]] selects nothing (NumPy would see float64)
    if not hasattr(it, "dtype") or it.dtype.kind not in "biu":
        kind = getattr(getattr(it, "dtype", None), "name", type(it).__name__)
        raise TypeError(f"getitem: invalid index {kind} for a tensor of shape {x.shape}: "
                        "use ints, slices, None, ..., integer or bool tensors/lists")
    if it.ndim == 0:  # a 0-d tensor index acts as an int or a bool, as in PyTorch
        return bool(it) if it.dtype.kind == "b" or it.dtype == np.uint8 else int(it)
    if it.dtype == np.uint8:
        it = it.astype(np.bool_)  # PyTorch's (deprecated) uint8 masks
    return get_array_module(x.data).asarray(backend.to_device(it, device_of(x.data)))


def _split_index(x: Tensor, index) -> tuple[tuple, tuple | None, bool]:
    """PyTorch's indexing as two NumPy indexes: a basic one (ints, slices, None, ...), then an
    advanced one (index arrays) on the dims that are left.

    PyTorch applies ints as ``select`` first, so an int never counts as an advanced index:
    ``x[1, :, idx]`` puts idx's dims in place of its own (one block of adjacent index arrays),
    where NumPy, seeing the int and idx as separated advanced indexes, would move them first.
    A bool scalar adds a dim of size 1 indexed by [0] (True) or [] (False); a k-dim bool mask
    covers k dims. Returns (basic, advanced or None, whether advanced has integer arrays).
    """
    items = [_index_item(x, it) for it in (index if isinstance(index, tuple) else (index,))]
    def dims_covered(it) -> int:
        if hasattr(it, "dtype"):
            return it.ndim if it.dtype == np.bool_ else 1
        return 1 if isinstance(it, (int, slice)) and not isinstance(it, bool) else 0
    consumed = sum(dims_covered(it) for it in items)
    if sum(it is Ellipsis for it in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    basic, advanced, has_arrays, has_ints = [], [], False, False
    for it in items:
        if it is Ellipsis:
            basic.append(Ellipsis)
            advanced.extend([_FULL] * (x.ndim - consumed))
        elif isinstance(it, bool):
            basic.append(None)
            advanced.append(np.arange(1 if it else 0))
            has_arrays = has_ints = True
        elif it is None or isinstance(it, slice):
            basic.append(it)
            advanced.append(_FULL)
        elif isinstance(it, int):
            basic.append(it)
        else:  # an integer array covers one dim, a bool mask its ndim dims
            basic.extend([_FULL] * dims_covered(it))
            advanced.append(it)
            has_arrays = True
            has_ints = has_ints or it.dtype != np.bool_
    if Ellipsis not in basic:
        basic.append(Ellipsis)  # so x[0] of a 1-d array is a 0-d array, not a NumPy scalar
    if not has_arrays:
        return tuple(basic), None, False
    xp = get_array_module(x.data)
    advanced = [xp.asarray(a) if isinstance(a, np.ndarray) and xp is not np else a
                for a in advanced]
    return tuple(basic), tuple(advanced), has_ints


def _basic_view(x: Tensor, basic: tuple) -> Tensor:
    if all(it is Ellipsis or it == _FULL for it in basic):
        return x
    return _as_view(x, GetItem.apply(x, index=basic, advanced=False), GetItem, index=basic,
                    advanced=False)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with PyTorch's rules: ints, slices (any step; PyTorch refuses negative
    ones), None, ..., integer/bool tensors, lists or arrays, and tuples of these. Ints, slices,
    None and ... give views; index arrays and bool masks copy."""
    try:
        basic, advanced, has_ints = _split_index(x, index)
        out = _basic_view(x, basic)
        if advanced is not None:
            out = GetItem.apply(out, index=advanced, advanced=has_ints)
        return out
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor of shape {x.shape}, index "
                         f"{_describe(index)})") from None


def split_index(x: Tensor, index) -> tuple[Tensor, object]:
    """For ``x[index] = v``: the view of x that the basic part selects, and the advanced index
    to write at inside it (``...`` when there is none)."""
    try:
        basic, advanced, _ = _split_index(x, index)
    except IndexError as exc:
        raise IndexError(f"setitem: {exc} (tensor of shape {x.shape}, index "
                         f"{_describe(index)})") from None
    return _basic_view(x, basic), Ellipsis if advanced is None else advanced


class CopySlices(Function):
    """``base[steps][index] = src``, written into the base's own memory: the in-place write
    of a view or of ``t[index] = v`` (PyTorch's name). ``steps`` rebuild the view from the
    base (``Tensor._view_ops``); the output is the base's array itself.

    Backward: the base's gradient is g with the written region zeroed (those values were
    replaced); src's gradient is g's region, summed over the dims src was broadcast along.
    """

    @staticmethod
    def forward(ctx, base, src, steps, index):
        ctx.steps, ctx.index, ctx.src_shape = steps, index, src.shape
        ctx.base_strides = base.strides
        try:
            _region(base, steps)[index] = src
        except ValueError as exc:
            raise RuntimeError(f"setitem: can't write a value of shape {tuple(src.shape)} into "
                               f"a tensor of shape {tuple(base.shape)}: {exc}") from None
        return base

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        g_base = g_src = None
        if ctx.needs_input_grad[0]:
            g_base = _empty_with_layout(xp, g.shape, ctx.base_strides, g.dtype)
            g_base[...] = g
            _region(g_base, ctx.steps)[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            g_src = _region(g, ctx.steps)[ctx.index]
            if g_src.ndim < len(ctx.src_shape):  # src had extra leading 1s
                g_src = g_src.reshape((1,) * (len(ctx.src_shape) - g_src.ndim) + g_src.shape)
            g_src = unbroadcast(g_src, ctx.src_shape)
        return g_base, g_src


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
    return tuple(_basic_view(x, _along(axis, slice(starts[i], starts[i + 1])) + (Ellipsis,))
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
