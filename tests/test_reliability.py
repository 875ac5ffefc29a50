"""Reliability: loading never runs code and refuses bad files clearly, anomaly mode in the CLI
and in conv/loss ops, bitwise determinism of CLI runs, no memory growth over 2,000 steps, and
corrupt dataset files refused with the file name and the fix."""
import ast
import gc
import gzip
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from minitorch.autograd import AnomalyError
from minitorch.cli import main
from minitorch.serialization import SerializationError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MINITORCH_DATA", ""))
needs_mnist = pytest.mark.skipif(not (DATA / "mnist").is_dir(),
                                 reason="real MNIST not found under MINITORCH_DATA")
QUICK = ["--model", "fc64", "--limit-train", "320", "--limit-test", "100", "--batch-size", "32",
         "--quiet"]


def one_line_error(err: str, *fragments):
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()
             and "Warning" not in line and not line.startswith("  ")]  # NumPy's overflow notes
    assert len(lines) == 1, err
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"


# --------------------------------------------------------------------------- no code execution
def test_the_package_never_unpickles():
    """No pickle-family import, no np.load / torch.load, no allow_pickle, no eval/exec anywhere
    in minitorch (checked on the syntax tree, so docstrings that *mention* pickle are fine)."""
    banned_modules = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve",
                      "joblib"}
    hits = []
    files = sorted((REPO / "minitorch").rglob("*.py"))
    assert len(files) > 30
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            where = f"{f.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                hits += [where for a in node.names if a.name.split(".")[0] in banned_modules]
            elif isinstance(node, ast.ImportFrom) and node.module \
                    and node.module.split(".")[0] in banned_modules:
                hits.append(where)
            elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                hits.append(where)
            elif isinstance(node, ast.Call):
                fn = ast.unparse(node.func)
                if fn in ("eval", "exec", "np.load", "numpy.load", "torch.load"):
                    hits.append(f"{where} {fn}(")
    assert hits == []


@pytest.fixture
def unpickling_forbidden(monkeypatch):
    """Any unpickling (or np.load) while loading fails the test instead of running code."""
    def boom(*args, **kwargs):
        raise AssertionError("minitorch tried to unpickle / np.load a file")
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, boom)
    monkeypatch.setattr(np, "load", boom)


