"""``inplace=True`` for the activations and dropout (``F.relu(x, inplace=True)``,
``nn.ReLU(inplace=True)``): the input Tensor becomes the output, as in PyTorch.

PyTorch overwrites the input's memory to save it. minitorch does that only where it can't
corrupt a gradient: with grad mode off (inference) the result is written into the input's
array. With grad mode on, earlier ops may have saved that array for their backward (a conv
saves its input to compute the weight gradient), so the result is computed out of place and
*rebound* to the input Tensor (its data and grad_fn), which is what the code around it sees.
A leaf that requires grad refuses, as PyTorch does: its value is what gradients are taken for.
"""
from __future__ import annotations

from ..autograd import is_grad_enabled
from ..tensor import Tensor
from . import activation as A
from . import dropout as D


def store_inplace(op: str, input: Tensor, result: Tensor) -> Tensor:  # noqa: A002
    """Make ``input`` hold ``result`` (same shape and dtype) and return ``input``."""
    if input.is_leaf and input.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}(inplace=True): a leaf Variable that requires grad (shape "
                           f"{input.shape}) is being used in an in-place operation; use "
                           "inplace=False or wrap the code in mt.no_grad()")
    if result is input:  # e.g. dropout in eval mode returns its input
        return input
    writable = getattr(input.data.flags, "writeable", True)
    if not is_grad_enabled() and not result.requires_grad and writable:
        input.data[...] = result.data
    else:
        input.data = result.data
        input.grad_fn, input.requires_grad = result.grad_fn, result.requires_grad
    return input


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    out = A.relu(input)
    return store_inplace("relu", input, out) if inplace else out


def relu_(input: Tensor) -> Tensor:  # noqa: A002
    return relu(input, inplace=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01,  # noqa: A002
               inplace: bool = False) -> Tensor:
    out = A.leaky_relu(input, negative_slope)
    return store_inplace("leaky_relu", input, out) if inplace else out


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    out = A.elu(input, alpha)
    return store_inplace("elu", input, out) if inplace else out


def dropout(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
            inplace: bool = False) -> Tensor:
    out = D.dropout(input, p, training)
    return store_inplace("dropout", input, out) if inplace else out


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
              inplace: bool = False) -> Tensor:
    out = D.dropout2d(input, p, training)
    return store_inplace("dropout2d", input, out) if inplace else out
