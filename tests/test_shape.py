"""Shape ops (minitorch/ops/shape.py) against PyTorch and finite differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minitorch as mt
from minitorch.ops import shape as S
from opcheck import DEVICES, check_op, gradcheck_op, needs_torch, torch

if torch is not None:
    import torch.nn.functional as F


# --------------------------------------------------------------------------- strategies
def _layout(shape, seed, layout):
    """A float64 array of ``shape``: contiguous, transposed (F-order) or strided."""
    rng = np.random.default_rng(seed)
    if layout == "transposed":
        return rng.standard_normal(tuple(shape)[::-1]).T
    if layout == "strided":
        every_other = (slice(None, None, 2),) * len(shape)
        return rng.standard_normal(tuple(2 * n for n in shape))[every_other]
    return rng.standard_normal(shape)


@st.composite
def arrays(draw, min_dims=1, max_dims=4, min_size=1, max_size=4, sizes=None):
    sizes = st.integers(min_size, max_size) if sizes is None else sizes
    shape = tuple(draw(st.lists(sizes, min_size=min_dims, max_size=max_dims)))
    return _layout(shape, draw(st.integers(0, 2**16)),
                   draw(st.sampled_from(["contiguous", "transposed", "strided"])))


def _maybe_negative(draw, d, nd):
    return d - nd if draw(st.booleans()) else d


# --------------------------------------------------------------------------- reshape family
@needs_torch
@given(a=arrays(), data=st.data())
def test_reshape_view_match_torch(a, data):
    sizes = data.draw(st.permutations(list(a.shape)))
    if len(sizes) > 1 and data.draw(st.booleans()):
        sizes = [sizes[0] * sizes[1]] + sizes[2:]  # merge two dims
    if data.draw(st.booleans()):
        sizes[data.draw(st.integers(0, len(sizes) - 1))] = -1
    shape = tuple(sizes)
    check_op(lambda x: mt.reshape(x, shape), lambda x: torch.reshape(x, shape), a)
    check_op(lambda x: x.reshape(*shape), lambda x: x.reshape(*shape), a)
    gradcheck_op(lambda x: mt.reshape(x, shape), a)
    try:  # view needs compatible strides: from_numpy keeps a's layout, as mt.Tensor(a) does
        torch.from_numpy(a).view(shape)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            mt.Tensor(a).view(shape)
    else:
        check_op(lambda x: x.view(shape), lambda x: x.reshape(shape), a)
        v = mt.Tensor(a).view(shape)
        assert a.size == 0 or np.shares_memory(v.data, a)


@needs_torch
@given(a=arrays(), data=st.data())
def test_flatten_matches_torch(a, data):
    nd = a.ndim
    s = data.draw(st.integers(0, nd - 1))
    e = data.draw(st.integers(s, nd - 1))
    s, e = _maybe_negative(data.draw, s, nd), _maybe_negative(data.draw, e, nd)
    check_op(lambda x: mt.flatten(x, s, e), lambda x: torch.flatten(x, s, e), a)
    gradcheck_op(lambda x: x.flatten(s, e), a)


@needs_torch
@given(a=arrays(sizes=st.sampled_from([1, 1, 2, 3])), data=st.data())
def test_squeeze_unsqueeze_match_torch(a, data):
    nd = a.ndim
    kind = data.draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        dim = None
    elif kind == "int":
        dim = _maybe_negative(data.draw, data.draw(st.integers(0, nd - 1)), nd)
    else:
        dim = tuple(_maybe_negative(data.draw, d, nd) for d in
                    data.draw(st.lists(st.integers(0, nd - 1), min_size=1, unique=True)))
    ref = (lambda x: torch.squeeze(x)) if dim is None else (lambda x: torch.squeeze(x, dim))
    check_op(lambda x: mt.squeeze(x, dim), ref, a)
    u = data.draw(st.integers(-nd - 1, nd))
    check_op(lambda x: mt.unsqueeze(x, u), lambda x: torch.unsqueeze(x, u), a)
    gradcheck_op(lambda x: x.squeeze(dim).unsqueeze(0), a)


@needs_torch
def test_flatten_and_reshape_of_scalars_like_torch():
    a = np.array(3.0)
    check_op(lambda x: mt.flatten(x), lambda x: torch.flatten(x), a)
    check_op(lambda x: mt.reshape(x, (1, 1, -1)), lambda x: torch.reshape(x, (1, 1, -1)), a)
    check_op(lambda x: mt.unsqueeze(x, -1), lambda x: torch.unsqueeze(x, -1), a)
    check_op(lambda x: mt.reshape(x, (2, 0, 3)), lambda x: torch.reshape(x, (2, 0, 3)),
             np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"reshape: shape \(2, 0, -1\) is ambiguous"):
        mt.reshape(mt.Tensor(np.zeros((0, 4))), 2, 0, -1)


# --------------------------------------------------------------------------- permute family
@needs_torch
@given(a=arrays(), data=st.data())
def test_permute_transpose_match_torch(a, data):
    nd = a.ndim
    dims = tuple(_maybe_negative(data.draw, d, nd) for d in data.draw(st.permutations(range(nd))))
    check_op(lambda x: mt.permute(x, dims), lambda x: torch.permute(x, dims), a)
    check_op(lambda x: x.permute(*dims), lambda x: x.permute(*dims), a)
    gradcheck_op(lambda x: mt.permute(x, dims), a)
    d0, d1 = (_maybe_negative(data.draw, data.draw(st.integers(0, nd - 1)), nd) for _ in "01")
    check_op(lambda x: mt.transpose(x, d0, d1), lambda x: torch.transpose(x, d0, d1), a)
    check_op(lambda x: x.T, lambda x: x.permute(*reversed(range(nd))), a)


# --------------------------------------------------------------------------- expand, copies
@needs_torch
@given(a=arrays(sizes=st.sampled_from([1, 1, 2, 3]), max_dims=3), data=st.data())
def test_expand_matches_torch(a, data):
    sizes = [data.draw(st.sampled_from([-1, 1, 3] if n == 1 else [-1, n])) for n in a.shape]
    sizes = data.draw(st.lists(st.integers(1, 3), max_size=2)) + sizes  # new leading dims
    check_op(lambda x: x.expand(*sizes), lambda x: x.expand(*sizes), a)
    check_op(lambda x: mt.ops.shape.expand(x, tuple(sizes)), lambda x: x.expand(tuple(sizes)), a)
    gradcheck_op(lambda x: x.expand(sizes), a)


def test_contiguous_and_clone():
    a = _layout((3, 4), 0, "transposed")
    x = mt.Tensor(a, requires_grad=True)
    c = x.contiguous()
    assert c.data.flags.c_contiguous and not x.data.flags.c_contiguous
    np.testing.assert_array_equal(c.data, a)
    assert c.contiguous() is c  # already contiguous: itself, as PyTorch
    k = mt.clone(x)
    assert not np.shares_memory(k.data, x.data)
    np.testing.assert_array_equal(k.data, a)
    gradcheck_op(lambda t: t.contiguous(), a)
    gradcheck_op(lambda t: t.clone(), a)


# --------------------------------------------------------------------------- indexing
_MASK0 = np.array([True, False, True, True])
_MASK_FULL = np.random.default_rng(1).random((4, 5, 3)) > 0.5
_GETITEM_CASES = [
    1, -1, (1, 2), (-1, -2, 0), slice(1, 3), slice(None, None, 2),
    (slice(None), slice(1, None, 2)), (slice(-3, None), 0, slice(0, 2)),
    None, (None, 1), (Ellipsis, 0), (0, Ellipsis, None), (Ellipsis, None, slice(1, 2)),
    [0, 2, 2], [[0, 1], [3, 3]], np.array([[0, 1], [3, 3]]), np.array(2),
    (np.array([0, 0, 3]), slice(None), np.array([1, 1, 2])),  # separated: advanced dims first
    (slice(None), [4, 0, 4, -1]), (0, [1, 1], slice(None, 2)), ([2, 0], [1, 1], [0, 2]),
    _MASK0, _MASK_FULL, _MASK_FULL[:, :, 0], (_MASK0, slice(1, 3)), (_MASK0, [1, 2, 2]),
    (Ellipsis, np.array([True, False, True])), [],
]


def _torch_index(index):
    # Non-empty lists become tensors: PyTorch still reads a nested list as a tuple (deprecated);
    # minitorch follows NumPy and PyTorch's announced rule, a list is an index array.
    items = index if isinstance(index, tuple) else (index,)
    out = tuple(torch.tensor(i) if isinstance(i, np.ndarray) or isinstance(i, list) and i else i
                for i in items)
    return out if isinstance(index, tuple) else out[0]


def _mt_index(index):
    items = index if isinstance(index, tuple) else (index,)
    out = tuple(mt.Tensor(i) if isinstance(i, np.ndarray) else i for i in items)
    return out if isinstance(index, tuple) else out[0]


@needs_torch
@pytest.mark.parametrize("index", _GETITEM_CASES, ids=repr)
def test_getitem_matches_torch(index):
    # Indices as NumPy arrays / lists, and as minitorch Tensors (int and bool).
    check_op(lambda x: x[index], lambda t: t[_torch_index(index)], (4, 5, 3))
    check_op(lambda x: S.getitem(x, _mt_index(index)), lambda t: t[_torch_index(index)], (4, 5, 3))
    gradcheck_op(lambda x: x[index], (4, 5, 3))


@pytest.mark.parametrize("index", [slice(None, None, -1), (slice(3, 0, -2), Ellipsis,
                                                           slice(None, None, -1)),
                                   (np.array([2, 2]), slice(None, None, -2))], ids=repr)
def test_getitem_negative_steps_match_numpy(index):
    # PyTorch has no negative slice steps; NumPy is the reference for the forward.
    a = np.random.default_rng(0).standard_normal((4, 5, 3))
    np.testing.assert_array_equal(mt.Tensor(a)[index].numpy(), a[index])
    gradcheck_op(lambda x: x[index], a)


@needs_torch
@given(a=arrays(max_dims=3, max_size=5), data=st.data())
def test_getitem_duplicated_advanced_indices_accumulate(a, data):
    axis = data.draw(st.integers(0, a.ndim - 1))
    n = a.shape[axis]
    picks = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
    index = (slice(None),) * axis + (picks,)
    check_op(lambda x: x[index], lambda t: t[index], a)
    gradcheck_op(lambda x: x[index], a)
    # Each element's grad counts how often it was picked (upstream ones).
    x = mt.Tensor(a, requires_grad=True)
    x[index].sum().backward()
    counts = np.bincount(np.array(picks) % n, minlength=n).astype(float)
    expect = np.broadcast_to(counts.reshape((-1,) + (1,) * (a.ndim - axis - 1)), a.shape)
    np.testing.assert_array_equal(x.grad.numpy(), expect)


@needs_torch
@given(a=arrays(max_dims=3), data=st.data())
def test_getitem_bool_masks_match_torch(a, data):
    k = data.draw(st.integers(1, a.ndim))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=int(np.prod(a.shape[:k])),
                                       max_size=int(np.prod(a.shape[:k]))))).reshape(a.shape[:k])
    check_op(lambda x: x[mt.Tensor(mask)], lambda t: t[torch.tensor(mask)], a)
    gradcheck_op(lambda x: x[mask], a)


@needs_torch
def test_int_and_index_tensor_separated_by_slices_follow_torch_axis_placement():
    # Issue 13: PyTorch applies ints first (select), so x[1, :, s, idx, 0:2] has idx's dim in
    # place (6, 4, 3, 2); NumPy, counting the int as an advanced index, puts it first.
    a = np.random.default_rng(0).standard_normal((5, 6, 20, 7, 8))
    idx = np.array([0, 2, 1])
    index = (1, slice(None), slice(3, 11, 2), idx, slice(0, 2))
    assert mt.Tensor(a)[index].shape == (6, 4, 3, 2)
    t_index = (1, slice(None), slice(3, 11, 2), torch.tensor(idx), slice(0, 2))
    check_op(lambda x: x[index], lambda t: t[t_index], a)
    check_op(lambda x: x[(mt.tensor(1),) + index[1:]], lambda t: t[t_index], a)  # 0-d = int


@st.composite
def _index_expressions(draw):
    """A random shape and a PyTorch index for it: ints (also 0-d tensors), slices with positive
    steps, None, one Ellipsis, bool scalars, integer index tensors (repeats, negatives, 0..2
    dims, broadcasting) and bool masks, in any order and any number."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=5)))
    kinds = draw(st.lists(st.sampled_from(["int", "int0d", "slice", "none", "ellipsis", "bool",
                                           "ints", "mask"]), min_size=1, max_size=6))
    items, dim, seen_ellipsis = [], 0, False
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arr_shape = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    for kind in kinds:
        left = len(shape) - dim
        if kind == "ellipsis" and not seen_ellipsis:
            seen_ellipsis = True
            skip = draw(st.integers(0, left))  # dims the ellipsis will cover (consumed later)
            items.append(Ellipsis)
            dim += skip
        elif kind == "none":
            items.append(None)
        elif kind == "bool":
            items.append(draw(st.booleans()))
        elif left == 0 or kind == "ellipsis":
            continue
        elif kind in ("int", "int0d"):
            n = shape[dim]
            i = draw(st.integers(-n, n - 1))
            items.append(i if kind == "int" else ("int0d", i))
            dim += 1
        elif kind == "slice":
            n = shape[dim]
            start = draw(st.none() | st.integers(-n - 1, n + 1))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            items.append(slice(start, stop, draw(st.none() | st.integers(1, 3))))
            dim += 1
        elif kind == "ints":
            n = shape[dim]
            items.append(rng.integers(-n, n, size=arr_shape))
            dim += 1
        else:  # a bool mask over the next 1 or 2 dims
            k = draw(st.integers(1, min(2, left)))
            items.append(rng.random(shape[dim:dim + k]) > 0.4)
            dim += k
    if seen_ellipsis and dim > len(shape):
        items.remove(Ellipsis)
    return shape, tuple(items)


