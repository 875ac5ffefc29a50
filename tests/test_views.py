"""View semantics (issue 9, D3): view, reshape (when possible), flatten, transpose, permute, t,
squeeze, unsqueeze, expand, basic indexing, split/chunk and detach share memory with their
base, with or without requires_grad; in-place writes through a view are seen by the base and
vice versa; with grad tracked, gradients match PyTorch (the base's grad_fn is rebased, stale
views are regenerated); what PyTorch refuses is refused with its message."""
import numpy as np
import pytest

import minitorch as mt
from opcheck import needs_torch, torch

VIEWS = {
    "view": lambda t: t.view(3, 4),
    "reshape": lambda t: t.reshape(4, 3),
    "flatten": lambda t: t.flatten(),
    "transpose": lambda t: t.transpose(0, 1),
    "permute": lambda t: t.permute(1, 0),
    "t": lambda t: t.t(),
    "T": lambda t: t.T,
    "unsqueeze": lambda t: t.unsqueeze(1),
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0),
    "getitem slices": lambda t: t[1:, ::2],
    "getitem int": lambda t: t[1],
    "getitem ellipsis none": lambda t: t[..., None, 1:3],
    # PyTorch refuses in-place writes to split's outputs when grad is tracked; minitorch's are
    # plain slices, compared with PyTorch's slicing.
    "split": lambda t: mt.split(t, 1, dim=0)[1] if isinstance(t, mt.Tensor) else t[1:2],
    "chunk": lambda t: mt.chunk(t, 2, dim=1)[1] if isinstance(t, mt.Tensor) else t[:, 3:],
    "view of a view": lambda t: t.view(12)[2:10].view(2, 4)[:, 1:],
}


def _writes(lib, view_fn, grad: bool):
    """Write into the base, then through the view; return what both see at each stage and,
    when tracked, the leaf's gradient of sum(base^2) + sum(view^2)."""
    a = lib.tensor(np.arange(12, dtype=np.float64).reshape(2, 6) / 7, requires_grad=grad)
    base = a * 1 if grad else a  # a non-leaf when tracked: in-place ops on it are allowed
    v = view_fn(base)
    stages = []
    base.mul_(2)  # the view sees the base's write
    stages += [base.detach().numpy().copy(), v.detach().numpy().copy()]
    v.add_(100)  # the base sees the view's write
    stages += [base.detach().numpy().copy(), v.detach().numpy().copy()]
    stages.append((base._version, v._version))
    if grad:
        ((base * base).sum() + (v * v).sum()).backward()
        stages.append(a.grad.numpy())
    return stages


@needs_torch
@pytest.mark.parametrize("grad", [False, True], ids=["no grad", "requires_grad"])
@pytest.mark.parametrize("name", VIEWS)
def test_views_share_memory_with_and_without_grad_like_torch(name, grad):
    mine, theirs = _writes(mt, VIEWS[name], grad), _writes(torch, VIEWS[name], grad)
    assert len(mine) == len(theirs)
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(np.asarray(m, dtype=float), np.asarray(t, dtype=float),
                                   rtol=1e-12)


def _rebase_case(lib, case):
    a = lib.tensor(np.array([0.5, -1.0, 2.0, 0.25, -0.75, 1.5]), requires_grad=True)
    w = lib.tensor(np.array([1.5, 0.5, -2.0]), requires_grad=True)
    y = a * 1
    if case == "mul_ through a slice":
        y[1:4].mul_(w)
        out = y * a
    elif case == "setitem through a view chain":
        y.view(2, 3).t()[1] = w[:2] * w[1:]
        out = y * y
    elif case == "stale view after base write":
        v = y[0:3]
        y.mul_(a)  # v's recorded graph is stale; it must be regenerated from y's new one
        out = lib.cat([v * w, y])
    elif case == "write through one view, read another":
        v1, v2 = y[0:4], y[2:6]
        v1.add_(lib.cat([w, w[:1]]))
        out = v2 * v2
    elif case == "buffer filled from graph values":
        y = lib.zeros(6, dtype=lib.float64)
        y[::2] = w
        y[1::2].copy_(a[:3] * w)
        out = y * a
    else:  # "detached view write, then use of the base"
        z = a * 2
        z.detach()[0] = 7.0  # no grad flows through the write; z's values change
        out = z * w.sum()
    up = lib.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape))
    out.backward(up)
    return out.detach().numpy(), a.grad.numpy(), None if w.grad is None else w.grad.numpy()


@needs_torch
@pytest.mark.parametrize("case", ["mul_ through a slice", "setitem through a view chain",
                                  "stale view after base write",
                                  "write through one view, read another",
                                  "buffer filled from graph values",
                                  "detached view write, then use of the base"])
def test_inplace_through_views_in_a_graph_matches_torch(case):
    mine, theirs = _rebase_case(mt, case), _rebase_case(torch, case)
    for m, t in zip(mine, theirs):
        if t is None:
            assert m is None
        else:
            np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-15)


def test_detach_shares_memory_and_version():
    y = mt.randn(3, requires_grad=True) * 2
    d = y.detach()
    d.add_(1)
    assert y._version == 1 and np.array_equal(y.detach().numpy(), d.numpy())


def test_view_of_a_leaf_requiring_grad_refuses_inplace_like_torch():
    w = mt.randn(4, requires_grad=True)
    for write in (lambda: w[1:3].add_(1), lambda: w.view(2, 2).__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is "
                                               "being used in an in-place operation"):
            write()
    with mt.no_grad():
        w[1:3].add_(1)  # allowed without grad (an optimizer's or an init's write)


def test_inplace_on_expanded_tensor_is_refused_like_torch():
    e = mt.ones(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor "
                                           "refers to a single memory location"):
        e.add_(1)
    base = mt.zeros(1, 3)
    e = base.expand(2, 3)
    base.add_(1)  # writing the base is fine; the expanded view sees it
    assert e.tolist() == [[1.0] * 3] * 2


def test_view_refuses_incompatible_strides_reshape_copies():
    x = mt.arange(6.0).view(2, 3).t()
    with pytest.raises(RuntimeError, match=r"view: view size is not compatible with input "
                                           r"tensor's size and stride.*\(3, 2\).*reshape"):
        x.view(6)
    r = x.reshape(6)  # a copy: writes to it don't reach x
    r.add_(1)
    assert x.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]


def test_advanced_indexing_copies():
    x = mt.zeros(4)
    y = x[mt.tensor([0, 1])]
    y.add_(1)
    m = x[x == 0]
    m.add_(1)
    assert x.tolist() == [0.0] * 4 and x._version == 0
