"""minitorch.safe_pickle (the allowlisting unpickler) and minitorch.pth (torch.save files read
by mt.load without PyTorch): round trips against torch.save, and hostile pickles and archives
that must be refused with a clear error without running anything."""
import io
import os
import pickle
import struct
import time
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import minitorch as mt
from minitorch import safe_pickle
from minitorch.safe_pickle import MalformedPickleError, UnsafePickleError
from minitorch.serialization import CorruptFileError, SerializationError, UnsupportedFormatError

from opcheck import needs_torch, torch

MARKER = "PWNED"


class Evil:
    """Unpickling this with the pickle module would run a shell command."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    """Run in tmp_path; fail if the pickle module is used or the marker file appears."""
    monkeypatch.chdir(tmp_path)

    def boom(*args, **kwargs):
        raise AssertionError("the pickle module was used to load a file")
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, boom)
    yield tmp_path
    assert not (tmp_path / MARKER).exists(), "a hostile pickle ran code"


# --------------------------------------------------------------------------- pickle assembler
def G(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def S(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def I(n: int) -> bytes:  # noqa: E743 - the pickle opcode's name
    if 0 <= n < 1 << 31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def T(*parts: bytes) -> bytes:
    return b"(" + b"".join(parts) + b"t"


def tensor_pickle(entries, storage_type="FloatStorage", legacy=False) -> bytes:
    """A state_dict pickle as torch.save writes it: name -> _rebuild_tensor_v2(storage...).
    entries: (name, key, numel, offset, size, stride). Legacy persistent ids carry a sixth
    field (view metadata, None)."""
    out = b"\x80\x02" + G("collections", "OrderedDict") + b")R("
    for name, key, numel, offset, size, stride in entries:
        pid = T(S("storage"), G("torch", storage_type), S(key), S("cpu"), I(numel),
                b"N" if legacy else b"")
        out += S(name) + G("torch._utils", "_rebuild_tensor_v2") + T(
            pid + b"Q", I(offset), T(*map(I, size)), T(*map(I, stride)), b"\x89",
            G("collections", "OrderedDict") + b")R") + b"R"
    return out + b"u."


def write_zip(path, pkl: bytes, records: dict | None = None, prefix="archive",
              byteorder=b"little", compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", pkl)
        if byteorder is not None:
            z.writestr(f"{prefix}/byteorder", byteorder)
        for key, raw in (records or {}).items():
            z.writestr(zipfile.ZipInfo(f"{prefix}/data/{key}"), raw, compress_type=compress)
    return path


# --------------------------------------------------------------------------- safe_pickle: data
PLAIN = [0, 1, -1, 255, 65535, 2 ** 31, -2 ** 31 - 1, 2 ** 100, -2 ** 70, 3.25, float("inf"),
         "", "héllo ✓", "x" * 300, b"", b"\x00\xff" * 200, bytearray(b"ab"), None, True, False,
         (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1, [2, [3, "a"]]],
         {"a": 1, 2: [3], (4, 5): None}, {1, 2, 3}, frozenset({"x"}), list(range(3000)),
         {str(i): i for i in range(2000)}]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_round_trips_every_protocol(protocol):
    for obj in PLAIN:
        back = safe_pickle.loads(pickle.dumps(obj, protocol=protocol))
        assert back == obj and type(back) is type(obj), (protocol, obj)
    shared = [1, 2]
    a, b = safe_pickle.loads(pickle.dumps([shared, shared], protocol=protocol))
    assert a is b  # the memo keeps sharing, as pickle does


def test_allowlist_is_a_parameter_and_values_stand_in_for_the_globals():
    data = pickle.dumps(OrderedDict(a=1, b=2), protocol=2)
    with pytest.raises(UnsafePickleError, match=r"refused global 'collections\.OrderedDict' "
                                                r"\(not on the allowlist\)"):
        safe_pickle.loads(data)
    back = safe_pickle.loads(data, {"collections.OrderedDict": OrderedDict})
    assert type(back) is OrderedDict and list(back.items()) == [("a", 1), ("b", 2)]
    back = safe_pickle.loads(data, {"collections.OrderedDict": dict})  # a stand-in
    assert type(back) is dict and back == {"a": 1, "b": 2}
    seen = []
    pid = b"\x80\x02" + S("key") + b"Q."
    assert safe_pickle.loads(pid, persistent_load=lambda p: seen.append(p) or 7) == 7
    assert seen == ["key"]
    with pytest.raises(UnsafePickleError, match="persistent id"):
        safe_pickle.loads(pid)


def test_numpy_arrays_with_the_docstrings_allowlist():
    """The recipe in safe_pickle's docstring (what CIFAR-10's python release needs)."""
    def reconstruct(cls, shape, dtype):
        if cls is not np.ndarray:
            raise UnsafePickleError("not ndarray")
        return np.ndarray.__new__(np.ndarray, shape, dtype)
    allowed = {"numpy.core.multiarray._reconstruct": reconstruct,
               "numpy._core.multiarray._reconstruct": reconstruct,
               "numpy.ndarray": np.ndarray, "numpy.dtype": np.dtype}
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for protocol in (2, 4):
        back = safe_pickle.loads(pickle.dumps({"data": a, "labels": [1, 2]}, protocol=protocol),
                                 allowed)
        np.testing.assert_array_equal(back["data"], a)
        assert back["data"].dtype == np.uint8 and back["labels"] == [1, 2]
    # Python 2's str: bytes or latin-1 text, as pickle.load(encoding=...) gives
    py2 = b"\x80\x02}q\x00U\x04dataq\x01U\x03\xe9\x00bq\x02s."
    assert safe_pickle.loads(py2, encoding="bytes") == {b"data": b"\xe9\x00b"}
    assert safe_pickle.loads(py2, encoding="latin1") == {"data": "\xe9\x00b"}


# --------------------------------------------------------------------------- safe_pickle: hostile
HOSTILE = {
    **{f"os.system-reduce-protocol-{p}": (pickle.dumps(Evil(), protocol=p),
                                          r"refused global '(posix|nt|os)\.system'")
       for p in range(pickle.HIGHEST_PROTOCOL + 1)},
    "builtins.eval": (G("builtins", "eval") + T(S(f"open('{MARKER}', 'w')")) + b"R.",
                      r"refused global 'builtins\.eval'"),
    "builtins.getattr": (G("builtins", "getattr") + T(G("os", "path"), S("join")) + b"R.",
                         r"refused global 'builtins\.getattr'"),
    "subprocess.Popen": (b"\x80\x04" + S("subprocess") + S("Popen") + b"\x93" +
                         T(S("touch"), S(MARKER)) + b"R.", r"refused global 'subprocess\.Popen'"),
    "INST": (b"(" + S(f"touch {MARKER}") + b"ios\nsystem\n.", r"refused global 'os\.system'"),
    "OBJ": (b"(" + G("os", "system") + S(f"touch {MARKER}") + b"o.",
            r"refused global 'os\.system'"),
    "NEWOBJ-of-allowed-instance": (b"\x80\x02" + G("collections", "OrderedDict") + b")R)\x81.",
                                   r"NEWOBJ of a OrderedDict of 0 items"),
    "REDUCE-of-a-non-global": (b"\x80\x02}" + b")R.", r"REDUCE \(a call\) of a dict of 0 items"),
    "BUILD-on-a-list": (b"\x80\x02]}b.", r"BUILD \(setting the state\) of a list"),
    "SETITEM-on-a-list": (b"\x80\x02]K\x01K\x02s.", r"SETITEM on a list"),
    "APPEND-on-a-dict": (b"\x80\x02}K\x01a.", r"APPEND on a dict"),
    "extension-registry": (b"\x80\x02\x82\x01.", r"extension-registry"),
    "out-of-band-buffer": (b"\x80\x05\x97.", r"out-of-band"),
    "codecs-rot13": (G("_codecs", "encode") + T(S("x"), S("rot13")) + b"R.",
                     r"_codecs\.encode with encoding 'rot13'"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pickles_are_refused_before_anything_runs(hostile, name):
    data, pattern = HOSTILE[name]
    with pytest.raises(UnsafePickleError, match=pattern):
        safe_pickle.loads(data, {"collections.OrderedDict": OrderedDict}, name="evil.pkl")


BOMBS = {
    "deep-lists": (b"\x80\x04" + b"]" * 100_000 + b"a" * 99_999 + b".",
                   r"nested more than 100 levels"),
    "deep-tuples": (b"\x80\x04" + b")" + b"\x85" * 100_000 + b".", r"nested more than 100"),
    "deep-dict-key": (b"\x80\x04}" + b")" + b"\x85" * 1_000_000 + b"Ns.",
                      r"tuple nested more than 100 levels"),
    "deep-set-item": (b"\x80\x04\x8f(" + b")" + b"\x85" * 1_000_000 + b"\x90.",
                      r"tuple nested more than 100 levels"),
    "cycle": (b"\x80\x04]\x94h\x00a.", r"contains itself"),
    "billion-laughs": (b"\x80\x04" + S("lol") + b"\x940" + b"0".join(
        b"(" + bytes([ord("h"), i]) * 10 + b"l\x94" for i in range(9)) + b".",
        r"billion laughs"),
    "huge-string": (b"\x80\x04\x8d" + struct.pack("<Q", 1 << 60) + b"abc.",
                    r"declares 1152921504606846976 bytes .* only 4 remain"),
    "huge-long": (b"\x80\x02\x8b" + struct.pack("<i", 1 << 30) + b"\x01.",
                  r"declares 1073741824 bytes"),
    "huge-frame": (b"\x80\x04\x95" + struct.pack("<Q", 1 << 40) + b"K\x01.",
                   r"FRAME of 1099511627776 bytes"),
    "truncated": (pickle.dumps({"a": [1, 2, 3]}, protocol=4)[:-5], r"truncated|ends without"),
    "garbage": (b"\x80\x04\xfe\xfd", r"unknown opcode 0xfe"),
    "empty": (b"", r"ends without its STOP"),
    "unbalanced": (b"\x80\x04K\x01K\x02.", r"unbalanced stack"),
    "memo-miss": (b"\x80\x04h\x07.", r"memo entry 7 used before it was stored"),
    "huge-int-text": (b"I" + b"9" * 100_000 + b"\n.", r"opcode 0x49 failed|no end of line"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_and_garbage_are_refused_fast(hostile, name):
    data, pattern = BOMBS[name]
    started = time.perf_counter()
    with pytest.raises(MalformedPickleError, match=pattern) as info:
        safe_pickle.loads(data, name="bomb.pkl")
    assert str(info.value).startswith("bomb.pkl: ")
    assert time.perf_counter() - started < 5


def test_file_source_reads_stop_at_the_declared_limit():
    """load() from a file object never reads past ``limit``: the next pickle is untouched."""
    stream = io.BytesIO(pickle.dumps(1, protocol=2) + pickle.dumps([2], protocol=2))
    assert safe_pickle.load(stream) == 1
    assert safe_pickle.load(stream) == [2]


# --------------------------------------------------------------------------- torch files: loading
def _assert_loaded(back, ref):
    """minitorch's load of a torch state_dict equals the tensors torch saved."""
    assert list(back) == list(ref)
    for k, v in ref.items():
        if not hasattr(v, "dtype"):
            assert back[k] == v, k
            continue
        want = v.detach().float().numpy() if v.dtype == torch.bfloat16 else v.detach().numpy()
        got = back[k]
        assert isinstance(got, mt.Tensor), k
        assert got.shape == tuple(v.shape) and got.dtype == want.dtype, (k, got.dtype, want.dtype)
        np.testing.assert_array_equal(got.data, want, err_msg=k)
        assert got.data.flags.c_contiguous and got.data.flags.writeable, k