def _as_index(items, lib):
    out = []
    for it in items:
        if isinstance(it, tuple):  # ("int0d", i)
            out.append(lib.tensor(it[1]))
        elif isinstance(it, np.ndarray):
            out.append(lib.tensor(it))
        else:
            out.append(it)
    return tuple(out)


@needs_torch
@given(case=_index_expressions())
def test_random_index_expressions_match_torch(case):
    shape, items = case
    a = np.random.default_rng(1).standard_normal(shape)
    try:
        ref = torch.from_numpy(a)[_as_index(items, torch)]
    except (IndexError, RuntimeError) as exc:  # e.g. a mask that selects past the dims left
        with pytest.raises((IndexError, RuntimeError)):
            mt.Tensor(a)[_as_index(items, mt)]
        return
    assert mt.Tensor(a)[_as_index(items, mt)].shape == tuple(ref.shape)
    check_op(lambda x: x[_as_index(items, mt)], lambda t: t[_as_index(items, torch)], a)

    def write(lib, x):  # setitem with the same index on a non-leaf; a scalar: repeats agree
        y = x * 1
        y[_as_index(items, lib)] = 2.5
        return y * x
    check_op(lambda x: write(mt, x), lambda t: write(torch, t), a)


def test_basic_indexing_is_a_view_advanced_is_a_copy():
    x = mt.Tensor(np.arange(12.0).reshape(3, 4))
    assert np.shares_memory(x[1:, ::2].data, x.data)
    assert np.shares_memory(x[0].data, x.data)
    assert x[0, 0].shape == () and isinstance(x[0, 0].data, np.ndarray)
    assert not np.shares_memory(x[[0, 1]].data, x.data)


