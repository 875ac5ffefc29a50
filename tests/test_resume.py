"""Crash and resume: a real `python -m minitorch train` process is SIGKILLed (at a random
optimizer step, or inside a checkpoint write), resumed with --resume, and must end with weights
bit-identical to an uninterrupted run with the same seed.

How the kill lands where we want it: the training subprocess gets a ``sitecustomize.py`` (on
PYTHONPATH, imported by Python at startup) that wraps one place of the training library. When
the chosen event happens (the K-th optimizer step; the J-th checkpoint write, after its
temporary file is written and fsynced but before ``os.replace``; or after the rename but before
old checkpoints are pruned), it writes a marker file and sleeps. The test waits for the marker and sends
SIGKILL, so the process dies exactly inside that window, not just near it. minitorch itself has
no test hooks.

The kill points are drawn at random (the seed is printed on failure: MINITORCH_TEST_SEED=...
reproduces a run).
"""
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch.cli import main

pytestmark = pytest.mark.skipif(
    not (Path(os.environ.get("MINITORCH_DATA", "")) / "mnist").is_dir(),
    reason="real MNIST not found under MINITORCH_DATA")

REPO = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("MINITORCH_TEST_SEED", random.SystemRandom().randrange(1 << 30)))

HOOK = r'''
import os, time
spec, marker = os.environ.get("MT_TEST_PAUSE_AT"), os.environ.get("MT_TEST_MARKER")
if spec:
    import minitorch.checkpoint as ckpt, minitorch.training as training, minitorch.serialization as ser
    kind, n, where = (spec.split(":") + [""])[:3]
    n = int(n)

    def pause(what):
        with open(marker + ".part", "w") as f:
            f.write(what)
        os.replace(marker + ".part", marker)
        time.sleep(600)  # the test SIGKILLs us here

    if kind == "step":  # after the n-th optimizer step of this process (and its checkpoint)
        real_train, steps = training.train_one_epoch, [0]

        def train_one_epoch(*args, after_step=None, **kwargs):
            def hooked(s):
                after_step(s)
                steps[0] += 1
                if steps[0] == n:
                    pause(f"step {n}")
            return real_train(*args, after_step=hooked, **kwargs)
        training.train_one_epoch = train_one_epoch
    else:  # inside the n-th checkpoint write of this process
        real_save, saves, writing = ckpt.save, [0], [False]

        class PausingOs:  # serialization's view of `os`: os.replace pauses first
            def __getattr__(self, name):
                return getattr(os, name)

            @staticmethod
            def replace(src, dst):
                # save:N:replace pauses the N-th checkpoint write; write:0:NAME any write of NAME
                if (writing[0] and where == "replace") or (
                        kind == "write" and os.path.basename(dst) == where):
                    pause(f"{src} -> {dst}")
                return os.replace(src, dst)
        ser.os = PausingOs()

        def save(obj, path):
            saves[0] += 1
            writing[0] = saves[0] == n
            try:
                real_save(obj, path)
            finally:
                writing[0] = False
            if saves[0] == n and where == "prune":
                pause(str(path))
        ckpt.save = save
'''

# 320 images in batches of 32: 10 steps per epoch, 30 in all.
BASE = ["--model", "fc64", "--limit-train", "320", "--limit-test", "100", "--batch-size", "32",
        "--epochs", "3", "--quiet"]
STEPS = 30


def reference(tmp_path, args) -> dict:
    """The uninterrupted run (in-process: the same code, no checkpointing at all)."""
    path = tmp_path / "reference.safetensors"
    assert main(["train", *BASE, *args, "--save", str(path)]) == 0
    return mt.load(path)


def launch(tmp_path, argv, pause_at=None):
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    marker = tmp_path / "paused"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook_dir), str(REPO)])}
    if pause_at:
        env.update(MT_TEST_PAUSE_AT=pause_at, MT_TEST_MARKER=str(marker))
    proc = subprocess.Popen([sys.executable, "-m", "minitorch", "train", *argv], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, marker


def run_to_end(tmp_path, argv) -> str:
    proc, _ = launch(tmp_path, argv)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"seed {SEED}: {err}"
    return out


def kill_when_paused(tmp_path, argv, pause_at) -> str:
    """Start training, wait until the hook reports ``pause_at`` reached, SIGKILL it."""
    proc, marker = launch(tmp_path, argv, pause_at)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"seed {SEED}: training ended (status {proc.returncode}) before "
                        f"{pause_at}:\n{out}\n{err}")
        assert time.monotonic() < deadline, f"seed {SEED}: {pause_at} never reached"
        time.sleep(0.01)
    what = marker.read_text()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return what


def epoch_lines(out: str) -> list[str]:
    """The per-epoch metrics, without the wall-clock parts."""
    return [re.sub(r"  [\d.]+ s  \d+ img/s", "", line) for line in out.splitlines()
            if line.startswith("epoch ")]