def _torch_models():
    torch.manual_seed(0)
    bn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5),
                             torch.nn.BatchNorm1d(5))
    bn.train()
    bn(torch.randn(8, 3, 8, 8))  # running stats and num_batches_tracked move
    return {"mlp": torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(),
                                       torch.nn.Linear(8, 3)),
            "bn-cnn": bn,
            "lstm": torch.nn.LSTM(4, 3, num_layers=2),
            "embedding": torch.nn.Embedding(10, 4)}


@needs_torch
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_torch_state_dicts_load_exactly(tmp_path, legacy):
    for name, model in _torch_models().items():
        path = tmp_path / f"{name}.pth"
        torch.save(model.state_dict(), path, _use_new_zipfile_serialization=not legacy)
        back = mt.load(path)
        assert isinstance(back, OrderedDict)
        _assert_loaded(back, model.state_dict())
    bn = _torch_models()["bn-cnn"].state_dict()
    assert mt.load(tmp_path / "bn-cnn.pth")["1.num_batches_tracked"].dtype == np.int64
    assert int(mt.load(tmp_path / "bn-cnn.pth")["1.num_batches_tracked"].data) == \
        int(bn["1.num_batches_tracked"])


@needs_torch
def test_checkpoint_dicts_with_optimizer_state_load(tmp_path):
    model = _torch_models()["mlp"]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 6)).sum().backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 4,
            "best": 0.25, "name": "mlp", "shape": torch.Size([2, 3])}
    torch.save(ckpt, tmp_path / "ckpt.pt")
    back = mt.load(tmp_path / "ckpt.pt")
    _assert_loaded(back["model"], ckpt["model"])
    assert back["epoch"] == 4 and back["best"] == 0.25 and back["name"] == "mlp"
    assert back["shape"] == (2, 3)
    state = back["optimizer"]["state"][0]
    np.testing.assert_array_equal(state["exp_avg"].data,
                                  ckpt["optimizer"]["state"][0]["exp_avg"].numpy())
    assert back["optimizer"]["param_groups"][0]["lr"] == 1e-3


