"""minitorch.training as a library: the config mirrors the CLI's flags, ``fit`` from Python
gives the CLI's results bit for bit, a History comes back, and the pieces (train_one_epoch,
evaluate, own model / optimizer / loss, resume, early stopping) work on their own."""
import dataclasses
import io
import itertools
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from minitorch import training
from minitorch.cli import build_parser, config_from_args, main
from minitorch.data import DataLoader, Subset, TensorDataset
from minitorch.training import (History, TrainConfig, build_model, evaluate, fit,
                                load_datasets, model_from_checkpoint, train_one_epoch)

needs_mnist = pytest.mark.skipif(
    not (Path(os.environ.get("MINITORCH_DATA", "")) / "mnist").is_dir(),
    reason="real MNIST not found under MINITORCH_DATA")

SMALL = dict(model="fc64", limit_train=320, limit_test=100, batch_size=32, quiet=True)


def test_every_train_flag_is_a_config_field_in_the_same_order_with_the_same_default():
    """A flag added to the parser without its TrainConfig field (or the other way round) would
    be silently dropped from runs and checkpoints; the order is what checkpoints store."""
    args = build_parser().parse_args(["train"])
    assert list(vars(args)) == ["command", *(f.name for f in dataclasses.fields(TrainConfig))]
    assert config_from_args(args) == TrainConfig()
    assert TrainConfig().as_args() == vars(args)


def test_config_checks_fail_before_any_work():
    for config, fragment in [(TrainConfig(early_stopping=2), "needs a validation set"),
                             (TrainConfig(checkpoint_every=3), "needs --checkpoint-dir"),
                             (TrainConfig(optimizer="adam", momentum=0.9), "applies to sgd")]:
        with pytest.raises(training.ConfigError, match=fragment):
            config.check()


@needs_mnist
def test_fit_from_python_writes_what_the_cli_writes_byte_for_byte(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    flags = ["--model", "fc64", "--limit-train", "320", "--limit-test", "100", "--batch-size",
             "32", "--quiet", "--epochs", "2", "--val-split", "0.25", "--scheduler", "cosine",
             "--seed", "3", "--save", "m.safetensors", "--checkpoint-dir", "ckpt",
             "--checkpoint-every", "4"]
    files = {}
    for way in ("cli", "library"):
        # the history stores seconds and images/s: a counting clock makes them reproducible
        ticks = itertools.count()
        monkeypatch.setattr(training, "time",
                            SimpleNamespace(perf_counter=lambda: 0.25 * next(ticks)))
        if way == "cli":
            assert main(["train", *flags]) == 0
            printed = capsys.readouterr().out
        else:
            config = TrainConfig(model="fc64", limit_train=320, limit_test=100, batch_size=32,
                                 quiet=True, epochs=2, val_split=0.25, scheduler="cosine",
                                 seed=3, save="m.safetensors", checkpoint_dir="ckpt",
                                 checkpoint_every=4)
            out = io.StringIO()
            train_set, test_set = load_datasets(config)
            history = fit(build_model(config), train_set, config, test_data=test_set, out=out)
            assert isinstance(history, History) and len(history) == 2
            assert out.getvalue() == printed  # the same lines, the same numbers
        paths = [Path("m.safetensors"), *sorted(Path("ckpt").glob("step-*.safetensors"))]
        files[way] = {str(p): p.read_bytes() for p in paths}
        for p in paths:
            p.unlink()
        Path("ckpt").rmdir()
    assert list(files["cli"]) == list(files["library"]) == [
        "m.safetensors", "ckpt/step-00000012.safetensors", "ckpt/step-00000016.safetensors"]
    for name, raw in files["cli"].items():
        assert raw == files["library"][name], name


@needs_mnist
def test_fit_returns_a_history_and_prints_on_out(tmp_path):
    config = TrainConfig(**SMALL, epochs=2, val_split=0.25)
    train_set, test_set = load_datasets(config)
    out = io.StringIO()
    history = fit(build_model(config), train_set, config, test_data=test_set, out=out)
    assert [h["epoch"] for h in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "lr", "seconds",
                               "images_per_s", "val_acc", "test_acc"}
    assert history.column("train_loss")[1] < history.column("train_loss")[0]
    assert history.best("val_acc")["val_acc"] == max(history.column("val_acc"))
    assert not history.stopped_early and history.resumed_from is None
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("fc64 on mnist: 240 train, 80 val, 100 test images")
    assert sum(line.startswith("epoch ") for line in lines) == 2
    silent = fit(build_model(config), train_set, config, out=None)  # no test set, no output
    assert "test_acc" not in silent[0] and silent[0]["val_acc"] == history[0]["val_acc"]


@needs_mnist
def test_fit_with_own_model_optimizer_loss_and_validation_losses():
    config = TrainConfig(**SMALL, epochs=2)
    train_set, test_set = load_datasets(config)
    mt.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 10))
    opt = mt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    calls = []

    def loss_fn(logits, target):
        calls.append(logits.shape)
        return F.cross_entropy(logits, target)
    val = Subset(test_set, np.arange(50))
    step_losses = []
    history = fit(model, train_set, config, val_data=val, test_data=test_set, optimizer=opt,
                  loss_fn=loss_fn, eval_loss=True, on_step=step_losses.append, out=None)
    assert {"val_loss", "test_loss", "val_acc", "test_acc"} <= set(history[-1])
    assert history[0]["lr"] == 0.05 and len(calls) > 20  # the given optimizer and loss ran
    assert len(step_losses) == 20 and all(isinstance(v, float) for v in step_losses)
    # the epoch's mean loss is the batch-size-weighted mean of its steps (10 batches of 32)
    assert np.mean(step_losses[10:]) == pytest.approx(history[1]["train_loss"], rel=1e-5)
    again = evaluate(model, DataLoader(val, batch_size=1000), F.cross_entropy)
    assert again["loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-6)
    assert again["acc"] == history[-1]["val_acc"]


def test_train_one_epoch_and_evaluate_on_a_toy_problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)  # linearly separable
    loader = DataLoader(TensorDataset(mt.tensor(x), mt.tensor(y)), batch_size=32, shuffle=True,
                        generator=mt.Generator().manual_seed(0))
    mt.manual_seed(0)
    model = nn.Linear(2, 2)
    opt = mt.optim.SGD(model.parameters(), lr=0.5)
    first_loss, _ = train_one_epoch(model, loader, opt)
    for _ in range(3):
        loss, acc = train_one_epoch(model, loader, opt)
    assert loss < first_loss and acc > 0.9
    result = evaluate(model, DataLoader(TensorDataset(mt.tensor(x), mt.tensor(y)),
                                        batch_size=100), F.cross_entropy)
    with mt.no_grad():
        logits = model(mt.tensor(x))
    assert result["acc"] == float(np.mean(logits.numpy().argmax(axis=1) == y))
    assert result["loss"] == pytest.approx(float(F.cross_entropy(logits, mt.tensor(y)).item()),
                                           rel=1e-5)


