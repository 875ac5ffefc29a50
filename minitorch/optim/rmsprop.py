"""RMSprop (torch.optim.RMSprop formulas).

    g = grad (+ weight_decay * p)                       (-grad when maximize)
    v = alpha v + (1 - alpha) g^2
    centered:  a = a + (1 - alpha) (g - a);  denom = sqrt(v - a^2) + eps
    else:      denom = sqrt(v) + eps
    momentum:  b = momentum b + g / denom;  p = p - lr b
    else:      p = p - lr g / denom
"""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonneg


class RMSprop(Optimizer):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        for name, value in (("learning rate", lr), ("epsilon value", eps),
                            ("momentum value", momentum), ("weight_decay value", weight_decay),
                            ("alpha value", alpha)):
            check_nonneg("RMSprop", name, value)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            momentum, centered = group["momentum"], group["centered"]
            for data, state, g in self._counted_updates(group):
                xp = get_array_module(data)
                v = self._buffer(state, "square_avg", data)
                v *= alpha
                v += (1 - alpha) * g * g
                if centered:
                    a = self._buffer(state, "grad_avg", data)
                    a += (1 - alpha) * (g - a)
                    denom = xp.sqrt(v - a * a) + eps
                else:
                    denom = xp.sqrt(v) + eps
                if momentum > 0:
                    buf = self._buffer(state, "momentum_buffer", data)
                    buf *= momentum
                    buf += g / denom
                    data -= lr * buf
                else:
                    data -= lr * (g / denom)
        return loss
