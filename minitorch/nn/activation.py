"""Activation layers: thin Modules over the ops in ``minitorch/ops/activation.py``."""
from __future__ import annotations

import warnings

from ..ops import activation as A
from ..ops import inplace as I
from ..tensor import Tensor
from .module import Module


class ReLU(Module):
    """max(x, 0). ``inplace=True``: the input Tensor becomes the output (ops/inplace.py)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return I.relu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.sigmoid(input)


class Tanh(Module):
    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.tanh(input)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return I.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return I.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _legacy_softmax_dim(name: str, ndim: int) -> int:
    """PyTorch's rule when no dim is given (deprecated there too): 0 for 0-, 1- and 3-d."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("softmax", input.ndim)
        return A.softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("log_softmax", input.ndim)
        return A.log_softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# --------------------------------------------------------------------------- more activations
class _Pointwise(Module):
    """A parameter-free activation ``fn(input, **options)``; options show in the repr."""

    fn = None
    options: tuple = ()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return type(self).fn(input, **{k: getattr(self, k) for k in self.options})

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in self.options
                         if not (k == "inplace" and not getattr(self, k)))


class GELU(_Pointwise):
    fn, options = A.gelu, ("approximate",)

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate


def _inplace_only(name: str, op):
    """A Module class whose only option is ``inplace`` (SiLU, Mish, ReLU6, ...)."""
    def __init__(self, inplace: bool = False):
        _Pointwise.__init__(self)
        self.inplace = inplace
    return type(name, (_Pointwise,), {"fn": op, "options": ("inplace",), "__init__": __init__,
                                      "__doc__": f"nn.{name}: ops.activation.{op.__name__}"})


def _no_options(name: str, op):
    return type(name, (_Pointwise,), {"fn": op, "__doc__": f"nn.{name}: ops.activation."
                                                           f"{op.__name__}"})


SiLU = _inplace_only("SiLU", A.silu)
Mish = _inplace_only("Mish", A.mish)
ReLU6 = _inplace_only("ReLU6", A.relu6)
Hardsigmoid = _inplace_only("Hardsigmoid", A.hardsigmoid)
Hardswish = _inplace_only("Hardswish", A.hardswish)
SELU = _inplace_only("SELU", A.selu)
Softsign = _no_options("Softsign", A.softsign)
LogSigmoid = _no_options("LogSigmoid", A.logsigmoid)
Tanhshrink = _no_options("Tanhshrink", A.tanhshrink)


class Hardtanh(_Pointwise):
    fn, options = A.hardtanh, ("min_val", "max_val", "inplace")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace


class CELU(_Pointwise):
    fn, options = A.celu, ("alpha", "inplace")

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace


class GLU(_Pointwise):
    fn, options = A.glu, ("dim",)

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim


class Threshold(_Pointwise):
    fn, options = A.threshold, ("threshold", "value", "inplace")

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace


class Hardshrink(_Pointwise):
    fn, options = A.hardshrink, ("lambd",)

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd


class Softshrink(_Pointwise):
    fn, options = A.softshrink, ("lambd",)

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd


class PReLU(Module):
    """prelu with learned slopes: ``num_parameters`` = 1 (shared) or the channel count,
    each initialised to ``init`` (PyTorch's defaults: 1, 0.25)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        from ..creation import full
        from .module import Parameter
        self.num_parameters = num_parameters
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype, device=device))

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
