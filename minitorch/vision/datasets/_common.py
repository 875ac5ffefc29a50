"""What every vision dataset shares: torchvision's ``VisionDataset`` shape (root, transform,
target_transform, repr), samples as PIL images when Pillow is installed (else HWC uint8
arrays), file hashing, a verified download, and the fast batch path.

The errors are minitorch's data errors (``minitorch.data.mnist``): ``DataNotFoundError``
(a ``FileNotFoundError``) names the missing files and the folder to put them in;
``DataIntegrityError`` (a ``ValueError``) names the file and both hashes.
"""
from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

import numpy as np

from ...data.mnist import DataIntegrityError, DataNotFoundError, default_root
from ...serialization import atomic_write
from ...utils.data.dataset import Dataset
from ..transforms import Compose, Normalize, ToTensor
from ..transforms._image import Image

__all__ = ["VisionDataset", "DataIntegrityError", "DataNotFoundError", "to_image",
           "file_digest", "verify_file", "download_file"]


def to_image(array: np.ndarray):
    """A uint8 (H, W) or (H, W, 3) array as torchvision returns it: a PIL image (mode "L" or
    "RGB", from the array's shape), or, without Pillow, the array itself."""
    return array if Image is None else Image.fromarray(array)


class VisionDataset(Dataset):
    """torchvision's base: ``root``, ``transform`` (on the image), ``target_transform`` (on
    the label), and the multi-line repr."""

    _repr_indent = 4

    def __init__(self, root=None, transform=None, target_transform=None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.transform, self.target_transform = transform, target_transform

    def _sample(self, image, target):
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += [line for line in self.extra_repr().splitlines() if line]
        for head, t in (("Transform: ", self.transform),
                        ("Target transform: ", self.target_transform)):
            if t is not None:
                lines = repr(t).splitlines()
                body += [head + lines[0]] + [" " * len(head) + line for line in lines[1:]]
        return "\n".join([f"Dataset {type(self).__name__}"]
                         + [" " * self._repr_indent + line for line in body])


# --------------------------------------------------------------------------- fast batches
class BatchTransform:
    """ToTensor() then Normalize(...)s, done to a whole uint8 (B, H, W[, C]) batch in one
    NumPy call: bit-identical to the per-sample path (the same float32 division and
    subtraction, elementwise). A plain object, so datasets holding it still pickle (DataLoader
    workers started with "spawn")."""

    def __init__(self, norms):
        self.norms = norms  # [(mean (C, 1, 1), std (C, 1, 1)) float32]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
        x = x.astype(np.float32) / np.float32(255)
        for mean, std in self.norms:
            if bool((std == 0).any()):
                raise ValueError("normalize: std evaluated to zero after conversion to "
                                 "float32, leading to division by zero")
            x = (x - mean) / std
        return np.ascontiguousarray(x)


def batch_transform(transform, target_transform) -> BatchTransform | None:
    """A BatchTransform doing what ``transform`` does, if it is ToTensor() or
    Compose([ToTensor(), Normalize(...), ...]) and there is no target transform; else None.
    MNIST and CIFAR10 then expose ``get_batch``, which the DataLoader prefers."""
    if target_transform is not None:
        return None
    steps = transform.transforms if isinstance(transform, Compose) else [transform]
    if not steps or type(steps[0]) is not ToTensor or \
            any(type(t) is not Normalize or t.inplace for t in steps[1:]):
        return None
    return BatchTransform([(np.asarray(t.mean, np.float64).astype(np.float32).reshape(-1, 1, 1),
                            np.asarray(t.std, np.float64).astype(np.float32).reshape(-1, 1, 1))
                           for t in steps[1:]])


class ArrayBatches:
    """Mixin for datasets whose images sit in one uint8 array: ``get_batch`` exists (for the
    DataLoader's one-call path) exactly when the transform is a BatchTransform."""

    _batch_transform: BatchTransform | None = None

    def _images_and_labels(self) -> tuple[np.ndarray, np.ndarray]:
        raise TypeError(f"{type(self).__name__} does not hold its images in an array")

    @property
    def get_batch(self):
        if self._batch_transform is None:  # a per-sample transform: no batch path
            raise AttributeError(f"{type(self).__name__} has no get_batch with transform "
                                 f"{self.transform!r}")
        return self._get_batch

    def _get_batch(self, indices):
        # read through ``data`` / ``targets`` each time: code may reassign them (subsets)
        images, labels = self._images_and_labels()
        idx = np.asarray(indices, dtype=np.int64)
        if isinstance(labels, np.ndarray):
            targets = labels[idx]
        else:  # a list, as torchvision's CIFAR10.targets
            targets = np.fromiter((labels[i] for i in idx.tolist()), np.int64, idx.size)
        return self._batch_transform(images[idx]), targets


# --------------------------------------------------------------------------- files
def file_digest(path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(path: Path, expected: str, algorithm: str = "sha256",
                source: str = "") -> None:
    """Raise DataIntegrityError naming ``path`` unless its digest is ``expected``."""
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise DataIntegrityError(
            f"{path}: {algorithm.upper()} is {actual}, expected {expected}"
            f"{' (' + source + ')' if source else ''}: the file is corrupt, truncated or not "
            "the expected release. Delete it and download it again.")


def download_file(url: str, dest: Path, sha256: str, size: int | None = None,
                  timeout: float = 60.0) -> None:
    """Fetch ``url`` to ``dest``, checking size and SHA-256 while it streams into a temporary
    file (serialization.atomic_write), so ``dest`` ends up either absent or verified."""
    dest.parent.mkdir(parents=True, exist_ok=True)

    def write(out):
        h, got = hashlib.sha256(), 0
        with urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                h.update(block)
                got += len(block)
                out.write(block)
        if size is not None and got != size:
            raise DataIntegrityError(f"{url}: downloaded {got} bytes, expected {size}")
        if h.hexdigest() != sha256:
            raise DataIntegrityError(f"{url}: SHA-256 of the download is {h.hexdigest()}, "
                                     f"expected {sha256}")
    atomic_write(dest, write)
