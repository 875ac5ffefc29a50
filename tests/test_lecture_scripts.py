"""The lectures' PyTorch code runs on minitorch with only its import lines switched.

Each file in tests/lecture_scripts/ is a script written as the lectures write PyTorch +
torchvision code. A test runs it twice in one working folder: as written (when torch and
torchvision import), then with its import lines rewritten to minitorch and nothing else
changed, and compares the numbers the two runs leave in their globals (losses, accuracies,
logits, weights) to float32 round-off.

Both runs start from the same weights: each script saves its initial state_dict (or, for
transfer learning, its new head) when the file is absent and loads it when present, so the
PyTorch run writes a .pth file that the minitorch run reads through mt.load. The transfer
learning scripts call ``models.resnet18(pretrained=True)`` / ``models.vgg11(pretrained=True)``
on a random-init torchvision model saved under torchvision's file name, where both look.
Both see the same batches: shuffle=False, and no random augmentation or dropout, whose draws
come from each library's own generator (the augmentation script compares only what the
draws leave alone). Without torch/torchvision the minitorch run still executes and checks
its own invariants (loss goes down, frozen layers stay put, shapes), and the comparison
skips, saying why.
"""
import gzip
import linecache
import os
import re
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch.vision import datasets as mt_datasets
from minitorch.vision import models as mt_models

try:
    import torch
    import torchvision
    REFERENCE_ERROR = None
except Exception as exc:  # ImportError, or torchvision's compiled ops not matching torch
    torch = torchvision = None
    REFERENCE_ERROR = exc

SCRIPTS = Path(__file__).parent / "lecture_scripts"
SHARED = Path(os.environ.get("MINITORCH_DATA", ""))

# float32 throughout: a few steps of training in two libraries that sum in different orders.
# ATOL is relative to the largest value of the array compared. The scripts take few, small
# steps: training amplifies round-off (a 1e-7 change of the CIFAR net's initial weights grows
# ~500x in 12 SGD steps at lr=0.05 within PyTorch alone), so longer runs would compare chaos.
RTOL, ATOL = 1e-5, 1e-5


# --------------------------------------------------------------------------- the rewrite
_IMPORTS = [  # (pattern, replacement) for one import line; anything else stays as written
    (re.compile(r"^import torch$"), "import minitorch as torch"),
    (re.compile(r"^import torch\.([\w.]+) as (\w+)$"), r"import minitorch.\1 as \2"),
    (re.compile(r"^from torchvision(\.[\w.]+)? import "), r"from minitorch.vision\1 import "),
    (re.compile(r"^from torch(\.[\w.]+)? import "), r"from minitorch\1 import "),
]


def to_minitorch(source: str) -> str:
    """``source`` with its torch/torchvision import lines pointed at minitorch: the only edit."""
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        for pattern, replacement in _IMPORTS:
            if pattern.match(line.rstrip("\n")):
                lines[i] = pattern.sub(replacement, line.rstrip("\n")) + "\n"
                break
    out = "".join(lines)
    leftover = [ln for ln in out.splitlines() if re.match(r"\s*(import|from) torch", ln)]
    assert not leftover, f"import lines the rewrite does not know: {leftover}"
    return out


def test_rewrite_touches_only_import_lines():
    for path in sorted(SCRIPTS.glob("*.py")):
        before = path.read_text().splitlines()
        after = to_minitorch(path.read_text()).splitlines()
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert len(before) == len(after) and changed, path.name
        assert all(a.startswith(("import torch", "from torch")) for a, _ in changed), changed
    assert to_minitorch("import torch.nn.functional as F\nx = torch.nn\n") == \
        "import minitorch.nn.functional as F\nx = torch.nn\n"


