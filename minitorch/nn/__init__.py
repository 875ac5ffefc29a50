"""``minitorch.nn``: Module, Parameter, layers, losses, init, functional."""
from . import functional, init, utils
from .attention import MultiheadAttention
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .sparse import Embedding
from .conv import Conv1d, ConvTranspose1d, ConvTranspose2d
from .pooling import MaxUnpool2d
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .activation import ELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .linear import Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, SmoothL1Loss)
from .module import Module, Parameter
from .shape import Flatten, Identity
# --- conv, pooling, normalization, dropout (H5)
from .conv import Conv2d
from .dropout import Dropout, Dropout2d
from .normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm,
                            LocalResponseNorm)
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
# --- more activations (issue 13)
from .activation import (CELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish,  # noqa: E402
                         Hardtanh, LogSigmoid, Mish, PReLU, ReLU6, SiLU, Softshrink, Softsign,
                         Tanhshrink, Threshold)
# --- lazy layers: sizes read from the first batch (nn/lazy.py)
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyConv2d, LazyLinear,
                   UninitializedBuffer, UninitializedParameter)
from .pooling import AdaptiveMaxPool2d
