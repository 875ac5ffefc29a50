"""Dropout masks on the CPU: drawn from minitorch's global generator (minitorch/random.py), so
after ``mt.manual_seed(s)`` the same masks come again."""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..random import numpy_generator


def dropout_mask_host(shape: tuple, p: float, dtype, like=None):
    """Keep-mask of ``shape``: 0 with probability p, else 1/(1-p), drawn on the host and put
    where ``like`` is (a copy only when that is a GPU: the reference table on CuPy arrays)."""
    uniform = numpy_generator().random(shape, dtype=np.float32)
    if p == 1.0:
        mask = np.zeros(shape, dtype=dtype)
    else:
        mask = (uniform >= p).astype(dtype)
        mask *= np.dtype(dtype).type(1.0 / (1.0 - p))
    return mask if like is None else get_array_module(like).asarray(mask)
