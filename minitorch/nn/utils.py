"""Gradient clipping: rescale (by norm) or clamp (by value) the ``.grad`` of parameters in place."""
from __future__ import annotations

import math
from typing import Iterable

from ..backend import array_module
from ..tensor import Tensor


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most max_norm.

    The joint norm is the norm of the vector of per-parameter norms (the same as the norm of all
    gradients concatenated). Returns that total norm (before clipping) as a 0-d Tensor.
    Gradients are multiplied by min(1, max_norm / (total + 1e-6)), as PyTorch.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    xp = array_module(grads[0].device)
    # Per-parameter norms stay on the device; the only host sync is error_if_nonfinite's.
    if math.isinf(norm_type):
        norms = [xp.abs(g.data).max() if g.data.size else xp.zeros((), g.dtype) for g in grads]
        total = xp.max(xp.stack(norms))
    else:
        norms = [(xp.abs(g.data) ** norm_type).sum() for g in grads]
        total = xp.sum(xp.stack(norms)) ** (1.0 / norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {float(total)}, so they can't be clipped; set "
                           "error_if_nonfinite=False to ignore")
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g.data *= coef.astype(g.dtype)
    return Tensor._make(total, False, None)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        array_module(g.device).clip(g.data, -clip_value, clip_value, out=g.data)
