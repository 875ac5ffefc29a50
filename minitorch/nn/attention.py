"""nn.MultiheadAttention with PyTorch's parameters, names and shapes.

    q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v   (one (3E, E) in_proj_weight
                                                                       when kdim = vdim = E)
    split E into num_heads heads of E / num_heads, attend in each head (scaled dot product),
    concatenate the heads, and project: out_proj(concat).

Inputs are (L, N, E), or (N, L, E) with batch_first=True, or unbatched (L, E). Masks:
``key_padding_mask`` (N, S) hides padded source positions (True = padding, or a float mask
added), ``attn_mask`` (L, S) or (N * num_heads, L, S) is bool (True = not allowed, PyTorch's
convention here) or float (added). Returns (attn_output, attn_weights or None); the weights are
averaged over heads unless ``average_attn_weights=False``.
"""
from __future__ import annotations

import math

import numpy as np

from ..creation import empty, zeros
from ..ops.attention import attention_weights
from ..ops.linalg import linear, matmul
from ..ops.shape import cat
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module, Parameter


class MultiheadAttention(Module):
    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive "
                             f"multiple of num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim = embed_dim // num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.batch_first, self.add_zero_attn = batch_first, add_zero_attn
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        kw = dict(device=device, dtype=dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **kw))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **kw))
        self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections, zero biases, normal bias_k/bias_v."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight,
                  self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def _projections(self, query, key, value):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight[:E], self.in_proj_weight[E:2 * E], \
                self.in_proj_weight[2 * E:]
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    def _heads(self, x: Tensor, length: int, batch: int) -> Tensor:
        """(length, batch, E) -> (batch, heads, length, head_dim)."""
        return x.reshape(length, batch, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False):
        unbatched = query.ndim == 2
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention: query, key and value must all be (L, E) or "
                             f"all batched 3-d, got {query.shape}, {key.shape}, {value.shape}")
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        L, N, E = query.shape
        if E != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"MultiheadAttention: expected feature sizes (query {self.embed_dim}"
                             f", key {self.kdim}, value {self.vdim}), got {query.shape}, "
                             f"{key.shape}, {value.shape}")
        q, k, v = self._projections(query, key, value)
        if self.bias_k is not None:  # one extra learned source position
            k = cat([k, self.bias_k.expand(1, N, E)], 0)
            v = cat([v, self.bias_v.expand(1, N, E)], 0)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        if self.add_zero_attn:        # and one all-zero position
            k = cat([k, zeros(1, N, E, dtype=k.dtype, device=k.device)], 0)
            v = cat([v, zeros(1, N, E, dtype=v.dtype, device=v.device)], 0)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        S = k.shape[0]
        mask = _combined_mask(attn_mask, key_padding_mask, is_causal, N, self.num_heads, L, S,
                              q)
        weights = attention_weights(self._heads(q, L, N), self._heads(k, S, N), mask,
                                    self.dropout, False, None, self.training)
        heads = matmul(weights, self._heads(v, S, N))                    # (N, h, L, d)
        out = self.out_proj(heads.permute(2, 0, 1, 3).reshape(L, N, E))  # (L, N, E)
        if unbatched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        w = weights.mean(1) if average_attn_weights else weights
        return out, (w.squeeze(0) if unbatched else w)


def _pad_masks(attn_mask, key_padding_mask):
    """One more source position (bias_k or the zero position): masks grow a column of 0/False."""
    def grow(m):
        if m is None:
            return None
        extra = np.zeros(m.shape[:-1] + (1,), dtype=m.dtype)
        return cat([m, Tensor(extra, device=m.device)], -1)
    return grow(attn_mask), grow(key_padding_mask)


def _combined_mask(attn_mask, key_padding_mask, is_causal, N, heads, L, S, like: Tensor):
    """One additive float mask (N, heads, L, S) or (L, S), or None: -inf where not allowed."""
    if is_causal and attn_mask is None:
        attn_mask = Tensor(~np.tril(np.ones((L, S), dtype=bool)), device=like.device)
    total = None
    for m, shape in ((attn_mask, None), (key_padding_mask, (N, 1, 1, S))):
        if m is None:
            continue
        if m.dtype == np.bool_:
            data = np.where(m.numpy(), -math.inf, 0.0)
        else:
            data = m.detach().numpy().astype(np.float64)
        if shape is not None:
            data = data.reshape(shape)
        elif data.ndim == 3:   # (N * heads, L, S)
            data = data.reshape(N, heads, L, S)
        elif data.shape != (L, S):
            raise ValueError(f"MultiheadAttention: attn_mask must be (L, S) = ({L}, {S}) or "
                             f"(N * num_heads, L, S), got {tuple(m.shape)}")
        total = data if total is None else total + data
    if total is None:
        return None
    return Tensor(total.astype(like.dtype), device=like.device)
