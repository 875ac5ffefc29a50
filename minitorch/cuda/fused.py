"""Fused GPU steps: softmax-cross-entropy, batch norm, dropout masks, Adam/AdamW (kernels/*.cu).

Each of these is a handful of array ops on the CPU path (exp, sum, log, subtract, ...), and on
the GPU every one of those is a kernel launch plus a full read and write of the array. Fused,
each is one or two kernels that read the inputs once. Same arithmetic as the unfused NumPy
path (minitorch/ops/loss.py, ops/norm.py, optim/adam.py) and PyTorch; the tests compare them.

Arrays in, arrays out (CuPy on the GPU; NumPy under the CPU emulator of the tests).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_array_module
from ..cpu.adam import adam_step_xp
from ..cpu.dropout import dropout_mask_host
from ..random import numpy_generator
from .graph import is_capturing
from .launch import THREADS, check_dtype, check_int32, contiguous, device_id, empty, empty_like
from .launch import grid_1d, i32, run
from .loader import SCALAR_TYPES

XENT_THREADS = 128  # as #define'd in softmax_xent.cu
BN_THREADS = 256    # as #define'd in batchnorm.cu


# --------------------------------------------------------------------------- cross-entropy
def softmax_cross_entropy(z, y, ignore_index: int = -100):
    """Per-row loss (N,) and d(sum of losses)/dz (N, C) of logits z (N, C), targets y (N,).

    Ignored rows get loss 0 and gradient 0; a target out of [0, C) (not ignored) gets NaN
    loss and gradient rows (the kernel checks, so nothing here waits for the device: the
    clear IndexError is ops/loss.py's, eagerly). One kernel, one block per row.
    """
    dtype = check_dtype("softmax_cross_entropy", z)
    xp = get_array_module(z)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise ValueError(f"softmax_cross_entropy: expected logits (N, C) and targets (N,), "
                         f"got {z.shape} and {y.shape}")
    N, C = z.shape
    z, y = contiguous(z), contiguous(y.astype(np.int64, copy=False))
    check_int32("softmax_cross_entropy", z=z.size)
    loss = empty(xp, (N,), dtype)
    grad = empty(xp, (N, C), dtype)
    if N:
        run("softmax_xent.cu", "softmax_xent_forward_backward", dtype, (N,), (XENT_THREADS,),
            (z, y, loss, grad) + i32(N, C) + (np.int64(ignore_index),))
    return loss, grad


def cross_entropy_mean(z, y, ignore_index: int = -100):
    """Mean loss over the non-ignored rows (a 0-d array) and its gradient w.r.t. z."""
    loss, grad = softmax_cross_entropy(z, y, ignore_index)
    xp = get_array_module(z)
    count = (xp.asarray(y) != ignore_index).sum().astype(loss.dtype)
    return loss.sum() / count, grad / count


# --------------------------------------------------------------------------- batch norm
def _channels(op, x):
    if x.ndim < 2:
        raise ValueError(f"{op}: expected (N, C, ...) input, got shape {x.shape}")
    N, C = x.shape[:2]
    S = x.size // (N * C) if N * C else 0
    check_int32(op, x=x.size)
    return N, C, S


BN_TARGET_BLOCKS = 528  # ~4 blocks per SM of a 132-SM H100/H200; a constant, so the split
                        # (and with it the order of the sums) never depends on the GPU model
BN_MIN_CHUNK = 1024     # values per block at least: 4 per thread
MAX_GRID_Y = 65535      # CUDA's limit on gridDim.y (the channels of the split kernels)


def _bn_splits(M: int, C: int) -> tuple[int, int]:
    """(splits, chunk): each channel's M values cut into ``splits`` chunks of ``chunk``
    values, one block each on a (splits, C) grid, so a few channels still fill the GPU:
    splits = min(ceil(BN_TARGET_BLOCKS / C), ceil(M / BN_MIN_CHUNK)), at least 1."""
    if C > MAX_GRID_Y:
        raise ValueError(f"batch_norm: {C} channels, more than the CUDA kernels' grid allows "
                         f"({MAX_GRID_Y})")
    splits = max(1, min(-(-BN_TARGET_BLOCKS // C), -(-M // BN_MIN_CHUNK)))
    chunk = max(1, -(-M // splits))
    return max(1, -(-M // chunk)), chunk   # no empty trailing chunk


def batch_norm_forward(x, gamma, beta, eps: float = 1e-5):
    """Training-mode batch norm of x (N, C, ...): -> (y, mean, invstd), statistics (C,).

    var is biased (the normalisation's); the unbiased one for running_var is var * M/(M-1),
    with var = 1/invstd^2 - eps, or read it from ``batch_norm_stats``.
    """
    y, mean, _, invstd = batch_norm_stats_and_apply(x, gamma, beta, eps)
    return y, mean, invstd


def batch_norm_stats_and_apply(x, gamma, beta, eps: float = 1e-5):
    """As batch_norm_forward, also returning the biased variance: (y, mean, var, invstd)."""
    dtype = check_dtype("batch_norm", x, gamma, beta)
    x, gamma, beta = contiguous(x), contiguous(gamma), contiguous(beta)
    xp = get_array_module(x)
    N, C, S = _channels("batch_norm", x)
    splits, chunk = _bn_splits(N * S, C)
    part = empty(xp, (C, splits, 3), np.float64)     # (count, mean, M2) of every chunk
    run("batchnorm.cu", "bn_partial_stats", dtype, (splits, C), (BN_THREADS,),
        (x, part) + i32(N, C, S, chunk))
    mean, var, invstd = (empty(xp, (C,), dtype) for _ in range(3))
    run("batchnorm.cu", "bn_finalize_stats", dtype, *grid_1d(C, BN_THREADS),
        (part, mean, var, invstd) + i32(C, splits) + (np.float64(eps),))
    y = empty_like(x)
    grid, block = grid_1d(x.size)
    run("batchnorm.cu", "bn_apply", dtype, grid, block,
        (x, mean, invstd, gamma, beta, y) + i32(x.size, C, S))
    return y, mean, var, invstd


def batch_norm_inference(x, running_mean, running_var, gamma, beta, eps: float = 1e-5):
    """Eval-mode batch norm with the running statistics: one elementwise pass."""
    dtype = check_dtype("batch_norm", x, running_mean, running_var, gamma, beta)
    x = contiguous(x)
    xp = get_array_module(x)
    N, C, S = _channels("batch_norm", x)
    invstd = (1.0 / xp.sqrt(running_var + eps)).astype(dtype)
    y = empty_like(x)
    grid, block = grid_1d(x.size)
    run("batchnorm.cu", "bn_apply", dtype, grid, block,
        (x, contiguous(running_mean), invstd, contiguous(gamma), contiguous(beta), y)
        + i32(x.size, C, S))
    return y


def batch_norm_backward(gy, x, gamma, mean, invstd):
    """-> (gx, ggamma, gbeta) for training-mode batch norm (ggamma/gbeta: (C,))."""
    dtype = check_dtype("batch_norm backward", gy, x, gamma, mean, invstd)
    gy, x, gamma = contiguous(gy), contiguous(x), contiguous(gamma)
    xp = get_array_module(x)
    N, C, S = _channels("batch_norm backward", x)
    splits, chunk = _bn_splits(N * S, C)
    part = empty(xp, (C, splits, 2), np.float64)     # (sum gy, sum gy * xhat) of every chunk
    run("batchnorm.cu", "bn_backward_partial", dtype, (splits, C), (BN_THREADS,),
        (gy, x, mean, invstd, part) + i32(N, C, S, chunk))
    sum_gy, sum_gy_xhat = empty(xp, (C,), dtype), empty(xp, (C,), dtype)
    run("batchnorm.cu", "bn_backward_finalize", dtype, *grid_1d(C, BN_THREADS),
        (part, sum_gy, sum_gy_xhat) + i32(C, splits))
    gx = empty_like(x)
    grid, block = grid_1d(x.size)
    run("batchnorm.cu", "bn_backward_apply", dtype, grid, block,
        (gy, x, mean, invstd, gamma, sum_gy, sum_gy_xhat, gx) + i32(x.size, C, S, N * S))
    return gx, sum_gy_xhat, sum_gy


# --------------------------------------------------------------------------- dropout
def dropout_mask(shape: tuple, p: float, dtype, like=None):
    """The CUDA table's dropout_mask (signature: minitorch/kernel_table.py): the keep-mask
    drawn on the device by kernels/dropout.cu from one 64-bit seed of minitorch's global
    generator, so no mask is copied from the host. Other dtypes (float16) take the host draw.
    Refused inside a CUDA-graph capture: the seed is a host value, so every replay would
    drop the same elements."""
    dt = np.dtype(dtype)
    if dt not in SCALAR_TYPES:
        return dropout_mask_host(shape, p, dtype, like)
    if is_capturing():
        raise RuntimeError("dropout inside a CUDA-graph capture: its seed is drawn on the "
                           "host, so every replay would drop the same elements; capture the "
                           "step in eval mode or without dropout")
    xp = get_array_module(like) if like is not None else np
    mask = empty(xp, shape, dt)
    seed = np.uint64(numpy_generator().integers(0, 2**63, dtype=np.int64))
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    if mask.size:
        run("dropout.cu", "dropout_mask", dt, *grid_1d(mask.size),
            (mask, np.int64(mask.size), seed, np.float64(p), np.float64(scale)))
    return mask


# --------------------------------------------------------------------------- Adam / AdamW
def _address(a) -> int:
    """The device address of array ``a`` (CuPy), or its host address (NumPy: the emulator)."""
    ptr = getattr(a.data, "ptr", None)
    return int(ptr) if ptr is not None else int(a.ctypes.data)


_pointer_tables: dict[tuple, object] = {}   # (device, table bytes) -> its device copy


def _device_table(xp, table: np.ndarray):
    """``table`` on the device. CuPy's pool tends to hand a training loop the same blocks
    every step, so the same table recurs: the last few are kept, not copied again."""
    key = (device_id(xp), table.tobytes())
    hit = _pointer_tables.pop(key, None)
    _pointer_tables[key] = hit = xp.asarray(table) if hit is None else hit   # newest last
    while len(_pointer_tables) > 8:
        del _pointer_tables[next(iter(_pointer_tables))]
    return hit


def adam_multi_update(params, grads, exp_avgs, exp_avg_sqs, *, lr: float, step: int,
                      beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                      weight_decay: float = 0.0, decoupled: bool = False) -> None:
    """One Adam (decoupled=False) or AdamW (decoupled=True) step of every tensor, all at step
    count ``step``, in ONE kernel launch (kernels/adam.cu): in place on params, exp_avgs,
    exp_avg_sqs (same shapes, C-contiguous: they are updated where they are)."""
    if step < 1:
        raise ValueError(f"adam_update: step must be >= 1 (the bias corrections divide by "
                         f"1 - beta^step), got {step}")
    kept = []   # the arrays the table points at (grads made contiguous), alive until launched
    for param, grad, exp_avg, exp_avg_sq in zip(params, grads, exp_avgs, exp_avg_sqs):
        dtype = check_dtype("adam_update", param, grad, exp_avg, exp_avg_sq)
        for name, a in (("param", param), ("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)):
            if not a.flags.c_contiguous:
                raise ValueError(f"adam_update: {name} {a.shape} must be C-contiguous (it is "
                                 "updated in place)")
            if a.shape != param.shape:
                raise ValueError(f"adam_update: {name} shape {a.shape} != param shape "
                                 f"{param.shape}")
        if grad.shape != param.shape:
            raise ValueError(f"adam_update: grad shape {grad.shape} != param shape "
                             f"{param.shape}")
        if kept and dtype != kept[0][0].dtype:
            raise TypeError(f"adam_update: one launch takes one dtype, got {kept[0][0].dtype} "
                            f"and {dtype}")
        if param.size:
            kept.append((param, contiguous(grad), exp_avg, exp_avg_sq))
    if not kept:
        return
    xp = get_array_module(kept[0][0])
    sizes = np.cumsum([0] + [p.size for p, *_ in kept], dtype=np.int64)
    table = np.concatenate([[_address(a) for a in arrays] for arrays in zip(*kept)]
                           + [sizes]).astype(np.int64)
    total = int(sizes[-1])
    bc1, sqrt_bc2 = 1.0 - beta1 ** step, math.sqrt(1.0 - beta2 ** step)
    run("adam.cu", "adam_multi", kept[0][0].dtype, *grid_1d(total, THREADS),
        (_device_table(xp, table), np.int32(len(kept)), np.int64(total))
        + tuple(np.float64(v) for v in (lr, beta1, beta2, eps, weight_decay, bc1, sqrt_bc2))
        + i32(int(decoupled)))


def adam_update(param, grad, exp_avg, exp_avg_sq, **hyper) -> None:
    """adam_multi_update of one tensor (same keyword arguments)."""
    adam_multi_update([param], [grad], [exp_avg], [exp_avg_sq], **hyper)


def adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
              beta2, eps, weight_decay, amsgrad, maximize, decoupled) -> None:
    """The CUDA table's adam_step (signature: minitorch/kernel_table.py): one multi-tensor
    launch per (dtype, step count) for what the fused kernel takes; amsgrad, maximize, other
    dtypes (float16) and non-contiguous parameters take the array-code step
    (minitorch/cpu/adam.py), which runs on CuPy arrays as well.

    Refused inside a CUDA-graph capture: the step count is a host int, so its bias
    corrections would be frozen into the graph and every replay would repeat the captured
    step's (cuda/graph.py, rule 2)."""
    if is_capturing():
        raise RuntimeError("Adam.step inside a CUDA-graph capture: the step count and its bias "
                           "corrections are host values that every replay would repeat; "
                           "capture a step with optim.SGD, or run Adam eagerly")
    groups: dict[tuple, list] = {}
    rest = []
    for i, (data, grad) in enumerate(zip(params, grads)):
        if amsgrad or maximize or not data.flags.c_contiguous or not _fusable(data, grad):
            rest.append(i)
        else:
            groups.setdefault((np.dtype(data.dtype).str, steps[i]), []).append(i)
    for (_, step), idx in groups.items():
        pick = lambda seq: [seq[i] for i in idx]  # noqa: E731
        adam_multi_update(pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs),
                          lr=lr, step=step, beta1=beta1, beta2=beta2, eps=eps,
                          weight_decay=weight_decay, decoupled=decoupled)
    if rest:
        pick = lambda seq: [seq[i] for i in rest]  # noqa: E731
        adam_step_xp(pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs),
                     pick(max_exp_avg_sqs), pick(steps), lr=lr, beta1=beta1, beta2=beta2,
                     eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                     decoupled=decoupled)


def _fusable(*arrays) -> bool:
    """True when the kernels take these arrays' dtype (float32 or float64, all the same)."""
    return all(np.dtype(a.dtype) in SCALAR_TYPES and a.dtype == arrays[0].dtype for a in arrays)
