"""Differentiable primitives: each op's forward and backward side by side, on xp arrays."""
