"""Dropout layers (inverted dropout; identity in eval mode): see ops/dropout.py."""
from __future__ import annotations

from ..ops.dropout import _check_p
from ..ops.inplace import dropout, dropout2d
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """Zero each element with probability p in training, scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _check_p("Dropout", p)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) with probability p in training."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout2d(input, self.p, self.training, self.inplace)
