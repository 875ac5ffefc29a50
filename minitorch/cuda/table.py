"""The CUDA kernel table: kernels/*.cu behind the names and signatures of
minitorch/kernel_table.py, plus the fused algorithms only the GPU has.

Building it needs no GPU and no CuPy (the functions only launch when called), which is what
lets the tests run this very table on NumPy arrays through the CPU emulator.
"""
from __future__ import annotations

import numpy as np

from ..kernel_table import KernelTable
from . import fused, ops
from ..cpu.relu import relu_backward_xp   # array code: on CuPy arrays one where() kernel
from .special import special

CUDA = KernelTable(
    name="cuda",
    im2col=ops.im2col, col2im=ops.col2im,
    max_pool=ops.max_pool, max_pool_backward=ops.max_pool_backward,
    avg_pool=ops.avg_pool, avg_pool_backward=ops.avg_pool_backward,
    adam_step=fused.adam_step, dropout_mask=fused.dropout_mask, special=special,
    relu_backward=relu_backward_xp,
    conv2d_forward=ops.conv2d_forward, conv2d_weight_grad=ops.conv2d_weight_grad,
    conv2d_input_grad=ops.conv2d_input_grad,
    softmax_cross_entropy=fused.softmax_cross_entropy,
    batch_norm_train=fused.batch_norm_stats_and_apply, batch_norm_eval=fused.batch_norm_inference,
    batch_norm_backward=fused.batch_norm_backward,
    fused_dtypes=(np.dtype(np.float32), np.dtype(np.float64)))
