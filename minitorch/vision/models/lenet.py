"""The MNIST networks the lectures start from, under the model zoo's calling convention.

The classes live in ``minitorch/models/lenet.py`` (one definition); these constructors give
them the ``models.xxx(weights=...)`` form of the ImageNet models. There are no published
weights for them, so ``weights`` is a path to a state_dict file (or None).
"""
from __future__ import annotations

from pathlib import Path

from ...models.lenet import LeNet5, SimpLeNet
from ._weights import load_weights


def _build(cls, weights, kwargs):
    model = cls(**kwargs)
    if weights is None:
        return model
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{cls.__name__}: weights file {str(path)!r} does not exist "
                                "(these MNIST networks have no published weights: train one "
                                "and save its state_dict)")
    return load_weights(model, path)


def lenet5(*, weights=None, **kwargs) -> LeNet5:
    """LeNet-5 for (N, 1, 28, 28) digits (kwargs: in_channels, num_classes, activation, pool)."""
    return _build(LeNet5, weights, kwargs)


def simplenet(*, weights=None, **kwargs) -> SimpLeNet:
    """SimpLeNet for (N, 1, 28, 28) digits (kwargs: in_channels, num_classes)."""
    return _build(SimpLeNet, weights, kwargs)
