"""CIFAR-10 from either of its official releases, in torchvision's layout:

    root/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta
        the "python" release (what torchvision downloads): pickled dicts, read with
        ``minitorch.safe_pickle`` and an allowlist that can rebuild numeric NumPy arrays and
        nothing else (no imports, no code from the file ever runs)
    root/cifar-10-batches-bin/data_batch_1.bin ... test_batch.bin, batches.meta.txt
        the "binary" release: 10,000 records of <1 label byte><3072 pixel bytes> per file

Both hold the same images: 32x32 RGB, stored channel-planar (1024 R, 1024 G, 1024 B), so
``.data`` is uint8 (N, 32, 32, 3) after a transpose, as torchvision's, and ``.targets`` a list
of ints.

Integrity. The dataset's authors publish the MD5 of each archive; torchvision's source pins
the MD5 of every extracted python-release file, and those are checked on load. The archives'
SHA-256 below were taken from public records of verified downloads (not from the authors) and
are checked, with the authors' MD5 and the size, before an archive is extracted. No per-file
hash of the binary release is published: its files are checked for whole 3073-byte records
and labels 0-9. ``download=True`` fetches the archive (or uses one already placed in ``root``)
and extracts only the expected members.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from ...data.mnist import check_root
from ...safe_pickle import SafePickleError
from ...safe_pickle import load as safe_load
from ._numpy_pickle import numpy_allowlist
from ...serialization import atomic_write_bytes
from ._common import (ArrayBatches, DataIntegrityError, DataNotFoundError, VisionDataset,
                      batch_transform, download_file, to_image, verify_file)

_RECORDS, _IMAGE_BYTES = 10_000, 3 * 32 * 32


class _Release:
    def __init__(self, name, folder, archive, url, size, sha256, md5, train, test, meta):
        self.name, self.folder, self.archive, self.url = name, folder, archive, url
        self.size, self.sha256, self.md5 = size, sha256, md5
        self.train, self.test, self.meta = train, test, meta  # {file: md5 or None}

    def files(self, train: bool) -> list[str]:
        return list(self.train if train else self.test)

    def all_files(self) -> list[str]:
        return [*self.train, *self.test, *self.meta]


PYTHON = _Release(
    "python", "cifar-10-batches-py", "cifar-10-python.tar.gz",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", 170_498_071,
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "c58f30108f718f92721af3b95e74349a",
    train={"data_batch_1": "c99cafc152244af753f735de768cd75f",
           "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
           "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
           "data_batch_4": "634d18415352ddfa80567beed471001a",
           "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb"},
    test={"test_batch": "40351d587109b95175f43aff81a1287e"},
    meta={"batches.meta": "5ff9c542aee3614f3951f8cda6e48888"})

BINARY = _Release(
    "binary", "cifar-10-batches-bin", "cifar-10-binary.tar.gz",
    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", 170_052_171,
    "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    "c32a1d4ab5d03f1284b67883e8d87530",
    train={f"data_batch_{k}.bin": None for k in range(1, 6)},
    test={"test_batch.bin": None}, meta={"batches.meta.txt": None})

RELEASES = {"python": PYTHON, "binary": BINARY}


def read_python_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    """One python-release batch -> (uint8 (N, 3072), labels)."""
    allowed, build = numpy_allowlist()
    try:
        with open(path, "rb") as f:
            entry = safe_load(f, allowed, build=build, encoding="latin1", name=str(path))
    except SafePickleError as exc:
        raise DataIntegrityError(f"{path}: not a CIFAR-10 batch that can be read safely: "
                                 f"{exc}") from None
    if not isinstance(entry, dict) or "data" not in entry or \
            not ("labels" in entry or "fine_labels" in entry):
        raise DataIntegrityError(f"{path}: expected a dict with 'data' and 'labels', got "
                                 f"{type(entry).__name__} with keys "
                                 f"{sorted(entry)[:6] if isinstance(entry, dict) else '-'}")
    data = entry["data"]
    labels = entry.get("labels", entry.get("fine_labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or \
            data.shape[1] != _IMAGE_BYTES or len(labels) != data.shape[0]:
        raise DataIntegrityError(f"{path}: 'data' should be uint8 (N, {_IMAGE_BYTES}) with N "
                                 f"labels, got {getattr(data, 'dtype', type(data))} "
                                 f"{getattr(data, 'shape', '')} and {len(labels)} labels")
    return data, [int(v) for v in labels]


def read_binary_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    """One binary-release file -> (uint8 (N, 3072), labels)."""
    raw = np.fromfile(path, dtype=np.uint8)
    record = 1 + _IMAGE_BYTES
    if raw.size == 0 or raw.size % record:
        raise DataIntegrityError(f"{path}: {raw.size} bytes is not a whole number of "
                                 f"{record}-byte CIFAR-10 records (expected "
                                 f"{_RECORDS * record})")
    records = raw.reshape(-1, record)
    labels = records[:, 0]
    if labels.max() > 9:
        raise DataIntegrityError(f"{path}: label {int(labels.max())} found; CIFAR-10 labels "
                                 "are 0-9")
    return np.ascontiguousarray(records[:, 1:]), labels.astype(int).tolist()


class CIFAR10(ArrayBatches, VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    ``release``: "python" or "binary" (minitorch only; None: whichever folder is present,
    the python one first, as torchvision reads only that one).
    """

    base_folder = PYTHON.folder
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck"]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, release: str | None = None):
        super().__init__(root, transform, target_transform)
        check_root(self.root, root, "CIFAR10")
        self.train = bool(train)
        self.release = self._choose(release)
        if download:
            self.download()
        data, targets = [], []
        reader = read_python_batch if self.release is PYTHON else read_binary_batch
        for name in self.release.files(self.train):
            path = self._checked(name)
            batch, labels = reader(path)
            data.append(batch)
            targets.extend(labels)
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.data = np.ascontiguousarray(self.data)              # uint8 (N, 32, 32, 3)
        self.targets = targets                                   # list of int
        self.classes = self._load_classes()
        self._batch_transform = batch_transform(transform, target_transform)

    # ---------------------------------------------------------------- files
    def _choose(self, release) -> _Release:
        if release is not None:
            if release not in RELEASES:
                raise ValueError(f"CIFAR10: release should be 'python' or 'binary', got "
                                 f"{release!r}")
            return RELEASES[release]
        for r in (PYTHON, BINARY):
            if (self.root / r.folder).is_dir():
                return r
        return PYTHON

    @property
    def folder(self) -> Path:
        return self.root / self.release.folder

    def _missing(self) -> list[str]:
        return [n for n in self.release.all_files() if not (self.folder / n).is_file()]

    def _checked(self, name: str) -> Path:
        path = self.folder / name
        if not path.is_file():
            r = self.release
            raise DataNotFoundError(
                f"CIFAR10 ({r.name} release): {name} not found in {self.folder}. Missing: "
                f"{', '.join(self._missing())}. Put the extracted files into {self.folder} "
                f"(or {r.archive} into {self.root}), or pass download=True to fetch {r.url}.")
        expected = {**self.release.train, **self.release.test, **self.release.meta}[name]
        if expected is not None:
            verify_file(path, expected, "md5", "the MD5 torchvision pins for this file")
        return path

    def _load_classes(self) -> list[str]:
        meta = self._checked(next(iter(self.release.meta)))
        if self.release is BINARY:
            names = [line.strip() for line in meta.read_text("latin1").splitlines()]
            names = [n for n in names if n]
        else:
            allowed, build = numpy_allowlist()
            with open(meta, "rb") as f:
                names = safe_load(f, allowed, build=build, encoding="latin1",
                                  name=str(meta)).get("label_names")
        if not isinstance(names, list) or len(names) != 10:
            raise DataIntegrityError(f"{meta}: expected the 10 CIFAR-10 class names, got "
                                     f"{names!r}"[:300])
        return [str(n) for n in names]

    def download(self) -> None:
        """Extract the release from its archive in ``root`` (downloaded first if absent),
        after checking the archive's size, SHA-256 and MD5."""
        if not self._missing():
            return
        r = self.release
        archive = self.root / r.archive
        if not archive.is_file():
            try:
                download_file(r.url, archive, r.sha256, r.size)
            except OSError as exc:
                raise DataNotFoundError(
                    f"CIFAR10: could not download {r.url} ({exc}). Without network access, "
                    f"put {r.archive} into {self.root} (or its extracted files "
                    f"{', '.join(r.all_files())} into {self.folder}).") from None
        if archive.stat().st_size != r.size:
            raise DataIntegrityError(f"{archive}: {archive.stat().st_size} bytes, the "
                                     f"{r.name} release has {r.size}; delete it and download "
                                     "it again")
        verify_file(archive, r.sha256, "sha256")
        verify_file(archive, r.md5, "md5", "the MD5 the dataset's authors publish")
        self.extract(archive, self.root, r)

    @staticmethod
    def extract(archive: Path, root: Path, release: _Release) -> None:
        """Write the release's known members (regular files only) into root/<folder>."""
        wanted = {f"{release.folder}/{n}": n for n in release.all_files()}
        found = set()
        (root / release.folder).mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if name in wanted and member.isfile():
                    data = tar.extractfile(member).read()
                    atomic_write_bytes(root / release.folder / wanted[name], data)
                    found.add(name)
        if found != set(wanted):
            raise DataIntegrityError(f"{archive}: missing members "
                                     f"{sorted(set(wanted) - found)}")

    # ---------------------------------------------------------------- samples
    def _images_and_labels(self):
        return self.data, self.targets

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"CIFAR10: index {index} is out of range for a dataset of "
                             f"{len(self)} samples")
        return self._sample(to_image(self.data[index]), self.targets[index])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"
