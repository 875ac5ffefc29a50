"""Matrix products: ``matmul`` (PyTorch's rules for 1-D, 2-D and batched inputs) and ``linear``.

For C = A @ B with A (n, k) and B (k, m), each C[i, j] = sum_p A[i, p] B[p, j], so

    dL/dA = dL/dC @ B^T      (n, m) @ (m, k)
    dL/dB = A^T @ dL/dC      (k, n) @ (n, m)

Batched inputs (..., n, k) @ (..., k, m) do this per matrix; a batch dim that broadcasting
stretched sums its gradient back (``unbroadcast``), exactly like an elementwise op. All the work
is done by ``xp.matmul`` (BLAS on the CPU, cuBLAS on the GPU): no Python loops over matrices.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ..threads import parallel_for
from .elementwise import as_tensor, unbroadcast


# --------------------------------------------------------------------------- matmul
def _check_matmul(a: Tensor, b: Tensor) -> None:
    """PyTorch's shape rules, with errors that name both shapes and the dims that must agree."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments must be at least 1-D, got shapes {a.shape} "
                           f"and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: both arguments must have the same dtype, got {a.dtype} and "
                        f"{b.dtype}; convert one with .to(dtype)")
    a_dim = a.ndim - 1                        # the contracted dim of the first: its last
    b_dim = 0 if b.ndim == 1 else b.ndim - 2  # of the second: its first row dim
    if a.shape[a_dim] != b.shape[b_dim]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: dim {a_dim} "
                         f"of the first ({a.shape[a_dim]}) must equal dim {b_dim} of the second "
                         f"({b.shape[b_dim]})")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    try:
        np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: batch dims {batch_a} and "
                         f"{batch_b} are not broadcastable (trailing dims must be equal or 1)"
                         ) from None


