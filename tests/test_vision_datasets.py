"""minitorch.vision.datasets on files in the real formats: real MNIST / Fashion-MNIST from
MINITORCH_DATA, CIFAR-10 batches written here byte by byte as the python release (Python 2
pickles) and the binary release, and a folder tree of PNGs; each compared with
torchvision.datasets reading the same files, where torchvision is importable."""
import gzip
import hashlib
import io
import os
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch.data import mnist as mnist_mod
from minitorch.utils.data import DataLoader
from minitorch.vision import datasets, transforms
from minitorch.vision.datasets import _common
from minitorch.vision.datasets import cifar as cifar_mod

Image = pytest.importorskip("PIL.Image", reason="Pillow is needed to compare PIL samples")

try:
    import torchvision.datasets as tvd
    TV_REASON = None
except Exception as exc:  # noqa: BLE001 - any failure: no reference on this machine
    tvd = None
    TV_REASON = f"torchvision is not importable ({exc!r})"
needs_tv = pytest.mark.skipif(tvd is None, reason=TV_REASON or "")

SHARED = Path(os.environ.get("MINITORCH_DATA", ""))
has_mnist = pytest.mark.skipif(not (SHARED / "mnist").is_dir(),
                               reason=f"real MNIST not found under MINITORCH_DATA={SHARED}")
has_fashion = pytest.mark.skipif(not (SHARED / "fashion-mnist").is_dir(),
                                 reason=f"Fashion-MNIST not found under {SHARED}")


def _torchvision_layout(tmp_path, folder, src):
    """root/<folder>/raw/ with the four decompressed IDX files torchvision expects."""
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte"
            (raw / name).write_bytes(gzip.decompress((src / (name + ".gz")).read_bytes()))
    return tmp_path


# --------------------------------------------------------------------------- MNIST
@needs_tv
@has_mnist
@pytest.mark.parametrize("cls,folder,src", [("MNIST", "MNIST", "mnist"),
                                            ("FashionMNIST", "FashionMNIST", "fashion-mnist")])
def test_mnist_matches_torchvision_on_its_folder(tmp_path, cls, folder, src):
    if not (SHARED / src).is_dir():
        pytest.skip(f"{src} not found under {SHARED}")
    root = _torchvision_layout(tmp_path, folder, SHARED / src)
    ours = getattr(datasets, cls)(root, train=False)
    ref = getattr(tvd, cls)(str(root), train=False)
    assert len(ours) == len(ref) == 10000
    np.testing.assert_array_equal(ours.data.data, ref.data.numpy())
    np.testing.assert_array_equal(ours.targets.data, ref.targets.numpy())
    assert ours.data.dtype == np.uint8 and ours.targets.dtype == np.int64
    assert ours.classes == ref.classes and ours.class_to_idx == ref.class_to_idx
    for i in (0, 1234, 9999):
        (a, y), (b, z) = ours[i], ref[i]
        assert isinstance(a, Image.Image) and a.mode == b.mode == "L" and y == z
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert repr(ours).splitlines()[:4] == repr(ref).splitlines()[:4]


@has_mnist
def test_mnist_reads_minitorch_layout_and_train_split():
    train = datasets.MNIST(SHARED, train=True)
    assert len(train) == 60000 and train.data.shape == (60000, 28, 28)
    assert np.bincount(train.targets.data).tolist()[:2] == [5923, 6742]  # published counts
    image, label = train[0]
    assert label == 5 and image.size == (28, 28)


@has_mnist
def test_mnist_fast_batches_equal_the_per_sample_transform():
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(SHARED, train=False, transform=t)
    assert hasattr(ds, "get_batch")
    idx = np.array([3, 0, 9999, 42])
    x, y = ds.get_batch(idx)
    for k, i in enumerate(idx):
        image, label = ds[int(i)]
        np.testing.assert_array_equal(x[k], image.data)       # bit for bit
        assert y[k] == label
    # other transforms (or a target transform) take the per-sample path
    assert not hasattr(datasets.MNIST(SHARED, train=False,
                                      transform=transforms.RandomCrop(28, padding=2)),
                       "get_batch")
    assert not hasattr(datasets.MNIST(SHARED, train=False, transform=t,
                                      target_transform=int), "get_batch")


