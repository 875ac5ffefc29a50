"""``minitorch.linalg``: torch.linalg's vector norm (matrix decompositions are not provided)."""
from .ops.matrix import cross as _cross
from .ops.reduce import vector_norm

__all__ = ["cross", "vector_norm"]


def cross(input, other, dim: int = -1):  # noqa: A002
    """linalg.cross: the cross product along dim (default the last)."""
    return _cross(input, other, dim)
