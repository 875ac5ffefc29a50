"""minitorch.vision.models against torchvision: names, shapes, init, logits and gradients.

Each architecture is built by torchvision with random init and by minitorch; the state_dict
keys, order, shapes and dtypes must be identical, torchvision's tensors are copied in (as
NumPy arrays, and as a ``torch.save``d .pth read by ``mt.load``), and the logits must agree in
float64. Without torchvision (its wheels need a matching torch) these comparisons skip, saying
why; the API tests (weights lookup, errors, GoogLeNet outputs) run anyway.
"""
import numpy as np
import pytest

import minitorch as mt
from minitorch import nn
from minitorch.vision import models

try:
    import torch
    import torchvision
    TV_ERROR = None
except Exception as exc:  # ImportError, or torchvision's compiled ops not matching torch
    torch = torchvision = None
    TV_ERROR = exc

needs_tv = pytest.mark.skipif(torchvision is None, reason=f"torchvision not importable "
                              f"({TV_ERROR!r}): reference comparison skipped")


def require_pth_reader(tmp_path):
    """Skip (saying why) when this checkout's mt.load can't read torch.save's zip files yet."""
    probe = tmp_path / "probe.pth"
    torch.save({"w": torch.zeros(2)}, probe)
    try:
        mt.load(probe)
    except mt.serialization.SerializationError as exc:
        pytest.skip(f"mt.load does not read torch.save files in this checkout ({exc})")

# (architecture, smallest convenient input side): AlexNet needs at least 63x63. The deeper
# VGGs differ from vgg11 only in their ``features`` (checked below without the 120M-parameter
# classifier, which would make each case take ~20 s here).
ARCHS = [("alexnet", 64), ("vgg11", 32), ("vgg11_bn", 32), ("googlenet", 32),
         ("resnet18", 32), ("resnet34", 32), ("resnet50", 32)]
VGG_VARIANTS = [("vgg13", "B", False), ("vgg13_bn", "B", True), ("vgg16", "D", False),
                ("vgg16_bn", "D", True), ("vgg19", "E", False), ("vgg19_bn", "E", True)]


def _kwargs(arch, **extra):
    kw = dict(num_classes=10, **extra)
    if arch == "googlenet":
        kw["init_weights"] = True
    return kw


def build_pair(arch, seed=0, double=True, **extra):
    """(torchvision model, minitorch model), both random-init (float64 unless double=False)."""
    torch.manual_seed(seed)
    tv = getattr(torchvision.models, arch)(**_kwargs(arch, **extra))
    mt.manual_seed(seed)
    mine = getattr(models, arch)(**_kwargs(arch, **extra))
    return (tv.double(), mine.double()) if double else (tv, mine)


def randomize_(tv):
    """Give torchvision's model a state whose eval forward is far from trivial: He-scaled
    weights (GoogLeNet's std=0.01 init would shrink every activation to ~0 and leave only the
    fc bias), random BatchNorm affine parameters and running statistics."""
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for m in tv.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0, (2.0 / fan_in) ** 0.5, generator=gen)
                if m.bias is not None:
                    m.bias.normal_(0, 0.1, generator=gen)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0, 0.1, generator=gen)
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.num_batches_tracked.fill_(3)
    return tv


def as_numpy(state):
    return {k: v.detach().numpy() for k, v in state.items()}


def assert_same_state_layout(tv, mine):
    ts, ms = tv.state_dict(), mine.state_dict()
    assert list(ts) == list(ms), f"key sets differ: {sorted(set(ts) ^ set(ms))}"
    for k in ts:
        assert tuple(ts[k].shape) == ms[k].shape, (k, tuple(ts[k].shape), ms[k].shape)
        assert ts[k].numpy().dtype == ms[k].dtype, (k, ts[k].dtype, ms[k].dtype)
    tn = [n for n, _ in tv.named_modules()]
    mn = [n for n, _ in mine.named_modules()]
    assert tn == mn, "module paths differ"
    for (n, a), (_, b) in zip(tv.named_modules(), mine.named_modules()):
        assert type(a).__name__ == type(b).__name__, (n, type(a).__name__, type(b).__name__)