@has_mnist
def test_lecture_style_loop_over_mnist():
    """The lectures' code: datasets.MNIST(..., transform=Compose([ToTensor(), Normalize()])),
    DataLoader(batch_size=16, shuffle=True), len(loader), argmax/eq accuracy."""
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    data = datasets.MNIST(root=SHARED, train=False, download=True, transform=t)
    loader = DataLoader(data, batch_size=16, shuffle=True)
    assert len(loader) == 625
    mt.manual_seed(0)
    x, y = next(iter(loader))
    assert x.shape == (16, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    x = x.view(-1, 1, 28, 28)
    assert abs(float(x.data.mean()) - (0.1325 - 0.1307) / 0.3081) < 0.25
    mt.manual_seed(0)
    per_sample = DataLoader(data, batch_size=16, shuffle=True,  # a collate_fn: no get_batch
                            collate_fn=lambda s: mt.utils.data.default_collate(s))
    xs, ys = next(iter(per_sample))
    np.testing.assert_array_equal(xs.data, x.data)             # fast path == per-sample path
    np.testing.assert_array_equal(ys.data, y.data)


def test_mnist_missing_files_say_what_to_put_where(tmp_path):
    with pytest.raises(datasets.DataNotFoundError) as err:
        datasets.MNIST(tmp_path, train=True)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert "download=True" in message


@has_mnist
def test_mnist_wrong_hash_is_refused(tmp_path):
    root = _torchvision_layout(tmp_path, "MNIST", SHARED / "mnist")
    labels = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    raw = bytearray(labels.read_bytes())
    raw[100] = (raw[100] + 1) % 10                       # one label changed: still valid IDX
    labels.write_bytes(bytes(raw))
    mnist_mod.clear_cache()
    with pytest.raises(datasets.DataIntegrityError, match="t10k-labels-idx1-ubyte.*SHA-256"):
        datasets.MNIST(root, train=False)


@has_mnist
def test_mnist_download_into_torchvision_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod.MNIST, "mirrors", [(SHARED / "mnist").as_uri() + "/"])
    ds = datasets.MNIST(tmp_path, train=False, download=True)
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(mnist_mod.MNIST.file_names())
    assert len(ds) == 10000 and ds[0][1] == 7


# --------------------------------------------------------------------------- CIFAR-10
def py2_pickle(obj) -> bytes:
    """Protocol 2 as Python 2's cPickle wrote the CIFAR-10 batches: str as (SHORT_)BINSTRING,
    an ndarray through numpy.core.multiarray._reconstruct and a BUILD state."""
    out = bytearray(b"\x80\x02")

    def string(b: bytes):
        out.extend(b"U" + bytes([len(b)]) + b if len(b) < 256 else
                   b"T" + struct.pack("<i", len(b)) + b)

    def integer(v: int):
        out.extend(b"K" + bytes([v]) if 0 <= v < 256 else b"J" + struct.pack("<i", v))

    def write(o):
        if isinstance(o, dict):
            out.extend(b"}(")
            for k, v in o.items():
                write(k)
                write(v)
            out.extend(b"u")
        elif isinstance(o, list):
            out.extend(b"](")
            for v in o:
                write(v)
            out.extend(b"e")
        elif isinstance(o, str):
            string(o.encode("latin1"))
        elif isinstance(o, int):
            integer(o)
        elif isinstance(o, np.ndarray):
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
            integer(0)
            out.extend(b"\x85")                          # TUPLE1: shape (0,)
            string(b"b")
            out.extend(b"\x87R(")                        # TUPLE3, REDUCE, MARK
            integer(1)
            out.extend(b"(")
            for d in o.shape:
                integer(d)
            out.extend(b"tcnumpy\ndtype\n")
            string(o.dtype.str[1:].encode())             # 'u1'
            integer(0)
            integer(1)
            out.extend(b"\x87R(")
            integer(3)
            string(b"|")
            out.extend(b"NNN")
            integer(-1)
            integer(-1)
            integer(0)
            out.extend(b"tb\x89")                        # dtype BUILD, then False (C order)
            string(o.tobytes())
            out.extend(b"tb")                            # the array's BUILD
        else:
            raise TypeError(type(o))
    write(obj)
    out.extend(b".")
    return bytes(out)


CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]


def _cifar_split(rng, n):
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()


@pytest.fixture
def cifar_files(tmp_path, monkeypatch):
    """Both releases of a small CIFAR-10 (5 x 4 training images, 3 test images) in tmp_path,
    and both readers' pinned MD5s pointed at these files."""
    rng = np.random.default_rng(0)
    splits = {f"data_batch_{k}": _cifar_split(rng, 4) for k in range(1, 6)}
    splits["test_batch"] = _cifar_split(rng, 3)
    py, binary = tmp_path / "cifar-10-batches-py", tmp_path / "cifar-10-batches-bin"
    py.mkdir()
    binary.mkdir()
    md5 = {}
    for name, (data, labels) in splits.items():
        blob = py2_pickle({"batch_label": f"batch {name}", "labels": labels, "data": data,
                           "filenames": [f"img{i}.png" for i in range(len(labels))]})
        (py / name).write_bytes(blob)
        md5[name] = hashlib.md5(blob).hexdigest()
        records = np.concatenate([np.asarray(labels, np.uint8)[:, None], data], axis=1)
        (binary / f"{name}.bin").write_bytes(records.tobytes())
    meta = py2_pickle({"label_names": CLASSES, "num_cases_per_batch": 4, "num_vis": 3072})
    (py / "batches.meta").write_bytes(meta)
    md5["batches.meta"] = hashlib.md5(meta).hexdigest()
    (binary / "batches.meta.txt").write_text("\n".join(CLASSES) + "\n\n")
    for table in (cifar_mod.PYTHON.train, cifar_mod.PYTHON.test, cifar_mod.PYTHON.meta):
        for name in table:
            monkeypatch.setitem(table, name, md5[name])
    if tvd is not None:
        monkeypatch.setattr(tvd.CIFAR10, "train_list",
                            [[f"data_batch_{k}", md5[f"data_batch_{k}"]] for k in range(1, 6)])
        monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
        monkeypatch.setattr(tvd.CIFAR10, "meta", {"filename": "batches.meta",
                                                  "key": "label_names",
                                                  "md5": md5["batches.meta"]})
    return tmp_path, splits


@needs_tv
@pytest.mark.parametrize("train", [True, False])
def test_cifar_python_release_matches_torchvision(cifar_files, train):
    root, splits = cifar_files
    ours = datasets.CIFAR10(root, train=train)
    ref = tvd.CIFAR10(str(root), train=train)
    assert ours.release.name == "python"
    assert ours.data.dtype == np.uint8 and ours.data.shape == ref.data.shape
    np.testing.assert_array_equal(ours.data, ref.data)
    assert ours.targets == ref.targets and ours.classes == ref.classes
    assert ours.class_to_idx == ref.class_to_idx
    for i in range(len(ref)):
        (a, y), (b, z) = ours[i], ref[i]
        assert a.mode == b.mode == "RGB" and y == z
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("train", [True, False])
def test_cifar_binary_release_holds_the_same_images(cifar_files, train):
    root, splits = cifar_files
    py = datasets.CIFAR10(root, train=train, release="python")
    binary = datasets.CIFAR10(root, train=train, release="binary")
    names = [f"data_batch_{k}" for k in range(1, 6)] if train else ["test_batch"]
    planar = np.concatenate([splits[n][0] for n in names])
    expected = planar.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)      # (N, 32, 32, 3)
    for ds in (py, binary):
        np.testing.assert_array_equal(ds.data, expected)
        assert ds.targets == sum((splits[n][1] for n in names), [])
        assert ds.classes == CLASSES
    shutil.rmtree(root / "cifar-10-batches-py")
    assert datasets.CIFAR10(root, train=train).release.name == "binary"    # auto-detected


