"""Adam and AdamW (torch.optim.Adam / AdamW formulas).

    g = grad (+ weight_decay * p for Adam's L2 form)      (-grad when maximize)
    m = m + (1 - beta1) * (g - m)          (= beta1 m + (1 - beta1) g)
    v = beta2 v + (1 - beta2) g^2          (amsgrad: v_max = max(v_max, v), used below)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

AdamW decouples the decay from the gradient statistics: p = p * (1 - lr * weight_decay) first,
so the decay is not rescaled by 1/sqrt(v) (Loshchilov & Hutter).
"""
from __future__ import annotations

from ..kernel_table import kernels_for
from .common import count_step
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
        """Every parameter of a group in one call of the kernel table's adam_step (on the GPU:
        one multi-tensor kernel launch for the group, not one per parameter)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            amsgrad = group["amsgrad"]
            batches: dict[int, tuple] = {}      # id(kernel table) -> (table, argument lists)
            for p, data, grad in self._params_with_grad(group):
                state = self.state[p]
                count_step(state)
                K = kernels_for(data)
                _, lists = batches.setdefault(id(K), (K, ([], [], [], [], [], [])))
                for lst, value in zip(lists, (
                        data, grad, self._buffer(state, "exp_avg", data),
                        self._buffer(state, "exp_avg_sq", data),
                        self._buffer(state, "max_exp_avg_sq", data) if amsgrad else None,
                        state["step"])):
                    lst.append(value)
            beta1, beta2 = group["betas"]
            for K, lists in batches.values():
                K.adam_step(*lists, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                            weight_decay=group["weight_decay"], amsgrad=amsgrad,
                            maximize=group["maximize"], decoupled=self._decoupled)
        return loss


class AdamW(Adam):
    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
