"""Datasets, the DataLoader, IDX parsing and MNIST / Fashion-MNIST on the real files."""
import gzip
import os
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch.data import (MNIST, DataIntegrityError, DataLoader, DataNotFoundError, Dataset,
                            FashionMNIST, Subset, TensorDataset, default_collate, parse_idx,
                            random_split, read_idx)
from minitorch.data import mnist as mnist_mod

SHARED = Path(os.environ.get("MINITORCH_DATA", ""))
has_mnist = pytest.mark.skipif(not (SHARED / "mnist").is_dir(),
                               reason=f"real MNIST not found under MINITORCH_DATA={SHARED}")
has_fashion = pytest.mark.skipif(not (SHARED / "fashion-mnist").is_dir(),
                                 reason=f"Fashion-MNIST not found under {SHARED}")


def pixel_mean_std(images: np.ndarray) -> tuple[float, float]:
    """Exact mean/std of uint8 images on [0, 1], from a 256-bin histogram (fast)."""
    counts = np.bincount(images.reshape(-1), minlength=256)
    values = np.arange(256) / 255.0
    mean = (counts * values).sum() / counts.sum()
    return mean, np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """Encode an IDX file by hand, independently of the reader under test."""
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


# --------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D),
                                        (np.float64, 0x0E)])
def test_parse_idx_round_trip(dtype, code):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    out = parse_idx(idx_bytes(a, code), "x")
    assert out.dtype == np.dtype(dtype) and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, a)


def test_read_idx_gzip_and_plain(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(a, 0x08)))
    (tmp_path / "a").write_bytes(idx_bytes(a, 0x08))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), a)


def test_idx_truncated_names_file_and_sizes(tmp_path):
    a = np.arange(100, dtype=np.uint8).reshape(4, 25)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(a, 0x08)[:-10]))
    with pytest.raises(DataIntegrityError, match=r"train-images-idx3-ubyte\.gz.*truncated.*"
                       r"needs 100 data bytes, found 90"):
        read_idx(path)


def test_idx_truncated_header_and_trailing_bytes():
    with pytest.raises(DataIntegrityError, match="truncated header"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]), "f")
    with pytest.raises(DataIntegrityError, match="too short"):
        parse_idx(b"\x00\x00", "f")
    with pytest.raises(DataIntegrityError, match="3 unexpected bytes"):
        parse_idx(idx_bytes(np.zeros(4, np.uint8), 0x08) + b"abc", "f")


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00",
                                   b"PK\x03\x04"])
def test_idx_bad_magic(magic):
    with pytest.raises(DataIntegrityError, match=r"labels\.bin: not a valid IDX file: bad magic"):
        parse_idx(magic + b"\x00" * 16, "labels.bin")


def test_corrupt_gzip_is_reported(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros(1000, np.uint8), 0x08))
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataIntegrityError, match=r"t10k-labels-idx1-ubyte\.gz: corrupt gzip"):
        read_idx(path)