@needs_torch
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_views_strides_and_shared_storages(tmp_path, legacy):
    base = torch.arange(60, dtype=torch.float64).reshape(6, 10)
    sd = OrderedDict(base=base, transposed=base.t(), strided=base[::2, 1::3],
                     row=base[3], tail=base.view(-1)[37:], expanded=base[0, :3].expand(4, 3),
                     empty=base[:0], scalar=base[2, 2])
    path = tmp_path / "views.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    _assert_loaded(mt.load(path), sd)


@needs_torch
def test_tied_weights_load_as_separate_arrays(tmp_path):
    """One tensor under two names is one object (as torch.load gives it); a second tensor on
    the same storage (a view) loads as its own array: writing one leaves the other."""
    w = torch.randn(3, 4)
    torch.save(OrderedDict(a=w, b=w, c=w.view(-1)), tmp_path / "tied.pth")
    back = mt.load(tmp_path / "tied.pth")
    ref = torch.load(tmp_path / "tied.pth")
    assert (back["a"] is back["b"]) == (ref["a"] is ref["b"]) is True
    for k in "abc":
        np.testing.assert_array_equal(back[k].data.reshape(3, 4), w.numpy())
    back["a"].data[0, 0] = 99.0
    assert back["c"].data[0] == w[0, 0].item()


