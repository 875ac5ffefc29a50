"""``minitorch.linalg``: torch.linalg's vector norm (matrix decompositions are not provided)."""
from .ops.reduce import vector_norm

__all__ = ["vector_norm"]
