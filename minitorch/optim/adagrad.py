"""Adagrad (torch.optim.Adagrad formulas): per-element step sizes shrinking with the sum of
squared gradients.

    g = grad (+ weight_decay * p)                (-grad when maximize)
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g^2                                  (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
"""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonneg


class Adagrad(Optimizer):
    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False):
        for name, value in (("learning rate", lr), ("lr_decay value", lr_decay),
                            ("weight_decay value", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value),
                            ("epsilon value", eps)):
            check_nonneg("Adagrad", name, value)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            for data, state, g in self._counted_updates(group):
                xp = get_array_module(data)
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                s = self._buffer(state, "sum", data, group["initial_accumulator_value"])
                s += g * g
                data -= clr * (g / (xp.sqrt(s) + eps))
        return loss
