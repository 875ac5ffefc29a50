"""The red team's checkpoint and CLI defects (issue 9, section 3), one test each: damaged,
hand-renamed or crafted checkpoints, two runs on one directory, leftovers of killed writes,
unwritable places, wrong-typed entries, a truncated numba cache, and --seed."""
import errno
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
import minitorch.serialization as serialization
from minitorch.cli import main
from test_resume import launch

pytestmark = pytest.mark.skipif(
    not (Path(os.environ.get("MINITORCH_DATA", "")) / "mnist").is_dir(),
    reason="real MNIST not found under MINITORCH_DATA")

REPO = Path(__file__).resolve().parents[1]
# 320 images in batches of 32: 10 steps per epoch; checkpoints every 5 steps.
BASE = ["--model", "fc64", "--limit-train", "320", "--limit-test", "100", "--batch-size", "32",
        "--epochs", "2", "--quiet"]
EVERY = ["--checkpoint-every", "5"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *fragments):
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and "warning" not in line]
    assert len(lines) == 1, err
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"


def steps_in(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("step-"))


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A checkpoint directory as a run killed after epoch 1 leaves it: step-5 (mid epoch 1)
    and step-10 (end of epoch 1) of a 2-epoch run."""
    d = tmp_path_factory.mktemp("template") / "ckpt"
    assert main(["train", *BASE, *EVERY, "--checkpoint-dir", str(d),
                 "--keep-checkpoints", "10"]) == 0
    for name in ("step-00000015.safetensors", "step-00000020.safetensors"):
        (d / name).unlink()
    assert steps_in(d) == ["step-00000005.safetensors", "step-00000010.safetensors"]
    return d


@pytest.fixture
def ckpt(interrupted_run, tmp_path, capsys):
    d = tmp_path / "ckpt"
    shutil.copytree(interrupted_run, d)
    capsys.readouterr()
    return d


def resume(capsys, d, *extra):
    return run(capsys, "train", *BASE, *EVERY, "--resume", d, *extra)


def nested_header(depth=100_000) -> bytes:
    body = b"[" * depth + b"]" * depth
    return struct.pack("<Q", len(body)) + body


# --------------------------------------------------------------------------- D4 / D5 / D6
def test_d4_a_crafted_newest_checkpoint_falls_back_to_the_previous_one(ckpt, capsys):
    (ckpt / "step-00000010.safetensors").write_bytes(nested_header())
    code, out, err = resume(capsys, ckpt)
    assert code == 0, err
    assert "warning: skipping damaged checkpoint" in err and "step-00000010" in err
    assert "Traceback" not in err
    assert f"resumed from {ckpt / 'step-00000005.safetensors'}" in out
    (ckpt / "step-00000020.safetensors").write_bytes(nested_header())
    code, out, err = run(capsys, "eval", "--checkpoint", ckpt, "--limit-test", 20)
    assert code == 0, err
    assert "skipping damaged checkpoint" in err and "step-00000020" in err
    assert f"evaluating {ckpt / 'step-00000015.safetensors'}" in out


def test_d6_unpadded_name_and_dangling_symlink_use_the_newest_good_checkpoint(ckpt, capsys):
    (ckpt / "step-00000010.safetensors").rename(ckpt / "step-10.safetensors")  # by hand
    (ckpt / "step-00000030.safetensors").symlink_to(ckpt / "gone.safetensors")
    code, out, err = resume(capsys, ckpt)
    assert code == 0, err
    assert "symbolic link to" in err and "does not exist" in err
    assert f"resumed from {ckpt / 'step-10.safetensors'}: 1 epochs, 10 steps done" in out
    assert len([line for line in out.splitlines() if line.startswith("epoch 2/2")]) == 1


def test_d5_a_fifo_named_like_the_newest_checkpoint_is_skipped_not_read(ckpt):
    os.mkfifo(ckpt / "step-00000030.safetensors")  # reading it would block forever
    proc = subprocess.run([sys.executable, "-m", "minitorch", "train", *BASE, *EVERY,
                           "--resume", str(ckpt)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "warning: skipping damaged checkpoint" in proc.stderr and "FIFO" in proc.stderr
    assert "resumed from" in proc.stdout and "step-00000010" in proc.stdout


# --------------------------------------------------------------------------- D16
def test_d16_keep_one_with_a_damaged_higher_numbered_file_keeps_the_new_checkpoints(ckpt,
                                                                                    capsys):
    (ckpt / "step-00000099.safetensors").write_bytes(b"junk")
    code, out, err = resume(capsys, ckpt, "--keep-checkpoints", 1)
    assert code == 0, err
    assert "step-00000099" in err  # skipped, with a warning
    # the run's own newest checkpoint survives; the damaged leftover is not the user's only copy
    assert steps_in(ckpt) == ["step-00000020.safetensors", "step-00000099.safetensors"]
    state = mt.load(ckpt / "step-00000020.safetensors")
    assert state["loop"]["epoch"] == 2 and state["loop"]["step"] == 20


# --------------------------------------------------------------------------- D10
def wait_for(proc, marker: Path):
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the training process never paused"
        time.sleep(0.01)
    return marker.read_text()


def test_d10_a_second_resume_on_a_live_run_is_refused_and_a_killed_run_unlocks(tmp_path,
                                                                             capsys):
    d = tmp_path / "ckpt"
    argv = [*BASE, *EVERY, "--checkpoint-dir", str(d)]
    # the live run is paused inside its 2nd checkpoint write: its temp file is on disk
    proc, marker = launch(tmp_path, argv, "save:2:replace")
    try:
        src = wait_for(proc, marker).split(" -> ")[0]
        assert Path(src).exists()
        code, out, err = run(capsys, "train", *argv, "--resume", d)
        assert code == 2
        one_line_error(err, f"checkpoint directory {d} is in use by another training process "
                            f"(PID {proc.pid})")
        assert Path(src).exists(), "the refused run deleted the live run's temporary file"
        code, _, err = run(capsys, "train", *argv)  # nor may a fresh run into it
        assert code == 2 and f"PID {proc.pid}" in err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    # killed: the kernel dropped its flock, so the lock file it left blocks nobody
    assert (d / ".minitorch.lock").read_text().strip() == str(proc.pid)
    code, out, err = run(capsys, "train", *argv, "--resume", d)
    assert code == 0, err
    assert "removed 1 unfinished checkpoint write(s)" in out
    assert not (d / ".minitorch.lock").exists()  # released at the end of the run


# --------------------------------------------------------------------------- D18
def test_d18_a_killed_save_leaves_no_temp_file_behind(tmp_path, capsys):
    final = tmp_path / "final.safetensors"
    argv = [*BASE, "--epochs", "1", "--save", str(final)]
    proc, marker = launch(tmp_path, argv, "write:0:final.safetensors")
    wait_for(proc, marker)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    temps = [p.name for p in tmp_path.iterdir() if p.name.startswith(".final.safetensors.")
             and p.name.endswith(".tmp")]
    assert len(temps) == 1 and not final.exists()
    code, out, err = run(capsys, "train", *argv)
    assert code == 0, err
    assert f"removed 1 unfinished write(s) of {final}" in out and temps[0] in out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".final.safetensors")]
    assert mt.load(final)["meta"]["epoch"] == 1


# --------------------------------------------------------------------------- D11
def test_d11_a_file_as_checkpoint_dir_and_save_into_a_missing_directory(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    code, out, err = run(capsys, "train", *BASE, "--checkpoint-dir", f)
    assert code == 2 and "epoch 1" not in out
    one_line_error(err, f"--checkpoint-dir {f}: exists and is not a directory")
    missing = tmp_path / "no" / "such" / "m.safetensors"
    code, out, err = run(capsys, "train", *BASE, "--save", missing)
    assert code == 2 and "epoch 1" not in out
    one_line_error(err, f"--save {missing}: the directory {missing.parent} does not exist")
    assert f.read_text() == "mine"


def _without_root_override():
    """Root writes into read-only directories (CAP_DAC_OVERRIDE): the child drops that
    capability from its bounding set, so after exec it obeys the mode bits like anyone."""
    if os.geteuid() == 0:
        import ctypes
        pr_capbset_drop, cap_dac_override = 24, 1
        if ctypes.CDLL(None, use_errno=True).prctl(pr_capbset_drop, cap_dac_override,
                                                   0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def _file_size_limit():
    """A disk that fills up: writes past 256 KiB fail (EFBIG instead of ENOSPC, same path)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))


