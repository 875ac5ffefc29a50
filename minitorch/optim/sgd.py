"""SGD with momentum (heavy-ball or Nesterov), dampening and L2 weight decay (torch.optim.SGD).

    g = grad (+ weight_decay * p)                  (-grad when maximize)
    b = g                        on the first step
    b = momentum * b + (1 - dampening) * g         afterwards
    g = g + momentum * b  (nesterov)   or   g = b
    p = p - lr * g
"""
from __future__ import annotations

from .common import effective_grad
from .optimizer import Optimizer, check_nonneg


class SGD(Optimizer):
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        check_nonneg("SGD", "learning rate", lr)
        check_nonneg("SGD", "momentum value", momentum)
        check_nonneg("SGD", "weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening, "
                             f"got momentum={momentum}, dampening={dampening}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            nesterov = group["nesterov"]
            for p, data, grad in self._params_with_grad(group):
                g = effective_grad(group, data, grad)
                if momentum != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        self._buffer(state, "momentum_buffer", data)[...] = g
                        buf = state["momentum_buffer"].data
                    else:
                        buf = state["momentum_buffer"].data
                        buf *= momentum
                        buf += (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                data -= lr * g
        return loss
