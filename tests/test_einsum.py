"""einsum (ops/einsum.py) against PyTorch: forward and every operand's gradient on matmul,
batch, outer, trace/diagonal, reductions, permutations, ellipsis broadcasting and three
operands; strided inputs; float64 gradchecks; the errors. One line per equation."""
import numpy as np
import pytest

import minitorch as mt
from opcheck import check_op, gradcheck_op, needs_torch, torch

CASES = [  # (equation, operand shapes)
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bjk", [(2, 3, 4), (2, 4, 5)]), ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("i,j->ij", [(3,), (4,)]), ("i,i->", [(4,), (4,)]), ("i,i", [(4,), (4,)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->j", [(3, 3, 2)]), ("ij->", [(3, 4)]),
    ("ij->i", [(3, 4)]), ("ij->ji", [(3, 4)]), ("ji", [(3, 4)]), ("ijk->kji", [(2, 3, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("...i->...", [(2, 3, 4)]),
    ("i...->...", [(3, 2, 2)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,ij->ij", [(1, 3), (4, 3)]), ("ij,kj->ik", [(3, 0), (2, 0)]), ("ab,b->a", [(0, 3), (3,)]),
    (" ij , jk -> ik ", [(2, 3), (3, 2)]), ("Aa,aB->AB", [(2, 3), (3, 4)]),
]
IDS = [c[0].replace(" ", "_") for c in CASES]


def strided(shape, seed):
    """A non-contiguous float64 array of ``shape``: every other element of a larger one."""
    x = np.random.default_rng(seed).standard_normal(tuple(shape) + (2,))[..., 0]
    return np.asarray(x)


@needs_torch
@pytest.mark.parametrize("equation, shapes", CASES, ids=IDS)
def test_einsum_matches_torch(equation, shapes):
    check_op(lambda *xs: mt.einsum(equation, *xs), lambda *ts: torch.einsum(equation, *ts),
             *shapes, seed=1)
    check_op(lambda *xs: mt.einsum(equation, list(xs)), lambda *ts: torch.einsum(equation, *ts),
             *[strided(s, 2 + k) for k, s in enumerate(shapes)])


@pytest.mark.parametrize("equation, shapes", [c for c in CASES if 0 not in sum(c[1], ())],
                         ids=[i for i, c in zip(IDS, CASES) if 0 not in sum(c[1], ())])
def test_einsum_gradcheck(equation, shapes):
    gradcheck_op(lambda *xs: mt.einsum(equation, *xs), *shapes, seed=3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: mt.einsum("ij,jk->ik", mt.ones(2, 3)), ValueError,
     "einsum: the equation 'ij,jk->ik' names 2 operands, but 1 were given"),
    (lambda: mt.einsum("ij,jk->ik", mt.ones(2, 3), mt.ones(4, 2)), ValueError,
     "einsum: subscript 'j' has size 4 in one operand and 3 in another"),
    (lambda: mt.einsum("ijk", mt.ones(2, 3)), ValueError,
     r"einsum: operand of shape \(2, 3\) does not match its subscripts 'ijk'"),
    (lambda: mt.einsum("ij->iz", mt.ones(2, 3)), ValueError,
     "einsum: output subscript 'z' in 'ij->iz' appears twice or in no operand"),
    (lambda: mt.einsum("i1->i", mt.ones(2, 3)), ValueError, "einsum: invalid subscripts 'i1'"),
    (lambda: mt.einsum("ij,jk", mt.ones(2, 3), mt.ones(3, 2, dtype=mt.float64)), TypeError,
     "einsum: all operands must have the same dtype, got float32, float64"),
    (lambda: mt.einsum("ij", np.ones((2, 3))), TypeError,
     r"einsum\(\): argument 'input' must be a Tensor, not numpy.ndarray"),
])
def test_einsum_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_einsum_float32_and_integer_dtypes():
    a, b = mt.randn(3, 4), mt.randn(4, 2)
    out = mt.einsum("ij,jk->ik", a, b)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), (a @ b).numpy(), rtol=1e-5, atol=1e-6)
    ints = mt.einsum("i,i->", mt.tensor([1, 2, 3]), mt.tensor([4, 5, 6]))
    assert ints.dtype == np.int64 and ints.item() == 32


@needs_torch
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("equation, shapes", [("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
                                              ("iij->j", [(3, 3, 2)]), ("ij->i", [(3, 4)])])
def test_einsum_on_device(equation, shapes, device):
    check_op(lambda *xs: mt.einsum(equation, *xs), lambda *ts: torch.einsum(equation, *ts),
             *shapes, device=device)