@needs_torch
def test_pickled_whole_model_is_refused_naming_its_class(hostile):
    """torch.save(model) pickles the module objects: only torch.load with code can load it."""
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), hostile / "model.pt")
    with pytest.raises(UnsupportedFormatError, match=r"model\.pt.*refused global "
                       r"'torch\.nn\.modules\.container\.Sequential'"):
        mt.load(hostile / "model.pt")


@needs_torch
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_every_common_dtype(tmp_path, legacy):
    """float64/32/16, int64/32/16/8, uint8 and bool as themselves; bfloat16 as float32."""
    x = torch.tensor([0.0, 1.0, -2.5, 3.140625, 1e-3, 65504.0])
    sd = OrderedDict((str(dt).split(".")[1], x.to(dt)) for dt in (
        torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
        torch.int16, torch.int8, torch.uint8, torch.bool))
    path = tmp_path / "dtypes.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    back = mt.load(path)
    _assert_loaded(back, sd)
    assert back["bfloat16"].dtype == np.float32
    np.testing.assert_array_equal(back["bfloat16"].data, x.to(torch.bfloat16).float().numpy())
    torch.save({"c": torch.ones(2, dtype=torch.complex64)}, path)
    with pytest.raises(UnsupportedFormatError, match=r"dtypes\.pth.*ComplexFloatStorage"):
        mt.load(path)