def run_script(name: str, library: str) -> dict:
    """Run lecture_scripts/<name> in the current folder on ``library``; its globals."""
    source = (SCRIPTS / name).read_text()
    if library == "minitorch":
        source = to_minitorch(source)
    filename = f"{SCRIPTS / name} [{library}]"
    # tracebacks show the source that ran (the rewritten one for minitorch)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__main__", "__file__": str(SCRIPTS / name)}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def as_array(value):
    if hasattr(value, "detach"):  # a tensor of either library
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def run_both(name: str, compare: list[str]) -> tuple[dict | None, dict]:
    """(PyTorch run's globals or None, minitorch run's globals); the ``compare`` globals of
    the two runs must agree. The PyTorch run goes first: it writes the initial weights."""
    reference = None
    if torch is not None:
        # FakeData's pixels come from the library's generator (torch's MT19937 there,
        # minitorch's PCG64): the PyTorch run reads minitorch's images, through torchvision's
        # own transforms and FakeData class
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(torchvision.datasets, "FakeData", SameFakeData)
            # on a GPU, PyTorch's convolutions default to TF32 (10-bit mantissas): the
            # comparison is with float32. Set and restored by hand: cuBLASModule answers
            # allow_tf32 through __getattr__, which some pytest releases' monkeypatch can't undo
            tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
            try:
                reference = run_script(name, "torch")
            finally:
                torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    mine = run_script(name, "minitorch")
    if reference is not None:
        for key in compare:
            ref = as_array(reference[key])
            np.testing.assert_allclose(as_array(mine[key]), ref, rtol=RTOL,
                                       atol=ATOL * np.abs(ref).max(), err_msg=f"{name}: {key}")
    return reference, mine


def skip_comparison_if_no_reference():
    if torch is None:
        pytest.skip(f"torch/torchvision not importable ({REFERENCE_ERROR!r}): minitorch's own "
                    "checks passed, the comparison with PyTorch is skipped")


if torchvision is not None:
    class SameFakeData(torchvision.datasets.FakeData):
        """torchvision's FakeData serving minitorch's FakeData images and labels."""

        def __getitem__(self, index):
            image, target = mt_datasets.FakeData(self.size, self.image_size, self.num_classes,
                                                 random_offset=self.random_offset)[index]
            if self.transform is not None:
                image = self.transform(image)
            if self.target_transform is not None:
                target = self.target_transform(target)
            return image, target


# --------------------------------------------------------------------------- MNIST scripts
@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A ./data folder in torchvision's layout (MNIST/raw/, decompressed), shared by both
    libraries' runs, from the real MNIST under MINITORCH_DATA."""
    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"real MNIST not found under MINITORCH_DATA={str(SHARED)!r}")
    raw = tmp_path_factory.mktemp("data") / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte"
            packed = (SHARED / "mnist" / f"{name}.gz").read_bytes()
            (raw / name).write_bytes(gzip.decompress(packed))
    return raw.parent.parent


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def falls(losses, n):
    """The mean of the last n losses is below the mean of the first n."""
    return np.mean(losses[-n:]) < np.mean(losses[:n])


def test_mlp_on_mnist(workdir, mnist_root):
    (workdir / "data").symlink_to(mnist_root, target_is_directory=True)
    _, mine = run_both("mlp_mnist.py", ["losses", "accuracies", "test_accuracy", "test_logits"])
    assert len(mine["losses"]) == 2 * 8 and falls(mine["losses"], 4), mine["losses"]
    assert mine["test_logits"].shape == (128, 10) and mine["test_accuracy"] > 0.4
    assert (workdir / "mlp_init.pth").is_file()
    skip_comparison_if_no_reference()


def test_simplenet_on_mnist(workdir, mnist_root):
    (workdir / "data").symlink_to(mnist_root, target_is_directory=True)
    _, mine = run_both("simplenet_mnist.py",
                       ["losses", "train_accuracy", "test_accuracy", "first_filters"])
    assert len(mine["losses"]) == 2 * 8 and falls(mine["losses"], 4), mine["losses"]
    assert mine["first_filters"].shape == (20, 1, 5, 5) and mine["test_accuracy"] > 0.5
    skip_comparison_if_no_reference()


# --------------------------------------------------------------------------- FakeData
def test_cifar_style_cnn_on_fakedata(workdir):
    _, mine = run_both("cifar_cnn_fakedata.py",
                       ["epoch_losses", "test_accuracy", "test_logits", "running_mean",
                        "filter_grid"])
    losses = mine["epoch_losses"]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert mine["test_logits"].shape == (16, 10) and np.abs(mine["running_mean"]).max() > 0
    assert mine["filter_grid"].shape == (3, 4 * 4 + 1, 4 * 4 + 1)
    skip_comparison_if_no_reference()


def test_augmentation_and_feature_maps(workdir):
    """Random augmentation and shuffling: only the draw-independent numbers are compared."""
    _, mine = run_both("augmentation_featuremaps.py",
                       ["seen_labels", "batch_shapes", "label_counts"])
    assert mine["summary"] == {"picture": (32, 32, 3), "filters": (8, 3, 5, 5),
                               "conv1_maps": (1, 8, 32, 32), "batches": 5}
    labels = [mt_datasets.FakeData(40, (3, 32, 32), 10)[i][1] for i in range(40)]
    assert mine["seen_labels"] == sorted(labels)  # each sample once per epoch
    filters = mine["filters"].numpy()
    assert filters.min() == 0 and filters.max() == 1 and np.isfinite(mine["losses"]).all()
    skip_comparison_if_no_reference()


