"""Embedding lookup: row ``i`` of a (num_embeddings, embedding_dim) table for each index i.

Forward is a gather, ``weight[indices]``; backward scatters the output gradient back onto the
rows it came from, adding where an index repeats (``add.at``). Rows at ``padding_idx`` get no
gradient; ``scale_grad_by_freq`` divides each row's gradient by how often it was looked up in
the batch; ``max_norm`` renormalises the looked-up rows in place first (no gradient, as
PyTorch), so their norm is at most max_norm.
"""
from __future__ import annotations

from ..autograd import Function, no_grad
from ..backend import get_array_module
from ..tensor import Tensor


class Embedding(Function):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(indices)
        ctx.rows, ctx.padding_idx, ctx.by_freq = weight.shape[0], padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved
        xp = get_array_module(g)
        flat = indices.reshape(-1)
        rows = g.reshape(flat.size, g.shape[-1])
        if ctx.by_freq:
            counts = xp.bincount(flat, minlength=ctx.rows)
            rows = rows / counts[flat][:, None]
        grad = xp.zeros((ctx.rows, g.shape[-1]), dtype=g.dtype)
        xp.add.at(grad, flat, rows)
        if ctx.padding_idx is not None:
            grad[ctx.padding_idx] = 0
        return grad, None


def _renorm_(weight: Tensor, indices, max_norm: float, norm_type: float) -> None:
    xp = get_array_module(weight.data)
    rows = xp.unique(indices.reshape(-1))
    with no_grad():
        norms = xp.linalg.norm(weight.data[rows], ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight.data[rows] = weight.data[rows] * scale[:, None].astype(weight.dtype)


def embedding(input: Tensor, weight: Tensor, padding_idx=None, max_norm=None,  # noqa: A002
              norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """F.embedding: ``input`` integer indices of any shape -> (*input.shape, embedding_dim)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"embedding: input and weight must be Tensors, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim), got "
                         f"{weight.shape}")
    if sparse:
        raise ValueError("embedding: sparse gradients are not supported in minitorch; use "
                         "sparse=False (a dense gradient of the same values)")
    n = weight.shape[0]
    idx = input.data
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for a table of {n} rows")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"[-{n}, {n})")
        padding_idx = padding_idx % n
    if max_norm is not None:
        _renorm_(weight, idx, float(max_norm), float(norm_type))
    return Embedding.apply(weight, input, padding_idx=padding_idx,
                           scale_grad_by_freq=bool(scale_grad_by_freq))