def eval_logits(tv, mine, side, batch=2, seed=1, dtype=np.float64):
    x = np.random.default_rng(seed).standard_normal((batch, 3, side, side)).astype(dtype)
    tv.eval()
    mine.eval()
    with torch.no_grad():
        ref = tv(torch.tensor(x)).numpy()
    with mt.no_grad():
        out = mine(mt.tensor(x)).numpy()
    return out, ref


# --------------------------------------------------------------------------- per architecture
@needs_tv
@pytest.mark.parametrize("arch,side", ARCHS, ids=[a for a, _ in ARCHS])
def test_architecture_matches_torchvision(arch, side):
    """Same module tree, state_dict keys/shapes/dtypes (num_batches_tracked included), and the
    same float64 eval logits once torchvision's weights are copied in."""
    # VGG (133M parameters): float32 and no init (the weights are overwritten; init is tested
    # below), else this case takes ~25 s on a loaded 2-core machine. The others: float64.
    vgg = arch.startswith("vgg")
    tv, mine = build_pair(arch, double=not vgg, **({"init_weights": False} if vgg else {}))
    assert_same_state_layout(tv, mine)
    mine.load_state_dict(as_numpy(randomize_(tv).state_dict()))
    out, ref = eval_logits(tv, mine, side, dtype=np.float32 if vgg else np.float64)
    assert out.shape == ref.shape == (2, 10)
    assert np.abs(ref[0] - ref[1]).max() > 1e-3 * np.abs(ref).max(), "inputs must differ"
    if vgg:
        # Two float32 results round differently (minitorch's 3x3 layers run Winograd), so
        # each is held against torchvision's float64 logits: minitorch's within the
        # tolerance, and at most twice as far from them as torchvision's own float32 result.
        x = np.random.default_rng(1).standard_normal((2, 3, side, side))   # eval_logits' x
        with torch.no_grad():
            truth = tv.double()(torch.tensor(x.astype(np.float32).astype(np.float64))).numpy()
        scale = np.abs(truth).max()
        np.testing.assert_allclose(out, truth, rtol=1e-5, atol=1e-6 * scale)
        assert np.abs(out - truth).max() <= 2 * np.abs(ref - truth).max() + 1e-7 * scale
    else:
        np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


@needs_tv
@pytest.mark.parametrize("arch,cfg,bn", VGG_VARIANTS, ids=[a for a, _, _ in VGG_VARIANTS])
def test_deeper_vgg_features_match_torchvision(arch, cfg, bn, monkeypatch):
    """vgg13/16/19 (+_bn): the ``features`` stack equals torchvision's (keys, shapes, output),
    and the constructor builds VGG from that configuration."""
    torch.manual_seed(0)
    tv = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[cfg], batch_norm=bn)
    mine = models.vgg.make_layers(models.vgg.CFGS[cfg], batch_norm=bn)
    assert_same_state_layout(tv, mine)
    tv = randomize_(tv.double())
    mine.double().load_state_dict(as_numpy(tv.state_dict()))
    out, ref = eval_logits(tv, mine, 32)
    assert out.shape == ref.shape == (2, 512, 1, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())

    built = {}

    class Recorder(nn.Module):  # stands in for VGG: records what the constructor passes
        def __init__(self, features, **kwargs):
            super().__init__()
            built.update(features=features, kwargs=kwargs)

    monkeypatch.setattr(models.vgg, "VGG", Recorder)
    getattr(models, arch)(num_classes=10)
    assert list(built["features"].state_dict()) == list(mine.state_dict())
    assert built["kwargs"] == {"num_classes": 10}


@needs_tv
@pytest.mark.parametrize("arch,side", [("resnet18", 32), ("googlenet", 32), ("alexnet", 64)])
def test_torch_saved_pth_loads_through_weights_path(arch, side, tmp_path):
    """torch.save(model.state_dict()) -> models.<arch>(weights=PATH) -> torchvision's logits."""
    require_pth_reader(tmp_path)
    tv, _ = build_pair(arch)
    randomize_(tv)
    path = tmp_path / f"{arch}.pth"
    torch.save(tv.float().state_dict(), path)
    mine = getattr(models, arch)(weights=path, **_kwargs(arch)).double()
    out, ref = eval_logits(tv.double(), mine, side)
    assert np.abs(ref[0] - ref[1]).max() > 1e-6 * np.abs(ref).max(), "inputs must differ"
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