def assert_bit_identical(ref: dict, final: dict):
    for k, v in ref["model"].items():
        np.testing.assert_array_equal(final["model"][k].data, v.data, err_msg=f"seed {SEED}: {k}")
    for i, state in ref["optimizer"]["state"].items():
        for name, v in state.items():
            got = final["optimizer"]["state"][i][name]
            if isinstance(v, mt.Tensor):
                np.testing.assert_array_equal(got.data, v.data, err_msg=f"seed {SEED}: {name}")
            else:
                assert got == v, f"seed {SEED}: optimizer state {i}.{name}"
    assert final["meta"]["epoch"] == ref["meta"]["epoch"]


def ckpt_steps(d: Path) -> list[int]:
    return sorted(int(p.name[5:13]) for p in d.glob("step-*.safetensors"))


# --------------------------------------------------------------------------- the crash tests
# Optimizer state, scheduler state, the validation split. (No --early-stopping: --save would
# then keep the best epoch rather than the last.)
RECIPES = {
    "sgd-step": ["--optimizer", "sgd", "--scheduler", "step", "--step-size", "1", "--gamma",
                 "0.5", "--seed", "4"],
    "adam-cosine": ["--optimizer", "adam", "--scheduler", "cosine", "--seed", "5"],
    "rmsprop-plateau-val": ["--optimizer", "rmsprop", "--scheduler", "plateau", "--val-split",
                            "0.2", "--seed", "6"],
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path, capsys, recipe):
    args = RECIPES[recipe]
    ref = reference(tmp_path, args)
    ref_out = capsys.readouterr().out
    rng = random.Random(f"{SEED}-{recipe}")
    every = rng.choice([3, 4, 7])
    steps = STEPS - 6 if "--val-split" in args else STEPS  # 256 train images: 8 per epoch
    kill = rng.randrange(every + 1, steps - 1)  # after at least one step checkpoint
    d = tmp_path / "ckpt"
    argv = [*BASE, *args, "--checkpoint-dir", str(d), "--checkpoint-every", str(every)]
    kill_when_paused(tmp_path, argv, f"step:{kill}")
    kept = ckpt_steps(d)
    assert kept and kept[-1] <= kill and len(kept) <= 2, f"seed {SEED}: {kept}"  # keep 2

    final = tmp_path / "final.safetensors"
    out = run_to_end(tmp_path, [*argv, "--resume", str(d), "--save", str(final)])
    m = re.search(r"resumed from .*step-(\d+)\.safetensors: \d+ epochs, (\d+) steps done", out)
    assert m and int(m.group(1)) == int(m.group(2)) == kept[-1], f"seed {SEED}: {out}"
    assert_bit_identical(ref, mt.load(final))
    # the epochs finished after the resume print exactly the reference's metrics
    resumed = epoch_lines(out)
    assert resumed and resumed == epoch_lines(ref_out)[-len(resumed):], f"seed {SEED}"


@pytest.mark.parametrize("where", ["replace", "prune"])
def test_sigkill_inside_a_checkpoint_write_then_resume_is_bit_identical(tmp_path, capsys,
                                                                       where):
    args = RECIPES["adam-cosine"]
    ref = reference(tmp_path, args)
    capsys.readouterr()
    rng = random.Random(f"{SEED}-{where}")
    every = 4
    nth = rng.randrange(2, 7)  # the nth checkpoint of the run (7 step + 3 epoch-end ones)
    d = tmp_path / "ckpt"
    argv = [*BASE, *args, "--checkpoint-dir", str(d), "--checkpoint-every", str(every)]
    what = kill_when_paused(tmp_path, argv, f"save:{nth}:{where}")
    temps = sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))  # not the lock
    if where == "replace":
        # Landed between the temporary file's fsync and the rename: the new checkpoint exists
        # only as a complete temp file, and its final name does not exist yet.
        src, dst = what.split(" -> ")
        assert [Path(src).name] == temps and not Path(dst).exists(), (what, temps)
        assert Path(src).stat().st_size > 100_000
    else:
        # Renamed but old ones not yet pruned: three checkpoints for a keep of two.
        assert not temps and len(ckpt_steps(d)) == min(nth, 3), (what, ckpt_steps(d))
    final = tmp_path / "final.safetensors"
    out = run_to_end(tmp_path, [*argv, "--resume", str(d), "--save", str(final)])
    if where == "replace":
        assert f"removed 1 unfinished checkpoint write(s) left in {d}" in out
        assert not [p for p in d.iterdir() if p.name.startswith(".")]
    assert len(ckpt_steps(d)) == 2  # keep 2 again after the next write
    assert_bit_identical(ref, mt.load(final))


