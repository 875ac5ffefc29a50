"""MNIST and Fashion-MNIST as torchvision has them: ``MNIST(root, train, transform,
target_transform, download)``, samples ``(PIL image "L", int label)``, ``.data`` a uint8
(N, 28, 28) Tensor and ``.targets`` an int64 Tensor.

Files are looked for in torchvision's layout first, then in minitorch's own:

    root/MNIST/raw/train-images-idx3-ubyte[.gz] ...        (what torchvision downloads)
    root/mnist/train-images-idx3-ubyte.gz ...               (minitorch.data's layout)

(FashionMNIST: root/FashionMNIST/raw/, root/fashion-mnist/). Reading, SHA-256 checking and
downloading are minitorch.data.mnist's (one implementation of the IDX format and the pinned
hashes); ``download=True`` fetches the missing files into the torchvision layout.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...data import mnist as _idx
from ...tensor import Tensor
from ._common import (ArrayBatches, DataNotFoundError, VisionDataset, batch_transform,
                      to_image)


class MNIST(ArrayBatches, VisionDataset):
    """The MNIST digits (60,000 training / 10,000 test images, 28x28 grey, labels 0-9)."""

    _reader = _idx.MNIST           # minitorch.data's class: hashes, mirrors, download
    classes = list(_idx.MNIST.classes)

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        super().__init__(root, transform, target_transform)
        _idx.check_root(self.root, root, type(self).__name__)
        self.train = bool(train)
        split = "train" if self.train else "t10k"
        stems = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")
        if download and any(self._find(s) is None for s in stems):
            self.download()
        images, labels = (_idx._load_cached(self._path(s), self._reader.sha256[s])
                          for s in stems)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 \
                or images.shape[0] != labels.shape[0]:
            raise _idx.DataIntegrityError(
                f"{type(self).__name__}: images {images.shape} and labels {labels.shape} in "
                f"{self.raw_folder} don't form a dataset of N 28x28 images with N labels")
        self._images, self._labels = images, labels.astype(np.int64)
        self._batch_transform = batch_transform(transform, target_transform)

    # ---------------------------------------------------------------- files
    @property
    def raw_folder(self) -> Path:
        return self.root / type(self).__name__ / "raw"

    @property
    def _folders(self) -> list[Path]:
        return [self.raw_folder, self.root / self._reader.folder]

    def _find(self, stem: str) -> Path | None:
        for folder in self._folders:
            for name in (stem, stem + ".gz"):
                if (folder / name).is_file():
                    return folder / name
        return None

    def _path(self, stem: str) -> Path:
        path = self._find(stem)
        if path is not None:
            return path
        names = self._reader.file_names()
        raise DataNotFoundError(
            f"{type(self).__name__}: {stem}[.gz] not found in {self.raw_folder} (nor in "
            f"{self._folders[1]}). Put the files {', '.join(names)} (gzip-compressed or not) "
            f"into {self.raw_folder}, or pass download=True to fetch them from "
            f"{self._reader.mirrors[0]}.")

    def download(self) -> None:
        """Fetch the missing files into ``raw_folder``, each verified before it is kept
        (minitorch.data.mnist's download, pointed at torchvision's folder)."""
        if all(self._find(n[:-3]) is not None for n in self._reader.file_names()):
            return
        fetcher = object.__new__(self._reader)   # only its download(): no files read yet
        fetcher.root, fetcher.folder = self.raw_folder.parent, self.raw_folder.name
        fetcher.download()

    # ---------------------------------------------------------------- samples
    # ``data`` / ``targets`` are what samples are read from, as in torchvision, so the
    # lectures' ``ds.data, ds.targets = ds.data[:5000], ds.targets[:5000]`` subsets the set.
    @property
    def data(self) -> Tensor:
        """The images, uint8 (N, 28, 28)."""
        return Tensor._make(self._images, False, None)

    @data.setter
    def data(self, value) -> None:
        images = np.asarray(value.data if isinstance(value, Tensor) else value)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{type(self).__name__}.data: expected uint8 (N, H, W) images, "
                             f"got {images.dtype} {images.shape}")
        self._images = images

    @property
    def targets(self) -> Tensor:
        """The labels, int64 (N,)."""
        return Tensor._make(self._labels, False, None)

    @targets.setter
    def targets(self, value) -> None:
        labels = np.asarray(value.data if isinstance(value, Tensor) else value)
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(f"{type(self).__name__}.targets: expected integer labels (N,), "
                             f"got {labels.dtype} {labels.shape}")
        self._labels = labels.astype(np.int64, copy=False)

    def _images_and_labels(self):
        return self._images, self._labels

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return int(self._images.shape[0])

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for a "
                             f"dataset of {len(self)} samples")
        return self._sample(to_image(self._images[index]), int(self._labels[index]))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, 10 kinds of clothing."""

    _reader = _idx.FashionMNIST
    classes = list(_idx.FashionMNIST.classes)
