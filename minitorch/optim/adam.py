"""Adam and AdamW (torch.optim.Adam / AdamW formulas).

    g = grad (+ weight_decay * p for Adam's L2 form)      (-grad when maximize)
    m = m + (1 - beta1) * (g - m)          (= beta1 m + (1 - beta1) g)
    v = beta2 v + (1 - beta2) g^2          (amsgrad: v_max = max(v_max, v), used below)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

AdamW decouples the decay from the gradient statistics: p = p * (1 - lr * weight_decay) first,
so the decay is not rescaled by 1/sqrt(v) (Loshchilov & Hutter).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_array_module
from .optimizer import Optimizer, check_betas, check_nonneg


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False):
        name = type(self).__name__
        check_nonneg(name, "learning rate", lr)
        check_nonneg(name, "epsilon value", eps)
        check_betas(name, betas)
        check_nonneg(name, "weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
            for p, data, grad in self._params_with_grad(group):
                xp = get_array_module(data)
                state = self.state[p]
                g = -grad if maximize else grad
                state["step"] = t = state.get("step", 0) + 1
                if xp is not np and not (amsgrad or maximize) and data.flags.c_contiguous:
                    # CuPy: the whole update below in one kernel (minitorch/cuda/fused.py)
                    from ..cuda import fused
                    fused.adam_update(data, grad, self._buffer(state, "exp_avg", data),
                                      self._buffer(state, "exp_avg_sq", data), lr=lr, step=t,
                                      beta1=beta1, beta2=beta2, eps=eps, weight_decay=wd,
                                      decoupled=self._decoupled)
                    continue
                if wd != 0:
                    if self._decoupled:
                        data *= 1 - lr * wd
                    else:
                        g = g + wd * data
                m = self._buffer(state, "exp_avg", data)
                v = self._buffer(state, "exp_avg_sq", data)
                m += (1 - beta1) * (g - m)
                v *= beta2
                v += (1 - beta2) * g * g
                if amsgrad:
                    v_max = self._buffer(state, "max_exp_avg_sq", data)
                    xp.maximum(v_max, v, out=v_max)
                    v = v_max
                step_size = lr / (1 - beta1 ** t)
                denom = xp.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
                data -= step_size * (m / denom)
        return loss


class AdamW(Adam):
    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