# --------------------------------------------------------------------------- transfer learning
def save_weights(arch: str, folder: Path, monkeypatch) -> dict:
    """``models.<arch>(pretrained=True)``'s file, faked: a random-init ``arch`` saved with
    torch.save(state_dict) by torchvision (random BatchNorm statistics too, so loading them
    matters), or by minitorch without it, under torchvision's file name in
    ``folder``/hub/checkpoints; TORCH_HOME (torchvision's cache, which minitorch also reads) and
    MINITORCH_WEIGHTS (minitorch's first place to look) point there. The saved state as
    NumPy arrays."""
    checkpoints = folder / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(folder))
    monkeypatch.setenv("MINITORCH_WEIGHTS", str(checkpoints))
    enum_name = {"resnet18": "ResNet18_Weights", "vgg11": "VGG11_Weights"}[arch]
    path = checkpoints / getattr(mt_models, enum_name).IMAGENET1K_V1.filename
    if torchvision is None:
        mt.manual_seed(0)
        state = getattr(mt_models, arch)().state_dict()
        mt.save(state, path)
        return {k: v.numpy() for k, v in state.items()}
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    torch.save(model.state_dict(), path)
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


# the lectures' pretrained=True is deprecated in torchvision and minitorch alike: each says so
def quiet_pretrained(test):
    test = pytest.mark.filterwarnings("ignore:.*'pretrained' is deprecated")(test)
    return pytest.mark.filterwarnings("ignore:Arguments other than a weight enum")(test)


@quiet_pretrained
def test_resnet18_feature_extraction(workdir, monkeypatch):
    saved = save_weights("resnet18", workdir, monkeypatch)
    _, mine = run_both("resnet18_features.py",
                       ["losses", "test_logits", "test_correct", "fc_weight", "bn1_running_mean"])
    assert mine["trainable"] == ["fc.weight", "fc.bias"]
    np.testing.assert_array_equal(mine["conv1_weight"], saved["conv1.weight"])  # frozen
    head = mt.load(workdir / "resnet18_fc_init.pth")
    assert np.abs(mine["fc_weight"] - head["weight"].numpy()).max() > 0  # trained
    # frozen parameters, but train mode: BatchNorm still updated its running statistics
    assert np.abs(mine["bn1_running_mean"] - saved["bn1.running_mean"]).max() > 0
    assert len(mine["losses"]) == 4 and mine["test_logits"].shape == (4, 10)
    skip_comparison_if_no_reference()


# ~60 s here: VGG-11's 132M parameters, built, saved, loaded and Adam-stepped in both libraries
# (minitorch's NumPy Adam step alone takes ~8 s for them). The same path on fewer parameters
# runs fast in test_vision_models.py (torch-saved .pth into vgg11, train-mode gradients,
# classifier[6] replacement).
@pytest.mark.slow
@quiet_pretrained
def test_vgg11_fine_tuning(workdir, monkeypatch):
    saved = save_weights("vgg11", workdir, monkeypatch)
    _, mine = run_both("vgg11_finetune.py",
                       ["losses", "loss_after", "logits", "head_weight", "first_conv"])
    assert len(mine["losses"]) == 1 and mine["loss_after"] < mine["losses"][0]
    assert mine["head_weight"].shape == (10, 4096) and mine["logits"].shape == (4, 10)
    assert np.abs(mine["first_conv"] - saved["features.0.weight"]).max() > 0  # all of it trains
    skip_comparison_if_no_reference()


# --------------------------------------------------------------------------- API the scripts use
def test_load_takes_torch_loads_arguments(tmp_path):
    """torch.load(path, map_location=DEVICE, weights_only=...) runs unchanged; torch's dict and
    function forms of map_location are refused by name, not misread."""
    path = tmp_path / "w.pth"
    mt.save({"w": mt.ones(2)}, path)
    for kwargs in ({"map_location": mt.device("cpu")}, {"map_location": "cpu"},
                   {"weights_only": True}, {"weights_only": False}, {}):
        assert mt.load(path, **kwargs)["w"].device == "cpu"
    assert mt.load(path, mt.device("cpu"))["w"].device == "cpu"  # torch's positional form
    with pytest.raises(TypeError, match="map_location must be a device.*dict"):
        mt.load(path, map_location={"cuda:0": "cpu"})
    with pytest.raises(ValueError, match="disagree"):
        mt.load(path, map_location="cpu", device="cuda")



