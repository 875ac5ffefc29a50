"""What the training CLI reads beyond MNIST / Fashion-MNIST: CIFAR-10 in the shape the
training library expects, and the few-label regime (``--labels-per-class K``).

A training dataset here is built as ``cls(root=..., train=..., download=..., normalize=...)``
and has ``classes``, ``mean`` / ``std`` (the normalisation, undone by ``--augment``) and a
``get_batch`` (whole batches in one NumPy call), as ``minitorch.data.MNIST`` does.
"""
from __future__ import annotations

import numpy as np

from .data import Subset
from .data.mnist import resolve_root


class CIFAR10Data:
    """CIFAR-10 (``minitorch.vision.datasets.CIFAR10``, torchvision's folder layout under the
    data root: ``ROOT/cifar-10-batches-py`` or ``ROOT/cifar-10-batches-bin``) as float32
    (3, 32, 32) images standardised per channel with the training set's mean and std."""

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    image_size = (3, 32, 32)

    def __new__(cls, root=None, train: bool = True, download: bool = False,
                normalize: bool = True):
        from .vision import datasets, transforms
        steps = [transforms.ToTensor()]
        if normalize:
            steps.append(transforms.Normalize(cls.mean, cls.std))
        ds = datasets.CIFAR10(root=resolve_root(root), train=train, download=download,
                              transform=transforms.Compose(steps))
        ds.mean, ds.std = (cls.mean, cls.std) if normalize else ((0.0,) * 3, (1.0,) * 3)
        return ds


def labels_of(dataset) -> np.ndarray:
    """The int64 labels of ``dataset`` without loading its images where it can (a dataset's
    ``targets``, through Subsets), else by reading every sample."""
    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[np.asarray(dataset.indices, dtype=np.int64)]
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return np.asarray(targets, dtype=np.int64)
    return np.array([int(dataset[i][1]) for i in range(len(dataset))], dtype=np.int64)


def balanced_subset(dataset, per_class: int, seed: int):
    """``per_class`` samples of every class, drawn without replacement by a generator seeded
    with ``seed`` (same seed, same images), kept in dataset order."""
    from .random import Generator
    labels = labels_of(dataset)
    rng = Generator().manual_seed(seed).rng
    chosen = []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        if len(where) < per_class:
            raise ValueError(f"--labels-per-class {per_class}: class {c} has only "
                             f"{len(where)} training images")
        chosen.append(rng.choice(where, size=per_class, replace=False))
    return Subset(dataset, np.sort(np.concatenate(chosen)))


def image_stats(dataset) -> tuple:
    """(mean, std) the dataset was normalised with (what ``--augment`` undoes): the dataset's
    own when normalised, else (0, 1)."""
    base = dataset
    while isinstance(base, Subset):
        base = base.dataset
    if getattr(base, "normalize", True) is False:
        return 0.0, 1.0
    return getattr(base, "mean", 0.0), getattr(base, "std", 1.0)


__all__ = ["CIFAR10Data", "balanced_subset", "labels_of", "image_stats"]
