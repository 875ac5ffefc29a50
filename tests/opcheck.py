"""One-line op checks: minitorch vs PyTorch (forward and every input grad), and gradcheck.

    check_op(lambda x, y: x * y, lambda x, y: x * y, (3, 4), (4,))

builds float64 random inputs of the given shapes (or takes arrays), runs both functions, and
compares the outputs and the gradients for a random upstream gradient. Without PyTorch the test
is skipped with that reason; ``gradcheck_op`` needs no reference at all.
"""
from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt

try:
    import torch
except ImportError:  # the `test` extra installs it; the suite must still run without it
    torch = None

# Parametrize device-aware tests over these: `@pytest.mark.parametrize("device", DEVICES)`;
# the cuda case carries the `cuda` mark and skips cleanly without a GPU (see conftest.py).
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not importable: reference "
                                 "comparison skipped (pip install minitorch[test])")


def make_inputs(specs, seed=0, positive=False):
    """Shapes -> float64 arrays (N(0,1), or U(0.5, 2) when positive); arrays pass through."""
    rng = np.random.default_rng(seed)
    out = []
    for s in specs:
        if isinstance(s, np.ndarray):
            out.append(s)
        elif positive:
            out.append(rng.uniform(0.5, 2.0, size=s))
        else:
            out.append(rng.standard_normal(s))
    return out


def check_op(mt_fn, torch_fn, *specs, seed=0, positive=False, atol=1e-7, rtol=1e-6,
             device="cpu", grad=True):
    """Compare mt_fn and torch_fn on the same float64 inputs: output, then each input grad."""
    if torch is None:
        pytest.skip("PyTorch not importable: reference comparison skipped")
    arrays = make_inputs(specs, seed, positive)
    floating = [a.dtype.kind == "f" for a in arrays]
    xs = [mt.Tensor(a, requires_grad=grad and f, device=device) for a, f in zip(arrays, floating)]
    ts = [torch.tensor(a, requires_grad=grad and f) for a, f in zip(arrays, floating)]
    out, ref = mt_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(mt.backend.to_numpy(out.data), ref.detach().numpy(),
                               atol=atol, rtol=rtol, err_msg="forward differs from PyTorch")
    if not grad or not out.requires_grad:
        return
    up = np.random.default_rng(seed + 1).standard_normal(ref.shape)
    out.backward(up)
    ref.backward(torch.tensor(up))
    for k, (x, t) in enumerate(zip(xs, ts)):
        if t.grad is None and x.grad is None:
            continue
        assert x.grad is not None, f"input {k}: PyTorch has a grad, minitorch has none"
        expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        np.testing.assert_allclose(mt.backend.to_numpy(x.grad.data), expected, atol=atol,
                                   rtol=rtol, err_msg=f"grad of input {k} differs from PyTorch")


def gradcheck_op(fn, *specs, seed=0, positive=False, **kw):
    """Finite-difference check of fn on float64 inputs built from specs."""
    xs = [mt.Tensor(a, requires_grad=True) for a in make_inputs(specs, seed, positive)]
    assert mt.gradcheck(fn, xs, **kw)