DTYPE_NAMES = ["long", "float", "double", "int", "short", "half", "bool"]


def test_torch_dtype_names():
    """torch.long, torch.float ... name the dtypes PyTorch's names do."""
    for name in DTYPE_NAMES:
        dtype = getattr(mt, name)
        assert mt.zeros(2, dtype=dtype).dtype == dtype and mt.ones(1).to(dtype).dtype == dtype
        if torch is not None:
            assert np.dtype(dtype).name == str(getattr(torch, name)).split(".")[1], name
    assert mt.tensor([1.0, 2.0], dtype=mt.long).tolist() == [1, 2]


def test_cuda_helpers_without_a_gpu_say_why():
    if mt.cuda.is_available():
        pytest.skip("a GPU is present: test_cuda_helpers_on_a_gpu covers these")
    mt.cuda.empty_cache()  # nothing to free, as torch's without CUDA
    for call in (mt.cuda.synchronize, mt.cuda.get_device_name):
        with pytest.raises(RuntimeError, match=rf"cuda\.{call.__name__}: no usable CUDA device"):
            call()


@pytest.mark.cuda
def test_cuda_helpers_on_a_gpu():
    name = mt.cuda.get_device_name()
    assert isinstance(name, str) and name
    assert mt.cuda.get_device_name(0) == mt.cuda.get_device_name("cuda:0") == name
    x = mt.randn(256, 256, device="cuda")
    y = x @ x
    mt.cuda.synchronize()
    del y
    mt.cuda.empty_cache()
    np.testing.assert_allclose(x.cpu().numpy().sum(), float(x.sum().item()), rtol=1e-4)


def test_tensor_conversions_lecture_code_uses():
    """f"{loss:.4f}", np.asarray(t) / plt.imshow(t), t.is_cuda, .to(non_blocking=, copy=)."""
    loss, x = mt.tensor(2.71828), mt.arange(6).reshape(2, 3)
    assert f"{loss:.3f}" == "2.718" and f"{x}" == str(x)
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{x:.3f}"  # as PyTorch: only a 0-d tensor formats as its number
    np.testing.assert_array_equal(np.asarray(x), x.numpy())
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(mt.ones(2, requires_grad=True))
    assert isinstance(np.ones(3) + x, mt.Tensor)  # numpy still defers to Tensor's operators
    assert not x.is_cuda and x.to("cpu", non_blocking=True) is x
    y = x.to("cpu", copy=True)
    assert y is not x and y.data is not x.data and y.tolist() == x.tolist()
    net = mt.nn.Linear(2, 2)
    assert net.to("cpu", non_blocking=True) is net


def test_pytorch_data_attribute_gets_a_hint():
    """``torch.max(outputs.data, 1)`` (PyTorch's CIFAR-10 tutorial): minitorch's ``.data`` is
    the array, by design; the error says what to write instead."""
    outputs = mt.randn(4, 10)
    with pytest.raises(TypeError, match=r"max\(\): .*numpy\.ndarray.*write t\.detach\(\)"):
        mt.max(outputs.data, 1)
    assert mt.max(outputs.detach(), 1)[1].shape == (4,)


def test_abandoned_worker_iterator_shuts_down_at_once():
    """``images, labels = next(iter(loader))`` with workers: the workers' prefetched batches
    (more than a pipe holds) are dropped at shutdown instead of blocking each worker's exit
    until the 5 s join timeout (10 s for two workers, before the fix)."""
    import time
    from minitorch.utils.data import DataLoader, TensorDataset
    data = TensorDataset(mt.zeros(64, 3, 32, 32), mt.zeros(64, dtype=mt.long))
    it = iter(DataLoader(data, batch_size=8, num_workers=2))
    images, _ = next(it)
    time.sleep(0.5)  # let the workers fill their pipe with the prefetched batches
    start = time.monotonic()
    it.close()  # what dropping the iterator does: the generator's finally shuts the pool down
    assert time.monotonic() - start < 2.5 and images.shape == (8, 3, 32, 32)


