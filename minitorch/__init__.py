"""minitorch: a readable deep-learning engine on NumPy (CPU) and CuPy (GPU).

The public face only; each name lives in the module that explains it.
"""
# --- core: tensor and autograd
from .autograd import (detect_anomaly, enable_grad, inference_mode, is_grad_enabled, no_grad,
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
from .threads import get_num_threads, set_num_threads  # CPU threads: minitorch/threads.py

# --- math, bitwise, scans and index ops (issue 13); their Tensor methods: ops/methods.py
from .tensor import uint16, uint32, uint64
from .ops.elementwise import (allclose, atan2, copysign, floor_divide, fmod, isclose,
                              logical_and, logical_not, logical_or, maximum, minimum, remainder)
from .ops.elementwise import div as divide, div as true_divide  # PyTorch's aliases
from .ops.unary import (acos, acosh, asin, asinh, atan, atanh, ceil, cos, cosh, erf, erfc, exp2,
                        expm1, floor, log1p, log2, log10, reciprocal, round, rsqrt, sign, sin,
                        sinh, square, tan, trunc)
from .ops.bitwise import (bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or,
                          bitwise_right_shift, bitwise_xor)
from .ops.reduce import all, any, prod, std_mean, var_mean
from .ops.cumulative import cummax, cummin, cumprod, cumsum, logcumsumexp
from .ops.indexing import (flip, gather, index_select, masked_fill, masked_select, nonzero, roll,
                           scatter, scatter_add, scatter_reduce, tile)
from .ops.activation import celu, prelu, selu
from .ops.einsum import einsum
from .ops.sorting import argsort, kthvalue, median, sort, topk
from .ops.elementwise import hypot, lerp, logaddexp, nan_to_num
from .ops.reduce import amax, amin, count_nonzero
from .ops.indexing import repeat_interleave, take_along_dim
from .ops.matrix import bmm, diag, diagonal, dot, mm, mv, outer, trace, tril, triu
from .ops.counting import bincount, bucketize, searchsorted, unique
from .ops.matrix import cross, diff, meshgrid
from .ops.distance import cdist
from .ops.unary import deg2rad, frac, logit, rad2deg, sinc
from .ops.elementwise import clamp_max, clamp_min, xlogy
from .ops.indexing import nonzero as argwhere
from .ops.reduce import aminmax, nanmean, nansum, norm
from . import linalg


def __getattr__(name):
    if name == "bfloat16":  # say why, rather than a bare AttributeError
        from .tensor import NO_BFLOAT16
        raise AttributeError(NO_BFLOAT16)
    raise AttributeError(f"module 'minitorch' has no attribute {name!r}")


# --- the torch surface lecture code uses (issue 11): devices, NumPy bridges
from . import backends, cuda
from .creation import as_tensor, from_numpy
from .devices import device

__version__ = "0.1.0"

# PyTorch's other dtype names (torch.long, x.to(torch.float), dtype=torch.bool). Last in the
# file, as they shadow the builtins float/int/bool for any code of this module after them.
long, float, double, int, short, half, bool = (int64, float32, float64, int32, int16,  # noqa: A001
                                               float16, bool_)