@needs_torch
def test_unsigned_dtypes_saved_as_byte_storages(tmp_path):
    """PyTorch >= 2.3 saves uint16/32/64 with _rebuild_tensor_v3 on an untyped storage."""
    sd = OrderedDict((name, torch.arange(7).to(getattr(torch, name))[1::2])
                     for name in ("uint16", "uint32", "uint64") if hasattr(torch, name))
    if not sd:
        pytest.skip(f"torch {torch.__version__} has no uint16/32/64")
    try:
        torch.save(sd, tmp_path / "u.pth")
    except (RuntimeError, KeyError, TypeError) as exc:
        pytest.skip(f"torch {torch.__version__} can't save uint16/32/64 tensors: {exc}")
    _assert_loaded(mt.load(tmp_path / "u.pth"), sd)
    if not hasattr(torch, "float8_e4m3fn"):
        return
    torch.save({"f8": torch.ones(2).to(torch.float8_e4m3fn)}, tmp_path / "f8.pth")
    with pytest.raises(UnsupportedFormatError, match=r"f8\.pth.*torch\.float8_e4m3fn tensor"):
        mt.load(tmp_path / "f8.pth")


@needs_torch
def test_big_endian_archive(tmp_path):
    """The byteorder record decides how storages are read (torch writes 'big' on s390x)."""
    sd = OrderedDict(w=torch.randn(3, 4), i=torch.arange(5), h=torch.randn(3).half(),
                     b=torch.randn(2).bfloat16())
    little = tmp_path / "little.pth"
    torch.save(sd, little)
    big = tmp_path / "big.pth"
    with zipfile.ZipFile(little) as src, zipfile.ZipFile(big, "w") as dst:
        dtypes = {"0": 4, "1": 8, "2": 2, "3": 2}
        for info in src.infolist():
            raw = src.read(info)
            if info.filename.endswith("/byteorder"):
                raw = b"big"
            elif "/data/" in info.filename:
                size = dtypes[info.filename.rsplit("/", 1)[1]]
                raw = np.frombuffer(raw, f"<u{size}").astype(f">u{size}").tobytes()
            dst.writestr(info, raw)
    _assert_loaded(mt.load(big), sd)


@needs_torch
def test_torch_weights_give_torchs_logits_in_minitorch(tmp_path):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 10))
    torch.save(ref.state_dict(), tmp_path / "fc64.pth")
    model = mt.models.get_model("fc64")
    model.load_state_dict(mt.load(tmp_path / "fc64.pth"))
    x = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    with mt.no_grad():
        np.testing.assert_allclose(model(mt.Tensor(x)).data, expected, rtol=1e-5, atol=1e-5)


