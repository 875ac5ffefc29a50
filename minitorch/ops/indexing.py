"""Index ops: gather/scatter (+ add, reduce), index_select, masked_fill/select, nonzero,
flip, roll, repeat, tile.

They move values without changing them, so each backward moves the gradient back: what was
*gathered* from a place is *scatter-added* back to it (a place read twice gets both grads),
and what was *scattered* over a place takes that place's gradient away from ``self``.

Notation for gather/scatter along ``dim`` (a 3-D example, dim=1):

    gather:       out[i][j][k] = input[i][index[i][j][k]][k]
    scatter:      out[i][index[i][j][k]][k] = src[i][j][k]     (out starts as input)
    scatter_add:  out[i][index[i][j][k]][k] += src[i][j][k]

``index`` has input's number of dims; along the other dims it may be smaller than input (and
than src), as in PyTorch: only that leading block takes part.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import require_tensor, unbroadcast
from .shape import normalize_dim


# --------------------------------------------------------------------------- helpers
def flat_positions(xp, shape: tuple, axis: int, index):
    """For each entry of ``index``: the flat (C-order) position in an array of ``shape`` that
    it names: the entry's own coordinates, except ``index`` itself along ``axis``."""
    strides = [int(np.prod(shape[d + 1:])) for d in range(len(shape))]
    pos = index.astype(np.int64) * strides[axis]
    for d, n in enumerate(index.shape):
        if d != axis:
            pos = pos + xp.arange(n, dtype=np.int64).reshape((-1,) + (1,) * (index.ndim - d - 1)) \
                * strides[d]
    return pos


def _block(a, shape):
    """The leading ``shape`` block of ``a`` (a view): the part of src that takes part."""
    return a[tuple(slice(0, n) for n in shape)]


def _take(a, pos):
    """a's values at flat positions ``pos`` (shaped like pos): a gather by flat position."""
    return a.reshape(-1)[pos]


def ufunc_at(xp, name: str, target, pos, vals, native=None) -> None:
    """target[pos] = name(target[pos], vals) in place, repeated positions applied in turn
    (NumPy's ``ufunc.at``) on a flat target.

    NumPy runs ``np.<name>.at``. CuPy lacks most ``ufunc.at`` methods, so there a float "add"
    is a weighted ``bincount`` (summed in float64, rounded once) and the rest (integer add,
    multiply, maximum, minimum) runs on the host: exact, with a device round trip.
    ``native=False`` takes the CuPy route on NumPy arrays too (how the tests cover it)."""
    if native is None:
        native = xp is np
    if native:
        getattr(np, name).at(target, pos, vals)
    elif name == "add" and np.dtype(vals.dtype).kind == "f":
        target += xp.bincount(pos, weights=vals.astype(np.float64),
                              minlength=target.size).astype(target.dtype)
    else:
        from ..backend import to_device, to_numpy
        host = to_numpy(target)
        getattr(np, name).at(host, to_numpy(pos), to_numpy(vals))
        target[...] = to_device(host, "cpu" if xp is np else "cuda")


def scatter_add_along(xp, shape: tuple, axis: int, index, src):
    """zeros(shape) with src[e] added at index[e] along axis: the backward of every gather."""
    out = xp.zeros(int(np.prod(shape)), dtype=src.dtype)
    ufunc_at(xp, "add", out, flat_positions(xp, shape, axis, index).reshape(-1),
             _block(src, index.shape).reshape(-1))
    return out.reshape(shape)


def _check_index(op: str, x: Tensor, dim, index, src=None) -> int:
    """The axis, after checking index's dtype, dims, sizes and bounds (PyTorch's rules)."""
    require_tensor(op, x)
    if not isinstance(index, Tensor) or index.dtype != np.int64:
        got = f"dtype {index.dtype}" if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"{op}: index must be an int64 tensor, got {got}")
    axis = normalize_dim(op, dim, x.ndim, x.shape)
    if max(index.ndim, 1) != max(x.ndim, 1):
        raise ValueError(f"{op}: index must have as many dims as input: index {index.shape}, "
                         f"input {x.shape}")
    shape, ishape = x.shape or (1,), index.shape or (1,)
    for d, n in enumerate(ishape):
        if d != axis and n > shape[d]:
            raise ValueError(f"{op}: index {index.shape} is larger than input {x.shape} at dim "
                             f"{d} (only dim {axis} may be larger)")
        if src is not None and n > (src.shape or (1,))[d]:
            raise ValueError(f"{op}: index {index.shape} is larger than src {src.shape} at dim "
                             f"{d}")
    if index.numel():
        lo, hi = int(index.data.min()), int(index.data.max())
        if lo < 0 or hi >= shape[axis]:
            raise IndexError(f"{op}: index {lo if lo < 0 else hi} is out of bounds for dim "
                             f"{axis} of size {shape[axis]} (input shape {x.shape})")
    return axis


