"""MLP: flatten, then Linear -> activation (-> Dropout) per hidden layer, then a Linear to the
class scores (logits; the loss applies the softmax).

It *is* an ``nn.Sequential``, so its state_dict names are PyTorch's for the same stack
(``1.weight``, ``1.bias``, ``3.weight``...): the weights move to and from
``torch.nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), ...)`` unchanged.
"""
from __future__ import annotations

from typing import Sequence

from .. import nn

_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


class MLP(nn.Sequential):
    """Args: in_features (784 for 28x28 images), hidden (sizes of the hidden layers),
    num_classes, activation ("relu", "tanh" or "sigmoid"), dropout (after each activation;
    0 adds no Dropout layer)."""

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (256, 256),
                 num_classes: int = 10, activation: str = "relu", dropout: float = 0.0):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of "
                             f"{sorted(_ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        layers = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, int(h)), getattr(nn, _ACTIVATIONS[activation])()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)
        self.config = {"in_features": in_features, "hidden": [int(h) for h in hidden],
                       "num_classes": num_classes, "activation": activation,
                       "dropout": dropout}


def fc64(**kw) -> MLP:
    """784-64-10: the smallest net that still reaches ~97% on MNIST."""
    return MLP(**{"hidden": (64,), **kw})


def fc256_fc256(**kw) -> MLP:
    """784-256-256-10: the classic two-hidden-layer baseline (~98% on MNIST)."""
    return MLP(**{"hidden": (256, 256), **kw})
