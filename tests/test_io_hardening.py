"""mt.save / mt.load against the red team's file defects (issue 9: D2, D4/D5/D13, D9, D14, D17,
D20): formats told apart by structure, every read bounded by sizes checked first, digests,
format versions, permissions and symlinks, and the MNIST reader's bounded, streaming checks."""
import gzip
import hashlib
import json
import os
import re
import stat
import struct
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy

import minitorch as mt
from minitorch import serialization
from minitorch.serialization import CorruptFileError, SerializationError, UnsupportedFormatError

SPARSE_SIZE = 6 << 30  # the red team's 6 GiB file (sparse: no disk space used)


def header_length(path) -> int:
    return struct.unpack("<Q", path.read_bytes()[:8])[0]


def load_in_thread(path, timeout=20.0):
    """mt.load(path) with a deadline: returns ("ok", obj) / ("error", exc) / ("hung", None)."""
    out = []

    def run():
        try:
            out.append(("ok", mt.load(path)))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(("error", exc))
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    return out[0] if out else ("hung", None)


# --------------------------------------------------------------------------- D2
@pytest.mark.parametrize("target", [640, 896, 1152, 1408])
def test_header_lengths_that_start_like_a_pickle_round_trip(tmp_path, target):
    """0x280 = 640 is stored as b"\\x80\\x02...": a pickle's PROTO opcode. Only the structure
    (a header that fits and parses) decides the format."""
    w = mt.Tensor(np.arange(3.0))
    path = tmp_path / "c.safetensors"
    pad = 0
    while True:  # the header grows by 8 bytes per 8 characters of padding
        mt.save({"w": w, "epoch": 1, "note": "x" * pad}, path)
        n = header_length(path)
        assert n <= target or pad == 0, "the base header is too long for this test"
        if n >= target:
            break
        pad += max(1, (target - n) // 2)
    assert n == target, f"no padding gives a {target}-byte header"
    assert path.read_bytes()[:2] == bytes([0x80, target >> 8])
    back = mt.load(path)
    assert back["epoch"] == 1 and back["note"] == "x" * pad
    np.testing.assert_array_equal(back["w"].data, w.data)


def test_the_issues_example_loads(tmp_path):
    path = tmp_path / "p.safetensors"
    fc64 = mt.models.get_model("fc64")
    mt.save({"model": fc64.state_dict(), "epoch": 1}, path)
    back = mt.load(path)
    assert back["epoch"] == 1
    for k, v in fc64.state_dict().items():
        np.testing.assert_array_equal(back["model"][k].data, v.data)


# --------------------------------------------------------------------------- D4: nesting
def _raw_safetensors(header: dict, data: bytes = b"") -> bytes:
    body = json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body + data


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_header_is_a_clear_error(tmp_path, depth):
    body = b'{"__metadata__": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
    path = tmp_path / "deep.safetensors"
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(CorruptFileError, match=r"deep\.safetensors.*header nests \d+ levels "
                                               r"deep \(at most 16"):
        mt.load(path)


def test_deeply_nested_structure_is_a_clear_error(tmp_path):
    structure = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "deep.safetensors"
    path.write_bytes(safetensors.numpy.save({"w": np.ones(2)},
                                            metadata={"minitorch.structure": structure}))
    with pytest.raises(CorruptFileError, match=r"deep\.safetensors.*structure nests 100000 "
                                               "levels deep"):
        mt.load(path)


def test_nesting_limit_is_the_same_for_save_and_load(tmp_path):
    """Whatever save accepts, load reads back; deeper (or self-containing) objects are refused
    when saving, not when loading them later."""
    obj = leaf = {}
    for _ in range(serialization.MAX_NESTING - 1):
        leaf["d"] = {}
        leaf = leaf["d"]
    leaf["w"] = mt.Tensor(np.ones(2))  # inside MAX_NESTING dicts
    mt.save(obj, tmp_path / "ok.safetensors")
    back = mt.load(tmp_path / "ok.safetensors")
    for _ in range(serialization.MAX_NESTING - 1):
        back = back["d"]
    np.testing.assert_array_equal(back["w"].data, np.ones(2))
    leaf["w"] = {"x": mt.Tensor(np.ones(2))}
    with pytest.raises(SerializationError, match="nested more than 100 levels"):
        mt.save(obj, tmp_path / "deep.safetensors")
    loop = {}
    loop["self"] = loop
    with pytest.raises(SerializationError, match="nested more than 100 levels.*contains itself"):
        mt.save(loop, tmp_path / "loop.safetensors")


def test_nested_header_does_not_crash_resume(tmp_path):
    """The red team's D4: a damaged newest checkpoint must be skipped, so its error has to be
    a SerializationError (CorruptFileError), not a RecursionError."""
    body = b"{" + b'"a":{' * 50_000 + b"}" * 50_001
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(CorruptFileError):
        mt.load(path)


# --------------------------------------------------------------------------- D5/D13: bounds
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    started = time.perf_counter()
    kind, exc = load_in_thread(fifo)
    assert kind == "error", f"mt.load on a FIFO: {kind}"
    assert isinstance(exc, SerializationError)
    assert f"can't read {fifo}: it is a FIFO (named pipe), not a regular file" in str(exc)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("device_file", ["/dev/zero", "/dev/urandom"])
def test_character_devices_are_refused_at_once(device_file):
    if not os.path.exists(device_file):
        pytest.skip(f"{device_file} does not exist on this system")
    kind, exc = load_in_thread(device_file)
    assert kind == "error", f"mt.load({device_file}): {kind}"
    assert f"can't read {device_file}: it is a character device" in str(exc)


def test_directory_is_refused(tmp_path):
    with pytest.raises(SerializationError, match=rf"can't read {tmp_path}: it is a directory"):
        mt.load(tmp_path)


def _sparse(path, size, head=b""):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


@pytest.mark.parametrize("case", ["zeros", "huge-header", "huge-tensor"])
def test_huge_sparse_file_fails_fast_without_reading_it(tmp_path, case):
    """A 6 GiB sparse file: refused from its first bytes, with almost no memory or time."""
    heads = {
        "zeros": (b"", r"header is not JSON"),
        "huge-header": (struct.pack("<Q", 5 << 30) + b"{", r"claims 5368709120 bytes, more "
                        r"than the 100000000"),
        "huge-tensor": (_raw_safetensors({"w": {"dtype": "F32", "shape": [1 << 40],
                                                "data_offsets": [0, 4 << 40]}}),
                        r"tensor 'w' needs bytes up to 4398046511104, but the data section "
                        r"has 64424\d+ \(truncated"),
    }
    head, pattern = heads[case]
    path = _sparse(tmp_path / "sparse.safetensors", SPARSE_SIZE, head)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        kind, exc = load_in_thread(path, timeout=60)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert kind == "error", kind
    assert isinstance(exc, CorruptFileError) and str(path) in str(exc), repr(exc)
    assert re.search(pattern, str(exc)), str(exc)
    assert peak < 16 << 20, f"peak {peak} bytes"
    assert time.perf_counter() - started < 5


def test_tensor_offsets_must_tile_the_data_section(tmp_path):
    cases = {
        "gap": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, 8,
                r"'a' starts at byte 4 of the data section, expected 0"),
        "overlap": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                     "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, 8,
                    r"starts at byte 4 of the data section, expected 8"),
        "trailing": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, 12,
                     r"tensors end at byte 4 of the data section, but it has 12"),
        "size": ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, 8,
                 r"shape \[3\] of F32 is 12 bytes, but its byte range \[0, 8\) holds 8"),
        "dtype": ({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, 4,
                  r"unknown dtype 'X9'"),
        "shape": ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, 4,
                  r"shape \[-1\] is not a list of sizes"),
        "offsets": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, 4,
                    r"data_offsets \[4, 0\] are not"),
        "metadata": ({"__metadata__": {"a": 1}}, 0, r"__metadata__ is not a \{str: str\}"),
    }
    for name, (header, data_len, pattern) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(_raw_safetensors(header, b"\0" * data_len))
        with pytest.raises(CorruptFileError, match=rf"{name}\.safetensors is not a valid "
                                                   rf"safetensors file: .*{pattern}"):
            mt.load(path)


