"""Finite-difference gradient checks: is an op's backward the derivative of its forward?

For inputs x and a random upstream gradient u (never all-ones: d/dx sum(softmax(x)) = 0 would
hide any bug), the analytic side is what ``backward(u)`` puts in ``x.grad``; the numeric side is
the central difference of L(x) = sum(f(x) * u):

    dL/dx[i] ~= (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

which is exact up to O(eps^2). In float64 with eps = 1e-6 the two agree to ~1e-8 for a correct
backward; a wrong one is off by O(1).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .autograd import no_grad
from .backend import array_module, to_numpy
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree (or the check could not be run)."""


def _outputs(result) -> list[Tensor]:
    items = result if isinstance(result, (tuple, list)) else [result]
    return [t for t in items if isinstance(t, Tensor) and t.dtype.kind == "f"]


def gradcheck(fn: Callable, inputs: Tensor | Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradients for every input Tensor that requires grad.

    ``inputs`` are passed to ``fn`` positionally (non-Tensor items pass through unchanged).
    Every checked input must be float64: float32 central differences are too noisy to catch
    a wrong backward. On failure the error names the input, the worst element and both values.
    """
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise GradcheckError("gradcheck: no input requires grad, nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise GradcheckError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use "
                                 "float64 (float32 differences are too noisy to be a check)")
    rng = np.random.default_rng(seed)
    outs = _outputs(fn(*inputs))
    if not outs:
        raise GradcheckError("gradcheck: fn returned no floating-point Tensor")
    ups = [rng.standard_normal(o.shape) for o in outs]

    # Analytic: one backward with upstream u.
    for i in checked:
        inputs[i].grad = None
    for o, u in zip(outs, ups):
        if o.requires_grad:  # grads of several outputs accumulate in the inputs' .grad
            o.backward(array_module(o.device).asarray(u, dtype=o.dtype), retain_graph=True)
    analytic = {i: (to_numpy(inputs[i].grad.data) if inputs[i].grad is not None
                    else np.zeros(inputs[i].shape)) for i in checked}

    def loss() -> float:
        with no_grad():
            return float(sum((to_numpy(o.data) * u).sum() for o, u in zip(_outputs(fn(*inputs)), ups)))

    for i in checked:
        x = inputs[i].data
        numeric = np.zeros(x.shape)
        for idx in np.ndindex(*x.shape):
            orig = x[idx].item()
            x[idx] = orig + eps
            plus = loss()
            x[idx] = orig - eps
            minus = loss()
            x[idx] = orig
            numeric[idx] = (plus - minus) / (2 * eps)
        err = np.abs(analytic[i] - numeric)
        bound = atol + rtol * np.abs(numeric)
        if (err > bound).any() or not np.isfinite(analytic[i]).all():
            worst = np.unravel_index(np.argmax(np.where(np.isfinite(err), err - bound, np.inf)),
                                     err.shape) if err.size else ()
            message = (f"gradcheck: input {i} (shape {tuple(x.shape)}): analytic and numeric "
                       f"gradients differ; worst element {tuple(int(k) for k in worst)}: analytic "
                       f"{analytic[i][worst]:.8g}, numeric {numeric[worst]:.8g}, |diff| "
                       f"{err[worst]:.3g} > atol {atol} + rtol {rtol} * |numeric|")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
