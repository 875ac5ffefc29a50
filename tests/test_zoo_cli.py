"""The model-zoo CLI: every option of issue 12 on a small slice of real (Fashion-)MNIST or on
small CIFAR-10 files in the real binary format, and an interrupted + resumed run with
augmentation and a frozen backbone that must end bit-identical to an uninterrupted one."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch import models
from minitorch import training
from minitorch.checkpoint import CheckpointDir
from minitorch.augment import Augment, AugmentSpecError, parse
from minitorch.cli import main
from minitorch.zoo_data import balanced_subset, labels_of

pytestmark = pytest.mark.skipif(
    not all((Path(os.environ.get("MINITORCH_DATA", "")) / d).is_dir()
            for d in ("mnist", "fashion-mnist")),
    reason="real MNIST / Fashion-MNIST not found under MINITORCH_DATA")

SLICE = ["--limit-train", "256", "--limit-test", "100", "--batch-size", "32", "--quiet"]


def run(capsys, *argv):
    code = main(["train", *[str(a) for a in argv]])
    out, err = capsys.readouterr()
    return code, out, err


def epoch_losses(out: str) -> list[float]:
    return [float(m) for m in re.findall(r"^epoch \d+/\d+  loss ([\d.]+)", out, re.M)]


@pytest.fixture(scope="module")
def mnist_backbone(tmp_path_factory):
    """A resnet8 trained briefly on MNIST: the pretrained file the transfer tests start from."""
    path = tmp_path_factory.mktemp("pretrained") / "resnet8_mnist.safetensors"
    assert main(["train", "--model", "resnet8", *SLICE, "--epochs", "1", "--save",
                 str(path)]) == 0
    return path


# --------------------------------------------------------------------------- --augment
def test_augment_grammar():
    assert parse("crop:4,flip,rotate:10,noise:0.05") == [
        ("crop", (4.0,)), ("flip", (0.5,)), ("rotate", (10.0,)), ("noise", (0.05,))]
    assert parse(" scale:0.9:1.1 , vflip:1 ,translate:0.1,brightness:0.2,contrast:0.3") == [
        ("scale", (0.9, 1.1)), ("vflip", (1.0,)), ("translate", (0.1,)),
        ("brightness", (0.2,)), ("contrast", (0.3,))]
    for bad, says in [("crop", "expected crop:PADDING"), ("blur:3", "unknown transform 'blur'"),
                      ("flip:2", "probability"), ("rotate:ten", "must be numbers"),
                      ("scale:1.2:0.8", "LOW <= HIGH"), ("crop:1.5", "whole pixels"),
                      ("noise:-1", ">= 0"), ("flip:0.5:1", "expected flip[:P]"), ("", "expected")]:
        with pytest.raises(AugmentSpecError, match=re.escape(says)):
            parse(bad)


def test_augment_works_on_the_images_in_0_1_and_is_seeded():
    mean, std = 0.2860, 0.3530
    images = mt.rand(6, 1, 28, 28)
    x = mt.tensor((images.data - mean) / std)  # as the dataset hands them out

    # flip with p=1: exactly the mirrored images, normalisation undone and redone
    flipped = Augment("flip:1", mean, std)(x)
    np.testing.assert_allclose(flipped.data, x.data[..., ::-1], atol=1e-6)
    # crop padding is black in [0, 1] (not 0 of the normalised scale)
    shifted = Augment("crop:28", mean, std, mt.Generator().manual_seed(3))(x).data * std + mean
    assert np.isclose(shifted, 0, atol=1e-6).mean() > 0.5

    spec = "crop:3,flip,rotate:15,noise:0.1,scale:0.8:1.2"
    a = Augment(spec, mean, std, mt.Generator().manual_seed(7))(x)
    b = Augment(spec, mean, std, mt.Generator().manual_seed(7))(x)
    c = Augment(spec, mean, std, mt.Generator().manual_seed(8))(x)
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    g = mt.Generator().manual_seed(7)
    aug = Augment(spec, mean, std, g)
    first, second = aug(x).data, aug(x).data  # the stream moves on: new draws per batch
    assert not np.array_equal(first, second)


def test_cli_augment_changes_training_and_repeats_exactly(capsys):
    base = ["--model", "lenet5", "--dataset", "fashion-mnist", *SLICE, "--epochs", "1"]
    _, plain, _ = run(capsys, *base)
    code, aug1, err = run(capsys, *base, "--augment", "crop:2,flip,noise:0.05")
    assert code == 0, err
    _, aug2, _ = run(capsys, *base, "--augment", "crop:2,flip,noise:0.05")
    assert epoch_losses(aug1) == epoch_losses(aug2) != epoch_losses(plain)
    code, _, err = run(capsys, *base, "--augment", "crop:2,zoom:3")
    assert code == 2 and "unknown transform 'zoom'" in err


# --------------------------------------------------------------------------- --model
def test_small_variants_keep_torchvision_names():
    from minitorch.vision import models as tv
    ours = models.get_model("resnet18-cifar", in_channels=3).state_dict()
    theirs = tv.resnet18(num_classes=10).state_dict()
    assert list(ours) == list(theirs)
    assert [k for k in ours if ours[k].shape != theirs[k].shape] == ["conv1.weight"]
    assert ours["conv1.weight"].shape == (64, 3, 3, 3)

    small = models.get_model("vgg11-small", in_channels=3).state_dict()
    features = {k: v.shape for k, v in small.items() if k.startswith("features.")}
    assert features == {k: v.shape for k, v in tv.vgg11().state_dict().items()
                        if k.startswith("features.")}  # vgg11's conv weights load unchanged
    assert small["classifier.6.weight"].shape == (10, 512)

    layout = models.get_model("googlenet")  # torchvision's layout, first conv for 1 channel
    assert [k for k, v in layout.state_dict().items()
            if v.shape != tv.googlenet(num_classes=10, init_weights=True).state_dict()[k].shape
            ] == ["conv1.conv.weight"]
    assert models.head_names(layout) == ["fc", "aux1", "aux2"]


@pytest.mark.parametrize("name, shape", [
    ("resnet8", (4, 1, 28, 28)), ("plain8", (4, 1, 28, 28)), ("vgg11_bn-mini", (4, 1, 28, 28)),
    ("vgg11-small", (2, 3, 32, 32)), ("resnet18-cifar", (2, 1, 28, 28)),
    ("resnet18", (2, 1, 28, 28)), ("googlenet", (2, 3, 32, 32)), ("lenet5", (4, 1, 28, 28))])
def test_every_form_trains_a_step_on_small_images(name, shape):
    model = models.get_model(name, in_channels=shape[1]) if name != "lenet5" \
        else models.get_model(name)
    x, y = mt.randn(*shape), mt.tensor(np.arange(shape[0]) % 10)
    out = model(x)
    logits = getattr(out, "logits", out)
    assert logits.shape == (shape[0], 10)
    mt.nn.functional.cross_entropy(logits, y).backward()
    assert all(p.grad is not None for n, p in model.named_parameters()
               if not n.startswith("aux"))
    model.eval()
    assert model(x).shape == (shape[0], 10)


def test_torchvision_layout_vgg_resizes_small_inputs_inside_forward():
    from minitorch.models.zoo import _with_min_input, resize_to_min
    assert resize_to_min(mt.randn(2, 1, 28, 28), 32).shape == (2, 1, 32, 32)
    assert resize_to_min(mt.randn(2, 1, 40, 40), 32).shape == (2, 1, 40, 40)
    seen = []

    class Probe(mt.nn.Module):
        def forward(self, x):
            seen.append(x.shape)
            return x
    probe = _with_min_input(Probe(), 63)  # AlexNet's least input size
    probe(mt.randn(1, 1, 28, 28))
    assert seen == [(1, 1, 63, 63)] and type(probe).__name__ == "Probe"
    assert probe.state_dict() == {}


def test_cli_trains_zoo_models(capsys):
    for name in ("resnet8", "vgg11_bn-mini"):
        code, out, err = run(capsys, "--model", name, *SLICE, "--epochs", "1")
        assert code == 0, err
        assert f"{name} on mnist: 256 train, 100 test images" in out
    code, _, err = run(capsys, "--model", "resnet7", *SLICE)
    assert code == 2 and "unknown model 'resnet7'" in err and "resnet8" in err


def test_aux_weight_reaches_googlenet_aux_heads(tmp_path, capsys):
    fresh_init = None
    for w in ("0", "1"):
        path = tmp_path / f"g{w}.safetensors"
        code, _, err = run(capsys, "--model", "googlenet", "--limit-train", "32", "--limit-test",
                           "16", "--batch-size", "16", "--epochs", "1", "--quiet",
                           "--aux-weight", w, "--save", path)
        assert code == 0, err
        saved = mt.load(path)["model"]
        if fresh_init is None:
            training.seed_everything(0)
            fresh_init = models.get_model("googlenet").state_dict()
        moved = not np.array_equal(saved["aux1.fc2.weight"].data,
                                   fresh_init["aux1.fc2.weight"].data)
        assert moved == (w == "1"), f"--aux-weight {w}"


# --------------------------------------------------------------------------- --dataset
@pytest.fixture
def cifar_root(tmp_path):
    """CIFAR-10's binary release, 5 x 8 training and 8 test images, in torchvision's layout."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, n in [*((f"data_batch_{k}", 8) for k in range(1, 6)), ("test_batch", 8)]:
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        pixels = rng.integers(0, 256, size=(n, 3072)).astype(np.uint8)
        (folder / f"{name}.bin").write_bytes(
            np.concatenate([labels[:, None], pixels], axis=1).tobytes())
    (folder / "batches.meta.txt").write_text(
        "\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]) + "\n\n")
    return tmp_path


def test_cifar10_dataset_trains_and_evaluates(cifar_root, tmp_path, capsys):
    path = tmp_path / "c.safetensors"
    code, out, err = run(capsys, "--model", "resnet8", "--dataset", "cifar10", "--data-root",
                         cifar_root, "--no-download", "--epochs", "1", "--batch-size", "8",
                         "--augment", "crop:4,flip", "--save", path, "--quiet")
    assert code == 0, err
    assert "resnet8 on cifar10: 40 train, 8 test images" in out
    meta = mt.load(path)["meta"]
    assert meta["model_kwargs"] == {"in_channels": 3} and meta["dataset"] == "cifar10"
    assert mt.load(path)["model"]["conv1.weight"].shape == (16, 3, 3, 3)
    assert main(["eval", "--checkpoint", str(path), "--data-root", str(cifar_root),
                 "--no-download"]) == 0
    assert "8 test images" in capsys.readouterr().out


# --------------------------------------------------------------------------- --labels-per-class
def test_labels_per_class_is_a_seeded_balanced_subset(capsys):
    code, out, err = run(capsys, "--model", "lenet5", "--dataset", "fashion-mnist",
                         "--labels-per-class", "7", "--limit-test", "100", "--epochs", "1",
                         "--quiet")
    assert code == 0, err
    assert "70 train, 100 test images" in out
    full = training.load_datasets(training.TrainConfig(dataset="fashion-mnist"))[0]
    a, b, c = (balanced_subset(full, 7, s) for s in (0, 0, 1))
    assert np.bincount(labels_of(a), minlength=10).tolist() == [7] * 10
    assert np.array_equal(a.indices, b.indices) and not np.array_equal(a.indices, c.indices)
    with pytest.raises(ValueError, match="class 0 has only"):
        balanced_subset(mt.data.Subset(full, np.arange(20)), 7, 0)


# --------------------------------------------------------------------------- transfer
def _backbone_keys(state, heads=("fc",)):
    return [k for k in state if not any(k.startswith(h + ".") for h in heads)]


def test_pretrained_freeze_trains_only_the_head(mnist_backbone, tmp_path, capsys):
    pre = mt.load(mnist_backbone)["model"]
    path = tmp_path / "fx.safetensors"
    code, out, err = run(capsys, "--model", "resnet8", "--dataset", "fashion-mnist",
                         "--pretrained", mnist_backbone, "--freeze", "--labels-per-class", "5",
                         "--limit-test", "100", "--epochs", "2", "--batch-size", "16",
                         "--save", path, "--quiet")
    assert code == 0, err
    assert "(frozen); new head: fc" in out
    after = mt.load(path)["model"]
    keys = _backbone_keys(after)
    assert any("running_mean" in k for k in keys)
    for k in keys:  # weights and BatchNorm statistics: exactly the pretrained ones
        np.testing.assert_array_equal(after[k].data, pre[k].data, err_msg=k)
    training.seed_everything(0)
    fresh_head = models.get_model("resnet8").fc.weight.data
    assert not np.array_equal(after["fc.weight"].data, fresh_head)   # the head trained
    assert not np.array_equal(after["fc.weight"].data, pre["fc.weight"].data)


def test_pretrained_fine_tuning_with_its_own_backbone_lr(mnist_backbone, tmp_path, capsys):
    pre = mt.load(mnist_backbone)["model"]
    results = {}
    for lr in ("0", "1e-3"):
        path = tmp_path / f"ft{lr}.safetensors"
        code, out, err = run(capsys, "--model", "resnet8", "--dataset", "fashion-mnist",
                             "--pretrained", mnist_backbone, "--backbone-lr", lr,
                             "--labels-per-class", "5", "--limit-test", "100", "--epochs", "1",
                             "--batch-size", "16", "--save", path, "--quiet")
        assert code == 0, err
        results[lr] = saved = mt.load(path)
        assert [g["lr"] for g in saved["optimizer"]["param_groups"]] == [1e-3, float(lr)]
    frozen, tuned = results["0"]["model"], results["1e-3"]["model"]
    np.testing.assert_array_equal(frozen["conv1.weight"].data, pre["conv1.weight"].data)
    assert not np.array_equal(tuned["conv1.weight"].data, pre["conv1.weight"].data)
    # not frozen: BatchNorm keeps learning its statistics even at backbone lr 0
    assert not np.array_equal(frozen["bn1.running_mean"].data, pre["bn1.running_mean"].data)


def test_transfer_errors_are_one_line(mnist_backbone, capsys):
    code, _, err = run(capsys, "--model", "resnet8", "--freeze", *SLICE)
    assert code == 2 and "--pretrained PATH" in err
    code, _, err = run(capsys, "--model", "resnet8", "--pretrained", mnist_backbone, "--freeze",
                       "--backbone-lr", "0.1", *SLICE)
    assert code == 2 and "does not train" in err
    code, _, err = run(capsys, "--model", "resnet14", "--pretrained", mnist_backbone, *SLICE)
    assert code == 2 and "missing layer1.1.bn1.bias" in err
    code, _, err = run(capsys, "--model", "lenet5", "--pretrained", mnist_backbone, *SLICE)
    assert code == 2 and "don't fit the model's backbone" in err and "unexpected" in err


# --------------------------------------------------------------------------- resume
class Interrupted(Exception):
    pass


def test_interrupted_augmented_frozen_run_resumes_bit_identically(mnist_backbone, tmp_path,
                                                                   capsys, monkeypatch):
    args = ["--model", "resnet8", "--dataset", "fashion-mnist", "--pretrained", mnist_backbone,
            "--freeze", "--labels-per-class", "8", "--augment", "crop:2,flip,rotate:10,noise:0.05",
            "--limit-test", "100", "--batch-size", "16", "--epochs", "3", "--seed", "5",
            "--quiet"]   # 80 images: 5 steps an epoch, 15 in all
    reference = tmp_path / "reference.safetensors"
    code, _, err = run(capsys, *args, "--save", reference)
    assert code == 0, err

    # the same run, stopped after its 7th optimizer step (mid epoch 2), checkpointing every 3
    real, steps = training.train_one_epoch, [0]

    def stopping(*a, after_step=None, **kw):
        def hooked(sums):
            after_step(sums)
            steps[0] += 1
            if steps[0] == 7:
                raise Interrupted
        return real(*a, after_step=hooked, **kw)
    monkeypatch.setattr(training, "train_one_epoch", stopping)
    ckpts = tmp_path / "ckpts"
    with pytest.raises(Interrupted):
        main(["train", *[str(a) for a in args], "--checkpoint-dir", str(ckpts),
              "--checkpoint-every", "3"])
    monkeypatch.setattr(training, "train_one_epoch", real)
    capsys.readouterr()
    _, latest = CheckpointDir(ckpts).load_latest()
    assert latest["meta"]["step"] == 6 and "augment" in latest["rng"]["generators"]

    resumed = tmp_path / "resumed.safetensors"
    code, out, err = run(capsys, *args, "--resume", ckpts, "--save", resumed)
    assert code == 0, err
    assert "6 steps done, 16/80 images into epoch 2" in out
    a, b = mt.load(reference), mt.load(resumed)
    assert list(a["model"]) == list(b["model"])
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k].data, b["model"][k].data, err_msg=k)
    assert [h["train_loss"] for h in a["meta"]["history"]] == \
        [h["train_loss"] for h in b["meta"]["history"]]