@needs_tv
@pytest.mark.parametrize("arch", ["resnet18", "vgg11_bn"])
def test_train_mode_gradients_match_torchvision(arch):
    """Train mode (batch statistics, running-stat updates): the loss, the input gradient and
    every parameter gradient equal torchvision's (dropout off so both draw nothing random).
    VGG runs in float32 (its 25088 x 4096 layer makes float64 backward take ~30 s here), so
    its tolerances are float32's; ResNet-18 runs in float64."""
    vgg = arch.startswith("vgg")
    extra = {"dropout": 0.0, "init_weights": False} if vgg else {}
    tv, mine = build_pair(arch, double=not vgg, **extra)
    rtol, atol = (2e-4, 1e-5) if vgg else (1e-7, 1e-9)  # atol relative to the largest value
    mine.load_state_dict(as_numpy(tv.state_dict()))
    tv.train()
    mine.train()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32 if vgg else np.float64)
    y = rng.integers(0, 10, size=4)
    xt = torch.tensor(x, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(tv(xt), torch.tensor(y))
    loss_t.backward()
    xm = mt.tensor(x, requires_grad=True)
    loss_m = nn.functional.cross_entropy(mine(xm), mt.tensor(y))
    loss_m.backward()
    np.testing.assert_allclose(loss_m.item(), loss_t.item(), rtol=rtol)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=rtol,
                               atol=atol * np.abs(xt.grad.numpy()).max())
    # One scale for all parameters: a conv bias followed by BatchNorm has a gradient that is
    # 0 in exact arithmetic, so its own maximum is rounding noise.
    mine_params = dict(mine.named_parameters())
    scale = max(np.abs(p.grad.numpy()).max() for p in tv.parameters())
    for name, p in tv.named_parameters():
        np.testing.assert_allclose(mine_params[name].grad.numpy(), p.grad.numpy(),
                                   rtol=rtol * 10, atol=atol * scale, err_msg=name)
    mine_state = mine.state_dict()
    for name, b in tv.named_buffers():
        np.testing.assert_allclose(mine_state[name].numpy(), b.numpy(), rtol=rtol,
                                   atol=atol * np.abs(b.numpy()).max(), err_msg=name)


# --------------------------------------------------------------------------- init schemes
@needs_tv
@pytest.mark.parametrize("arch,extra", [("resnet18", {}), ("resnet50", {"zero_init_residual": True}),
                                        ("vgg11", {}), ("googlenet", {}), ("alexnet", {})])
def test_init_statistics_match_torchvision(arch, extra):
    """Same init scheme as torchvision: constant tensors equal, random ones have the same
    mean/std (kaiming_normal_ fan_out for ResNet/VGG convs, N(0, 0.01) for VGG's Linear,
    trunc_normal_(std=0.01) for GoogLeNet, PyTorch's defaults for AlexNet)."""
    tv, mine = build_pair(arch, double=False, **extra)
    ms = mine.state_dict()
    for name, t in tv.state_dict().items():
        # every 7th element is plenty for these statistics (VGG has 10^8 of them)
        a = t.numpy().ravel()[::7].astype(np.float64)
        b = ms[name].numpy().ravel()[::7].astype(np.float64)
        if a.size and a.std() == 0:
            np.testing.assert_array_equal(b, a, err_msg=name)
        elif a.size >= 4096:
            assert abs(b.std() / a.std() - 1) < 0.1, (name, a.std(), b.std())
            assert abs(b.mean() - a.mean()) < 0.1 * a.std() + 1e-12, (name, a.mean(), b.mean())
            assert abs(np.abs(b).max() / np.abs(a).max() - 1) < 0.5, name  # same bounds/tails


def test_zero_init_residual_starts_every_block_as_identity():
    net = models.resnet18(num_classes=10, zero_init_residual=True)
    for block in (m for m in net.modules() if isinstance(m, models.BasicBlock)):
        assert np.all(block.bn2.weight.detach().numpy() == 0)
    net50 = models.resnet50(num_classes=10, zero_init_residual=True)
    for block in (m for m in net50.modules() if isinstance(m, models.Bottleneck)):
        assert np.all(block.bn3.weight.detach().numpy() == 0)
        assert np.all(block.bn2.weight.detach().numpy() == 1)


