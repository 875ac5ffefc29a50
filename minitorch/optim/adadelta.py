"""Adadelta (torch.optim.Adadelta formulas): step sizes from running averages of squared
gradients AND squared updates, so the update has the units of the parameter.

    g = grad (+ weight_decay * p)                      (-grad when maximize)
    v = rho v + (1 - rho) g^2
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho u + (1 - rho) delta^2
    p = p - lr * delta
"""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonneg


class Adadelta(Optimizer):
    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False):
        check_nonneg("Adadelta", "learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value: {rho} (must be in [0, 1])")
        check_nonneg("Adadelta", "epsilon value", eps)
        check_nonneg("Adadelta", "weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for data, state, g in self._counted_updates(group):
                xp = get_array_module(data)
                v = self._buffer(state, "square_avg", data)
                u = self._buffer(state, "acc_delta", data)
                v *= rho
                v += (1 - rho) * g * g
                delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
                u *= rho
                u += (1 - rho) * delta * delta
                data -= lr * delta
        return loss
