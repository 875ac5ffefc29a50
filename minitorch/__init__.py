"""minitorch: a readable deep-learning engine on NumPy (CPU) and CuPy (GPU).

The public face only; each name lives in the module that explains it.
"""
# --- core: tensor and autograd
from .autograd import (detect_anomaly, enable_grad, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .backend import is_cuda_available
from .tensor import (Tensor, bool_, float16, float32, float64, int8, int16, int32, int64,
                     is_tensor, uint8)
from .ops.elementwise import (abs, add, clamp, div, eq, exp, ge, gt, le, log, lt, mul, ne,
                              neg, pow, sqrt, sub, where)

from .gradcheck import gradcheck
# --- creation, random, reduce/shape/linalg/activation ops
from . import random
from .random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                     seed, set_rng_state)
from .creation import (arange, empty, empty_like, eye, full, full_like, linspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor,
                       zeros, zeros_like)
from .ops.linalg import matmul
from .ops.reduce import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .ops.shape import (cat, chunk, clone, flatten, permute, reshape, split, squeeze, stack,
                        transpose, unsqueeze)
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
# --- nn, optim
from . import nn, optim
# --- data, serialization, models, cli
from . import data, models
from .serialization import load, save

__version__ = "0.1.0"