# --------------------------------------------------------------------------- GoogLeNet
@needs_tv
def test_googlenet_aux_outputs_and_loss_recipe_match_torchvision():
    """Train mode returns GoogLeNetOutputs(logits, aux_logits2, aux_logits1) as torchvision;
    googlenet_loss = CE + 0.3 (CE aux2 + CE aux1) and its gradients match the same sum built
    from torchvision's outputs. transform_input=True is covered too."""
    tv, mine = build_pair("googlenet", dropout=0.0, dropout_aux=0.0, transform_input=True)
    mine.load_state_dict(as_numpy(tv.state_dict()))
    tv.train()
    mine.train()
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((3, 3, 32, 32)), rng.integers(0, 10, size=3)
    out_t = tv(torch.tensor(x))
    out_m = mine(mt.tensor(x))
    assert type(out_m).__name__ == "GoogLeNetOutputs" and out_m._fields == out_t._fields
    for a, b in zip(out_m, out_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)
    ce = torch.nn.functional.cross_entropy
    yt = torch.tensor(y)
    loss_t = ce(out_t.logits, yt) + 0.3 * (ce(out_t.aux_logits2, yt) + ce(out_t.aux_logits1, yt))
    loss_m = models.googlenet_loss(out_m, mt.tensor(y))
    np.testing.assert_allclose(loss_m.item(), loss_t.item(), rtol=1e-10)
    loss_t.backward()
    loss_m.backward()
    for name in ("aux1.fc2.weight", "aux2.conv.conv.weight", "inception3a.branch1.conv.weight",
                 "conv1.conv.weight", "fc.weight"):
        g = tv.get_submodule(name.rsplit(".", 1)[0]).weight.grad.numpy()
        np.testing.assert_allclose(mine.get_submodule(name.rsplit(".", 1)[0]).weight.grad.numpy(),
                                   g, rtol=1e-6, atol=1e-9 * np.abs(g).max(), err_msg=name)
    mine.eval()
    with mt.no_grad():
        assert isinstance(mine(mt.tensor(x)), mt.Tensor)  # eval: just the logits


def test_googlenet_without_aux_heads():
    net = models.googlenet(num_classes=5, aux_logits=False, init_weights=True)
    assert net.aux1 is None and net.aux2 is None
    assert not any(k.startswith("aux") for k in net.state_dict())
    out = net.train()(mt.randn(2, 3, 32, 32))
    assert isinstance(out, mt.Tensor) and out.shape == (2, 5)
    assert models.googlenet_loss(out, mt.tensor([0, 4])).shape == ()


# --------------------------------------------------------------------------- attribute paths
def test_torchvision_attribute_paths_for_transfer_learning():
    vgg = models.vgg11(num_classes=10, init_weights=False)
    assert isinstance(vgg.classifier[6], nn.Linear) and vgg.classifier[6].in_features == 4096
    vgg.classifier[6] = nn.Linear(vgg.classifier[6].in_features, 3)
    assert list(vgg.state_dict())[-2:] == ["classifier.6.weight", "classifier.6.bias"]
    assert vgg.state_dict()["classifier.6.weight"].shape == (3, 4096)
    res = models.resnet18(num_classes=10)
    assert res.fc.in_features == 512 and res.layer1[0].conv1.kernel_size == (3, 3)
    assert isinstance(res.layer2[0].downsample[1], nn.BatchNorm2d)
    res.fc = nn.Linear(res.fc.in_features, 3)
    assert list(res.state_dict())[-2:] == ["fc.weight", "fc.bias"]
    trunk = nn.Sequential(*list(res.children())[:-1])  # everything but fc
    with mt.no_grad():
        assert trunk.eval()(mt.randn(1, 3, 32, 32)).shape == (1, 512, 1, 1)
    g = models.googlenet(num_classes=10, init_weights=False)
    assert g.inception3a.branch1.conv.out_channels == 64 and g.fc.in_features == 1024
    assert models.alexnet(num_classes=10).classifier[6].in_features == 4096