def test_cifar_fast_batches_and_arrays_without_pillow(cifar_files, monkeypatch):
    root, _ = cifar_files
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.25,) * 3)])
    ds = datasets.CIFAR10(root, train=True, transform=t)
    x, y = ds.get_batch(np.array([7, 2]))
    np.testing.assert_array_equal(x[0], ds[7][0].data)
    np.testing.assert_array_equal(x[1], ds[2][0].data)
    with_pil = datasets.CIFAR10(root, train=True)[5][0]
    monkeypatch.setattr(_common, "Image", None)       # as if Pillow were not installed
    array, label = datasets.CIFAR10(root, train=True)[5]
    assert isinstance(array, np.ndarray) and array.shape == (32, 32, 3)
    np.testing.assert_array_equal(array, np.asarray(with_pil))
    np.testing.assert_array_equal(transforms.ToTensor()(array).data,
                                  transforms.ToTensor()(with_pil).data)


def test_cifar_wrong_hash_is_refused(cifar_files):
    root, _ = cifar_files
    path = root / "cifar-10-batches-py" / "data_batch_3"
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 1                                     # one pixel bit flipped
    path.write_bytes(bytes(blob))
    with pytest.raises(datasets.DataIntegrityError,
                       match=r"data_batch_3: MD5 is [0-9a-f]{32}, expected [0-9a-f]{32}"):
        datasets.CIFAR10(root, train=True)
    assert len(datasets.CIFAR10(root, train=False)) == 3   # the test split is intact


def test_cifar_binary_file_defects(cifar_files):
    root, _ = cifar_files
    path = root / "cifar-10-batches-bin" / "test_batch.bin"
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[:-1]))
    with pytest.raises(datasets.DataIntegrityError, match="not a whole number of 3073-byte"):
        datasets.CIFAR10(root, train=False, release="binary")
    data[0] = 10
    path.write_bytes(bytes(data))
    with pytest.raises(datasets.DataIntegrityError, match="label 10 found"):
        datasets.CIFAR10(root, train=False, release="binary")


def test_cifar_hostile_pickle_runs_nothing(cifar_files, monkeypatch):
    root, _ = cifar_files
    marker = root / "pwned"
    hostile = (b"\x80\x02cposix\nsystem\nU" + bytes([len(f"touch {marker}")])
               + f"touch {marker}".encode() + b"\x85R.")
    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(hostile)
    monkeypatch.setitem(cifar_mod.PYTHON.test, "test_batch", hashlib.md5(hostile).hexdigest())
    with pytest.raises(datasets.DataIntegrityError, match="posix.system"):
        datasets.CIFAR10(root, train=False)
    assert not marker.exists()
    # an array of Python objects is refused too (data files hold numbers)
    obj = py2_pickle({"data": np.zeros((1, 3072), np.uint8), "labels": [0]}).replace(
        b"U\x02u1", b"U\x02O8")
    path.write_bytes(obj)
    monkeypatch.setitem(cifar_mod.PYTHON.test, "test_batch", hashlib.md5(obj).hexdigest())
    with pytest.raises(datasets.DataIntegrityError, match="only numeric dtypes"):
        datasets.CIFAR10(root, train=False)


def test_cifar_missing_files_say_what_to_put_where(tmp_path):
    with pytest.raises(datasets.DataNotFoundError) as err:
        datasets.CIFAR10(tmp_path, train=True)
    message = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "data_batch_1" in message and "test_batch" in message and "batches.meta" in message
    assert "cifar-10-python.tar.gz" in message and "download=True" in message


