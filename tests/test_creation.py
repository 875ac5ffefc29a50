"""Creation functions (dtype, shape and device rules, as PyTorch) and the random generators
(seeding, reproducibility, JSON-serialisable states)."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minitorch as mt
from opcheck import DEVICES, needs_torch, torch

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


# --------------------------------------------------------------------------- tensor()
@pytest.mark.parametrize("data, dtype", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), ([[1, 2], [3, 4]], np.int64), (3, np.int64),
    ([1, 2.5], np.float32), ([True, False], np.bool_), (np.arange(3, dtype=np.int32), np.int32),
    (np.ones(2), np.float64), (np.float64(2.0), np.float64),
])
def test_tensor_dtype_inference(data, dtype):
    t = mt.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))
    if torch is not None:  # the same rule as PyTorch
        assert str(torch.tensor(data).dtype).split(".")[1] == np.dtype(dtype).name.replace(
            "bool", "bool")


def test_tensor_copies_arrays_and_tensors():
    a = np.zeros(3, dtype=np.float32)
    t = mt.tensor(a)
    a[0] = 5
    assert t.tolist() == [0.0, 0.0, 0.0]
    src = mt.randn(3, requires_grad=True)
    c = mt.tensor(src)
    assert c.data is not src.data and not np.shares_memory(c.data, src.data)
    assert c.is_leaf and not c.requires_grad and c.grad_fn is None
    np.testing.assert_array_equal(c.numpy(), src.detach().numpy())
    d = mt.tensor(src, dtype=mt.float64, requires_grad=True)
    assert d.dtype == np.float64 and d.requires_grad and d.is_leaf


def test_tensor_from_list_of_tensors_and_bad_data():
    assert mt.tensor([mt.tensor(1.0), mt.tensor(2.0)]).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="tensor: could not build an array"):
        mt.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="not numeric"):
        mt.tensor(["a", "b"])


def test_requires_grad_needs_a_float_dtype():
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients, "
                       "got dtype int64"):
        mt.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="got dtype int64"):
        mt.zeros(3, dtype=mt.int64, requires_grad=True)
    with pytest.raises(RuntimeError, match="arange: only floating point"):
        mt.arange(3, requires_grad=True)
    assert mt.tensor([1, 2], dtype=mt.float64, requires_grad=True).requires_grad


# --------------------------------------------------------------------------- filled
@pytest.mark.parametrize("fn, fill", [(mt.zeros, 0), (mt.ones, 1), (mt.empty, None)])
@given(shape=shapes, as_tuple=st.booleans())
def test_filled_shapes_and_default_dtype(fn, fill, shape, as_tuple):
    t = fn(shape) if as_tuple else fn(*shape)
    assert t.shape == shape and t.dtype == np.float32 and t.is_leaf and not t.requires_grad
    if fill is not None:
        assert (t.numpy() == fill).all()


def test_filled_options():
    t = mt.ones(2, 3, dtype=mt.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad and t.device == "cpu"
    assert mt.zeros([2, 2], dtype=mt.int32).dtype == np.int32
    assert mt.zeros(()).shape == () and mt.zeros().shape == ()
    with pytest.raises(ValueError, match=r"zeros: negative dimension in size \(2, -1\)"):
        mt.zeros(2, -1)
    with pytest.raises(TypeError, match="ones: size must be ints"):
        mt.ones(2.5)


@pytest.mark.parametrize("fill, dtype", [(7, np.int64), (2.5, np.float32), (True, np.bool_)])
def test_full_dtype_follows_fill_value(fill, dtype):
    t = mt.full((2, 3), fill)
    assert t.dtype == dtype and t.shape == (2, 3) and (t.numpy() == fill).all()
    if torch is not None:
        assert str(torch.full((2, 3), fill).dtype).split(".")[1] == np.dtype(dtype).name
    assert mt.full((2,), 7, dtype=mt.float64).dtype == np.float64


def test_eye():
    np.testing.assert_array_equal(mt.eye(3).numpy(), np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(mt.eye(2, 4, dtype=mt.int64).numpy(), np.eye(2, 4))
    assert mt.eye(3).dtype == np.float32


@needs_torch
@pytest.mark.parametrize("args", [(5,), (2, 9), (2, 9, 3), (9, 2, -2), (0, 1, 0.1), (1.5,),
                                  (-1.0, 1.0, 0.3), (0, 10, 2.5), (3, 3)])
def test_arange_matches_torch(args):
    t, ref = mt.arange(*args), torch.arange(*args)
    assert t.dtype == np.dtype(str(ref.dtype).split(".")[1])
    np.testing.assert_allclose(t.numpy(), ref.numpy(), rtol=1e-6)


def test_arange_errors():
    with pytest.raises(ValueError, match="step must be nonzero"):
        mt.arange(0, 3, 0)
    with pytest.raises(ValueError, match="wrong side"):
        mt.arange(0, 3, -1)
    assert mt.arange(4, dtype=mt.float64).dtype == np.float64


@needs_torch
@pytest.mark.parametrize("args", [(0, 1, 5), (-2.0, 3.0, 7), (1, 1, 1), (0, 1, 0)])
def test_linspace_matches_torch(args):
    t, ref = mt.linspace(*args), torch.linspace(*args)
    assert t.dtype == np.float32 and t.shape == tuple(ref.shape)
    np.testing.assert_allclose(t.numpy(), ref.numpy(), rtol=1e-6)


def test_like_functions_take_shape_dtype_device():
    x = mt.randn(2, 3, dtype=mt.float64)
    for fn, args in [(mt.zeros_like, ()), (mt.ones_like, ()), (mt.empty_like, ()),
                     (mt.full_like, (4.0,)), (mt.rand_like, ()), (mt.randn_like, ())]:
        t = fn(x, *args)
        assert t.shape == x.shape and t.dtype == np.float64 and t.device == x.device
        assert fn(x, *args, dtype=mt.float32).dtype == np.float32
        assert fn(x, *args, requires_grad=True).requires_grad
    assert (mt.full_like(x, 4.0).numpy() == 4.0).all()
    assert (mt.ones_like(mt.arange(3)).numpy() == 1).all() and mt.ones_like(mt.arange(3)).dtype \
        == np.int64
    with pytest.raises(TypeError, match="rand_like: dtype must be floating point, got int64"):
        mt.rand_like(mt.arange(3))


@pytest.mark.parametrize("device", DEVICES)
def test_creation_on_device(device):
    for t in [mt.zeros(2, device=device), mt.tensor([1.0], device=device),
              mt.arange(3, device=device), mt.randn(2, device=device), mt.eye(2, device=device),
              mt.randint(0, 3, (2,), device=device), mt.randperm(3, device=device)]:
        assert t.device == device
    mt.manual_seed(5)
    on_device = mt.randn(4, device=device).cpu().numpy()
    mt.manual_seed(5)
    np.testing.assert_array_equal(on_device, mt.randn(4).numpy())  # same numbers everywhere


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        mt.zeros(2, device="tpu")


# --------------------------------------------------------------------------- random
@pytest.mark.parametrize("fn", [lambda **kw: mt.rand(3, 4, **kw), lambda **kw: mt.randn(3, 4, **kw),
                                lambda **kw: mt.randint(0, 100, (3, 4), **kw),
                                lambda **kw: mt.randperm(20, **kw)])
def test_seeding_reproduces_and_differs(fn):
    mt.manual_seed(123)
    a = fn().numpy()
    mt.manual_seed(123)
    b = fn().numpy()
    mt.manual_seed(124)
    c = fn().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g1, g2 = mt.Generator().manual_seed(7), mt.Generator().manual_seed(7)
    np.testing.assert_array_equal(fn(generator=g1).numpy(), fn(generator=g2).numpy())


def test_generator_is_independent_of_the_default_one():
    g = mt.Generator().manual_seed(0)
    first = mt.randn(5, generator=g).numpy()
    g.manual_seed(0)
    mt.randn(100)  # draws from the default generator must not move g
    np.testing.assert_array_equal(mt.randn(5, generator=g).numpy(), first)


def test_manual_seed_returns_the_default_generator():
    g = mt.manual_seed(3)
    assert g is mt.default_generator and g.initial_seed() == 3 == mt.initial_seed()
    assert mt.manual_seed(-1).initial_seed() == 2**64 - 1  # wraps as in PyTorch
    with pytest.raises(TypeError, match="seed must be an int"):
        mt.manual_seed(1.5)


def test_rng_state_roundtrips_through_json():
    mt.manual_seed(42)
    mt.rand(3)
    state = json.loads(json.dumps(mt.get_rng_state()))  # a checkpoint would store this text
    expected = mt.randn(4).numpy()
    mt.randn(10)
    mt.set_rng_state(state)
    np.testing.assert_array_equal(mt.randn(4).numpy(), expected)
    g = mt.Generator().manual_seed(1)
    gstate = json.loads(json.dumps(g.get_state()))
    expected = mt.rand(3, generator=g).numpy()
    g.set_state(gstate)
    np.testing.assert_array_equal(mt.rand(3, generator=g).numpy(), expected)
    with pytest.raises(ValueError, match="expected a state dict"):
        mt.set_rng_state({"bit_generator": "MT19937"})


def test_seed_is_nondeterministic():
    a, b = mt.Generator(), mt.Generator()
    assert a.seed() != b.seed()
    assert not np.array_equal(mt.rand(4, generator=a).numpy(), mt.rand(4, generator=b).numpy())


def test_random_dtypes_ranges_and_errors():
    mt.manual_seed(0)
    u = mt.rand(1000, dtype=mt.float64)
    assert u.dtype == np.float64 and 0 <= u.numpy().min() and u.numpy().max() < 1
    assert mt.randn(3, dtype=mt.float16).dtype == np.float16
    n = mt.randn(20000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    r = mt.randint(3, 7, (1000,)).numpy()
    assert r.dtype == np.int64 and set(np.unique(r)) == {3, 4, 5, 6}
    assert mt.randint(5, (3,)).numpy().max() < 5  # randint(high, size)
    assert sorted(mt.randperm(10).tolist()) == list(range(10))
    assert mt.randperm(0).shape == (0,)
    with pytest.raises(TypeError, match="randn: dtype must be floating point, got int64"):
        mt.randn(2, dtype=mt.int64)
    with pytest.raises(ValueError, match=r"low \(5\) must be less than high \(3\)"):
        mt.randint(5, 3, (2,))
    with pytest.raises(TypeError, match="generator must be a minitorch.Generator"):
        mt.rand(2, generator=np.random.default_rng(0))
    assert mt.rand(2, 3, requires_grad=True).requires_grad