def test_inference_mode_is_no_grad():
    w = mt.ones(2, requires_grad=True)
    with mt.inference_mode():
        assert not (w * 2).requires_grad
        with mt.inference_mode(False):  # as PyTorch: switching it off records again
            assert (w * 2).requires_grad

    @mt.inference_mode()
    def predict(x):
        return x * w
    assert not predict(mt.ones(2)).requires_grad and (w * 2).requires_grad


def test_reproducibility_boilerplate_runs_and_keeps_the_stream():
    """torch.cuda.manual_seed_all / cudnn flags: accepted; minitorch's one generator (which
    torch.manual_seed seeds) is left where it was."""
    mt.manual_seed(5)
    a = mt.randn(3).numpy()
    mt.manual_seed(5)
    mt.cuda.manual_seed_all(123)
    mt.cuda.manual_seed(7)
    np.testing.assert_array_equal(mt.randn(3).numpy(), a)
    with pytest.raises(TypeError, match="seed must be an int"):
        mt.cuda.manual_seed("0")
    flags = mt.backends.cudnn
    before = (flags.benchmark, flags.deterministic)
    try:
        flags.benchmark, flags.deterministic = True, True
        assert mt.backends.cudnn.benchmark and not mt.backends.cudnn.is_available()
    finally:
        flags.benchmark, flags.deterministic = before

@pytest.mark.skipif(torch is None, reason=f"torch not importable ({REFERENCE_ERROR!r}): no "
                    "torch.save(model) file to read")
def test_whole_model_file_says_to_save_the_state_dict(tmp_path):
    """The lectures' other way to save, torch.save(model), pickles the module objects: mt.load
    refuses it (it would have to run code) and says what to save instead."""
    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.pth")
    with pytest.raises(mt.serialization.SerializationError,
                       match=r"'torch\.nn\.modules\.linear\.Linear'.*model\.state_dict\(\)"):
        mt.load(tmp_path / "model.pth")


@pytest.mark.skipif(torchvision is None, reason=f"torchvision not importable "
                    f"({REFERENCE_ERROR!r}): no make_grid to compare with")
@pytest.mark.parametrize("shape,kwargs", [
    ((5, 3, 4, 6), dict(nrow=2, padding=1, pad_value=0.5)),
    ((4, 1, 3, 3), dict(normalize=True)),                       # grey -> RGB, then scaled
    ((3, 3, 5, 5), dict(normalize=True, scale_each=True, padding=0)),
    ((6, 3, 2, 2), dict(normalize=True, value_range=(-0.5, 0.5), nrow=4)),  # clamped
    ((7, 8, 3, 3), dict(nrow=3)),                               # any channel count
    ((1, 3, 4, 4), dict(normalize=True)),                       # one image: no padding
    ((1, 4, 4), {}), ((4, 4), {}),                              # one image, no batch dim
])
def test_make_grid_matches_torchvision(shape, kwargs):
    from minitorch.vision.utils import make_grid
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = make_grid(mt.tensor(x), **kwargs)
    want = torchvision.utils.make_grid(torch.tensor(x), **kwargs)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
    listed = make_grid(list(mt.tensor(x)), **kwargs) if len(shape) == 4 else got
    np.testing.assert_array_equal(listed.numpy(), got.numpy())


def test_make_grid_errors():
    from minitorch.vision.utils import make_grid
    with pytest.raises(TypeError, match="make_grid: expected a tensor"):
        make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"make_grid: .*got shape \(1, 2, 3, 4, 5\)"):
        make_grid(mt.zeros(1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="one shape"):
        make_grid([mt.zeros(3, 4, 4), mt.zeros(3, 5, 4)])


@pytest.mark.parametrize("arch,x_shape,layer", [
    ("alexnet", (1, 1, 64, 64), "'features.0'"), ("googlenet", (1, 1, 32, 32), "'conv1.conv'"),
    ("lenet5", (1, 3, 28, 28), "'0'"), ("simplenet", (1, 3, 28, 28), "'0'")])
def test_wrong_channels_name_the_layer_in_every_zoo_model(arch, x_shape, layer):
    """RGB into an MNIST net or grey into an ImageNet one: the error names the op, both shapes
    and the layer (ResNet and VGG: test_vision_models.py)."""
    kwargs = {"init_weights": False} if arch == "googlenet" else {}
    net = getattr(mt_models, arch)(**kwargs).eval()
    with mt.no_grad(), pytest.raises(ValueError, match=rf"conv2d: .*{re.escape(str(x_shape))}") \
            as info:
        net(mt.randn(*x_shape))
    assert any(layer in note for note in info.value.__notes__), info.value.__notes__
