"""Convolutional networks for 28x28 single-channel images (MNIST): LeNet-5 and SimpLeNet
(and SimpLeNet's earlier Caffe layout, SimpLeNetCaffe).

Both *are* ``nn.Sequential``s, so their state_dict names are those of the same
``torch.nn.Sequential`` stack (``0.weight``, ``3.weight``...) and weights move between the two.

Shapes for an input (N, 1, 28, 28)::

    LeNet5     conv 6@5x5 pad 2 -> (N, 6, 28, 28) -> pool 2 -> (N, 6, 14, 14)
               conv 16@5x5      -> (N, 16, 10, 10) -> pool 2 -> (N, 16, 5, 5) -> 400
               fc 120 -> fc 84 -> fc 10                        61,706 parameters
    SimpLeNet  conv 20@5x5, ReLU -> (N, 20, 24, 24) -> pool 2 -> (N, 20, 12, 12)
               conv 50@5x5, ReLU -> (N, 50, 8, 8)   -> pool 2 -> (N, 50, 4, 4) -> 800
               fc 256, ReLU -> fc 10                          233,196 parameters
"""
from __future__ import annotations

from .. import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNet5(nn.Sequential):
    """LeNet-5 (LeCun et al. 1998, as in the lectures), in its modern form: ReLU and max
    pooling where the paper used scaled tanh and trainable average-pooling ("subsampling"),
    and a plain fully-connected C3 (the paper wired C3 to chosen subsets of S2's maps).
    The 28x28 MNIST digit is padded by 2 to the paper's 32x32 input field.

    activation="tanh", pool="avg" gives the network closer to the paper's.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, activation: str = "relu",
                 pool: str = "max"):
        if activation not in _ACTIVATIONS or pool not in _POOLS:
            raise ValueError(f"LeNet5: activation must be one of {sorted(_ACTIVATIONS)} and pool "
                             f"one of {sorted(_POOLS)}, got {activation!r} and {pool!r}")
        act, pooling = _ACTIVATIONS[activation], _POOLS[pool]
        super().__init__(
            nn.Conv2d(in_channels, 6, 5, padding=2), act(), pooling(2),   # C1, S2
            nn.Conv2d(6, 16, 5), act(), pooling(2),                       # C3, S4
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), act(),                            # C5 (a full layer)
            nn.Linear(120, 84), act(),                                    # F6
            nn.Linear(84, num_classes))                                   # output (logits)
        self.config = {"in_channels": in_channels, "num_classes": num_classes,
                       "activation": activation, "pool": pool}


class SimpLeNet(nn.Sequential):
    """The lectures' SimpLeNet: ``pool(relu(conv1(x)))``, ``pool(relu(conv2(x)))``,
    ``relu(fc1(x))``, ``output(x)`` with conv 20@5x5, conv 50@5x5, fc 800->256, fc 256->10.

    state_dict names are those of the same ``torch.nn.Sequential``: ``0.`` (conv1), ``3.``
    (conv2), ``7.`` (fc1), ``9.`` (output)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__(
            nn.Conv2d(in_channels, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(50 * 4 * 4, 256), nn.ReLU(),
            nn.Linear(256, num_classes))
        self.config = {"in_channels": in_channels, "num_classes": num_classes}


class SimpLeNetCaffe(nn.Sequential):
    """The LeNet of the Caffe/Keras tutorials, which SimpLeNet was before it followed the
    lectures: the same layers without a ReLU after the convolutions (the max-pool is the only
    non-linearity between them). Kept so checkpoints trained with that layout still load
    (``--model simplenet-caffe``); state_dict names ``0.``, ``2.``, ``5.``, ``7.``."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__(
            nn.Conv2d(in_channels, 20, 5), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(50 * 4 * 4, 256), nn.ReLU(),
            nn.Linear(256, num_classes))
        self.config = {"in_channels": in_channels, "num_classes": num_classes}