def _fake_mnist(folder: Path, n: int = 5):
    """Well-formed IDX files with the standard names but not MNIST's bytes."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "t10k"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 8)))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels, 8)))


def test_hash_mismatch_names_file_both_hashes_and_fix(tmp_path):
    _fake_mnist(tmp_path / "mnist")
    actual = mnist_mod.sha256(gzip.decompress(
        (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").read_bytes()))
    with pytest.raises(DataIntegrityError) as info:
        MNIST(root=tmp_path)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg
    assert mnist_mod.MNIST_SHA256["train-images-idx3-ubyte"] in msg and actual in msg
    assert "download" in msg


def test_pinned_hashes_match_the_shipped_sums():
    for folder, pinned in (("mnist", mnist_mod.MNIST_SHA256),
                           ("fashion-mnist", mnist_mod.FASHION_MNIST_SHA256)):
        sums = SHARED / folder / "SHA256SUMS.decompressed"
        if not sums.is_file():
            pytest.skip(f"{sums} not found")
        listed = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line)
        assert listed == pinned


# --------------------------------------------------------------------------- root, missing, download
def test_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("MINITORCH_DATA", str(tmp_path / "env"))
    assert mnist_mod.default_root() == tmp_path / "env"
    monkeypatch.delenv("MINITORCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_mod.default_root() == tmp_path / "xdg" / "minitorch" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_mod.default_root() == tmp_path / "home" / ".cache" / "minitorch" / "data"
    # an explicit root wins over the environment
    monkeypatch.setenv("MINITORCH_DATA", str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError, match=str(tmp_path / "explicit" / "mnist")):
        MNIST(root=tmp_path / "explicit")


def test_missing_files_message_names_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        FashionMNIST(root=tmp_path, train=False)
    msg = str(info.value)
    assert str(tmp_path / "fashion-mnist") in msg
    for name in FashionMNIST.file_names():
        assert name in msg
    assert "download=True" in msg


@has_mnist
def test_download_from_file_mirror_verifies_and_writes(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED / "mnist", mirror)
    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "nowhere").as_uri() + "/",
                                           mirror.as_uri() + "/"])
    root = tmp_path / "root"
    ds = MNIST(root=root, train=False, download=True)
    for name in MNIST.file_names():
        assert (root / "mnist" / name).read_bytes() == (mirror / name).read_bytes()
    assert len(ds) == 10000
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(MNIST.file_names())


def test_download_rejects_wrong_content_and_leaves_nothing(tmp_path, monkeypatch):
    _fake_mnist(tmp_path / "mirror")
    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "mirror").as_uri() + "/"])
    with pytest.raises(DataNotFoundError, match="SHA-256 of the decompressed data is"):
        MNIST(root=tmp_path / "root", download=True)
    assert list((tmp_path / "root" / "mnist").iterdir()) == []


def test_download_without_network_says_where_to_put_files(tmp_path, monkeypatch):
    def offline(url, timeout=60.0):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(mnist_mod, "_fetch", offline)
    with pytest.raises(DataNotFoundError) as info:
        MNIST(root=tmp_path, download=True)
    msg = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in msg
    assert MNIST.mirrors[0] + "train-images-idx3-ubyte.gz" in msg
    assert str(tmp_path / "mnist") in msg and "t10k-labels-idx1-ubyte.gz" in msg


@has_mnist
def test_decompressed_files_are_accepted(tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = gzip.decompress((SHARED / "mnist" / (name + ".gz")).read_bytes())
        (tmp_path / "mnist" / name).write_bytes(raw)
    ds = MNIST(root=tmp_path, train=False)
    np.testing.assert_array_equal(ds.data, MNIST(train=False).data)


# --------------------------------------------------------------------------- the real data
@pytest.fixture(scope="module")
def mnist_train():
    return MNIST(train=True)


@has_mnist
def test_real_mnist_facts(mnist_train):
    test = MNIST(train=False)
    assert mnist_train.data.shape == (60000, 28, 28) and mnist_train.data.dtype == np.uint8
    assert test.data.shape == (10000, 28, 28) and mnist_train.targets.dtype == np.int64
    mean, std = pixel_mean_std(mnist_train.data)
    assert abs(mean - 0.1307) < 5e-5 and abs(std - 0.3081) < 5e-5
    assert np.bincount(mnist_train.targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421,
                                                         5918, 6265, 5851, 5949]
    assert np.bincount(test.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                  974, 1009]


@has_fashion
def test_real_fashion_mnist_facts():
    train, test = FashionMNIST(train=True), FashionMNIST(train=False)
    mean, std = pixel_mean_std(train.data)
    assert abs(mean - 0.2860) < 5e-5 and abs(std - 0.3530) < 5e-5
    assert np.bincount(train.targets).tolist() == [6000] * 10
    assert np.bincount(test.targets).tolist() == [1000] * 10
    assert len(FashionMNIST.classes) == 10


@has_mnist
def test_samples_and_batches(mnist_train):
    image, label = mnist_train[7]
    assert isinstance(image, mt.Tensor) and image.shape == (1, 28, 28)
    assert image.dtype == np.float32 and label == mnist_train.targets[7]
    np.testing.assert_allclose(image.data[0], mnist_train.data[7] / 255.0, rtol=1e-6)
    assert 0.0 <= image.data.min() and image.data.max() <= 1.0

    norm = MNIST(train=True, normalize=True, flatten=True)
    x, y = norm.get_batch(np.array([7, 0, 59999]))
    assert x.shape == (3, 784) and x.dtype == np.float32 and y.tolist() == \
        mnist_train.targets[[7, 0, 59999]].tolist()
    np.testing.assert_allclose(x[0], (mnist_train.data[7].reshape(-1) / 255 - 0.1307) / 0.3081,
                               rtol=1e-5, atol=1e-6)
    # normalised over the whole training set: mean ~0, std ~1
    xs, _ = norm.get_batch(np.arange(60000))
    assert abs(xs.mean()) < 1e-3 and abs(xs.std() - 1) < 1e-3


@has_mnist
def test_mnist_is_decoded_once_per_process(monkeypatch, mnist_train):
    calls = []
    monkeypatch.setattr(mnist_mod, "read_idx", lambda *a: calls.append(a))
    again = MNIST(train=True)
    assert calls == [] and again.data is mnist_train.data


@has_mnist
def test_dataloader_fast_path_never_touches_single_samples(monkeypatch, mnist_train):
    def per_sample(self, i):
        raise AssertionError("the DataLoader fell back to per-sample __getitem__")
    monkeypatch.setattr(MNIST, "__getitem__", per_sample)
    loader = DataLoader(mnist_train, batch_size=1000, shuffle=True,
                        generator=mt.Generator().manual_seed(0))
    seen = np.zeros(10, np.int64)
    for x, y in loader:
        assert x.shape[1:] == (1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
        seen += np.bincount(y.data, minlength=10)
    assert seen.sum() == 60000 and seen.tolist() == np.bincount(mnist_train.targets).tolist()


@has_mnist
def test_transform_uses_the_per_sample_path(mnist_train):
    ds = MNIST(train=False, transform=lambda img: img * 2, target_transform=lambda t: t + 100)
    assert not hasattr(ds, "get_batch")
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_allclose(x.data[:, 0], ds.data[:4] / 255.0 * 2, rtol=1e-6)
    assert y.tolist() == (ds.targets[:4] + 100).tolist()


# --------------------------------------------------------------------------- DataLoader
class ListDataset(Dataset):
    """No get_batch: exercises the per-sample path and default_collate."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return x, np.arange(n, dtype=np.int64) * 10


