"""einsum: Einstein summation, ``einsum("bij,bjk->bik", a, b)``, differentiable in every operand.

Forward: the equation is normalised (``...`` expanded into letters, the implicit output made
explicit), every operand is broadcast to the common size of each letter, and ``xp.einsum``
runs with a contraction order chosen by ``optimize``.

Backward, for operand i with subscripts s_i: every element of operand i multiplies, in each
output element, the product of the other operands' matching elements, so

    grad_i = einsum(out, s_1, .., (skip s_i), .., s_n -> s_i)(grad_out, others...)

with three details: a letter only operand i has (summed away by itself, ``"ij->i"``) gets the
gradient broadcast along it; a repeated letter (a diagonal, ``"ii->i"``) gets the gradient
written onto that diagonal of zeros; a dim that was broadcast from size 1 is summed back.
"""
from __future__ import annotations

import string

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import require_tensor


# --------------------------------------------------------------------------- parsing
def _parse(equation: str, shapes: list) -> tuple[list[str], str]:
    """(input subscripts, output subscripts), with ``...`` replaced by letters unused in the
    equation and the implicit output (letters seen once, sorted) made explicit."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(ins)} operands, but "
                         f"{len(shapes)} were given")
    for part in ins + [out]:
        bad = set(part.replace("...", "")) - set(string.ascii_letters)
        if bad or part.count("...") > 1 or "." in part.replace("...", ""):
            raise ValueError(f"einsum: invalid subscripts {part!r} in {equation!r} (letters "
                             "a-zA-Z and at most one '...' per operand)")
    spare = [c for c in string.ascii_letters if c not in eq]
    n_ell = 0
    for part, shape in zip(ins, shapes):
        named = len(part.replace("...", ""))
        if "..." in part:
            n_ell = max(n_ell, len(shape) - named)
        if len(shape) < named or ("..." not in part and len(shape) != named):
            raise ValueError(f"einsum: operand of shape {tuple(shape)} does not match its "
                             f"subscripts {part!r} in {equation!r}")
    ell = "".join(spare[:n_ell])
    expanded = []
    for part, shape in zip(ins, shapes):
        k = len(shape) - len(part.replace("...", ""))
        expanded.append(part.replace("...", ell[n_ell - k:] if k else ""))
    if arrow:
        out = out.replace("...", ell)
        for c in out:
            if out.count(c) > 1 or not any(c in p for p in expanded):
                raise ValueError(f"einsum: output subscript {c!r} in {equation!r} appears "
                                 "twice or in no operand")
    else:
        letters = "".join(expanded)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    return expanded, out


def _sizes(equation: str, subs: list[str], shapes: list) -> dict:
    """Each letter's size: equal everywhere, or 1 (broadcast), as PyTorch."""
    sizes: dict = {}
    for part, shape in zip(subs, shapes):
        for c, n in zip(part, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise ValueError(f"einsum: subscript {c!r} has size {n} in one operand and "
                                 f"{sizes[c]} in another ({equation!r}, shapes "
                                 f"{[tuple(s) for s in shapes]})")
    return sizes


# --------------------------------------------------------------------------- the op
def _grad_for(xp, g, out: str, subs: list[str], arrays: list, i: int, sizes: dict, shape):
    """The gradient of operand i (see the module docstring)."""
    s = subs[i]
    unique = "".join(dict.fromkeys(s))
    others = [(subs[j], arrays[j]) for j in range(len(subs)) if j != i]
    present = set(out).union(*[set(p) for p, _ in others])
    target = "".join(c for c in unique if c in present)
    spec = ",".join([out] + [p for p, _ in others]) + "->" + target
    grad = xp.einsum(spec, g, *[a for _, a in others], optimize=bool(others))
    # letters summed by operand i alone: the gradient is the same all along them
    grad = grad.reshape(tuple(sizes[c] if c in present else 1 for c in unique))
    grad = xp.broadcast_to(grad, tuple(sizes[c] for c in unique))
    if len(unique) != len(s):  # a diagonal: write onto it, zeros elsewhere
        full = xp.zeros(tuple(sizes[c] for c in s), dtype=g.dtype)
        where = {c: xp.arange(sizes[c]).reshape((-1,) + (1,) * (len(unique) - k - 1))
                 for k, c in enumerate(unique)}  # broadcasting coordinates of grad's entries
        full[tuple(where[c] for c in s)] = grad
        grad = full
    else:
        grad = xp.ascontiguousarray(grad)
    # dims broadcast from size 1 in the forward: sum back
    summed = tuple(k for k, (n, c) in enumerate(zip(shape, s)) if n == 1 and sizes[c] != 1)
    return grad.sum(axis=summed, keepdims=True) if summed else grad


class Einsum(Function):
    @staticmethod
    def forward(ctx, *arrays, subs, out, sizes):
        xp = get_array_module(*arrays)
        ctx.shapes = [a.shape for a in arrays]
        full = [xp.broadcast_to(a, tuple(sizes[c] for c in s)) for a, s in zip(arrays, subs)]
        ctx.subs, ctx.out, ctx.sizes = subs, out, sizes
        ctx.save_for_backward(*full)
        # optimize: pairwise contractions through BLAS (tensordot) in a good order, instead
        # of one nested loop over every letter
        return xp.einsum(",".join(subs) + "->" + out, *full, optimize=len(arrays) > 1)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        arrays = list(ctx.saved)
        return tuple(_grad_for(xp, g, ctx.out, ctx.subs, arrays, i, ctx.sizes, ctx.shapes[i])
                     if need else None for i, need in enumerate(ctx.needs_input_grad))


def einsum(equation: str, *operands) -> Tensor:
    """``einsum("ij,jk->ik", a, b)``; operands may also be given as one list. ``...`` stands
    for the broadcast dims; without ``->`` the output is the letters used once, sorted."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a str, got {type(equation).__name__}")
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    for t in operands:
        require_tensor("einsum", t)
    dtypes = {t.dtype for t in operands}
    if len(dtypes) > 1:
        raise TypeError(f"einsum: all operands must have the same dtype, got "
                        f"{', '.join(sorted(str(d) for d in dtypes))}")
    shapes = [t.shape for t in operands]
    subs, out = _parse(equation, shapes)
    sizes = _sizes(equation, subs, shapes)
    return Einsum.apply(*operands, subs=subs, out=out, sizes=sizes)
