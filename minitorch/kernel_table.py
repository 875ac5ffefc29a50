"""Kernel tables: one per backend, the same names and signatures, chosen in ONE place.

An op that needs a kernel (im2col, pooling, an optimizer step, ...) asks
``K = kernels_for(x)`` once, in its public wrapper or its forward, and calls ``K.im2col(...)``;
it never asks which device it is on. The tables:

    NUMBA       minitorch/cpu/table.py    numba kernels on NumPy arrays (the default on the CPU)
    REFERENCE   minitorch/cpu/table.py    plain array code (NumPy or CuPy): slow, obviously right
    CUDA        minitorch/cuda/table.py   the kernels/*.cu sources, launched through CuPy

Every table has every *core* entry. The *fused* entries exist only where a backend runs a
different algorithm (the CUDA table: implicit-GEMM convolution, fused cross-entropy and batch
norm; the numba table: direct convolution for small layers, Winograd convolution for 3x3
layers with many channels, batch norm); they are None
elsewhere. A public wrapper asks ``K.fused("name", *arrays)`` and, when it gets a kernel,
applies that algorithm's own Function class (``Conv2dImplicitGemm``, ``Conv2dDirect``,
``Conv2dWinograd``, ``CrossEntropyFused``, ``BatchNormFused``), so a graph and an anomaly message name what ran.

Signatures (geometry ``g``: an ops/geometry.py ``Geometry2d``; x, gy are 4-D NCHW arrays):

    im2col(x, g) -> col (C*KH*KW, N*OH*OW)       col2im(col, x_shape, g) -> x
    max_pool(x, g) -> (out, idx int64)           max_pool_backward(gy, idx, x_shape, g) -> gx
    avg_pool(x, divisor, g) -> out               avg_pool_backward(gy, divisor, x_shape, g) -> gx
        (divisor: the (OH, OW) float64 NumPy array of ops/pool.py's divisor rule)
    adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
              beta2, eps, weight_decay, amsgrad, maximize, decoupled)      in place, all lists
    dropout_mask(shape, p, dtype, like) -> mask of 0 and 1/(1-p), on like's device
    special(name, a) -> erf(a) or erfc(a) (name "erf"|"erfc"), a float32/float64 array
    relu_backward(g, y) -> g where y > 0, else 0 (y: ReLU's output, g's shape and dtype)

Fused entries (x, weight, gy 4-D; groups an int):

    conv2d_forward(x, weight, bias, g, groups) -> y
    conv2d_weight_grad(x, gy, w_shape, g, groups) -> gw
    conv2d_input_grad(gy, weight, x_shape, g, groups) -> gx
    conv2d_direct_forward, _weight_grad, _input_grad: the same signatures, by direct loops
    conv2d_direct_pays(x_shape, w_shape, g, groups) -> bool: whether those beat im2col + GEMM
        for this layer (the backend's measured rule, not a kernel)
    conv2d_winograd_forward, _weight_grad, _input_grad, _pays: the same, as Winograd
        F(2x2, 3x3) (3x3 kernels, stride 1, dilation 1, groups 1 only; _pays says where)

Tests pick a table explicitly with ``use_kernels(table)`` (tests/backends.py runs every op
case on every table); code never needs to.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Callable, Optional

import numpy as np

from .backend import get_array_module

_FUSED = ("conv2d_forward", "conv2d_weight_grad", "conv2d_input_grad", "softmax_cross_entropy",
          "batch_norm_train", "batch_norm_eval", "batch_norm_backward", "conv2d_direct_forward",
          "conv2d_direct_weight_grad", "conv2d_direct_input_grad", "conv2d_winograd_forward",
          "conv2d_winograd_weight_grad", "conv2d_winograd_input_grad")


@dataclasses.dataclass(frozen=True)
class KernelTable:
    name: str
    im2col: Callable
    col2im: Callable
    max_pool: Callable
    max_pool_backward: Callable
    avg_pool: Callable
    avg_pool_backward: Callable
    adam_step: Callable
    dropout_mask: Callable
    special: Callable
    relu_backward: Callable
    # fused algorithms (None: this backend has none; the op's generic Function runs instead)
    conv2d_forward: Optional[Callable] = None
    conv2d_weight_grad: Optional[Callable] = None
    conv2d_input_grad: Optional[Callable] = None
    softmax_cross_entropy: Optional[Callable] = None
    batch_norm_train: Optional[Callable] = None
    batch_norm_eval: Optional[Callable] = None
    batch_norm_backward: Optional[Callable] = None
    conv2d_direct_forward: Optional[Callable] = None       # same signatures as conv2d_*
    conv2d_direct_weight_grad: Optional[Callable] = None
    conv2d_direct_input_grad: Optional[Callable] = None
    conv2d_direct_pays: Optional[Callable] = None  # (x_shape, w_shape, g, groups) -> bool
    conv2d_winograd_forward: Optional[Callable] = None     # same signatures as conv2d_*
    conv2d_winograd_weight_grad: Optional[Callable] = None
    conv2d_winograd_input_grad: Optional[Callable] = None
    conv2d_winograd_pays: Optional[Callable] = None  # (x_shape, w_shape, g, groups) -> bool
    fused_dtypes: tuple = ()   # dtypes the fused kernels take (others use the generic path)

    def fused(self, name: str, *arrays) -> Optional[Callable]:
        """The fused kernel ``name`` if this backend has one for these arrays' dtypes
        (e.g. float16 has none on the GPU: the generic Function runs), else None."""
        if name not in _FUSED:
            raise KeyError(f"kernel table: {name!r} is not a fused entry; fused entries: "
                           f"{', '.join(_FUSED)}")
        fn = getattr(self, name)
        if fn is None or any(np.dtype(a.dtype) not in self.fused_dtypes
                             for a in arrays if a is not None):
            return None
        return fn

    def __repr__(self) -> str:
        return f"<KernelTable {self.name}>"


_forced: contextvars.ContextVar = contextvars.ContextVar("minitorch_kernels", default=None)


def kernels_for(*arrays) -> KernelTable:
    """The kernel table for these arrays: CUDA for CuPy arrays, else numba (or the NumPy
    reference when numba is absent); inside ``use_kernels(table)``, that table."""
    forced = _forced.get()
    if forced is not None:
        return forced
    if get_array_module(*arrays) is not np:
        return CUDA
    return NUMBA if HAVE_NUMBA else REFERENCE


@contextlib.contextmanager
def use_kernels(table: KernelTable):
    """Run the enclosed code with ``table`` for every op, whatever the arrays (tests)."""
    if not isinstance(table, KernelTable):
        raise TypeError(f"use_kernels: expected a KernelTable, got {type(table).__name__}")
    token = _forced.set(table)
    try:
        yield table
    finally:
        _forced.reset(token)


# The tables import KernelTable from this module, so they come after it.
from .cpu import HAVE_NUMBA  # noqa: E402
from .cpu.table import NUMBA, REFERENCE  # noqa: E402
from .cuda.table import CUDA  # noqa: E402