def test_getitem_errors_name_shape():
    x = mt.Tensor(np.ones((3, 4)))
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds.*shape \(3, 4\)"):
        x[5]
    with pytest.raises(IndexError, match=r"getitem: .*out of bounds.*shape \(3, 4\)"):
        x[:, [0, 4]]
    with pytest.raises(IndexError, match=r"getitem: .*too many indices.*shape \(3, 4\)"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"getitem: .*boolean.*shape \(3, 4\).*bool array of "
                       r"shape \(4,\)"):
        x[np.array([True, False, True, True])]
    with pytest.raises(TypeError, match=r"getitem: invalid index float for a tensor of shape"):
        x[1.5]
    with pytest.raises(TypeError, match=r"getitem: invalid index float64"):
        x[mt.Tensor(np.array([0.0, 1.0]))]


# --------------------------------------------------------------------------- cat, stack
@needs_torch
@given(a=arrays(max_dims=3), data=st.data())
def test_cat_stack_match_torch(a, data):
    nd = a.ndim
    k = data.draw(st.integers(1, 3))
    axis = data.draw(st.integers(0, nd - 1))
    dim = _maybe_negative(data.draw, axis, nd)
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    pieces = [a] + [rng.standard_normal(a.shape[:axis] + (data.draw(st.integers(0, 3)),)
                                        + a.shape[axis + 1:]) for _ in range(k - 1)]
    check_op(lambda *xs: mt.cat(list(xs), dim), lambda *ts: torch.cat(ts, dim), *pieces)
    gradcheck_op(lambda *xs: mt.cat(xs, dim), *pieces)
    same = [a] + [rng.standard_normal(a.shape) for _ in range(k - 1)]
    sdim = _maybe_negative(data.draw, data.draw(st.integers(0, nd)), nd + 1)
    check_op(lambda *xs: mt.stack(xs, sdim), lambda *ts: torch.stack(ts, sdim), *same)
    gradcheck_op(lambda *xs: mt.stack(list(xs), sdim), *same)


