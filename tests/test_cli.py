"""`python -m minitorch train|eval`: real MNIST runs on small slices, checkpoints, clear errors."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch.backend import cuda_unavailable_reason
from minitorch.cli import confusion_matrix, main
from minitorch.data import MNIST

pytestmark = pytest.mark.skipif(
    not (Path(os.environ.get("MINITORCH_DATA", "")) / "mnist").is_dir(),
    reason="real MNIST not found under MINITORCH_DATA")

QUICK = ["--model", "fc64", "--limit-train", "512", "--limit-test", "200", "--quiet"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def epoch_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("epoch ")]


def test_train_then_eval(tmp_path, capsys):
    ckpt = tmp_path / "fc64.safetensors"
    code, out, err = run(capsys, "train", "--model", "fc64", "--limit-train", 2000,
                         "--limit-test", 500, "--epochs", 1, "--save", ckpt, "--quiet")
    assert code == 0, err
    (line,) = epoch_lines(out)
    assert re.search(r"loss [\d.]+  train [\d.]+%  test [\d.]+%  [\d.]+ s  \d+ img/s", line)

    saved = mt.load(ckpt)
    meta = saved["meta"]
    assert meta["model"] == "fc64" and meta["dataset"] == "mnist" and meta["epoch"] == 1
    assert set(saved["model"]) == set(mt.models.get_model("fc64").state_dict())
    assert "state" in saved["optimizer"] and "param_groups" in saved["optimizer"]
    assert 0.5 < meta["metrics"]["test_acc"] <= 1.0  # 2000 images: far above chance (0.1)

    code, out, err = run(capsys, "eval", "--checkpoint", ckpt, "--limit-test", 500)
    assert code == 0, err
    acc = float(re.search(r"accuracy ([\d.]+)%", out).group(1))
    assert acc == pytest.approx(100 * meta["metrics"]["test_acc"], abs=0.005)
    assert "per-class accuracy" in out and "confusion matrix" in out
    rows = [line.split() for line in out.splitlines()[-10:]]
    cm = np.array([[int(v) for v in r[1:]] for r in rows])
    labels = MNIST(train=False).targets[:500]
    assert cm.shape == (10, 10)
    assert cm.sum(axis=1).tolist() == np.bincount(labels, minlength=10).tolist()
    assert np.trace(cm) / 500 == pytest.approx(acc / 100, abs=1e-9)


def test_confusion_matrix():
    cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_val_split_and_early_stopping_keep_the_best_epoch(tmp_path, capsys):
    ckpt = tmp_path / "best.safetensors"
    # lr 0: validation accuracy never improves after epoch 1, so patience 1 stops at epoch 2
    code, out, err = run(capsys, "train", *QUICK, "--optimizer", "sgd", "--lr", 0,
                         "--epochs", 5, "--val-split", 0.25, "--early-stopping", 1, "--save", ckpt)
    assert code == 0, err
    assert len(epoch_lines(out)) == 2 and "early stopping" in out
    assert "384 train, 128 val, 200 test" in out
    assert mt.load(ckpt)["meta"]["epoch"] == 1

    code, out, err = run(capsys, "train", *QUICK, "--epochs", 3, "--val-split", 0.25,
                         "--early-stopping", 3, "--save", ckpt)
    assert code == 0, err
    meta = mt.load(ckpt)["meta"]
    vals = [h["val_acc"] for h in meta["history"]]
    assert meta["epoch"] == 1 + int(np.argmax(vals))  # first epoch with the best val accuracy
    assert all(re.search(r"val [\d.]+%  test [\d.]+%", line) for line in epoch_lines(out))


@pytest.mark.parametrize("args,expected", [
    (["--scheduler", "step", "--step-size", 1, "--gamma", 0.5], [0.01, 0.005, 0.0025]),
    (["--scheduler", "exponential", "--gamma", 0.5], [0.01, 0.005, 0.0025]),
    (["--scheduler", "multistep", "--milestones", "2", "--gamma", 0.1], [0.01, 0.01, 0.001]),
    (["--scheduler", "cosine"], [0.01, 0.0075, 0.0025]),  # 0.01 * (1 + cos(pi t / 3)) / 2
    (["--scheduler", "none"], [0.01, 0.01, 0.01]),
])
def test_schedulers_change_the_learning_rate(capsys, args, expected):
    code, out, err = run(capsys, "train", *QUICK, "--optimizer", "sgd", "--epochs", 3, *args)
    assert code == 0, err
    lrs = [float(line.rsplit("lr ", 1)[1]) for line in epoch_lines(out)]
    assert lrs == pytest.approx(expected, rel=1e-6)


def test_plateau_scheduler_runs(capsys):
    code, out, err = run(capsys, "train", *QUICK, "--epochs", 2, "--scheduler", "plateau",
                         "--val-split", 0.2)
    assert code == 0, err
    assert len(epoch_lines(out)) == 2


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"])
def test_every_optimizer_trains_and_saves(tmp_path, capsys, optimizer):
    ckpt = tmp_path / "c.safetensors"
    code, out, err = run(capsys, "train", *QUICK, "--epochs", 1, "--optimizer", optimizer,
                         "--weight-decay", 1e-4, "--save", ckpt)
    assert code == 0, err
    saved = mt.load(ckpt)
    opt = getattr(mt.optim, {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                             "adagrad": "Adagrad", "adadelta": "Adadelta"}[optimizer])(
        mt.models.get_model("fc64").parameters(), lr=0.1)
    opt.load_state_dict(saved["optimizer"])  # the stored state fits a fresh optimizer
    assert saved["optimizer"]["param_groups"][0]["weight_decay"] == 1e-4


def test_same_seed_same_run(tmp_path, capsys):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    for path in (a, b):
        assert run(capsys, "train", *QUICK, "--epochs", 1, "--seed", 3, "--save", path)[0] == 0
    wa, wb = mt.load(a)["model"], mt.load(b)["model"]
    for k in wa:
        np.testing.assert_array_equal(wa[k].data, wb[k].data, err_msg=k)


# --------------------------------------------------------------------------- errors
def one_line_error(err: str, *fragments):
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 or lines[0].startswith("usage:"), err
    for f in fragments:
        assert f in err, f"{f!r} not in {err!r}"


def test_unknown_model(capsys):
    code, _, err = run(capsys, "train", "--model", "resnet9000")
    assert code == 2
    one_line_error(err, "unknown model 'resnet9000'", "fc64", "fc256-fc256")


def test_missing_data_names_the_directory(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data-root", tmp_path, "--no-download", "--quiet")
    assert code == 2
    one_line_error(err, str(tmp_path / "mnist"), "train-images-idx3-ubyte.gz")


@pytest.mark.parametrize("argv,fragment", [
    (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["train", "--val-split", "1.5"], "must be in [0, 1)"),
    (["train", "--epochs", "0"], "must be a positive integer"),
    (["train", "--early-stopping", "2"], "needs a validation set"),
    (["train", *QUICK, "--optimizer", "adam", "--momentum", "0.9"], "--momentum applies to"),
    (["eval"], "the following arguments are required: --checkpoint"),
    (["bench"], "invalid choice: 'bench'"),
])
def test_bad_arguments_exit_2(capsys, argv, fragment):
    code, _, err = run(capsys, *argv)
    assert code == 2
    one_line_error(err, fragment)


def test_eval_refuses_bad_checkpoints(tmp_path, capsys):
    code, _, err = run(capsys, "eval", "--checkpoint", tmp_path / "absent.safetensors")
    assert code == 2
    one_line_error(err, "no such file", "absent.safetensors")

    np.savez(tmp_path / "w.npz", w=np.ones(2))
    code, _, err = run(capsys, "eval", "--checkpoint", tmp_path / "w.npz")
    assert code == 2
    one_line_error(err, "w.npz", "zip archive")

    mt.save(mt.models.get_model("fc64").state_dict(), tmp_path / "sd.safetensors")
    code, _, err = run(capsys, "eval", "--checkpoint", tmp_path / "sd.safetensors")
    assert code == 2
    one_line_error(err, "not a minitorch training checkpoint")


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="a GPU is present")
def test_cuda_unavailable_is_a_clear_error(capsys):
    code, _, err = run(capsys, "train", *QUICK, "--device", "cuda")
    assert code == 2
    one_line_error(err, "--device cuda")


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "minitorch", "train", "--model", "nope"],
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2
    one_line_error(proc.stderr, "unknown model 'nope'")