class Evil:
    """Unpickling this would run os.system: the file must be refused, never loaded."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _foreign_files(tmp: Path) -> dict:
    good = tmp / "good.safetensors"
    mt.save({"w": mt.Tensor(np.arange(100.0)), "epoch": 1}, good)
    raw = good.read_bytes()
    files = {
        "pickle": (pickle.dumps(Evil()), r"Python pickle.*never loads"),
        "torch-zip": (None, r"zip archive"),  # written below: an .npz holding objects
        "random": (np.random.default_rng(0).bytes(4096), r"header claims \d+ bytes"),
        "empty": (b"", r"only 0 bytes, too short"),
        "truncated-data": (raw[:-8], r"truncated"),
        "truncated-header": (raw[:40], r"header claims"),
        "not-json": (struct.pack("<Q", 6) + b"{nope}", r"header is not JSON"),
        "bit-flip-in-header": (raw[:20] + bytes([raw[20] ^ 0x7F]) + raw[21:],
                               r"not a valid safetensors|structure is damaged"),
    }
    out = {}
    for name, (content, pattern) in files.items():
        path = tmp / f"{name}.safetensors"
        if content is None:
            np.savez(tmp / "objects.npz", a=np.array([{"x": Evil()}], dtype=object))
            path = tmp / "objects.npz"
        else:
            path.write_bytes(content)
        out[name] = (path, pattern)
    return out


def test_foreign_and_damaged_files_are_refused_without_running_code(tmp_path, monkeypatch,
                                                                      unpickling_forbidden):
    monkeypatch.chdir(tmp_path)
    for name, (path, pattern) in _foreign_files(tmp_path).items():
        with pytest.raises(SerializationError) as err:
            mt.load(path)
        msg = str(err.value)
        assert str(path) in msg and re.search(pattern, msg), (name, msg)
    with pytest.raises(SerializationError, match=rf"can't read {re.escape(str(tmp_path))}"):
        mt.load(tmp_path)  # a directory
    assert not (tmp_path / "PWNED").exists()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.binary(max_size=64), header=st.recursive(
    st.none() | st.booleans() | st.integers(-5, 1 << 70) | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8), tail=st.binary(max_size=32), use_header=st.booleans())
def test_fuzzed_files_load_or_raise_serialization_error(tmp_path, head, header, tail,
                                                         use_header):
    """Random bytes, or random JSON as a safetensors header: a SerializationError naming the
    file, never another exception type from inside."""
    if use_header:
        body = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": header}}
                          if isinstance(header, list) else header).encode()
        raw = struct.pack("<Q", len(body)) + body + tail
    else:
        raw = head + tail
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(raw)
    try:
        mt.load(path)
    except SerializationError as exc:
        assert str(path) in str(exc)


@needs_mnist
def test_eval_refuses_checkpoints_of_the_wrong_structure(tmp_path, capsys):
    def run(path):
        code = main(["eval", "--checkpoint", str(path), "--limit-test", "10"])
        return code, capsys.readouterr().err

    lenet = mt.models.get_model("lenet5").state_dict()
    cases = {
        "meta-without-model": ({"model": {}, "meta": {"epoch": 1}}, "damaged checkpoint"),
        "meta-is-a-string": ({"model": {}, "meta": "fc64"}, "damaged checkpoint"),
        "weights-of-another-net": ({"model": lenet, "meta": {"model": "fc64", "dataset": "mnist"}},
                                   "its weights don't fit the model 'fc64'"),
    }
    for name, (obj, fragment) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        mt.save(obj, path)
        code, err = run(path)
        assert code == 2, name
        one_line_error(err, str(path), fragment)
    for name, (path, _) in _foreign_files(tmp_path).items():
        code, err = run(path)
        assert code == 2, name
        one_line_error(err, str(path))


@needs_mnist
def test_resume_refuses_a_checkpoint_that_does_not_fit(tmp_path, capsys):
    d = tmp_path / "ckpt"
    assert main(["train", *QUICK, "--epochs", "1", "--checkpoint-dir", str(d)]) == 0
    (path,) = d.glob("step-*.safetensors")
    state = mt.load(path)
    state["model"]["1.weight"] = mt.zeros(3, 3)  # e.g. copied in from another experiment
    mt.save(state, path)
    capsys.readouterr()
    assert main(["train", *QUICK, "--epochs", "1", "--resume", str(d)]) == 2
    one_line_error(capsys.readouterr().err, f"--resume: {path} does not fit this run",
                   "size mismatch for 1.weight")


# --------------------------------------------------------------------------- detect_anomaly
@needs_mnist
def test_cli_detect_anomaly_names_the_first_op_with_nan(capsys):
    bad = [*QUICK, "--epochs", "1", "--optimizer", "sgd", "--lr", "1e6"]
    with np.errstate(all="ignore"):
        assert main(["train", *bad]) == 0  # without the flag NaN trains on...
        out = capsys.readouterr().out
        assert "loss nan" in out and "rerun with --detect-anomaly" in out  # ...with a hint
    proc = subprocess.run([sys.executable, "-W", "ignore", "-m", "minitorch", "train", *bad,
                           "--detect-anomaly"], cwd=REPO, env={**os.environ, "PYTHONPATH":
                           str(REPO)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    err = proc.stderr
    one_line_error(err, "minitorch train: error: ", "produced NaN/Inf", "op created at")
    # the op, its input shapes, and the layer's line (there is no user code in a CLI run)
    assert re.search(r"error: (\w+): (forward \(inputs \[\(32, \d+\)|backward \(grad_out "
                     r"shape)", err), err
    assert "minitorch/nn/" in err and "<frozen" not in err


def test_anomaly_in_conv_forward_names_op_shapes_and_line():
    x = mt.ones(1, 1, 6, 6)
    w = mt.full((2, 1, 3, 3), 1e38, requires_grad=True)  # 9 * 1e38 overflows float32
    with mt.detect_anomaly(), np.errstate(over="ignore"):
        with pytest.raises(AnomalyError) as err:
            F.conv2d(x, w)  # the user's conv line
    msg = str(err.value)
    # Conv2dDirect on the numba table (a few-channel layer), Conv2d without numba
    assert re.match(r"Conv2d(Direct)?: forward \(inputs \[\(1, 1, 6, 6\), \(2, 1, 3, 3\)\]",
                    msg), msg
    assert "test_reliability.py" in msg and "F.conv2d(x, w)  # the user's conv line" in msg


def test_anomaly_in_conv_backward_names_op_shapes_and_line():
    # forward stays finite (1e30 * 1e-6 * 9 = 9e24); the weight grad sum(x * 1e9) overflows
    x = mt.full((1, 1, 5, 5), 1e30)
    w = mt.full((1, 1, 3, 3), 1e-6, requires_grad=True)
    with mt.detect_anomaly(), np.errstate(over="ignore"):
        y = F.conv2d(x, w)  # conv whose backward overflows
        loss = (y * 1e9).sum()
        with pytest.raises(AnomalyError) as err:
            loss.backward()
    msg = str(err.value)
    assert re.match(r"Conv2d(Direct)?: backward \(grad_out shape \(1, 1, 3, 3\)\)", msg), msg
    assert "y = F.conv2d(x, w)  # conv whose backward overflows" in msg


def test_anomaly_in_loss_forward_and_backward():
    logits = mt.tensor([[float("nan"), 1.0], [0.5, 0.2]], requires_grad=True)
    with mt.detect_anomaly():
        with pytest.raises(AnomalyError) as err:
            F.cross_entropy(logits, mt.tensor([0, 1]))  # NaN logits
    assert str(err.value).startswith("CrossEntropy: forward (inputs [(2, 2), (2,)])")
    assert "NaN logits" in str(err.value)
    with mt.detect_anomaly(), np.errstate(over="ignore"):
        with pytest.raises(AnomalyError) as err:
            F.mse_loss(mt.tensor([3e38]), mt.tensor([-3e38]))  # (6e38)^2: overflow
    assert str(err.value).startswith("MSELoss: forward (inputs [(1,), (1,)])"), str(err.value)


# --------------------------------------------------------------------------- determinism
@needs_mnist
def test_two_cli_processes_with_the_same_seed_are_bit_identical(tmp_path):
    """Separate processes (fresh BLAS thread pools, numba caches), a conv net and an MLP."""
    runs = {}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = {"lenet5": ["--model", "lenet5", "--limit-train", "64", "--batch-size", "32",
                       "--limit-test", "20", "--epochs", "1", "--quiet", "--seed", "11"],
            "fc64": [*QUICK, "--epochs", "1", "--seed", "11"]}
    procs = []
    for model, args in argv.items():
        for k in range(2):
            path = tmp_path / f"{model}-{k}.safetensors"
            procs.append(subprocess.Popen([sys.executable, "-m", "minitorch", "train", *args,
                                           "--save", str(path)], cwd=REPO, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            runs[model, k] = path
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    for model in argv:
        a, b = (mt.load(runs[model, k])["model"] for k in range(2))
        for name in a:
            np.testing.assert_array_equal(a[name].data, b[name].data, err_msg=f"{model} {name}")
    # and the seed matters: a different seed gives different weights
    assert main(["train", *QUICK, "--epochs", "1", "--seed", "12", "--save",
                 str(tmp_path / "other.safetensors")]) == 0
    other = mt.load(tmp_path / "other.safetensors")["model"]
    first = mt.load(runs["fc64", 0])["model"]
    assert not np.array_equal(other["1.weight"].data, first["1.weight"].data)


# --------------------------------------------------------------------------- memory
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _live_tensors() -> int:
    # type(), not isinstance(): isinstance on a dead weakref.proxy raises ReferenceError
    return sum(1 for o in gc.get_objects() if issubclass(type(o), mt.Tensor))


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_2000_steps_do_not_grow_memory_or_live_tensors():
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = mt.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    previous = None
    for step in range(2000):
        x = mt.tensor(rng.standard_normal((16, 20)).astype(np.float32))
        y = mt.tensor(rng.integers(0, 10, 16))
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert loss.grad_fn.ctx is None  # backward freed the saved arrays
        if previous is not None:  # last step's graph is gone once its tensors are dropped
            assert all(r() is None for r in previous), f"step {step}: graph kept alive"
        previous = [weakref.ref(loss), weakref.ref(loss.grad_fn), weakref.ref(logits),
                    weakref.ref(logits.grad_fn)]
        if step == 200:  # warmed up: allocator pools, Adam buffers, caches
            gc.collect()
            rss0, tensors0 = _rss_bytes(), _live_tensors()
    del x, y, logits, loss
    gc.collect()
    grown = _rss_bytes() - rss0
    assert _live_tensors() <= tensors0, (tensors0, _live_tensors())
    assert grown < 4 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB over 1,800 steps"


# --------------------------------------------------------------------------- data integrity
@pytest.fixture
def mnist_copy(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(DATA / "mnist", root / "mnist")
    return root


@needs_mnist
@pytest.mark.parametrize("damage,fragment", [
    ("truncate-gz", "corrupt gzip archive"),
    ("flip-byte", "SHA-256 of the decompressed data is"),
    ("other-data", "SHA-256 of the decompressed data is"),
    ("empty", "SHA-256 of the decompressed data is"),
])
def test_cli_refuses_damaged_dataset_files(mnist_copy, capsys, damage, fragment):
    gz = mnist_copy / "mnist" / "train-labels-idx1-ubyte.gz"
    raw = gz.read_bytes()
    if damage == "truncate-gz":
        gz.write_bytes(raw[:len(raw) // 2])
    elif damage == "flip-byte":  # valid gzip of altered data: only the hash can tell
        data = bytearray(gzip.decompress(raw))
        data[100] ^= 1
        gz.write_bytes(gzip.compress(bytes(data)))
    elif damage == "other-data":  # a well-formed IDX file that isn't MNIST's
        gz.unlink()
        (mnist_copy / "mnist" / "train-labels-idx1-ubyte").write_bytes(
            b"\x00\x00\x08\x01" + struct.pack(">I", 60000) + bytes(60000))
        gz = mnist_copy / "mnist" / "train-labels-idx1-ubyte"
    else:
        gz.write_bytes(b"")
    from minitorch.data import mnist
    mnist.clear_cache()
    code = main(["train", *QUICK, "--epochs", "1", "--data-root", str(mnist_copy),
                 "--no-download"])
    assert code == 2
    err = capsys.readouterr().err
    one_line_error(err, str(gz), fragment)
    assert "delete it and download it again" in err.lower()