def _rows(a):
    """(*, k) -> (prod(*), k). Not reshape(-1, k): -1 is ambiguous when k == 0 (size-0 arrays)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _matmul(a, b):
    """xp.matmul, but a stack of matrices times ONE matrix is done as a single GEMM on the
    flattened stack: NumPy would otherwise call BLAS once per matrix (~3x slower)."""
    if a.ndim > 2 and b.ndim == 2:
        return (_rows(a) @ b).reshape(a.shape[:-1] + b.shape[-1:])
    return get_array_module(a, b).matmul(a, b)


class MatMul(Function):
    """xp.matmul with PyTorch semantics (1-D x 1-D is a dot product; a 1-D operand gets a
    dim prepended (first) or appended (second) that is removed from the result)."""

    @staticmethod
    def forward(ctx, a, b):
        # dA needs B and dB needs A: keep only the one a needed gradient uses.
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        ctx.shapes = (a.shape, b.shape)
        if a.ndim > 2 and b.ndim == 1:  # a stack times a vector: one GEMV-like GEMM too
            return _matmul(a, b[:, None])[..., 0]
        return _matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        (sa, sb) = ctx.shapes
        xp = get_array_module(g)
        # Work on >= 2-D operands: (k,) -> (1, k) first, (k,) -> (k, 1) second; the grad gets
        # the same dims back, so one pair of formulas covers every case.
        sa2 = (1,) + sa if len(sa) == 1 else sa
        sb2 = sb + (1,) if len(sb) == 1 else sb
        if len(sb) == 1:
            g = g[..., None]
        if len(sa) == 1:
            g = g[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _matmul(g, xp.swapaxes(b.reshape(sb2), -1, -2))
            ga = unbroadcast(ga, sa2).reshape(sa)
        if ctx.needs_input_grad[1]:
            a2 = a.reshape(sa2)
            if len(sb2) == 2 and len(sa2) > 2:
                # (..., n, k) @ (k, m): sum over the batch inside ONE GEMM instead of building a
                # (..., k, m) stack and summing it: (k, batch*n) @ (batch*n, m).
                gb = _rows(a2).T @ _rows(g)
            else:
                gb = unbroadcast(xp.matmul(xp.swapaxes(a2, -1, -2), g), sb2)
            gb = gb.reshape(sb)
        return ga, gb


def matmul(input, other) -> Tensor:  # noqa: A002  (PyTorch's argument names)
    """Matrix product with PyTorch's rules:

    * (k,) @ (k,) -> () dot product
    * (n, k) @ (k, m) -> (n, m)
    * (k,) @ (..., k, m) -> (..., m) and (..., n, k) @ (k,) -> (..., n)
    * (..., n, k) @ (..., k, m) -> (..., n, m), batch dims broadcast
    """
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"matmul: expected at least one Tensor, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    if not isinstance(input, Tensor):
        input = as_tensor(input, other)  # e.g. a NumPy array @ a Tensor
    if not isinstance(other, Tensor):
        other = as_tensor(other, input)
    _check_matmul(input, other)
    return MatMul.apply(input, other)


# --------------------------------------------------------------------------- linear
_SPLIT_MACS = 1 << 21   # a product smaller than this is one GEMM (splitting costs more)
_BLOCKS = 4             # otherwise at most this many row blocks, of at least _MIN_ROWS rows
_MIN_ROWS = 32


def gemm_in_row_blocks(a, b):
    """a @ b for 2-D NumPy arrays, as GEMMs on blocks of a's rows spread over minitorch's
    threads (minitorch/threads.py): BLAS is held at one thread, so a lone large product would
    use one core. The blocks depend on the shapes only, so results do not depend on the thread
    count. Other arrays (CuPy) and small products: one plain product."""
    n, k = a.shape
    m = b.shape[1]
    if type(a) is not np.ndarray or n * k * m < _SPLIT_MACS or n < 2 * _MIN_ROWS:
        return a @ b
    per = max(_MIN_ROWS, -(-n // _BLOCKS))
    out = np.empty((n, m), dtype=np.result_type(a, b))

    def run(i):
        r0, r1 = i * per, min(n, (i + 1) * per)
        np.matmul(a[r0:r1], b, out=out[r0:r1])

    parallel_for(run, -(-n // per))
    return out


class Linear(Function):
    """y = x @ W^T + b for x (*, in), W (out, in), b (out,): nn.Linear's hot path as one op.

    The leading dims of x are flattened into one batch dim, so the forward is one GEMM
    (N, in) @ (in, out) and the backward at most two GEMMs and a sum:
    dx = g @ W, dW = g^T @ x, db = g summed over the batch.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        x2 = _rows(x)
        ctx.save_for_backward(x2 if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        ctx.x_shape = x.shape
        out = gemm_in_row_blocks(x2, weight.T)  # BLAS reads W.T in place: no copy of W
        if bias is not None:
            out += bias      # out is fresh: adding in place saves a temporary
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x2, weight = ctx.saved
        g2 = _rows(g)
        needs = ctx.needs_input_grad
        gx = gemm_in_row_blocks(g2, weight).reshape(ctx.x_shape) if needs[0] else None
        gw = gemm_in_row_blocks(g2.T, x2) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if needs[2] else None)


def linear(input, weight, bias=None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias``: input (*, in_features), weight (out_features, in_features),
    bias (out_features,) or None. Output (*, out_features)."""
    if input.ndim == 0 or weight.ndim != 2:
        raise ValueError(f"linear: input must be at least 1-D and weight 2-D (out_features, "
                         f"in_features), got shapes {input.shape} and {weight.shape}")
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input shape {input.shape} and weight shape {weight.shape} "
                         f"are not aligned: the input's last dim ({input.shape[-1]}) must equal "
                         f"dim 1 of the weight (in_features={weight.shape[1]})")
    tensors = (input, weight) if bias is None else (input, weight, bias)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias shape {bias.shape} must be (out_features,) = "
                         f"({weight.shape[0]},) for weight shape {weight.shape}")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"linear: input, weight and bias must have the same dtype, got "
                        f"{', '.join(str(t.dtype) for t in tensors)}")
    return Linear.apply(*tensors)