@pytest.mark.parametrize("flag", ["--checkpoint-dir", "--save"])
@pytest.mark.parametrize("place", ["read-only", "full"])
def test_d11_unwritable_places_are_refused_before_training(tmp_path, flag, place):
    where = tmp_path / "out"
    where.mkdir()
    if place == "read-only":
        where.chmod(0o555)
    # --checkpoint-dir: a new directory to create inside (read-only) / the directory (full)
    target = {"--checkpoint-dir": where / "ckpt" if place == "read-only" else where,
              "--save": where / "m.safetensors"}[flag]
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "minitorch", "train", *BASE, flag, str(target)], cwd=REPO,
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            preexec_fn=_without_root_override if place == "read-only" else _file_size_limit)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"can't make an unwritable place for the child here: {exc}")
    finally:
        where.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert "epoch 1" not in proc.stdout  # refused before any training
    reason = "Permission denied" if place == "read-only" else "File too large"
    one_line_error(proc.stderr, f"{flag} ", reason)
    if place == "full":
        assert "has no room for a checkpoint of about" in proc.stderr
    assert not [p for p in where.iterdir() if p.name.endswith(".tmp")]  # the probe cleaned up


def _train_on_a_small_disk(tmp_path, size: str, *argv):
    """``python -m minitorch train ARGV`` with ``tmp_path/disk`` a tmpfs of ``size``, mounted
    in a private mount namespace (it vanishes with the process): a real full disk, ENOSPC."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to mount a small tmpfs in a private namespace")
    script = 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"'
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                           "sh", size, str(disk), sys.executable, "-m", "minitorch", "train",
                           *BASE, *[a.replace("DISK", str(disk)) for a in argv]],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if "mount:" in proc.stderr or "unshare:" in proc.stderr:
        pytest.skip(f"can't mount a tmpfs here: {proc.stderr.strip()}")
    return proc


@pytest.mark.parametrize("flag", ["--checkpoint-dir", "--save"])
def test_d11_a_full_disk_is_refused_before_training(tmp_path, flag):
    target = "DISK/ckpt" if flag == "--checkpoint-dir" else "DISK/m.safetensors"
    proc = _train_on_a_small_disk(tmp_path, "256k", flag, target)
    assert proc.returncode == 2, proc.stderr
    assert "epoch 1" not in proc.stdout
    one_line_error(proc.stderr, f"{flag} {tmp_path / 'disk'}", "has no room for a checkpoint",
                   "No space left on device")


@pytest.mark.parametrize("flag", ["--checkpoint-dir", "--save"])
def test_d11_the_disk_filling_up_mid_training_is_a_clear_error(tmp_path, flag):
    """1000 KiB: room for the probe (0.64 MiB) and the first checkpoint (0.6 MB), not for the
    second one next to it."""
    disk = tmp_path / "disk"
    if flag == "--checkpoint-dir":
        proc = _train_on_a_small_disk(tmp_path, "1000k", *EVERY, flag, "DISK/ckpt")
        fragments = (f"can't write the checkpoint {disk / 'ckpt'}/step-00000010",
                     "No space left on device", f"resume from them with --resume {disk / 'ckpt'}")
    else:
        proc = _train_on_a_small_disk(tmp_path, "1000k", flag, "DISK/m.safetensors")
        fragments = (f"--save {disk / 'm.safetensors'}: can't write the checkpoint: No space "
                     "left on device",)
    assert proc.returncode == 2, proc.stderr
    assert "epoch 1/2" in proc.stdout  # it did fail mid-training
    one_line_error(proc.stderr, *fragments)


def test_d11_a_write_failure_mid_training_is_a_clear_error(tmp_path, capsys, monkeypatch):
    real, calls = serialization.atomic_write, []

    def disk_full_from_the_2nd_write(path, *args, **kwargs):
        calls.append(path)
        if len(calls) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, *args, **kwargs)
    monkeypatch.setattr(serialization, "atomic_write", disk_full_from_the_2nd_write)
    d = tmp_path / "ckpt"
    code, out, err = run(capsys, "train", *BASE, *EVERY, "--checkpoint-dir", d)
    assert code == 2
    one_line_error(err, f"can't write the checkpoint {d / 'step-00000010.safetensors'}: No "
                        "space left on device", f"--resume {d}")
    assert steps_in(d) == ["step-00000005.safetensors"]  # the one before is intact
    calls.clear()
    save = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", *BASE, "--save", save)
    assert code == 2
    one_line_error(err, f"--save {save}: can't write the checkpoint: No space left on device")


# --------------------------------------------------------------------------- D12
def _mutations():
    return {
        "negative-position": (lambda s: s["loader"].update(position=-1),
                              "loader position -1 is not an integer >= 0"),
        "position-past-the-epoch": (lambda s: s["loader"].update(position=999),
                                    "loader position 999 is beyond the 10 batches"),
        "loop-is-a-string": (lambda s: s.update(loop="epoch 1"), "'loop' is a str, not a dict"),
        "negative-step": (lambda s: s["loop"].update(step=-4), "loop step -4 is not an integer"),
        "sums-of-the-wrong-shape": (lambda s: s["loop"].update(sums=[1.0]), "loop sums"),
        "rng-without-states": (lambda s: s.update(rng={"default": 1}), "rng must hold"),
        "run-arguments-are-a-string": (lambda s: s["meta"].update(args="--epochs 2"),
                                       "meta args (the run's arguments) is not a dict"),
        "optimizer-state-is-a-number": (lambda s: s["optimizer"].update(state=5),
                                        "does not fit this run"),
    }


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_d12_wrongly_typed_or_impossible_entries_are_refused(interrupted_run, tmp_path, capsys,
                                                             case):
    mutate, fragment = _mutations()[case]
    state = mt.load(interrupted_run / "step-00000005.safetensors")
    mutate(state)
    d = tmp_path / "ckpt"
    d.mkdir()
    mt.save(state, d / "step-00000005.safetensors")
    capsys.readouterr()
    code, out, err = resume(capsys, d)
    assert code == 2, (out, err)
    assert "epoch 1/2" not in out  # refused before training on it
    one_line_error(err, str(d / "step-00000005.safetensors"), fragment)


# --------------------------------------------------------------------------- D7
def _address_space_2gib():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("kwargs,fragment", [
    ({"hidden": [30000, 30000]}, "asks for a size 30000, larger than any dimension"),
    ({"hidden": [64] * 50}, "lists more layers than the file has tensors (4)"),
    ({"hidden": "wide"}, "don't build the model 'mlp'"),
    ({"depth": 3}, "don't build the model 'mlp'"),
    ({"hidden": [{"a": 1}]}, "only numbers, strings, bools"),
    ([64], "must be a dict of keyword arguments"),
])
def test_d7_eval_validates_model_kwargs_before_building_the_model(tmp_path, kwargs, fragment):
    """fc64's real weights with kwargs asking for a 30000-wide MLP (3.6 GB of float32): the
    file is refused before the model is built, in a process limited to 2 GiB of memory."""
    path = tmp_path / "c.safetensors"
    mt.save({"model": mt.models.get_model("fc64").state_dict(),
             "meta": {"model": "mlp", "dataset": "mnist", "model_kwargs": kwargs}}, path)
    assert path.stat().st_size < 300_000
    proc = subprocess.run([sys.executable, "-m", "minitorch", "eval", "--checkpoint", str(path),
                           "--limit-test", "10"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300,
                          preexec_fn=_address_space_2gib)
    assert proc.returncode == 2, proc.stderr
    one_line_error(proc.stderr, str(path), fragment)


# --------------------------------------------------------------------------- D19
NUMBA_SCRIPT = """
import minitorch as mt, minitorch.nn.functional as F
x = mt.randn(2, 1, 8, 8, requires_grad=True)
w = mt.randn(3, 1, 3, 3, requires_grad=True)
F.max_pool2d(F.conv2d(x, w), 2).sum().backward()
print("grad", float(abs(x.grad.numpy()).sum()) > 0)
"""


def test_d19_a_truncated_numba_cache_is_recompiled_not_fatal(tmp_path):
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_CACHE_DIR": str(cache)}

    def conv_net():
        return subprocess.run([sys.executable, "-c", NUMBA_SCRIPT], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
    first = conv_net()
    assert first.returncode == 0 and "grad True" in first.stdout, first.stderr
    files = sorted(cache.rglob("*.nb[ic]"))
    assert any(f.suffix == ".nbc" for f in files) and any(f.suffix == ".nbi" for f in files)
    for f in files:  # a full disk or a killed compile: every cache file cut short
        f.write_bytes(f.read_bytes()[:40])
    second = conv_net()
    assert second.returncode == 0 and "grad True" in second.stdout, second.stderr[-2000:]
    assert "recompiling" in second.stderr
    third = conv_net()  # the recompiled kernels were written back: a clean cache again
    assert third.returncode == 0 and "recompiling" not in third.stderr, third.stderr[-2000:]


# --------------------------------------------------------------------------- D21
def test_d21_seed_also_seeds_numpys_legacy_global_generator(tmp_path):
    """Two fresh processes with the same --seed write the same random states (and weights)."""
    states = []
    for k in range(2):
        cwd = tmp_path / f"run{k}"
        cwd.mkdir()
        proc = subprocess.run([sys.executable, "-m", "minitorch", "train", *BASE, "--epochs",
                               "1", "--seed", "5", "--checkpoint-dir", "ckpt"], cwd=cwd,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0, proc.stderr
        states.append(mt.load(cwd / "ckpt" / "step-00000010.safetensors"))
    a, b = (s["rng"]["numpy_global"] for s in states)
    np.testing.assert_array_equal(a["keys"].data if hasattr(a["keys"], "data") else a["keys"],
                                  b["keys"].data if hasattr(b["keys"], "data") else b["keys"])
    assert a["pos"] == b["pos"]
    seeded = np.random.RandomState(5).get_state()[1]
    keys = a["keys"].data if hasattr(a["keys"], "data") else a["keys"]
    np.testing.assert_array_equal(np.asarray(keys), seeded)
    for name, w in states[0]["model"].items():
        np.testing.assert_array_equal(w.data, states[1]["model"][name].data, err_msg=name)