def test_cat_stack_errors():
    a, b = mt.Tensor(np.ones((2, 3))), mt.Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\) but tensor 0 has "
                       r"shape \(2, 3\): sizes must match except in dim 0"):
        mt.cat([a, b])
    with pytest.raises(ValueError, match=r"stack: .*same shape.*\(2, 3\).*\(2, 4\)"):
        mt.stack([a, b])
    with pytest.raises(TypeError, match=r"cat: all tensors must have the same dtype, got tensor "
                       r"0 float64 and tensor 1 float32"):
        mt.cat([a, mt.Tensor(np.ones((2, 3), np.float32))])
    with pytest.raises(TypeError, match="stack: expected a non-empty list or tuple of Tensors"):
        mt.stack([])
    with pytest.raises(TypeError, match="cat: expected a sequence of Tensors, but item 1 is a "
                       "ndarray"):
        mt.cat([a, np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"cat: tensor 0 is 0-d"):
        mt.cat([mt.Tensor(1.0), mt.Tensor(2.0)])
    with pytest.raises(IndexError, match=r"cat: dim 2 is out of range.*\(2, 3\)"):
        mt.cat([a, a], 2)
    with pytest.raises(IndexError, match=r"stack: dim 3 is out of range.*valid dims are -3..2"):
        mt.stack([a, a], 3)


# --------------------------------------------------------------------------- split, chunk
@needs_torch
@given(a=arrays(max_dims=3, max_size=6), data=st.data())
def test_split_chunk_match_torch(a, data):
    axis = data.draw(st.integers(0, a.ndim - 1))
    dim = _maybe_negative(data.draw, axis, a.ndim)
    n = a.shape[axis]
    if data.draw(st.booleans()):
        how = data.draw(st.integers(1, n + 1))
    else:
        cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
        how = [hi - lo for lo, hi in zip([0] + cuts, cuts + [n])]
    chunks = data.draw(st.integers(1, n + 2))
    for mine, ref in [(mt.split(mt.Tensor(a), how, dim), torch.split(torch.tensor(a), how, dim)),
                      (mt.chunk(mt.Tensor(a), chunks, dim), torch.chunk(torch.tensor(a), chunks,
                                                                        dim))]:
        assert isinstance(mine, tuple) and len(mine) == len(ref)
        for p, r in zip(mine, ref):
            np.testing.assert_array_equal(p.numpy(), r.numpy())
    gradcheck_op(lambda x: mt.split(x, how, dim), a)  # all pieces' grads add up in x.grad
    gradcheck_op(lambda x: mt.chunk(x, chunks, dim), a)
    weights = [float(i + 1) for i in range(len(mt.split(mt.Tensor(a), how, dim)))]
    check_op(lambda x: mt.cat([p * w for p, w in zip(mt.split(x, how, dim), weights)], dim),
             lambda x: torch.cat([p * w for p, w in zip(torch.split(x, how, dim), weights)], dim),
             a)


@needs_torch
def test_split_chunk_empty_dim_like_torch():
    a = np.zeros((0, 2))
    assert len(mt.chunk(mt.Tensor(a), 3)) == len(torch.chunk(torch.tensor(a), 3))
    assert len(mt.split(mt.Tensor(a), 2)) == len(torch.split(torch.tensor(a), 2))


def test_split_chunk_errors():
    x = mt.Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"split: sections \[2, 2\] must be non-negative and sum "
                       r"to the size 5 of dim 0 \(tensor of shape \(5, 2\)\)"):
        mt.split(x, [2, 2])
    with pytest.raises(ValueError, match=r"split: split_size must be positive, got 0"):
        mt.split(x, 0)
    with pytest.raises(ValueError, match=r"chunk: chunks must be positive, got 0"):
        mt.chunk(x, 0)
    with pytest.raises(IndexError, match=r"split: dim 2 is out of range"):
        mt.split(x, 1, 2)


