"""Distances and similarities, composed from vector_norm and elementwise ops (their gradients
come from those ops): cosine_similarity, pairwise_distance, cdist."""
from __future__ import annotations

from ..tensor import Tensor
from .elementwise import clamp, require_tensor
from .reduce import sum as _sum
from .reduce import vector_norm


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) over dim (the two broadcast):
    each vector normalised first, as PyTorch 2.x computes it."""
    require_tensor("cosine_similarity", x1)
    require_tensor("cosine_similarity", x2)
    n1 = clamp(vector_norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = clamp(vector_norm(x2, 2, dim, keepdim=True), min=eps)
    return _sum((x1 / n1) * (x2 / n2), dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (eps keeps the norm's gradient finite at 0)."""
    require_tensor("pairwise_distance", x1)
    require_tensor("pairwise_distance", x2)
    return vector_norm(x1 - x2 + eps, p, -1, keepdim)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    """All p-distances between the rows of x1 (..., P, M) and of x2 (..., R, M): (..., P, R).
    Built as the norm of the broadcast difference (memory P * R * M), exact for every p; the
    gradient at a zero distance is 0, as PyTorch."""
    require_tensor("cdist", x1)
    require_tensor("cdist", x2)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expected (..., P, M) and (..., R, M) with the same M, got "
                         f"{x1.shape} and {x2.shape}")
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)