@pytest.mark.parametrize("n,bs,drop_last,expected", [(10, 3, False, [3, 3, 3, 1]),
                                                     (10, 3, True, [3, 3, 3]),
                                                     (9, 3, False, [3, 3, 3]),
                                                     (2, 5, False, [2]), (2, 5, True, [])])
@pytest.mark.parametrize("kind", ["tensor", "list"])
def test_batching_and_len(n, bs, drop_last, expected, kind):
    x, y = _xy(n)
    ds = TensorDataset(x, y) if kind == "tensor" else ListDataset(x, y)
    loader = DataLoader(ds, batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(expected) == len(batches)
    assert [b[1].shape[0] for b in batches] == expected
    if batches:
        xs = np.concatenate([b[0].data for b in batches])
        np.testing.assert_array_equal(xs, x[: len(xs)])
        assert batches[0][1].dtype == np.int64 and isinstance(batches[0][0], mt.Tensor)


def test_seeded_shuffle_is_a_reproducible_permutation():
    x, y = _xy(50)
    ds = TensorDataset(x, y)

    def epochs(gen, k=3):
        loader = DataLoader(ds, batch_size=8, shuffle=True, generator=gen)
        return [np.concatenate([b[1].data for b in loader]) // 10 for _ in range(k)]

    a = epochs(mt.Generator().manual_seed(123))
    b = epochs(mt.Generator().manual_seed(123))
    c = epochs(mt.Generator().manual_seed(124))
    for order in a:
        assert sorted(order.tolist()) == list(range(50))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[0], a[1])          # a new order each epoch
    assert not np.array_equal(a[0], c[0])          # and another seed, another order
    assert not np.array_equal(a[0], np.arange(50))
    # the global generator: mt.manual_seed makes it reproducible too
    mt.manual_seed(7)
    g1 = epochs(None, 1)[0]
    mt.manual_seed(7)
    assert np.array_equal(g1, epochs(None, 1)[0])


def test_fast_and_per_sample_paths_agree():
    x, y = _xy(23)
    fast = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True,
                      generator=mt.Generator().manual_seed(3))
    slow = DataLoader(ListDataset(x, y), batch_size=5, shuffle=True,
                      generator=mt.Generator().manual_seed(3))
    for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(fx.data, sx.data)
        np.testing.assert_array_equal(fy.data, sy.data)