def _at_least_1d(t: Tensor) -> Tensor:
    """gather/scatter treat a 0-d tensor as a 1-element 1-d one, as PyTorch."""
    return t.reshape(1) if t.ndim == 0 else t


# --------------------------------------------------------------------------- gather
class Gather(Function):
    @staticmethod
    def forward(ctx, a, index, axis):
        xp = get_array_module(a)
        pos = flat_positions(xp, a.shape, axis, index)
        ctx.shape, ctx.pos = a.shape, pos
        return _take(a, pos)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        out = xp.zeros(int(np.prod(ctx.shape)), dtype=g.dtype)
        ufunc_at(xp, "add", out, ctx.pos.reshape(-1), g.reshape(-1))  # read twice: both grads
        return out.reshape(ctx.shape)


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """out[i][j][k] = input[i][index[i][j][k]][k] (dim=1); out has index's shape."""
    axis = _check_index("gather", input, dim, index)
    out = Gather.apply(_at_least_1d(input), index=_at_least_1d(index).data, axis=axis)
    return out.reshape(()) if index.ndim == 0 else out


# --------------------------------------------------------------------------- scatter
class Scatter(Function):
    """out = a; out[index along axis] = src. The places written lose a's gradient; src gets
    the gradient of where each of its values landed."""

    @staticmethod
    def forward(ctx, a, src, index, axis):
        xp = get_array_module(a)
        pos = flat_positions(xp, a.shape, axis, index)
        ctx.pos, ctx.src_shape = pos, src.shape
        out = a.copy()
        out.reshape(-1)[pos.reshape(-1)] = _block(src, index.shape).reshape(-1)
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        ga = gs = None
        if ctx.needs_input_grad[0]:
            ga = g.copy()
            ga.reshape(-1)[ctx.pos.reshape(-1)] = 0
        if ctx.needs_input_grad[1]:
            gs = xp.zeros(ctx.src_shape, dtype=g.dtype)
            _block(gs, ctx.pos.shape)[...] = _take(g, ctx.pos)
        return ga, gs


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, a, src, index, axis):
        xp = get_array_module(a)
        pos = flat_positions(xp, a.shape, axis, index)
        ctx.pos, ctx.src_shape = pos, src.shape
        out = a.copy()
        ufunc_at(xp, "add", out.reshape(-1), pos.reshape(-1), _block(src, index.shape).reshape(-1))
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        gs = None
        if ctx.needs_input_grad[1]:
            gs = xp.zeros(ctx.src_shape, dtype=g.dtype)
            _block(gs, ctx.pos.shape)[...] = _take(g, ctx.pos)
        return g if ctx.needs_input_grad[0] else None, gs