@needs_mnist
def test_resume_through_the_library_is_bit_identical(tmp_path):
    config = TrainConfig(**SMALL, epochs=3, optimizer="adamw", seed=2)
    train_set, test_set = load_datasets(config)
    model = build_model(config)
    fit(model, train_set, config, out=None)
    reference = model.state_dict()

    d = tmp_path / "ckpt"
    crashed = dataclasses.replace(config, checkpoint_dir=str(d), checkpoint_every=4,
                                  keep_checkpoints=10)
    fit(build_model(crashed), train_set, crashed, out=None)
    for p in d.glob("step-*.safetensors"):  # as if killed after step 13
        if int(p.name[5:13]) > 13:
            p.unlink()
    resumed = dataclasses.replace(crashed, checkpoint_dir=None, resume=str(d))
    model = build_model(resumed)
    history = fit(model, train_set, resumed, out=None)
    assert history.resumed_from == d / "step-00000012.safetensors"
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for name, w in reference.items():
        np.testing.assert_array_equal(model.state_dict()[name].data, w.data, err_msg=name)


@needs_mnist
def test_early_stopping_and_model_from_checkpoint(tmp_path):
    path = tmp_path / "best.safetensors"
    # lr 0: the validation accuracy never improves after epoch 1, so patience 1 stops at 2
    config = TrainConfig(**SMALL, epochs=5, optimizer="sgd", lr=0.0, val_split=0.25,
                         early_stopping=1, save=str(path))
    train_set, test_set = load_datasets(config)
    model = build_model(config)
    history = fit(model, train_set, config, test_data=test_set, out=None)
    assert history.stopped_early and len(history) == 2
    rebuilt, meta = model_from_checkpoint(mt.load(path), path)
    assert meta["epoch"] == 1 and meta["args"] == config.as_args()
    loader = DataLoader(test_set, batch_size=1000)
    assert evaluate(rebuilt, loader) == evaluate(model, loader)  # lr 0: the same weights


@needs_mnist
def test_early_stopping_on_a_validation_set_of_ones_own():
    """fit(val_data=...) is a validation set: early stopping needs no val_split then."""
    config = TrainConfig(**SMALL, epochs=5, optimizer="sgd", lr=0.0, early_stopping=1)
    train_set, test_set = load_datasets(config)
    history = fit(build_model(config), train_set, config, val_data=Subset(test_set, np.arange(50)),
                  out=None)
    assert history.stopped_early and len(history) == 2  # lr 0: no better val_acc after epoch 1
    with pytest.raises(training.ConfigError, match="needs a validation set"):
        fit(build_model(config), train_set, config, out=None)


@needs_mnist
def test_eval_loss_without_a_loss_fn_is_the_cross_entropy():
    config = TrainConfig(**SMALL, epochs=1)
    train_set, test_set = load_datasets(config)
    model = build_model(config)
    history = fit(model, train_set, config, test_data=test_set, eval_loss=True, out=None)
    again = evaluate(model, DataLoader(test_set, batch_size=1000), F.cross_entropy)
    assert history[0]["test_loss"] == pytest.approx(again["loss"], rel=1e-6)
