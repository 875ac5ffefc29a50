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
# --- nn, optim
# --- data, serialization, models, cli

__version__ = "0.1.0"