def _tar(folder: Path, dest: Path, extra: dict | None = None):
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar_download_uses_a_verified_archive_offline(cifar_files, monkeypatch):
    root, _ = cifar_files
    src = root / "src"
    (root / "cifar-10-batches-py").rename(src)
    (src / "cifar-10-batches-py").mkdir()
    for f in list(src.iterdir()):
        if f.is_file():
            f.rename(src / "cifar-10-batches-py" / f.name)
    archive = root / "cifar-10-python.tar.gz"
    _tar(src / "cifar-10-batches-py", archive, {"../escape": b"x"})
    blob = archive.read_bytes()
    monkeypatch.setattr(cifar_mod.PYTHON, "url", (root / "nowhere.tar.gz").as_uri())
    monkeypatch.setattr(cifar_mod.PYTHON, "size", len(blob))
    monkeypatch.setattr(cifar_mod.PYTHON, "md5", hashlib.md5(blob).hexdigest())
    monkeypatch.setattr(cifar_mod.PYTHON, "sha256", "0" * 64)
    with pytest.raises(datasets.DataIntegrityError, match="cifar-10-python.tar.gz: SHA256 is"):
        datasets.CIFAR10(root, train=True, download=True, release="python")
    assert not (root / "cifar-10-batches-py").exists()
    monkeypatch.setattr(cifar_mod.PYTHON, "sha256", hashlib.sha256(blob).hexdigest())
    ds = datasets.CIFAR10(root, train=True, download=True, release="python")
    assert len(ds) == 20 and not (root.parent / "escape").exists()
    assert sorted(p.name for p in (root / "cifar-10-batches-py").iterdir()) == sorted(
        cifar_mod.PYTHON.all_files())


def test_cifar_download_offline_without_archive_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar_mod.PYTHON, "url", (tmp_path / "nowhere.tar.gz").as_uri())
    with pytest.raises(datasets.DataNotFoundError,
                       match=r"could not download .*put cifar-10-python.tar.gz into"):
        datasets.CIFAR10(tmp_path, train=True, download=True)
    assert list(tmp_path.iterdir()) == []             # no partial file left behind


# --------------------------------------------------------------------------- FakeData
def test_fake_data_is_deterministic_and_leaves_the_global_generator_alone():
    ds = datasets.FakeData(size=6, image_size=(3, 12, 10), num_classes=4)
    mt.manual_seed(0)
    before = mt.rand(3).data
    mt.manual_seed(0)
    a = [ds[i] for i in range(6)]
    after = mt.rand(3).data
    np.testing.assert_array_equal(before, after)
    b = [datasets.FakeData(size=6, image_size=(3, 12, 10), num_classes=4)[i] for i in range(6)]
    for (x, y), (u, v) in zip(a, b):
        assert x.size == (10, 12) and x.mode == "RGB" and y == v and 0 <= y < 4
        np.testing.assert_array_equal(np.asarray(x), np.asarray(u))
    assert len({np.asarray(x).tobytes() for x, _ in a}) == 6
    other = datasets.FakeData(size=6, image_size=(3, 12, 10), random_offset=100)[0][0]
    assert not np.array_equal(np.asarray(other), np.asarray(a[0][0]))
    with pytest.raises(IndexError, match="index 6 is out of range"):
        ds[6]


@needs_tv
def test_fake_data_has_torchvisions_shapes_and_types():
    ours = datasets.FakeData(size=3, image_size=(1, 9, 7), num_classes=5)
    ref = tvd.FakeData(size=3, image_size=(1, 9, 7), num_classes=5)
    assert len(ours) == len(ref)
    (a, y), (b, z) = ours[0], ref[0]
    assert (a.mode, a.size) == (b.mode, b.size) and isinstance(y, int) and isinstance(z, int)


def test_fake_data_through_a_loader():
    ds = datasets.FakeData(size=10, image_size=(3, 32, 32), transform=transforms.ToTensor())
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32 and y.shape == (4,)


