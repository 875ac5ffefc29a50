"""Creating tensors: from data (``tensor``), filled (``zeros``, ``full``, ``eye``, ``arange``...),
random (``rand``, ``randn``, ``randint``, ``randperm``) and shaped like another (``*_like``).

Signatures, defaults and dtype rules follow PyTorch: the default floating dtype is float32,
Python ints give int64, sizes are varargs or one tuple (``zeros(2, 3) == zeros((2, 3))``).
Random tensors are drawn on the CPU by a ``minitorch.Generator`` and then moved to ``device``,
so a seed gives the same numbers on every device (see minitorch/random.py).
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from .backend import array_module, normalize_device, to_device, to_numpy
from .random import numpy_generator
from .tensor import Tensor, _check_can_require_grad

_FLOAT = np.dtype(np.float32)
_INT = np.dtype(np.int64)


# --------------------------------------------------------------------------- helpers
def _size(op: str, size) -> tuple[int, ...]:
    """``(2, 3)``, ``((2, 3),)`` or ``([2, 3],)`` -> ``(2, 3)``; every dim an int >= 0."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        dims = tuple(operator.index(n) for n in size)
    except TypeError:
        raise TypeError(f"{op}: size must be ints (as varargs or one tuple), got "
                        f"{size!r}") from None
    if any(n < 0 for n in dims):
        raise ValueError(f"{op}: negative dimension in size {dims}")
    return dims


def _finish(op: str, array, requires_grad: bool) -> Tensor:
    if requires_grad:
        _check_can_require_grad(array.dtype, op)
    return Tensor._make(array, bool(requires_grad), None)


def _scalar(value):
    """A 1-element Tensor -> its Python number; numbers pass through."""
    return value.item() if isinstance(value, Tensor) else value


def _scalar_dtype(value) -> np.dtype:
    """PyTorch's dtype for a Python scalar: bool -> bool, int -> int64, float -> float32."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, numbers.Integral):
        return _INT
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        return np.dtype(np.complex64)
    return _FLOAT


# --------------------------------------------------------------------------- from data
def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new leaf Tensor holding a COPY of ``data`` (nested lists, a scalar, an array or a
    Tensor, whose data is copied detached). Python floats become float32 and ints int64;
    NumPy/CuPy arrays keep their dtype unless ``dtype`` is given."""
    if isinstance(data, Tensor):
        device = data.device if device is None else device
        data = data.data
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        data = [to_numpy(x.data) if isinstance(x, Tensor) else x for x in data]
    try:
        t = Tensor(data, device=device, dtype=dtype)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"tensor: could not build an array from the data: {exc}") from None
    if t.dtype.kind not in "biufc":
        raise TypeError(f"tensor: data of dtype {t.dtype} is not numeric (a {type(data).__name__}"
                        " of strings or objects?)")
    if t.data is data or t.data.base is not None:  # asarray kept the caller's memory: copy
        t.data = t.data.copy()
    return _finish("tensor", t.data, requires_grad)