def _src_tensor(op: str, input: Tensor, src) -> Tensor:
    """src as a tensor of input's dtype; a Python number (``value=``) fills index's shape."""
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            raise TypeError(f"{op}: src dtype {src.dtype} must match input dtype {input.dtype}")
        return _at_least_1d(src)
    if isinstance(src, numbers.Number):
        xp = get_array_module(input.data)
        return Tensor._make(xp.asarray(src, dtype=input.dtype), False, None)
    raise TypeError(f"{op}: src must be a Tensor or a number, got {type(src).__name__}")


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce=None) -> Tensor:  # noqa: A002
    """A copy of input with src (a tensor, or the number ``value``) written at index along dim.
    With duplicate indices, one of the written values wins (unspecified, as in PyTorch).
    ``reduce="add"`` / ``"multiply"`` is scatter_reduce's "sum" / "prod" (PyTorch's old form)."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor or number) and value")
    src = value if src is None else src
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        return scatter_reduce(input, dim, index, _filled(input, index, src), modes[reduce])
    s = _src_tensor("scatter", input, src)
    axis = _check_index("scatter", input, dim, index, s if s.ndim else None)
    if s.ndim == 0:
        s = _filled(input, index, src)
    x = _at_least_1d(input)
    out = Scatter.apply(x, s, index=_at_least_1d(index).data, axis=axis)
    return out.reshape(()) if input.ndim == 0 else out


def _filled(input: Tensor, index: Tensor, value) -> Tensor:
    if isinstance(value, Tensor) and value.ndim:
        return value
    xp = get_array_module(input.data)
    v = value.data if isinstance(value, Tensor) else value
    return Tensor._make(xp.full(index.shape or (1,), v, dtype=input.dtype), False, None)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of input with src added at index along dim (duplicates accumulate)."""
    s = _src_tensor("scatter_add", input, src)
    axis = _check_index("scatter_add", input, dim, index, s)
    out = ScatterAdd.apply(_at_least_1d(input), s, index=_at_least_1d(index).data, axis=axis)
    return out.reshape(()) if input.ndim == 0 else out


# --------------------------------------------------------------------------- scatter_reduce
_IDENTITY = {"sum": 0, "prod": 1, "mean": 0, "amax": -np.inf, "amin": np.inf}


def _identity(reduce: str, dtype):
    v = _IDENTITY[reduce]
    if np.dtype(dtype).kind in "iu" and not np.isfinite(v):
        info = np.iinfo(dtype)
        v = info.min if v < 0 else info.max
    return v


class ScatterReduce(Function):
    """out[p] = reduce({a[p] if include_self} + {src[e] : e lands on p}); a place nothing
    lands on keeps a[p]. reduce: sum, prod, mean, amax, amin.

    Gradients, per place p and contributor v (PyTorch's):
      sum:  1                mean: 1 / (number of contributors)
      amax/amin: 1 / (number of contributors equal to the result), 0 for the others
      prod: the product of the other contributors (exact with zeros, as ``prod``)."""

    @staticmethod
    def forward(ctx, a, src, index, axis, reduce, include_self):
        xp = get_array_module(a)
        pos = flat_positions(xp, a.shape, axis, index).reshape(-1)
        vals = _block(src, index.shape).reshape(-1)
        count = xp.bincount(pos, minlength=a.size).reshape(a.shape)
        # a's own value takes part where include_self, and wherever nothing lands
        own = xp.ones(a.shape, dtype=bool) if include_self else count == 0
        out = xp.where(own, a, _identity(reduce, a.dtype)).astype(a.dtype)
        flat = out.reshape(-1)
        ufunc = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum",
                 "amin": "minimum"}[reduce]
        ufunc_at(xp, ufunc, flat, pos, vals)
        n = None
        if reduce == "mean":
            n = count + own
            out = (out // n if out.dtype.kind in "iu" else out / n).astype(a.dtype)
        ctx.pos, ctx.vals_shape, ctx.src_shape, ctx.own, ctx.n = pos, index.shape, src.shape, own, n
        ctx.reduce = reduce
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, vals, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, vals, out = ctx.saved
        xp, pos, own = get_array_module(g), ctx.pos, ctx.own
        if ctx.reduce == "sum":
            d_self, d_src = own.astype(g.dtype), 1
        elif ctx.reduce == "mean":
            d_self, d_src = own / ctx.n, _take(1 / ctx.n, pos)
        elif ctx.reduce in ("amax", "amin"):
            self_hit = own & (a == out)
            src_hit = vals == _take(out, pos)
            ties = self_hit + xp.bincount(pos, weights=src_hit.astype(g.dtype),
                                          minlength=a.size).reshape(a.shape)
            d_self, d_src = self_hit / ties, src_hit / _take(ties, pos)
        else:  # prod: the product of the other contributors
            zero_self, zero_src = own & (a == 0), vals == 0
            zeros = zero_self + xp.bincount(pos, weights=zero_src.astype(g.dtype),
                                            minlength=a.size).reshape(a.shape)
            nonzero = xp.where(own & ~zero_self, a, 1).astype(g.dtype)
            ufunc_at(xp, "multiply", nonzero.reshape(-1), pos, xp.where(zero_src, 1, vals))

            def others(v, zero, z, q, o):
                with np.errstate(divide="ignore", invalid="ignore"):
                    return xp.where(z == 0, o / xp.where(zero, 1, v), xp.where(zero & (z == 1), q, 0))
            d_self = own * others(a, zero_self, zeros, nonzero, out)
            d_src = others(vals, zero_src, _take(zeros, pos), _take(nonzero, pos), _take(out, pos))
        ga = (g * d_self).astype(g.dtype) if ctx.needs_input_grad[0] else None
        gs = None
        if ctx.needs_input_grad[1]:
            gs = xp.zeros(ctx.src_shape, dtype=g.dtype)
            _block(gs, ctx.vals_shape)[...] = (_take(g, pos) * d_src).reshape(ctx.vals_shape)
        return ga, gs


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:  # noqa: A002
    """Reduce src's values into input at index along dim; reduce in sum, prod, mean, amax,
    amin (integer "mean" rounds down, as PyTorch)."""
    if reduce not in _IDENTITY:
        raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(_IDENTITY)}, got "
                         f"{reduce!r}")
    s = _src_tensor("scatter_reduce", input, src)
    axis = _check_index("scatter_reduce", input, dim, index, s)
    out = ScatterReduce.apply(_at_least_1d(input), s, index=_at_least_1d(index).data, axis=axis,
                              reduce=reduce, include_self=bool(include_self))
    return out.reshape(()) if input.ndim == 0 else out