# --------------------------------------------------------------------------- ImageFolder
@pytest.fixture
def image_tree(tmp_path):
    rng = np.random.default_rng(1)
    layout = {"dog": ["b.png", "a.PNG", "nested/c.png", "notes.txt"], "cat": ["z.png"],
              "bird": ["1.png", "0.png"]}
    for cls, files in layout.items():
        for f in files:
            path = tmp_path / cls / f
            path.parent.mkdir(parents=True, exist_ok=True)
            if f.endswith(".txt"):
                path.write_text("not an image")
            else:
                mode = "L" if f.startswith("a") else "RGB"
                shape = (5, 6) if mode == "L" else (5, 6, 3)
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return tmp_path


@needs_tv
def test_image_folder_matches_torchvision(image_tree):
    ours = datasets.ImageFolder(image_tree)
    ref = tvd.ImageFolder(str(image_tree))
    assert ours.classes == ref.classes == ["bird", "cat", "dog"]
    assert ours.class_to_idx == ref.class_to_idx
    assert ours.samples == ref.samples and ours.imgs == ref.imgs
    assert ours.targets == ref.targets == [0, 0, 1, 2, 2, 2]
    for i in range(len(ref)):
        (a, y), (b, z) = ours[i], ref[i]
        assert a.mode == b.mode == "RGB" and y == z
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_image_folder_rules_and_errors(image_tree, tmp_path_factory):
    t = transforms.Compose([transforms.Resize((4, 4)), transforms.ToTensor()])
    ds = datasets.ImageFolder(image_tree, transform=t, target_transform=lambda y: y * 10)
    x, y = ds[5]
    assert x.shape == (3, 4, 4) and y == 20
    only_b = datasets.ImageFolder(image_tree, is_valid_file=lambda p: p.endswith("b.png"),
                                  allow_empty=True)
    assert [Path(p).name for p, _ in only_b.samples] == ["b.png"]
    (image_tree / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty. "
                                                "Supported extensions are: .jpg, .jpeg"):
        datasets.ImageFolder(image_tree)
    assert datasets.ImageFolder(image_tree, allow_empty=True).classes[-1] == "empty"
    bare = tmp_path_factory.mktemp("bare")
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(bare)
    loaded = datasets.DatasetFolder(image_tree, loader=lambda p: Path(p).read_text(),
                                    extensions=(".txt",), allow_empty=True)
    assert [s[1] for s in loaded.samples] == [loaded.class_to_idx["dog"]]
    assert loaded[0][0] == "not an image"


def test_image_folder_without_pillow_says_so(image_tree, monkeypatch):
    from minitorch.vision.datasets import folder
    monkeypatch.setattr(folder, "Image", None)
    ds = datasets.ImageFolder(image_tree)
    with pytest.raises(ImportError, match="needs Pillow.*or pass loader="):
        ds[0]


def test_cifar_with_fast_batches_pickles_for_spawned_workers(cifar_files):
    import pickle
    root, _ = cifar_files
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    ds = datasets.CIFAR10(root, train=False, transform=t)
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone.get_batch([0, 2])[0], ds.get_batch([0, 2])[0])
    assert not hasattr(datasets.CIFAR10(root, train=False), "get_batch")


@has_mnist
def test_reassigning_data_and_targets_subsets_the_dataset():
    """The lectures' trick: ds.data, ds.targets = ds.data[:n], ds.targets[:n]."""
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(SHARED, train=False, transform=t)
    ds.data, ds.targets = ds.data[:100], ds.targets[:100]
    assert len(ds) == 100 and len(DataLoader(ds, batch_size=32)) == 4
    batches = list(DataLoader(ds, batch_size=32))
    assert sum(b[0].shape[0] for b in batches) == 100
    ds.targets = mt.tensor(np.zeros(100, np.int64))
    assert ds[5][1] == 0 and ds.get_batch([5])[1].tolist() == [0]


def test_cifar_targets_edits_reach_the_fast_path(cifar_files):
    root, _ = cifar_files
    ds = datasets.CIFAR10(root, train=False, transform=transforms.ToTensor())
    ds.targets[1] = 9
    assert ds[1][1] == 9 and ds.get_batch([1])[1].tolist() == [9]
