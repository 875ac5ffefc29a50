"""The CPU kernel tables: numba kernels (the default), and the plain array-code reference.

Both follow the signatures listed in minitorch/kernel_table.py. Entries without a numba
kernel (average pooling, the Adam step, dropout masks) are array code in both tables; erf and
erfc are C's libm in both (a numba ufunc, or called element by element). The
numba table's fused algorithms are batch norm (its own kernels; ops/norm.py's BatchNormFused),
direct convolution for few-channel layers (ops/conv.py's Conv2dDirect, where
direct_conv_pays says so) and Winograd convolution for 3x3 stride-1 layers with many channels
(Conv2dWinograd, where winograd_pays says so); the reference table runs the generic BatchNorm
and Conv2d.
"""
from __future__ import annotations

import numpy as np

from ..kernel_table import KernelTable
from .adam import adam_step_xp
from .batchnorm import batch_norm_backward_numba, batch_norm_eval_numba, batch_norm_train_numba
from .direct_conv import (conv2d_forward_direct, conv2d_input_grad_direct,
                          conv2d_weight_grad_direct, direct_conv_pays)
from .dropout import dropout_mask_host
from .im2col import col2im_numba, col2im_xp, im2col_numba, im2col_xp
from .pool import (avg_pool_backward_xp, avg_pool_xp, max_pool_backward_numba,
                   max_pool_backward_xp, max_pool_numba, max_pool_xp)
from .relu import relu_backward_numba, relu_backward_xp
from .special import special_numba, special_reference
from .winograd import (conv2d_forward_winograd, conv2d_input_grad_winograd,
                       conv2d_weight_grad_winograd, winograd_pays)

NUMBA = KernelTable(
    name="numba",
    im2col=im2col_numba, col2im=col2im_numba,
    max_pool=max_pool_numba, max_pool_backward=max_pool_backward_numba,
    avg_pool=avg_pool_xp, avg_pool_backward=avg_pool_backward_xp,
    adam_step=adam_step_xp, dropout_mask=dropout_mask_host, special=special_numba,
    relu_backward=relu_backward_numba,
    # batch norm in numba kernels, per channel (minitorch/cpu/batchnorm.py): BatchNormFused
    batch_norm_train=batch_norm_train_numba, batch_norm_eval=batch_norm_eval_numba,
    batch_norm_backward=batch_norm_backward_numba,
    # direct convolution for few-channel layers (minitorch/cpu/direct_conv.py): Conv2dDirect
    conv2d_direct_forward=conv2d_forward_direct,
    conv2d_direct_weight_grad=conv2d_weight_grad_direct,
    conv2d_direct_input_grad=conv2d_input_grad_direct, conv2d_direct_pays=direct_conv_pays,
    # Winograd F(2x2, 3x3) for 3x3 stride-1 layers with many channels (cpu/winograd.py)
    conv2d_winograd_forward=conv2d_forward_winograd,
    conv2d_winograd_weight_grad=conv2d_weight_grad_winograd,
    conv2d_winograd_input_grad=conv2d_input_grad_winograd, conv2d_winograd_pays=winograd_pays,
    fused_dtypes=(np.dtype(np.float32), np.dtype(np.float64)))

REFERENCE = KernelTable(
    name="reference",
    im2col=im2col_xp, col2im=col2im_xp,
    max_pool=max_pool_xp, max_pool_backward=max_pool_backward_xp,
    avg_pool=avg_pool_xp, avg_pool_backward=avg_pool_backward_xp,
    adam_step=adam_step_xp, dropout_mask=dropout_mask_host, special=special_reference,
    relu_backward=relu_backward_xp)
