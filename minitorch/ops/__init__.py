"""Differentiable primitives: each op's forward and backward side by side, on xp arrays."""

# Attach the Tensor methods of the math, bitwise, scan and index ops (x.cumsum(0), x // 2).
# This package is first imported from the end of tensor.py, once the Tensor class exists.
from . import methods  # noqa: E402,F401