def from_numpy(ndarray) -> Tensor:
    """A Tensor SHARING ``ndarray``'s memory (no copy): writes to one show in the other, as
    ``torch.from_numpy``. Only NumPy arrays of numeric dtypes; the dtype is kept."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: can't convert a numpy array of dtype {ndarray.dtype}; "
                        "the supported kinds are bool, integer, float and complex")
    return Tensor._make(ndarray, False, None)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but without a copy when it can: a Tensor, or an array already of the
    requested dtype and device, is used as is (sharing memory); otherwise it is converted,
    as ``torch.as_tensor``. A Tensor keeps its graph (conversion is differentiable)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device, dtype) != (None, None) else data
    if isinstance(data, np.ndarray) and data.dtype.kind in "biufc" and (
            dtype is None or np.dtype(dtype) == data.dtype) and (
            device is None or normalize_device(device) == "cpu"):
        return from_numpy(data)
    if dtype is None and device is None and type(data).__module__.startswith("cupy"):
        return Tensor._make(data, False, None)  # a CuPy array: shared as well
    return tensor(data, dtype=dtype, device=device)


# --------------------------------------------------------------------------- filled
def _filled(op, fill, size, dtype, device, requires_grad) -> Tensor:
    xp = array_module(normalize_device(device))
    dtype = _FLOAT if dtype is None else np.dtype(dtype)
    array = xp.empty(size, dtype=dtype) if fill is None else xp.full(size, fill, dtype=dtype)
    return _finish(op, array, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", 0, _size("zeros", size), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", 1, _size("ones", size), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uninitialized memory (whatever was there): fill it before reading it."""
    return _filled("empty", None, _size("empty", size), dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Filled with ``fill_value``; the dtype follows it (int -> int64, float -> float32)."""
    size = _size("full", size if isinstance(size, (tuple, list)) else (size,))
    fill_value = _scalar(fill_value)
    dtype = _scalar_dtype(fill_value) if dtype is None else dtype
    return _filled("full", fill_value, size, dtype, device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """An n x m (default n x n) matrix with ones on the diagonal."""
    n, m = _size("eye", (n, n if m is None else m))
    xp = array_module(normalize_device(device))
    return _finish("eye", xp.eye(n, m, dtype=_FLOAT if dtype is None else np.dtype(dtype)),
                   requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (default 0) up to, not including, end, every step. All-int arguments
    give int64, any float gives float32 (PyTorch's rule). The length is ceil((end-start)/step)."""
    if end is None:
        start, end = 0, start
    start, end, step = _scalar(start), _scalar(end), _scalar(step)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: end ({end}) is on the wrong side of start ({start}) for "
                         f"step {step}")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = (_INT if ints else _FLOAT) if dtype is None else np.dtype(dtype)
    if ints:
        values = np.arange(start, end, step, dtype=np.int64)
    else:  # start + i * step in float64, then rounded once to dtype
        n = math.ceil((end - start) / step)
        values = start + step * np.arange(n, dtype=np.float64)
    return _finish("arange", to_device(values.astype(dtype, copy=False),
                                       normalize_device(device)), requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included."""
    steps = operator.index(steps)
    if steps < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    dtype = _FLOAT if dtype is None else np.dtype(dtype)
    if dtype == np.bool_:  # PyTorch refuses it too: "evenly spaced" booleans mean nothing
        raise TypeError("linspace: dtype bool is not supported; use a numeric dtype")
    values = np.linspace(_scalar(start), _scalar(end), steps, dtype=np.float64)
    return _finish("linspace", to_device(values.astype(dtype), normalize_device(device)),
                   requires_grad)


# --------------------------------------------------------------------------- random
def _random(op, draw, size, dtype, device, requires_grad) -> Tensor:
    """Draw a float tensor on the CPU (float32 or float64 natively) and move it to device."""
    dtype = _FLOAT if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{op}: dtype must be floating point, got {dtype}")
    native = dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else _FLOAT
    values = draw(size, dtype=native).astype(dtype, copy=False)
    return _finish(op, to_device(values, normalize_device(device)), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    return _random("rand", numpy_generator(generator).random, _size("rand", size), dtype,
                   device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal N(0, 1)."""
    return _random("randn", numpy_generator(generator).standard_normal, _size("randn", size),
                   dtype, device, requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on [low, high): ``randint(low, high, size)`` or ``randint(high, size)``."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if size is None or high is None:
        raise TypeError("randint: expected randint(low, high, size) or randint(high, size)")
    low, high = operator.index(_scalar(low)), operator.index(_scalar(high))
    if low >= high:
        raise ValueError(f"randint: low ({low}) must be less than high ({high})")
    size = _size("randint", size if isinstance(size, (tuple, list)) else (size,))
    values = numpy_generator(generator).integers(low, high, size, dtype=np.int64)
    dtype = _INT if dtype is None else np.dtype(dtype)
    return _finish("randint", to_device(values.astype(dtype, copy=False),
                                        normalize_device(device)), requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1."""
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"randperm: n must be >= 0, got {n}")
    values = numpy_generator(generator).permutation(n).astype(_INT if dtype is None else dtype)
    return _finish("randperm", to_device(values, normalize_device(device)), requires_grad)


# --------------------------------------------------------------------------- *_like
# Same shape as ``input``; dtype and device default to input's.
def _like(input: Tensor, dtype, device) -> dict:  # noqa: A002
    return {"dtype": input.dtype if dtype is None else dtype,
            "device": input.device if device is None else device}


def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    return zeros(input.shape, requires_grad=requires_grad, **_like(input, dtype, device))


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    return ones(input.shape, requires_grad=requires_grad, **_like(input, dtype, device))


def empty_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    return empty(input.shape, requires_grad=requires_grad, **_like(input, dtype, device))


def full_like(input, fill_value, *, dtype=None, device=None,  # noqa: A002
              requires_grad=False) -> Tensor:
    return full(input.shape, fill_value, requires_grad=requires_grad,
                **_like(input, dtype, device))


def rand_like(input, *, generator=None, dtype=None, device=None,  # noqa: A002
              requires_grad=False) -> Tensor:
    return _random("rand_like", numpy_generator(generator).random, input.shape,
                   requires_grad=requires_grad, **_like(input, dtype, device))


def randn_like(input, *, generator=None, dtype=None, device=None,  # noqa: A002
               requires_grad=False) -> Tensor:
    return _random("randn_like", numpy_generator(generator).standard_normal, input.shape,
                   requires_grad=requires_grad, **_like(input, dtype, device))