def test_state_dict_resumes_mid_epoch():
    x, y = _xy(40)
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_size=6, shuffle=True, generator=mt.Generator().manual_seed(5))
    it = iter(loader)
    head = [next(it)[1].data for _ in range(3)]
    state = loader.state_dict()
    tail = [b[1].data for b in it]
    assert state["epoch"] == 1 and state["position"] == 3

    fresh = DataLoader(ds, batch_size=6, shuffle=True, generator=mt.Generator().manual_seed(99))
    fresh.load_state_dict(state)
    resumed = [b[1].data for b in fresh]
    assert len(resumed) == len(tail) == len(loader) - 3
    for p, q in zip(resumed, tail):
        np.testing.assert_array_equal(p, q)
    assert np.array_equal(np.sort(np.concatenate(head + resumed)), y)


def test_state_dict_round_trips_through_save(tmp_path):
    ds = TensorDataset(*_xy(20))
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=mt.Generator().manual_seed(1))
    it = iter(loader)
    next(it)
    mt.save({"loader": loader.state_dict()}, tmp_path / "s.safetensors")
    state = mt.load(tmp_path / "s.safetensors")["loader"]
    fresh = DataLoader(ds, batch_size=4, shuffle=True)
    fresh.load_state_dict(state)
    for a, b in zip(fresh, it, strict=True):
        np.testing.assert_array_equal(a[0].data, b[0].data)


def test_bad_arguments():
    ds = TensorDataset(*_xy(4))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match=r"same size in dim 0.*\(3,\).*\(4,\)"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(IndexError, match="index 4 is out of range"):
        ds[4]


def test_default_collate_structures():
    batch = default_collate([{"x": np.ones(2), "n": 1, "f": 0.5, "s": "a"},
                             {"x": np.zeros(2), "n": 2, "f": 1.5, "s": "b"}])
    assert batch["x"].shape == (2, 2) and batch["n"].dtype == np.int64
    assert batch["f"].dtype == np.float64 and batch["s"] == ["a", "b"]
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.ones(2), np.ones(3)])


# --------------------------------------------------------------------------- splits
def test_random_split_lengths_fractions_and_reproducibility():
    ds = TensorDataset(*_xy(101))
    a, b = random_split(ds, [0.8, 0.2], generator=mt.Generator().manual_seed(0))
    assert (len(a), len(b)) == (81, 20)
    ia, ib = set(a.indices.tolist()), set(b.indices.tolist())
    assert not ia & ib and ia | ib == set(range(101))
    a2, _ = random_split(ds, [81, 20], generator=mt.Generator().manual_seed(0))
    assert a.indices.tolist() == a2.indices.tolist()
    with pytest.raises(ValueError, match="sum to 100"):
        random_split(ds, [50, 50])


def test_subset_forwards_get_batch():
    x, y = _xy(10)
    sub = Subset(TensorDataset(x, y), [9, 2, 4])
    bx, by = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(by, [40, 90])
    assert sub[1][1].item() == 20 and len(sub) == 3
    assert not hasattr(Subset(ListDataset(x, y), [1]), "get_batch")
