"""Matrix helpers: tril/triu, diagonal/diag/trace, and PyTorch's fixed-rank products
(dot, outer, mv, mm, bmm), which check their ranks and then run matmul or einsum.

tril/triu keep a triangle (a fixed 0/1 mask: the gradient is masked the same way); diagonal
reads a strided diagonal (its gradient is written back onto the diagonal of zeros).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .einsum import einsum
from .elementwise import require_tensor
from .linalg import matmul
from .shape import normalize_dim


class Triangle(Function):
    @staticmethod
    def forward(ctx, a, diagonal, upper):
        xp = get_array_module(a)
        rows, cols = a.shape[-2:]
        keep = (xp.triu if upper else xp.tril)(xp.ones((rows, cols), dtype=bool), diagonal)
        ctx.keep = keep
        return xp.where(keep, a, xp.zeros((), dtype=a.dtype))

    @staticmethod
    def backward(ctx, g):
        return g * ctx.keep


def _triangle(op: str, input, diagonal: int, upper: bool) -> Tensor:
    x = require_tensor(op, input)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dims, got shape {x.shape}")
    return Triangle.apply(x, diagonal=int(diagonal), upper=upper)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle (on and below ``diagonal``) of the last two dims; zeros above."""
    return _triangle("tril", input, diagonal, upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle (on and above ``diagonal``) of the last two dims; zeros below."""
    return _triangle("triu", input, diagonal, upper=True)


class Diagonal(Function):
    """The ``offset`` diagonal of dims (d1, d2), moved to the last dim (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.shape, ctx.args = a.shape, (offset, d1, d2)
        return get_array_module(a).diagonal(a, offset, d1, d2).copy()

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        out = xp.zeros(ctx.shape, dtype=g.dtype)
        offset, d1, d2 = ctx.args
        moved = xp.moveaxis(out, (d1, d2), (-2, -1))  # a view of out
        n = g.shape[-1]
        rows = xp.arange(n) + max(-offset, 0)
        moved[..., rows, rows + offset] = g
        return out


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    x = require_tensor("diagonal", input)
    d1, d2 = (normalize_dim("diagonal", d, x.ndim, x.shape) for d in (dim1, dim2))
    if x.ndim < 2 or d1 == d2:
        raise ValueError(f"diagonal: needs two different dims of a tensor with >= 2 dims, got "
                         f"dim1={dim1}, dim2={dim2} for shape {x.shape}")
    return Diagonal.apply(x, offset=int(offset), d1=d1, d2=d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """1-d input: the square matrix with it on the ``diagonal``; 2-d: that diagonal."""
    x = require_tensor("diag", input)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    if x.ndim != 1:
        raise ValueError(f"diag: input must be 1-d or 2-d, got shape {x.shape}")
    n = x.shape[0] + abs(diagonal)
    xp = get_array_module(x.data)
    eye = xp.zeros((x.shape[0], n, n), dtype=x.dtype if x.dtype.kind in "fc" else np.float64)
    rows = xp.arange(x.shape[0]) + max(-diagonal, 0)
    eye[xp.arange(x.shape[0]), rows, rows + diagonal] = 1
    if x.dtype.kind not in "fc":
        return Tensor._make(xp.einsum("i,ijk->jk", x.data, eye.astype(x.dtype)), False, None)
    return einsum("i,ijk->jk", x, Tensor._make(eye, False, None))


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a 2-d tensor (square or not)."""
    x = require_tensor("trace", input)
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-d tensor, got shape {x.shape}")
    return diagonal(x).sum()


def _ranks(op: str, tensors, ranks) -> None:
    for t, r, name in zip(tensors, ranks, ("input", "other")):
        require_tensor(op, t)
        if t.ndim != r:
            raise ValueError(f"{op}: {name} must be {r}-d, got shape {t.shape}")


def dot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    _ranks("dot", (input, other), (1, 1))
    if input.shape != other.shape:
        raise ValueError(f"dot: 1-d tensors of the same size expected, got {input.shape} and "
                         f"{other.shape}")
    return einsum("i,i->", input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    _ranks("outer", (input, vec2), (1, 1))
    return einsum("i,j->ij", input, vec2)


def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    _ranks("mv", (input, vec), (2, 1))
    return matmul(input, vec)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    _ranks("mm", (input, mat2), (2, 2))
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    _ranks("bmm", (input, mat2), (3, 3))
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:  # noqa: A002
    """The n-th forward difference along dim: out[i] = x[i + 1] - x[i], applied n times, after
    concatenating prepend / append along dim."""
    from .shape import cat
    x = require_tensor("diff", input)
    if x.ndim == 0:
        raise ValueError("diff: expected at least a 1-d tensor")
    axis = normalize_dim("diff", dim, x.ndim, x.shape)
    parts = [t for t in (prepend, x, append) if t is not None]
    if len(parts) > 1:
        x = cat(parts, axis)
    for _ in range(int(n)):
        if x.shape[axis] == 0:
            break
        head = (slice(None),) * axis + (slice(1, None),)
        tail = (slice(None),) * axis + (slice(None, -1),)
        x = (x[head] - x[tail]) if x.dtype != np.bool_ else (x[head] ^ x[tail])
    return x


def meshgrid(*tensors, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-d tensors: with "ij" output k varies along dim k; "xy" swaps
    the first two dims (NumPy/Matlab order)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        require_tensor("meshgrid", t)
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expects 0-d or 1-d tensors, got shape {t.shape}")
    ts = [t.reshape(-1) for t in tensors]
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    grids = [t.reshape(tuple(-1 if k == i else 1 for k in range(len(ts)))).expand(*shape)
             for i, t in enumerate(ts)]
    if indexing == "xy" and len(ts) >= 2:  # the grids of (y, x, ...), handed back as (x, y, ...)
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cross(input: Tensor, other: Tensor, dim=None) -> Tensor:  # noqa: A002
    """The 3-vector cross product along dim (None: the first dim of size 3, as torch.cross;
    linalg.cross uses -1)."""
    from .shape import stack
    require_tensor("cross", input)
    require_tensor("cross", other)
    try:
        shape = np.broadcast_shapes(input.shape, other.shape)
    except ValueError:
        raise ValueError(f"cross: shapes {input.shape} and {other.shape} are not broadcastable"
                         ) from None
    if dim is None:
        dims = [d for d, n in enumerate(shape) if n == 3]
        if not dims:
            raise ValueError(f"cross: no dim of size 3 in shape {shape}")
        dim = dims[0]
    axis = normalize_dim("cross", dim, len(shape), shape)
    if shape[axis] != 3:
        raise ValueError(f"cross: dim {dim} must have size 3, got shape {shape}")
    a, b = input.expand(*shape), other.expand(*shape)

    def part(t, k):
        return t[(slice(None),) * axis + (k,)]
    comps = [part(a, 1) * part(b, 2) - part(a, 2) * part(b, 1),
             part(a, 2) * part(b, 0) - part(a, 0) * part(b, 2),
             part(a, 0) * part(b, 1) - part(a, 1) * part(b, 0)]
    return stack(comps, axis)