# --------------------------------------------------------------------------- pad
@needs_torch
@given(a=arrays(max_dims=3), data=st.data())
def test_pad_constant_matches_torch(a, data):
    k = data.draw(st.integers(1, a.ndim))
    pads = []
    for axis in range(a.ndim - 1, a.ndim - 1 - k, -1):  # pairs start from the last dim
        lo = data.draw(st.integers(-a.shape[axis], 2))
        hi = data.draw(st.integers(-(a.shape[axis] + lo if lo < 0 else a.shape[axis]), 2))
        pads += [lo, hi]
    value = data.draw(st.sampled_from([0.0, -1.5]))
    check_op(lambda x: S.pad(x, pads, value=value), lambda t: F.pad(t, pads, value=value), a)
    gradcheck_op(lambda x: S.pad(x, tuple(pads), "constant", value), a)


@needs_torch
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pads", [((2, 3, 5), (2, 4)), ((2, 3, 5), (0, 1)),
                                         ((1, 2, 4, 5), (1, 3, 2, 0)),
                                         ((1, 2, 3, 4, 5), (1, 2, 0, 1, 2, 2))])
def test_pad_gather_modes_match_torch(mode, shape, pads):
    check_op(lambda x: S.pad(x, pads, mode), lambda t: F.pad(t, pads, mode=mode), shape)
    gradcheck_op(lambda x: S.pad(x, pads, mode), shape)