def test_every_safetensors_dtype_loads_and_bfloat16_widens_exactly(tmp_path):
    arrays = {k: (np.arange(6) % 2 == 1) if k == "BOOL" else np.arange(6).astype(v)
              for k, v in serialization._DTYPES.items()}
    payload = safetensors.numpy.save(arrays)
    (tmp_path / "all.safetensors").write_bytes(payload)
    back = mt.load(tmp_path / "all.safetensors")
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype, k
        np.testing.assert_array_equal(back[k].data, v)
    f32 = np.array([1.0, -2.5, 3.140625, np.inf], dtype=np.float32)  # exact in bfloat16
    bf16 = (f32.view(np.uint32) >> 16).astype("<u2")
    (tmp_path / "bf.safetensors").write_bytes(_raw_safetensors(
        {"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, bf16.tobytes()))
    w = mt.load(tmp_path / "bf.safetensors")["w"]
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w.data, f32)
    (tmp_path / "f8.safetensors").write_bytes(_raw_safetensors(
        {"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\0\0"))
    with pytest.raises(UnsupportedFormatError, match=re.escape("'w' is F8_E4M3")):
        mt.load(tmp_path / "f8.safetensors")


def test_save_converts_big_endian_and_refuses_unstorable_dtypes(tmp_path):
    big = np.arange(5, dtype=">i4")
    mt.save({"b": big}, tmp_path / "b.safetensors")
    np.testing.assert_array_equal(safetensors.numpy.load_file(tmp_path / "b.safetensors")["b"],
                                  big)
    with pytest.raises(SerializationError, match=r"can't store the complex128 array at 'c'"):
        mt.save({"c": np.ones(2, complex)}, tmp_path / "c.safetensors")


# --------------------------------------------------------------------------- D9: digests
def _saved(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    mt.manual_seed(0)
    model = mt.models.get_model("lenet5")
    mt.save({"model": model.state_dict(), "epoch": 7}, path)
    return path, model


def test_flipped_weight_bit_is_detected_naming_file_and_tensor(tmp_path):
    path, model = _saved(tmp_path)
    raw = bytearray(path.read_bytes())
    n = header_length(path)
    header = json.loads(raw[8:8 + n])
    name, begin = next((k, v["data_offsets"][0]) for k, v in header.items()
                       if k != "__metadata__" and v["data_offsets"][1] > 4)
    raw[8 + n + begin + 3] ^= 0x10  # one bit of one float
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=rf"{path.name}: the bytes of tensor "
                                               rf"'{name}' do not match their stored SHA-256"):
        mt.load(path)


def test_flipped_header_bit_is_detected(tmp_path):
    path, _ = _saved(tmp_path)
    raw = path.read_bytes()
    damaged = raw.replace(b'\\"epoch\\",7', b'\\"epoch\\",5')  # still valid JSON
    assert damaged != raw
    path.write_bytes(damaged)
    with pytest.raises(CorruptFileError, match=r"header .* does not match its stored SHA-256"):
        mt.load(path)


def test_files_without_digest_still_load(tmp_path):
    """Written by PyTorch's safetensors, or by minitorch's format version 1 (no digests)."""
    plain = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"w": np.arange(3.0)}, plain)
    np.testing.assert_array_equal(mt.load(plain)["w"].data, np.arange(3.0))
    v1 = tmp_path / "v1.safetensors"
    structure = json.dumps({"version": 1, "obj": {"$dict": [["w", {"$tensor": "w"}],
                                                            ["epoch", 2]]}})
    safetensors.numpy.save_file({"w": np.arange(3.0)}, v1,
                                metadata={"format": "pt", "minitorch.structure": structure})
    back = mt.load(v1)
    assert back["epoch"] == 2
    np.testing.assert_array_equal(back["w"].data, np.arange(3.0))


def test_digest_is_plain_sha256_of_each_tensor(tmp_path):
    """Anyone can verify a file: the digest is hashlib.sha256 of the tensor's stored bytes."""
    path, model = _saved(tmp_path)
    n = header_length(path)
    meta = json.loads(path.read_bytes()[8:8 + n])["__metadata__"]
    digests = json.loads(meta["minitorch.sha256"])["tensors"]
    for name, array in safetensors.numpy.load_file(path).items():
        assert digests[name] == hashlib.sha256(array.tobytes()).hexdigest()


# --------------------------------------------------------------------------- D20: versions
def test_newer_format_version_is_refused_clearly(tmp_path):
    path = tmp_path / "future.safetensors"
    structure = json.dumps({"version": 99, "obj": {"$tensor": "w"}})
    safetensors.numpy.save_file({"w": np.ones(1)}, path,
                                metadata={"minitorch.structure": structure})
    with pytest.raises(UnsupportedFormatError, match=r"future\.safetensors was written by a "
                       r"newer minitorch \(format version 99; this one reads versions 1 to 2\)"):
        mt.load(path)
    for bad in ('{"obj": 1}', '{"version": "2", "obj": 1}', '{"version": 0, "obj": 1}'):
        safetensors.numpy.save_file({"w": np.ones(1)}, path,
                                    metadata={"minitorch.structure": bad})
        with pytest.raises(CorruptFileError, match="no format version"):
            mt.load(path)


# --------------------------------------------------------------------------- D17: permissions
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and umask")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_open_like_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        mt.save({"w": mt.Tensor(np.ones(2))}, tmp_path / "new.safetensors")
        with open(tmp_path / "by_open", "w"):
            pass
    finally:
        os.umask(old)
    got = stat.S_IMODE(os.stat(tmp_path / "new.safetensors").st_mode)
    assert got == stat.S_IMODE(os.stat(tmp_path / "by_open").st_mode) == 0o666 & ~umask


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_replacing_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "c.safetensors"
    mt.save({"epoch": 1}, path)
    os.chmod(path, 0o640)
    mt.save({"epoch": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert mt.load(path)["epoch"] == 2


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges")
def test_saving_to_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "run3.safetensors"
    mt.save({"epoch": 1}, target)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(os.path.relpath(target, tmp_path))
    mt.save({"epoch": 2}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(target, tmp_path)
    assert mt.load(target)["epoch"] == 2 and mt.load(link)["epoch"] == 2
    assert sorted(os.listdir(tmp_path / "runs")) == ["run3.safetensors"]  # no temp left
    dangling = tmp_path / "dangling.safetensors"
    dangling.symlink_to(tmp_path / "runs" / "new.safetensors")
    mt.save({"epoch": 3}, dangling)  # as open(path, "w") would: creates the target
    assert dangling.is_symlink() and mt.load(tmp_path / "runs" / "new.safetensors")["epoch"] == 3


# --------------------------------------------------------------------------- D14, D13: MNIST
def test_data_root_that_is_a_file_is_a_clear_error(tmp_path, monkeypatch):
    from minitorch.data.mnist import MNIST, DataError
    not_a_dir = tmp_path / "data.tar"
    not_a_dir.write_bytes(b"x")
    monkeypatch.setenv("MINITORCH_DATA", str(not_a_dir))
    for download in (False, True):
        with pytest.raises(DataError, match=rf"data root {not_a_dir} \(from \$MINITORCH_DATA\) "
                                            "is a file, not a directory"):
            MNIST(train=False, download=download)
    with pytest.raises(DataError, match=rf"data root {not_a_dir} \(from root=\) is a file"):
        MNIST(root=not_a_dir, train=False)


def _labels_idx(n: int) -> bytes:
    return struct.pack(">I", 0x00000801) + struct.pack(">I", n) + bytes(i % 10 for i in range(n))


def test_gzip_bomb_is_refused_after_reading_only_the_expected_size(tmp_path):
    """A 1 GiB decompressed bomb (1 MiB on disk) where 10,008 bytes are expected: refused
    once the stream passes the expected size, never decompressed whole."""
    from minitorch.data.mnist import DataIntegrityError, read_idx
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    chunk = b"\0" * (1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(_labels_idx(10_000))
        for _ in range(1024):
            f.write(chunk)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DataIntegrityError, match=r"t10k-labels-idx1-ubyte\.gz.*more than "
                                                     r"the expected 10008 bytes"):
            read_idx(path, "0" * 64, expected_size=10_008)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes"
    assert time.perf_counter() - started < 5


def test_idx_header_declaring_a_huge_shape_is_refused_before_reading(tmp_path):
    from minitorch.data.mnist import DataIntegrityError, read_idx
    path = _sparse(tmp_path / "train-images-idx3-ubyte", SPARSE_SIZE,
                   struct.pack(">IIII", 0x00000803, 1 << 30, 28, 28))
    tracemalloc.start()
    try:
        with pytest.raises(DataIntegrityError, match=r"train-images-idx3-ubyte.*"
                                                     r"(more than the expected|shape)"):
            read_idx(path, "0" * 64, expected_size=47_040_016)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes"


def test_hash_is_checked_while_streaming(tmp_path):
    from minitorch.data.mnist import DataIntegrityError, read_idx
    raw = _labels_idx(100)
    good = hashlib.sha256(raw).hexdigest()
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(path, good), np.arange(100) % 10)
    np.testing.assert_array_equal(read_idx(path, good, expected_size=len(raw)),
                                  np.arange(100) % 10)
    with pytest.raises(DataIntegrityError, match="SHA-256 of the decompressed data"):
        read_idx(path, "f" * 64)
    path.write_bytes(gzip.compress(raw)[:-12])  # a truncated download
    with pytest.raises(DataIntegrityError, match=r"labels\.gz: corrupt gzip archive"):
        read_idx(path, good)