# --------------------------------------------------------------------------- index_select
class IndexSelect(Function):
    @staticmethod
    def forward(ctx, a, index, axis):
        ctx.index, ctx.axis, ctx.shape = index, axis, a.shape
        return get_array_module(a).take(a, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        # repeats accumulate: moved to the front, the rows are a flat scatter-add of blocks
        width = int(np.prod(ctx.shape[:ctx.axis] + ctx.shape[ctx.axis + 1:]))
        rows = xp.moveaxis(g, ctx.axis, 0).reshape(len(ctx.index), width)
        out = xp.zeros(ctx.shape[ctx.axis] * width, dtype=g.dtype)
        pos = (ctx.index[:, None] * width + xp.arange(width)).reshape(-1)
        ufunc_at(xp, "add", out, pos, rows.reshape(-1))
        moved = (ctx.shape[ctx.axis],) + ctx.shape[:ctx.axis] + ctx.shape[ctx.axis + 1:]
        return xp.moveaxis(out.reshape(moved), 0, ctx.axis)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The entries of input at the (1-d) ``index`` along dim."""
    x = require_tensor("index_select", input)
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu" or index.ndim > 1:
        got = (f"dtype {index.dtype}, shape {index.shape}" if isinstance(index, Tensor)
               else type(index).__name__)
        raise TypeError(f"index_select: index must be a 0-d or 1-d integer tensor, got {got}")
    axis = normalize_dim("index_select", dim, x.ndim, x.shape)
    n = x.shape[axis] if x.ndim else 1
    idx = index.data.reshape(-1).astype(np.int64)
    if x.ndim == 0 and idx.size != 1:
        raise IndexError(f"index_select: a 0-d input takes one index, got {idx.size}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError(f"index_select: index out of range for dim {axis} of size {n} "
                         f"(input shape {x.shape}; index values {int(idx.min())}.."
                         f"{int(idx.max())})")
    return IndexSelect.apply(_at_least_1d(x), index=idx, axis=axis).reshape(
        x.shape[:axis] + (idx.size,) + x.shape[axis + 1:] if x.ndim else ())


# --------------------------------------------------------------------------- masks
def _check_mask(op: str, x: Tensor, mask) -> None:
    if not isinstance(mask, Tensor) or mask.dtype != np.bool_:
        got = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"{op}: mask must be a bool tensor, got {got}")


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002
    """input with ``value`` (a number or a 0-d tensor, differentiable) where mask is True;
    mask broadcasts to input's shape."""
    from .elementwise import cast, where
    x = require_tensor("masked_fill", input)
    _check_mask("masked_fill", x, mask)
    try:
        fits = np.broadcast_shapes(mask.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to input "
                         f"of shape {x.shape}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                             f"{value.shape}")
        value = cast(value, x.dtype) if value.dtype != x.dtype else value
    elif isinstance(value, numbers.Number):
        xp = get_array_module(x.data)
        value = Tensor._make(xp.asarray(value, dtype=x.dtype), False, None)
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                        f"{type(value).__name__}")
    return where(mask, value, x)


class MaskedSelect(Function):
    @staticmethod
    def forward(ctx, a, mask, shape):
        xp = get_array_module(a)
        ctx.mask, ctx.a_shape = mask, a.shape
        return xp.broadcast_to(a, shape)[mask]

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        full = xp.zeros(ctx.mask.shape, dtype=g.dtype)
        full[ctx.mask] = g
        return unbroadcast(full, ctx.a_shape)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    """The 1-d tensor of input's entries where mask (broadcast with input) is True."""
    x = require_tensor("masked_select", input)
    _check_mask("masked_select", x, mask)
    try:
        shape = np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        raise ValueError(f"masked_select: mask {mask.shape} and input {x.shape} are not "
                         "broadcastable") from None
    xp = get_array_module(x.data)
    return MaskedSelect.apply(x, mask=xp.broadcast_to(mask.data, shape), shape=shape)


def nonzero(input: Tensor, *, as_tuple: bool = False):  # noqa: A002
    """Indices of the nonzero entries: an (n, ndim) int64 tensor, or with ``as_tuple`` one
    1-d tensor per dim (x[x.nonzero(as_tuple=True)] selects them)."""
    x = require_tensor("nonzero", input)
    xp = get_array_module(x.data)
    if as_tuple:
        found = xp.nonzero(x.data.reshape(-1) if x.ndim == 0 else x.data)
        return tuple(Tensor._make(i.astype(np.int64), False, None) for i in found)
    return Tensor._make(xp.argwhere(x.data).astype(np.int64), False, None)


# --------------------------------------------------------------------------- flip, roll
def _dims(op: str, dims, x: Tensor) -> tuple[int, ...]:
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    axes = tuple(normalize_dim(op, d, x.ndim, x.shape) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dims {dims} name a dim twice (tensor of shape {x.shape})")
    return axes


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return get_array_module(a).flip(a, axes).copy()  # a copy, as torch.flip

    @staticmethod
    def backward(ctx, g):
        return get_array_module(g).flip(g, ctx.axes)


def flip(input: Tensor, dims) -> Tensor:  # noqa: A002
    """Reverse the order of entries along each of ``dims``."""
    x = require_tensor("flip", input)
    axes = _dims("flip", dims, x)
    return Flip.apply(x, axes=axes if x.ndim else ())


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return get_array_module(a).roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        return get_array_module(g).roll(g, tuple(-s for s in ctx.shifts), ctx.axes)


def roll(input: Tensor, shifts, dims=None) -> Tensor:  # noqa: A002
    """Shift entries along dims, wrapping around; with dims None, over the flattened tensor."""
    x = require_tensor("roll", input)
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    shifts = tuple(operator.index(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: with dims=None give one shift, got shifts={shifts}")
        return Roll.apply(x.reshape(-1), shifts=shifts, axes=(0,)).reshape(x.shape)
    axes = tuple(normalize_dim("roll", d, x.ndim, x.shape)
                 for d in ((dims,) if isinstance(dims, numbers.Integral) else tuple(dims)))
    if len(axes) != len(shifts):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    if x.ndim == 0:
        return x.clone()
    return Roll.apply(x, shifts=shifts, axes=axes)


# --------------------------------------------------------------------------- repeat, tile
class Repeat(Function):
    """np.tile: the whole tensor laid out reps[d] times along each dim d. Backward: view the
    gradient as (reps0, n0, reps1, n1, ...) and sum over the reps axes."""

    @staticmethod
    def forward(ctx, a, reps):
        ctx.shape, ctx.reps = a.shape, reps
        return get_array_module(a).tile(a, reps)

    @staticmethod
    def backward(ctx, g):
        padded = (1,) * (len(ctx.reps) - len(ctx.shape)) + tuple(ctx.shape)
        split = tuple(v for r, n in zip(ctx.reps, padded) for v in (r, n))
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(ctx.shape)


def _reps(op: str, sizes) -> tuple[int, ...]:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    try:
        reps = tuple(operator.index(s) for s in sizes)
    except TypeError:
        raise TypeError(f"{op}: sizes must be ints, got {sizes!r}") from None
    if any(r < 0 for r in reps):
        raise ValueError(f"{op}: sizes must be >= 0, got {reps}")
    return reps


def repeat(input: Tensor, *sizes) -> Tensor:  # noqa: A002
    """Tensor.repeat: tile input sizes[d] times along dim d; len(sizes) >= input.ndim."""
    x = require_tensor("repeat", input)
    reps = _reps("repeat", sizes)
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: the number of repeat dims ({len(reps)}) can't be smaller "
                         f"than the number of tensor dims ({x.ndim}, shape {x.shape})")
    return Repeat.apply(x, reps=reps)


def tile(input: Tensor, dims) -> Tensor:  # noqa: A002
    """torch.tile: like repeat, with missing leading dims taken as 1 on either side."""
    x = require_tensor("tile", input)
    reps = _reps("tile", (dims,))
    reps = (1,) * (x.ndim - len(reps)) + reps
    return Repeat.apply(x, reps=reps)


# --------------------------------------------------------------------------- take_along_dim, repeat_interleave
def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:  # noqa: A002
    """gather with broadcasting: input and indices broadcast in every dim but ``dim``; with dim
    None, over the flattened input."""
    x = require_tensor("take_along_dim", input)
    if not isinstance(indices, Tensor) or indices.dtype.kind not in "iu":
        raise TypeError("take_along_dim: indices must be an integer tensor")
    if dim is None:
        return gather(x.reshape(-1), 0, _int64(indices.reshape(-1)))
    axis = normalize_dim("take_along_dim", dim, x.ndim, x.shape)
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_dim: input {x.shape} and indices {indices.shape} must "
                         "have the same number of dims")
    try:
        shape = list(np.broadcast_shapes(tuple(n for d, n in enumerate(x.shape) if d != axis),
                                         tuple(n for d, n in enumerate(indices.shape) if d != axis)))
    except ValueError:
        raise ValueError(f"take_along_dim: input {x.shape} and indices {indices.shape} are not "
                         f"broadcastable outside dim {axis}") from None
    x_shape = shape[:axis] + [x.shape[axis]] + shape[axis:]
    i_shape = shape[:axis] + [indices.shape[axis]] + shape[axis:]
    xb = x.expand(*x_shape) if tuple(x_shape) != x.shape else x
    ib = indices.expand(*i_shape) if tuple(i_shape) != indices.shape else indices
    return gather(xb, axis, _int64(ib))


def _int64(t: Tensor) -> Tensor:
    xp = get_array_module(t.data)
    return Tensor._make(xp.ascontiguousarray(t.data).astype(np.int64, copy=False), False, None)


def repeat_interleave(input: Tensor, repeats, dim=None, *, output_size=None) -> Tensor:  # noqa: A002
    """Each entry repeated ``repeats`` times (an int, or one count per entry along dim), in
    place; with dim None, over the flattened input. Differentiable through index_select."""
    x = require_tensor("repeat_interleave", input)
    if dim is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = normalize_dim("repeat_interleave", dim, x.ndim, x.shape)
        x = x.reshape(1) if x.ndim == 0 else x
    n = x.shape[axis]
    xp = get_array_module(x.data)
    counts = repeats.data if isinstance(repeats, Tensor) else np.asarray(repeats)
    counts = xp.asarray(counts).reshape(-1).astype(np.int64)
    if counts.size not in (1, n) or bool((counts < 0).any()):
        raise ValueError(f"repeat_interleave: repeats must be one non-negative count or {n} of "
                         f"them (dim {axis} of the input of shape {input.shape}), got "
                         f"{counts.size} values")
    idx = xp.repeat(xp.arange(n), counts if counts.size == n else int(counts[0]))
    if output_size is not None and idx.size != output_size:
        raise ValueError(f"repeat_interleave: output_size {output_size} does not match the "
                         f"{idx.size} repeated entries")
    return index_select(x, axis, Tensor._make(idx.astype(np.int64), False, None))
