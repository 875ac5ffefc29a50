"""The Adam/AdamW step in array code (NumPy or CuPy): the CPU tables' ``adam_step``, and the
CUDA table's path for what its fused kernel does not take (amsgrad, maximize, float16).

Lists in, updated in place; the formulas are in minitorch/optim/adam.py.
"""
from __future__ import annotations

import math

from ..backend import get_array_module


def adam_step_xp(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                 beta2, eps, weight_decay, amsgrad, maximize, decoupled) -> None:
    """One Adam (decoupled=False) or AdamW step of every tensor, one tensor at a time.
    ``max_exp_avg_sqs`` holds None entries unless amsgrad."""
    for data, grad, m, v, v_max, t in zip(params, grads, exp_avgs, exp_avg_sqs,
                                          max_exp_avg_sqs, steps):
        xp = get_array_module(data)
        g = -grad if maximize else grad
        if weight_decay != 0:
            if decoupled:
                data *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * data
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        if amsgrad:
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = lr / (1 - beta1 ** t)
        denom = xp.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
        data -= step_size * (m / denom)
