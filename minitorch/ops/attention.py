"""Scaled dot-product attention, written with the differentiable ops it is made of:

    scores  = Q K^T * scale            (..., L, S)    scale = 1 / sqrt(E) unless given
    scores += mask                     a float mask is added; a bool mask keeps True positions
    A       = dropout(softmax(scores, -1))             (every other position gets -inf first)
    out     = A V                      (..., L, Ev)

Its gradient is what those ops' backward passes compose to, so it is checked like any other
op. ``attention_weights`` returns A as well, for MultiheadAttention's ``need_weights``.

Notation: L target length, S source length, E query/key size, Ev value size.
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .activation import softmax
from .dropout import dropout
from .elementwise import where
from .linalg import matmul


def _check(q: Tensor, k: Tensor, v: Tensor, attn_mask, is_causal: bool, enable_gqa: bool):
    op = "scaled_dot_product_attention"
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2 or t.dtype.kind != "f":
            raise ValueError(f"{op}: {name} must be a floating tensor with at least 2 dims "
                             f"(..., length, features), got {t.dtype} {t.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: query (..., L, E) {q.shape}, key (..., S, E) {k.shape} and "
                         f"value (..., S, Ev) {v.shape} disagree on E or S")
    if enable_gqa:
        raise ValueError(f"{op}: enable_gqa (grouped-query attention) is not supported; repeat "
                         "the key/value heads with repeat_interleave instead")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both (as PyTorch)")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{op}: attn_mask must be a Tensor or None, got "
                            f"{type(attn_mask).__name__}")
        L, S = q.shape[-2], k.shape[-2]
        try:
            np.broadcast_shapes(attn_mask.shape, q.shape[:-2] + (L, S))
        except ValueError:
            raise ValueError(f"{op}: attn_mask of shape {attn_mask.shape} does not broadcast to "
                             f"the scores' shape {q.shape[:-2] + (L, S)}") from None


def attention_weights(query: Tensor, key: Tensor, attn_mask=None, dropout_p: float = 0.0,
                      is_causal: bool = False, scale=None, training: bool = True) -> Tensor:
    """softmax(Q K^T * scale + mask), with dropout: the (..., L, S) attention matrix."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = matmul(query, key.transpose(-2, -1)) * scale
    if is_causal:
        L, S = query.shape[-2], key.shape[-2]
        attn_mask = Tensor(np.tril(np.ones((L, S), dtype=bool)), device=query.device)
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            scores = where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask.to(dtype=scores.dtype)
    weights = softmax(scores, -1)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, True)
    return weights


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale=None,
                                 enable_gqa: bool = False) -> Tensor:
    """PyTorch's F.scaled_dot_product_attention: (..., L, E), (..., S, E), (..., S, Ev) ->
    (..., L, Ev). A row whose mask hides every position gives NaN, as PyTorch's math path."""
    _check(query, key, value, attn_mask, is_causal, enable_gqa)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got "
                         f"{dropout_p}")
    weights = attention_weights(query, key, attn_mask, dropout_p, is_causal, scale)
    return matmul(weights, value)
