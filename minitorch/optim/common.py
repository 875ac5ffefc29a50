"""What most optimizers do first for each parameter: count the step, and turn the gradient
into the one the update uses (negated to maximize, plus the L2 term weight_decay * p)."""
from __future__ import annotations


def count_step(state: dict) -> int:
    """Increment and return the parameter's step count (state["step"], as in PyTorch)."""
    state["step"] = state.get("step", 0) + 1
    return state["step"]


def effective_grad(group: dict, data, grad):
    """-grad when the group maximizes, plus weight_decay * data when that is not 0."""
    g = -grad if group["maximize"] else grad
    if group["weight_decay"] != 0:
        g = g + group["weight_decay"] * data
    return g