def test_killed_twice_and_a_damaged_newest_checkpoint(tmp_path, capsys):
    """Two crashes in a row; then the newest checkpoint is overwritten with garbage (what an
    atomic write can't do, but a bad disk can): resume falls back to the previous one."""
    args = ["--optimizer", "adamw", "--scheduler", "exponential", "--seed", "7"]
    ref = reference(tmp_path, args)
    capsys.readouterr()
    d = tmp_path / "ckpt"
    argv = [*BASE, *args, "--checkpoint-dir", str(d), "--checkpoint-every", "3"]
    kill_when_paused(tmp_path, argv, "step:8")            # steps 1-8, checkpoints 3 and 6
    kill_when_paused(tmp_path, [*argv, "--resume", str(d)], "step:9")   # steps 7-15
    assert ckpt_steps(d) == [12, 15]
    newest = d / "step-00000015.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])         # truncated
    final = tmp_path / "final.safetensors"
    proc, _ = launch(tmp_path, [*argv, "--resume", str(d), "--save", str(final)])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "warning: skipping damaged checkpoint" in err and "step-00000015" in err
    assert "resumed from" in out and "step-00000012" in out
    assert_bit_identical(ref, mt.load(final))


def test_resume_of_a_conv_net_mid_epoch(tmp_path, capsys):
    """LeNet-5 (conv, pool: the numba kernels) resumes bit-identically too."""
    base = ["--model", "lenet5", "--limit-train", "96", "--limit-test", "50", "--batch-size",
            "16", "--epochs", "2", "--quiet", "--seed", "3"]
    path = tmp_path / "reference.safetensors"
    assert main(["train", *base, "--save", str(path)]) == 0
    ref = mt.load(path)
    capsys.readouterr()
    d = tmp_path / "ckpt"
    argv = [*base, "--checkpoint-dir", str(d), "--checkpoint-every", "4"]
    kill_when_paused(tmp_path, argv, "step:9")  # mid epoch 2 (6 steps per epoch)
    assert ckpt_steps(d) == [6, 8]
    final = tmp_path / "final.safetensors"
    run_to_end(tmp_path, [*argv, "--resume", str(d), "--save", str(final)])
    assert_bit_identical(ref, mt.load(final))


# --------------------------------------------------------------------------- refusals
def test_resume_refusals(tmp_path, capsys):
    d = tmp_path / "ckpt"
    # nothing to resume
    d.mkdir()
    code = main(["train", *BASE, "--resume", str(d)])
    err = capsys.readouterr().err
    assert code == 2 and f"no checkpoint to resume from in {d}" in err
    code = main(["train", *BASE, "--resume", str(tmp_path / "absent")])
    assert code == 2 and "no such directory" in capsys.readouterr().err
    code = main(["train", *BASE, "--checkpoint-every", "3"])
    assert code == 2 and "--checkpoint-every needs --checkpoint-dir" in capsys.readouterr().err

    assert main(["train", *BASE, "--epochs", "1", "--checkpoint-dir", str(d)]) == 0
    capsys.readouterr()
    assert ckpt_steps(d) == [10]
    # a fresh run must not mix its checkpoints with another run's
    code = main(["train", *BASE, "--checkpoint-dir", str(d)])
    err = capsys.readouterr().err
    assert code == 2 and "already holds checkpoints of another run" in err and "--resume" in err
    # other arguments than the interrupted run: refused, naming each difference
    code = main(["train", *BASE, "--epochs", "1", "--resume", str(d), "--batch-size", "64",
                 "--lr", "0.5"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--batch-size 32 -> 64" in err and "--lr None -> 0.5" in err
    # a finished run: nothing to do
    code = main(["train", *BASE, "--epochs", "1", "--resume", str(d)])
    assert code == 0 and "already finished; nothing to do" in capsys.readouterr().out
    # eval takes the directory too: its newest checkpoint
    assert main(["eval", "--checkpoint", str(d), "--limit-test", "20"]) == 0
    out = capsys.readouterr().out
    assert f"evaluating {d / 'step-00000010.safetensors'}" in out and "accuracy" in out
    # a --save file (no optimizer/loader/rng state) is not a resumable checkpoint
    mt.save({"model": {}, "meta": {}}, d / "step-00000099.safetensors")
    code = main(["train", *BASE, "--epochs", "1", "--resume", str(d)])
    out, err = capsys.readouterr()
    assert "not a resumable training checkpoint" in err and "step-00000099" in err
    assert code == 0 and "step-00000010" in out  # falls back to the good one


def test_rng_states_round_trip_through_a_file(tmp_path):
    """Every stream a step may draw from comes back exactly: minitorch's default generator,
    named generators, and NumPy's legacy global one (including its cached Gaussian)."""
    from minitorch.checkpoint import rng_states, set_rng_states
    g = mt.Generator().manual_seed(5)
    mt.manual_seed(1)
    np.random.seed(2)
    np.random.standard_normal()  # leaves a cached Gaussian in the legacy state
    g.rng.random(3)
    mt.save({"rng": rng_states({"shuffle": g})}, tmp_path / "r.safetensors")
    want = (mt.randn(4).numpy(), g.rng.random(4), np.random.standard_normal(3))
    mt.manual_seed(99)
    np.random.seed(99)
    g.manual_seed(99)
    set_rng_states(mt.load(tmp_path / "r.safetensors")["rng"], {"shuffle": g})
    got = (mt.randn(4).numpy(), g.rng.random(4), np.random.standard_normal(3))
    for w, v in zip(want, got):
        np.testing.assert_array_equal(w, v)