@pytest.mark.parametrize("side", [28, 32])
def test_small_inputs(side):
    net = models.resnet18(num_classes=10).eval()
    with mt.no_grad():
        assert net(mt.randn(2, 3, side, side)).shape == (2, 10)


def test_lenet_family_reexported():
    assert isinstance(models.simplenet(), models.SimpLeNet)
    assert isinstance(models.lenet5(num_classes=7), models.LeNet5)
    with mt.no_grad():
        assert models.simplenet()(mt.randn(2, 1, 28, 28)).shape == (2, 10)


# --------------------------------------------------------------------------- weights lookup
def test_weights_file_path_loads(tmp_path):
    src = models.resnet18(num_classes=4)
    path = tmp_path / "mine.safetensors"
    mt.save(src.state_dict(), path)
    net = models.resnet18(weights=path, num_classes=4)
    for k, v in src.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[k].numpy(), v.numpy(), err_msg=k)


def test_pretrained_looks_for_torchvisions_file_name(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITORCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError) as info:
        models.vgg11(pretrained=True)
    message = str(info.value)
    assert "vgg11-8a719046.pth" in message and str(tmp_path) in message
    assert "https://download.pytorch.org/models/vgg11-8a719046.pth" in message
    with pytest.raises(FileNotFoundError, match="resnet50-11ad3fa6.pth"):
        models.resnet50(weights="DEFAULT")          # DEFAULT is V2 for resnet50, as torchvision
    with pytest.raises(FileNotFoundError, match="resnet50-0676ba61.pth"):
        models.resnet50(pretrained=True)            # the legacy flag means V1
    src = models.resnet18()
    mt.save(src.state_dict(), tmp_path / "resnet18-f37072fd.pth")
    for spec in ("DEFAULT", "IMAGENET1K_V1", models.ResNet18_Weights.DEFAULT):
        net = models.resnet18(weights=spec)
        np.testing.assert_array_equal(net.fc.weight.detach().numpy(),
                                      src.fc.weight.detach().numpy())
    with pytest.warns(UserWarning, match="pretrained"):
        models.resnet18(pretrained=True)


def test_named_weights_fix_num_classes_and_unknown_names_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITORCH_WEIGHTS", str(tmp_path))
    with pytest.raises(ValueError, match="num_classes=1000"):
        models.resnet18(weights="DEFAULT", num_classes=10)
    with pytest.raises((ValueError, FileNotFoundError), match="IMAGENET9"):
        models.resnet18(weights="IMAGENET9")
    with pytest.raises(ValueError, match="not both"):
        models.resnet18(weights="DEFAULT", pretrained=True)


# --------------------------------------------------------------------------- bad input
def test_wrong_channels_names_the_layer_and_shapes():
    net = models.resnet18(num_classes=10)
    with pytest.raises(ValueError, match=r"\(2, 1, 32, 32\)") as info:
        net(mt.randn(2, 1, 32, 32))
    notes = getattr(info.value, "__notes__", [])
    assert any("'conv1'" in n and "Conv2d(3, 64" in n and "ResNet" in n for n in notes), notes
    vgg = models.vgg11_bn(num_classes=10, init_weights=False)
    with pytest.raises(ValueError) as info:
        vgg(mt.randn(1, 4, 32, 32))
    assert any("'features.0'" in n for n in info.value.__notes__), info.value.__notes__


def test_load_state_dict_names_missing_unexpected_and_mismatched():
    net = models.resnet18(num_classes=10)
    state = dict(net.state_dict())
    del state["layer1.0.bn1.running_var"]
    state["head.weight"] = mt.zeros(2)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    msg = str(info.value)
    assert '"layer1.0.bn1.running_var"' in msg and '"head.weight"' in msg
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["layer1.0.bn1.running_var"] and unexpected == ["head.weight"]
    state = dict(models.resnet18(num_classes=1000).state_dict())
    with pytest.raises(RuntimeError, match=r"size mismatch for fc.weight.*\(1000, 512\).*"
                                           r"\(10, 512\)"):
        net.load_state_dict(state, strict=False)  # a shape mismatch is an error either way