@needs_torch
def test_pad_noncontiguous_and_float32():
    a = _layout((2, 3, 4, 5), 0, "transposed")
    check_op(lambda x: S.pad(x, (1, 2, 3, 0), "reflect"),
             lambda t: F.pad(t, (1, 2, 3, 0), mode="reflect"), a)
    out = S.pad(mt.Tensor(a.astype(np.float32)), (1, 1), value=2.0)
    assert out.dtype == np.float32 and out.shape == (2, 3, 4, 7)


def test_pad_errors():
    x = mt.Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"pad: pad \(1, 1, 1\) must have an even length of at "
                       r"most 2 \* ndim \(4 for a tensor of shape \(2, 3\)\)"):
        S.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: pad \(1, 1, 1, 1, 1, 1\) must have an even length"):
        S.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: unknown mode 'mirror'"):
        S.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) of dim 1 \(size 3, "
                       r"tensor shape \(2, 3\)\) must be non-negative and at most 2"):
        S.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: replicate padding \(-1, 0\)"):
        S.pad(x, (-1, 0), mode="replicate")
    with pytest.raises(ValueError, match=r"pad: negative pads \(-2, -2\) crop more than the "
                       r"size 3"):
        S.pad(x, (-2, -2))


# --------------------------------------------------------------------------- shape errors
def test_reshape_family_errors():
    x = mt.Tensor(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"reshape: shape \(5, 3\) is invalid for input of shape "
                       r"\(3, 4\) \(12 elements\); the new shape has 15 elements"):
        x.reshape(5, 3)
    with pytest.raises(ValueError, match=r"view: shape \(5, -1\) is invalid for input of shape "
                       r"\(3, 4\) \(12 elements\): 12 is not a multiple of 5"):
        x.view(5, -1)
    with pytest.raises(ValueError, match=r"reshape: only one dim can be -1, got shape \(-1, -1\)"):
        x.reshape((-1, -1))
    with pytest.raises(TypeError, match=r"reshape: sizes must be ints"):
        x.reshape(3.0, 4)
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0\) are not a permutation of the 2 "
                       r"dims of a tensor of shape \(3, 4\)"):
        x.permute(0, -2)
    with pytest.raises(IndexError, match=r"transpose: dim 2 is out of range for a tensor of 2 "
                       r"dims"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match=r"expand: the expanded size 5 must match the existing "
                       r"size 4 at non-singleton dim 1 \(tensor shape \(3, 4\)"):
        x.expand(3, 5)
    with pytest.raises(ValueError, match=r"expand: the number of sizes \(1\) must be at least"):
        x.expand(4)
    with pytest.raises(ValueError, match=r"flatten: start_dim 1 must not come after end_dim 0"):
        x.flatten(1, 0)
    with pytest.raises(IndexError, match=r"unsqueeze: dim 3 is out of range.*valid dims are -3..2"):
        x.unsqueeze(3)
    with pytest.raises(IndexError, match=r"squeeze: dim -3 is out of range"):
        x.squeeze((0, -3))


