"""mt.save / mt.load: safetensors round trips, atomic writes, refusing bad files, PyTorch interop."""
import json
import math
import os
import struct

import numpy as np
import pytest
import safetensors.numpy

import minitorch as mt
from minitorch import serialization
from minitorch.serialization import SerializationError

from opcheck import DEVICES, needs_torch, torch


def assert_same(a, b, path="obj"):
    """Structural equality: same types (Tensor / ndarray / tuple / list / dict incl. key
    types), same dtypes and values."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, mt.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(mt.backend.to_numpy(a.data), mt.backend.to_numpy(b.data))
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert type(k) is type(list(b)[list(a).index(k)])
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, path


def test_nested_round_trip_keeps_structure_types_and_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "model": {"0.weight": mt.Tensor(rng.standard_normal((3, 4)).astype(np.float32)),
                  "0.bias": mt.Tensor(rng.standard_normal(3))},                    # float64
        "optimizer": {"state": {0: {"step": 3, "exp_avg": mt.Tensor(np.ones((3, 4)))},
                                1: {"step": 3, "momentum_buffer": None}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "name": "body"}]},
        "epoch": 3, "best": float("nan"), "inf": float("-inf"),
        "labels": mt.Tensor(np.arange(5, dtype=np.int64)),
        "mask": mt.Tensor(np.array([True, False])), "pixels": mt.Tensor(np.arange(4, dtype=np.uint8)),
        "scalar": mt.Tensor(np.float32(2.5)), "empty": mt.Tensor(np.zeros((0, 3), np.float32)),
        "perm": np.array([2, 0, 1], dtype=np.int64),
        "rng": mt.Generator().manual_seed(1).get_state(),  # 128-bit ints in JSON
        "history": [], "nothing": None,
    }
    path = tmp_path / "ckpt.safetensors"
    mt.save(obj, path)
    back = mt.load(path)
    assert_same(obj, back)
    gen = mt.Generator().set_state(back["rng"])
    assert gen.rng.random() == mt.Generator().manual_seed(1).rng.random()


def test_single_tensor_and_flat_state_dict_names(tmp_path):
    t = mt.Tensor(np.arange(6.0).reshape(2, 3))
    mt.save(t, tmp_path / "t.safetensors")
    assert_same(mt.load(tmp_path / "t.safetensors"), t)
    sd = {"0.weight": mt.Tensor(np.ones((2, 2), np.float32)), "2.bias": mt.Tensor(np.zeros(2))}
    mt.save(sd, tmp_path / "sd.safetensors")
    raw = safetensors.numpy.load_file(tmp_path / "sd.safetensors")
    assert sorted(raw) == ["0.weight", "2.bias"]
    nested = {"model": sd, "epoch": 1}
    mt.save(nested, tmp_path / "n.safetensors")
    assert sorted(safetensors.numpy.load_file(tmp_path / "n.safetensors")) == \
        ["model.0.weight", "model.2.bias"]


def test_non_contiguous_tensors(tmp_path):
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    views = {"transposed": mt.Tensor(base.T), "strided": mt.Tensor(base[::2, 1::3]),
             "reversed": mt.Tensor(base[::-1])}
    assert not any(v.data.flags.c_contiguous for v in views.values())
    mt.save(views, tmp_path / "v.safetensors")
    back = mt.load(tmp_path / "v.safetensors")
    for k, v in views.items():
        np.testing.assert_array_equal(back[k].data, v.data)


def test_loaded_tensors_are_writable(tmp_path):
    mt.save({"w": mt.Tensor(np.zeros(3))}, tmp_path / "w.safetensors")
    w = mt.load(tmp_path / "w.safetensors")["w"]
    w.data += 1  # optimizers update loaded weights in place
    np.testing.assert_array_equal(w.data, np.ones(3))


def test_unstorable_objects_are_refused(tmp_path):
    with pytest.raises(SerializationError, match=r"can't store a object at 'a\.b'.*no pickle"):
        mt.save({"a": {"b": object()}}, tmp_path / "x.safetensors")
    with pytest.raises(SerializationError, match="dict key"):
        mt.save({(1, 2): 3}, tmp_path / "x.safetensors")
    with pytest.raises(SerializationError, match=r"two tensors would be stored as 'a\.b'"):
        mt.save({"a.b": mt.Tensor(np.ones(1)), "a": {"b": mt.Tensor(np.ones(1))}},
                tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch, failing):
    path = tmp_path / "ckpt.safetensors"
    mt.save({"epoch": 1, "w": mt.Tensor(np.ones(3))}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"simulated crash in {failing}")
    monkeypatch.setattr(serialization.os, failing, boom)
    with pytest.raises(OSError, match="simulated crash"):
        mt.save({"epoch": 2, "w": mt.Tensor(np.zeros(3))}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert mt.load(path)["epoch"] == 1


def _good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    mt.save({"w": mt.Tensor(np.arange(100.0)), "epoch": 1}, path)
    return path.read_bytes()


def test_truncated_file_is_refused(tmp_path):
    raw = _good_file(tmp_path)
    for cut, what in ((len(raw) - 8, "truncated"), (20, "header claims"), (5, "too short")):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(raw[:cut])
        with pytest.raises(SerializationError, match=rf"{bad.name} is not a valid safetensors.*"
                           f"{what}"):
            mt.load(bad)


def test_garbage_header_is_refused(tmp_path):
    bad = tmp_path / "garbage.bin"
    bad.write_bytes(struct.pack("<Q", 10) + b"{not json!" + b"\x00" * 8)
    with pytest.raises(SerializationError, match="garbage.bin.*header is not JSON"):
        mt.load(bad)
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(SerializationError, match="garbage.bin"):
        mt.load(bad)


def test_damaged_structure_is_refused(tmp_path):
    payload = safetensors.numpy.save({"w": np.ones(2)},
                                     metadata={"minitorch.structure": "{\"obj\": {\"$tensor\": "
                                               "\"missing\"}}"})
    (tmp_path / "d.safetensors").write_bytes(payload)
    with pytest.raises(SerializationError, match="d.safetensors.*structure is damaged"):
        mt.load(tmp_path / "d.safetensors")


def test_pickle_npz_and_npy_files_are_refused(tmp_path):
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(b"\x80\x04K\x01.")  # the protocol-4 pickle of the int 1, written by hand
    with pytest.raises(SerializationError, match=r"model\.pkl.*pickle.*never loads"):
        mt.load(pkl)
    npz = tmp_path / "weights.npz"
    np.savez(npz, w=np.ones(3))
    with pytest.raises(SerializationError, match=r"weights\.npz.*zip archive"):
        mt.load(npz)
    npy = tmp_path / "w.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(SerializationError, match=r"w\.npy.*NumPy \.npy"):
        mt.load(npy)
    with pytest.raises(FileNotFoundError, match="no such file"):
        mt.load(tmp_path / "absent.safetensors")


def test_metadata_is_one_json_string(tmp_path):
    mt.save({"a": 1, "w": mt.Tensor(np.ones(1))}, tmp_path / "m.safetensors")
    raw = (tmp_path / "m.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8:8 + n])["__metadata__"]
    assert all(isinstance(v, str) for v in meta.values())
    assert json.loads(meta["minitorch.structure"])["obj"]["$dict"][0] == ["a", 1]


@pytest.mark.parametrize("device", DEVICES)
def test_load_to_device(tmp_path, device):
    t = mt.Tensor(np.arange(4.0), device=device)
    mt.save({"t": t}, tmp_path / "d.safetensors")
    back = mt.load(tmp_path / "d.safetensors", device=device)["t"]
    assert back.device == device
    np.testing.assert_array_equal(mt.backend.to_numpy(back.data), np.arange(4.0))


# --------------------------------------------------------------------------- model + optimizer
def _model():
    return mt.nn.Sequential(mt.nn.Linear(6, 8), mt.nn.ReLU(), mt.nn.Linear(8, 3))


def _train_steps(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = mt.Tensor(rng.standard_normal((5, 6)).astype(np.float32))
        y = mt.Tensor(rng.integers(0, 3, 5))
        loss = mt.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_checkpoint_resume_matches_uninterrupted_training(tmp_path, name):
    kw = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    mt.manual_seed(0)
    a = _model()
    opt_a = getattr(mt.optim, name)(a.parameters(), lr=0.01, **kw)
    _train_steps(a, opt_a, 3, seed=1)
    mt.save({"model": a.state_dict(), "optimizer": opt_a.state_dict(), "epoch": 3},
            tmp_path / "c.safetensors")
    _train_steps(a, opt_a, 3, seed=2)

    mt.manual_seed(123)  # different initial weights: everything must come from the file
    b = _model()
    opt_b = getattr(mt.optim, name)(b.parameters(), lr=0.5, **kw)
    ckpt = mt.load(tmp_path / "c.safetensors")
    b.load_state_dict(ckpt["model"])
    opt_b.load_state_dict(ckpt["optimizer"])
    assert ckpt["epoch"] == 3
    _train_steps(b, opt_b, 3, seed=2)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va.data, vb.data, err_msg=k)


# --------------------------------------------------------------------------- PyTorch interop
@needs_torch
def test_minitorch_weights_load_into_pytorch(tmp_path):
    import safetensors.torch
    mt.manual_seed(0)
    model = _model()
    mt.save(model.state_dict(), tmp_path / "mt.safetensors")
    ref = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ref.load_state_dict(safetensors.torch.load_file(tmp_path / "mt.safetensors"), strict=True)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    with mt.no_grad():
        np.testing.assert_allclose(model(mt.Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


@needs_torch
def test_pytorch_weights_load_into_minitorch(tmp_path):
    import safetensors.torch
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 10))
    safetensors.torch.save_file(ref.state_dict(), tmp_path / "torch.safetensors")
    model = mt.models.get_model("fc64")
    model.load_state_dict(mt.load(tmp_path / "torch.safetensors"))
    x = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    with mt.no_grad():
        np.testing.assert_allclose(model(mt.Tensor(x)).data, expected, rtol=1e-5, atol=1e-5)