@needs_torch
def test_minitorch_files_with_digests_load_in_torch(tmp_path):
    """mt.save's output (with its digest metadata) stays a plain safetensors file for torch,
    BatchNorm buffers (int64 num_batches_tracked) included."""
    import safetensors.torch
    mt.manual_seed(0)
    model = mt.nn.Sequential(mt.nn.Conv2d(1, 2, 3), mt.nn.BatchNorm2d(2))
    model.train()
    model(mt.randn(4, 1, 6, 6))
    model.eval()
    mt.save(model.state_dict(), tmp_path / "mt.safetensors")
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).eval()
    ref.load_state_dict(safetensors.torch.load_file(tmp_path / "mt.safetensors"), strict=True)
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    with mt.no_grad():
        np.testing.assert_allclose(model(mt.Tensor(x)).data, expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- torch files: hostile
def _floats(n):
    return np.arange(n, dtype="<f4").tobytes()


def test_crafted_state_dict_loads(tmp_path):
    """The assembler's output is what torch.save writes (so the hostile variants below
    differ from a good file only where they say)."""
    pkl = tensor_pickle([("w", "0", 6, 0, (2, 3), (3, 1)), ("v", "0", 6, 1, (2,), (2,))])
    back = mt.load(write_zip(tmp_path / "ok.pth", pkl, {"0": _floats(6)}))
    np.testing.assert_array_equal(back["w"].data, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(back["v"].data, [1.0, 3.0])


HOSTILE_ARCHIVES = {
    "os.system": (lambda: pickle.dumps(Evil(), protocol=2), None,
                  UnsupportedFormatError, r"refused global '(posix|nt|os)\.system'"),
    "builtins.eval": (lambda: G("builtins", "eval") + T(S("1")) + b"R.", None,
                      UnsupportedFormatError, r"refused global 'builtins\.eval'"),
    "whole-model": (lambda: b"\x80\x02" + G("torch.nn.modules.container", "Sequential") +
                    b")\x81.", None, UnsupportedFormatError,
                    r"refused global 'torch\.nn\.modules\.container\.Sequential'"),
    "hooks": (lambda: b"\x80\x02" + G("torch._utils", "_rebuild_tensor_v2") + T(
        T(S("storage"), G("torch", "FloatStorage"), S("0"), S("cpu"), I(6)) + b"Q", I(0),
        T(I(6)), T(I(1)), b"\x89", b"}" + S("h") + I(1) + b"s") + b"R.", {"0": _floats(6)},
        UnsupportedFormatError, r"backward hooks"),
    "huge-numel": (lambda: tensor_pickle([("w", "0", 1 << 40, 0, (1,), (1,))]),
                   {"0": _floats(6)}, CorruptFileError,
                   r"declares 1099511627776 FloatStorage elements"),
    "outside-storage": (lambda: tensor_pickle([("w", "0", 6, 4, (3,), (1,))]),
                        {"0": _floats(6)}, CorruptFileError, r"reaches element 6, but its "
                        r"storage has 6"),
    "stride-0-expansion": (lambda: tensor_pickle([("w", "0", 1, 0, (1 << 20, 1 << 20), (0, 0))]),
                           {"0": _floats(1)}, CorruptFileError, r"would take more than"),
    "negative-stride": (lambda: tensor_pickle([("w", "0", 6, 0, (2,), (-1,))]),
                        {"0": _floats(6)}, CorruptFileError, r"tensor stride .* not a tuple"),
    "missing-record": (lambda: tensor_pickle([("w", "7", 6, 0, (6,), (1,))]),
                       {"0": _floats(6)}, CorruptFileError, r"has no record archive/data/7"),
    "key-outside": (lambda: tensor_pickle([("w", "../../etc/passwd", 6, 0, (6,), (1,))]),
                    {"0": _floats(6)}, CorruptFileError, r"storage key .* is not a plain name"),
    "wrong-record-size": (lambda: tensor_pickle([("w", "0", 6, 0, (6,), (1,))]),
                          {"0": _floats(5)}, CorruptFileError, r"its record holds 20"),
    "complex": (lambda: tensor_pickle([("w", "0", 2, 0, (2,), (1,))], "ComplexFloatStorage"),
                {"0": _floats(4)}, UnsupportedFormatError, r"ComplexFloatStorage"),
    "no-data-pkl": (None, None, UnsupportedFormatError, r"zip archive but not a PyTorch "
                    r"checkpoint"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ARCHIVES))
def test_hostile_archives_are_refused(hostile, name):
    make, records, error, pattern = HOSTILE_ARCHIVES[name]
    path = hostile / f"{name}.pth"
    if make is None:
        np.savez(path, a=np.ones(2))
        path = path.with_suffix(".pth.npz")
    else:
        write_zip(path, make(), records)
    started = time.perf_counter()
    with pytest.raises(error, match=pattern) as info:
        mt.load(path)
    assert str(path) in str(info.value)
    assert time.perf_counter() - started < 5


def test_compressed_storage_records_are_refused(hostile):
    """torch.save stores tensors uncompressed; a deflated record could be a zip bomb."""
    pkl = tensor_pickle([("w", "0", 1 << 24, 0, (1 << 24,), (1,))])
    path = write_zip(hostile / "bomb.pth", pkl, {"0": bytes(4 << 24)},
                     compress=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(CorruptFileError, match=r"is compressed"):
        mt.load(path)


def test_truncated_and_damaged_archives(hostile):
    pkl = tensor_pickle([("w", "0", 6, 0, (2, 3), (3, 1))])
    raw = write_zip(hostile / "good.pth", pkl, {"0": _floats(6)}).read_bytes()
    for cut in (30, 100, len(raw) // 2, len(raw) - 30, len(raw) - 1):
        path = hostile / f"cut{cut}.pth"
        path.write_bytes(raw[:cut])
        with pytest.raises(SerializationError, match=rf"cut{cut}\.pth"):
            mt.load(path)
    # the central directory points the data record outside the file
    end = raw.rindex(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", raw[end + 16:end + 20])[0]
    entry = raw.index(b"PK\x01\x02", cd_offset)
    outside = bytearray(raw)
    outside[entry + 42:entry + 46] = struct.pack("<I", len(raw) + 1000)
    (hostile / "outside.pth").write_bytes(bytes(outside))
    with pytest.raises(CorruptFileError, match=r"outside\.pth is a damaged zip archive"):
        mt.load(hostile / "outside.pth")
    # one flipped bit in a tensor record: the zip's CRC-32 catches it
    flipped = bytearray(raw)
    flipped[raw.index(_floats(6)) + 5] ^= 0x01
    (hostile / "flip.pth").write_bytes(bytes(flipped))
    with pytest.raises(CorruptFileError, match=r"flip\.pth.*damaged zip.*Bad CRC-32"):
        mt.load(hostile / "flip.pth")


def test_legacy_stream_refusals(hostile):
    plain = hostile / "plain.pkl"
    plain.write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(UnsupportedFormatError, match=r"plain\.pkl is a Python pickle that is "
                                                     r"not a PyTorch checkpoint.*never loads"):
        mt.load(plain)
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    info = pickle.dumps(1001, protocol=2) + pickle.dumps(
        {"protocol_version": 1001, "little_endian": True,
         "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    evil = hostile / "evil-legacy.pt"
    evil.write_bytes(magic + info + pickle.dumps(Evil(), protocol=2))
    with pytest.raises(UnsupportedFormatError, match=r"evil-legacy\.pt.*refused global "
                                                     r"'(posix|nt|os)\.system'"):
        mt.load(evil)
    body = tensor_pickle([("w", "0", 6, 0, (6,), (1,))], legacy=True)
    keys = pickle.dumps(["0"], protocol=2)
    good = magic + info + body + keys + struct.pack("<q", 6) + _floats(6)
    (hostile / "ok.pt").write_bytes(good)
    np.testing.assert_array_equal(mt.load(hostile / "ok.pt")["w"].data, np.arange(6.0))
    (hostile / "short.pt").write_bytes(good[:-4])
    with pytest.raises(CorruptFileError, match=r"short\.pt.*truncated: storage '0'"):
        mt.load(hostile / "short.pt")
    (hostile / "big.pt").write_bytes(good.replace(struct.pack("<q", 6), struct.pack("<q", 7)))
    with pytest.raises(CorruptFileError, match=r"size record does not say 6"):
        mt.load(hostile / "big.pt")


@needs_torch
def test_fuzzed_torch_files_load_or_raise_serialization_error(hostile):
    """Random byte changes to a real torch.save file, and to its data.pkl (re-zipped with a
    fresh CRC so the unpickler sees them): each load succeeds or raises SerializationError."""
    model = _torch_models()["bn-cnn"]
    torch.save(model.state_dict(), hostile / "ref.pth")
    raw = (hostile / "ref.pth").read_bytes()
    with zipfile.ZipFile(hostile / "ref.pth") as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    pkl_name = next(n for n in members if n.endswith("data.pkl"))
    rng = np.random.default_rng(0)
    outcomes = {"ok": 0, "refused": 0}
    for trial in range(300):
        path = hostile / "fuzz.pth"
        if trial % 2:
            data = bytearray(raw)
            for i in rng.integers(0, len(data), rng.integers(1, 4)):
                data[i] = rng.integers(0, 256)
            path.write_bytes(bytes(data))
        else:
            pkl = bytearray(members[pkl_name])
            for i in rng.integers(0, len(pkl), rng.integers(1, 4)):
                pkl[i] = rng.integers(0, 256)
            with zipfile.ZipFile(path, "w") as z:
                for n, b in members.items():
                    z.writestr(n, bytes(pkl) if n == pkl_name else b)
        try:
            mt.load(path)
            outcomes["ok"] += 1
        except SerializationError as exc:
            assert str(path) in str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 50, outcomes