# --------------------------------------------------------------------------- devices
def test_to_device_same_device_is_identity():
    x = mt.Tensor(np.ones(3), requires_grad=True)
    assert S.to_device(x, "cpu") is x and x.to("cpu") is x
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        S.to_device(x, "tpu")


@pytest.mark.cuda
def test_to_device_round_trip_carries_gradients():
    a = np.random.default_rng(0).standard_normal((3, 4))
    x = mt.Tensor(a, requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda" and y.requires_grad
    z = (y * 2).cpu()
    z.backward(np.ones((3, 4)))
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, mt_fn, torch_fn", [
    ("reshape", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1)),
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1)),
    ("expand", lambda x: x[:, :1].expand(2, 3, 4, 5), lambda x: x[:, :1].expand(2, 3, 4, 5)),
    ("getitem", lambda x: x[[0, 0, 2], 1:, None], lambda x: x[[0, 0, 2], 1:, None]),
    ("mask", lambda x: x[x > 0], lambda x: x[x > 0]),
    ("cat", lambda x: mt.cat([x, x[:, :2]], 1), lambda x: torch.cat([x, x[:, :2]], 1)),
    ("stack", lambda x: mt.stack([x, x * 2], -1), lambda x: torch.stack([x, x * 2], -1)),
    ("chunk", lambda x: mt.chunk(x, 2, 2)[1], lambda x: torch.chunk(x, 2, 2)[1]),
    ("pad", lambda x: S.pad(x, (1, 2)), lambda x: F.pad(x, (1, 2))),
    ("reflect", lambda x: S.pad(x, (1, 2), "reflect"), lambda x: F.pad(x, (1, 2), mode="reflect")),
])
def test_shape_ops_on_device(device, name, mt_fn, torch_fn):
    check_op(mt_fn, torch_fn, (3, 4, 5), device=device)
