"""Tensor: an n-dimensional array (NumPy or CuPy) that remembers how it was computed.

``t.data`` is the raw array (teaching: look inside any time); ``t.grad`` is a Tensor filled by
``backward()``; ``t.grad_fn`` is the graph Node that produced ``t`` (None for leaves). Every
operator and method below only dispatches to a differentiable op in ``minitorch/ops``.

Views and in-place writes follow PyTorch:

* view, reshape (when no copy is needed), flatten, transpose/permute/t/T, squeeze/unsqueeze,
  expand, basic indexing (ints, slices, None, ...), split/chunk and detach return tensors that
  share memory with their base, with or without requires_grad.
* Every in-place write (add_, mul_, ..., zero_, fill_, copy_, ``t[i] = v``, an optimizer step)
  writes into that memory and bumps a version counter shared by the base and all its views.
  Ops record the versions of the tensors whose memory they saved for backward; backward
  refuses to use a saved array that was overwritten since (PyTorch's "modified by an inplace
  operation" error) instead of computing a wrong gradient.
* With grad tracked, an in-place op on a non-leaf tensor makes it the output of that op; on a
  view, the base's grad_fn becomes a ``CopySlices`` node (the base with the view's region
  replaced), and other views of the base regenerate their grad_fn from it when next used.
  A leaf that requires grad, or a view of one, refuses in-place ops unless grad mode is off.
* Writes through the raw array (``t.data[...] = v``) are not tracked, as with PyTorch's
  ``.data``: that is the escape hatch, with its risks.
"""
from __future__ import annotations

import weakref

import numpy as np

from .backend import array_module, device_of, normalize_device, to_device, to_numpy

float32, float64, float16 = np.float32, np.float64, np.float16
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
uint16, uint32, uint64 = np.uint16, np.uint32, np.uint64  # PyTorch >= 2.3 names them too
bool_ = np.bool_
_DEFAULT_FLOAT = np.dtype(np.float32)


NO_BFLOAT16 = ("minitorch has no bfloat16: tensors are NumPy/CuPy arrays and NumPy has no "
               "bfloat16 dtype; use float16 or float32 (bfloat16 tensors in safetensors and "
               ".pth files load as float32, widened exactly)")


def as_dtype(dtype, op: str = "dtype") -> np.dtype:
    """The NumPy dtype for what PyTorch-style code passes (mt.float32, np.float32, "float32"),
    or a TypeError naming the op (and saying why there is no bfloat16)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        if "bfloat16" in str(dtype):
            raise TypeError(f"{op}: {NO_BFLOAT16}") from None
        raise TypeError(f"{op}: unknown dtype {dtype!r}; expected a minitorch/NumPy dtype such "
                        "as mt.float32, mt.int64 or mt.bool") from None


def _infer_dtype(data, dtype):
    """PyTorch's rule: Python floats become float32, arrays keep their own dtype."""
    if dtype is not None:
        return as_dtype(dtype, "Tensor")
    if hasattr(data, "dtype"):
        return None  # keep the array's dtype
    probe = np.asarray(data)
    if probe.dtype.kind == "f":
        return _DEFAULT_FLOAT
    if probe.dtype.kind in "iu":
        return np.dtype(np.int64)
    return None


class _VersionCounter:
    """How many in-place writes a piece of memory has seen; shared by a tensor and its views.

    ``rebases`` counts the writes that changed the base's grad_fn: a view whose grad_fn was made
    at an older count is stale and regenerates it from the base (``Tensor._refresh_view``).
    """

    __slots__ = ("value", "rebases")

    def __init__(self):
        self.value = 0
        self.rebases = 0


def _check_can_require_grad(dtype, op: str = "requires_grad") -> None:
    if np.dtype(dtype).kind not in "fc":
        raise RuntimeError(f"{op}: only floating point tensors can require gradients, "
                           f"got dtype {np.dtype(dtype).name}")


class Tensor:
    # _base / _view_ops: for a view, the tensor owning the memory and the (Function, params)
    # steps that rebuild the view from it; _view_epoch: _version_counter.rebases when this
    # view's grad_fn was made.
    __slots__ = ("data", "_grad", "requires_grad", "grad_fn", "_version_counter", "_base",
                 "_view_ops", "_view_epoch", "__weakref__")
    __array_priority__ = 1000  # numpy scalar (op) Tensor -> Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, device=None, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        target = normalize_device(device) if device is not None else device_of(data)
        array = array_module(target).asarray(to_device(data, target),
                                             dtype=_infer_dtype(data, dtype))
        if requires_grad:
            _check_can_require_grad(array.dtype, "Tensor")
        self.data = array
        self._grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._version_counter = _VersionCounter()
        self._base = self._view_ops = None
        self._view_epoch = 0

    @classmethod
    def _make(cls, array, requires_grad: bool, grad_fn) -> "Tensor":
        """Wrap an array produced by an op, without copying or dtype inference."""
        t = cls.__new__(cls)
        t.data = array
        t._grad = None
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._version_counter = _VersionCounter()
        t._base = t._view_ops = None
        t._view_epoch = 0
        return t

    # ------------------------------------------------------------------ grad and version
    @property
    def grad(self) -> "Tensor | None":
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        """A gradient must look like its tensor: step() would otherwise broadcast it."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            what = ((value.shape != self.shape, "size", f"size {list(value.shape)}",
                     f"size {list(self.shape)}"),
                    (value.dtype != self.dtype, "type", f"dtype {value.dtype}",
                     f"dtype {self.dtype}"),
                    (value.device != self.device, "device", f"device {value.device}",
                     f"device {self.device}"))
            for bad, kind, got, want in what:
                if bad:
                    raise RuntimeError(f"assigned grad has data of a different {kind}: a gradient "
                                       f"of {got} for a tensor of {want}")
        self._grad = value

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (PyTorch's ``t._version``)."""
        return self._version_counter.value

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> str:
        return device_of(self.data)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def is_cuda(self) -> bool:
        return self.device == "cuda"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(to_numpy(self.data), separator=", ", precision=4,
                               prefix="tensor(")
        extras = []
        if self.dtype not in (_DEFAULT_FLOAT, np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype={self.dtype.name}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __hash__ = object.__hash__  # __eq__ is elementwise, identity stays hashable

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy(): can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t), plt.imshow(t): the values, as torch gives them (numpy()'s rules)
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __format__(self, spec: str) -> str:
        # f"{loss:.4f}" formats a 0-d tensor's number, as in PyTorch
        return format(self.item(), spec) if self.ndim == 0 else object.__format__(self, spec)

    def tolist(self):
        return to_numpy(self.data).tolist()

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python "
                             f"scalars, got shape {self.shape}")
        return to_numpy(self.data).reshape(()).item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool(): the truth value of a tensor with {self.data.size} "
                               "elements is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    def to(self, device=None, dtype=None, non_blocking: bool = False,
           copy: bool = False) -> "Tensor":
        """``t.to("cuda")``, ``t.to(mt.float64)`` or both; differentiable. ``non_blocking`` is
        accepted (minitorch's copies between devices are synchronous); ``copy=True`` always
        returns a new tensor."""
        if device is not None and not isinstance(device, str) and dtype is None:
            device, dtype = None, device  # t.to(mt.float64)
        out = self
        if dtype is not None and as_dtype(dtype, "to") != self.dtype:
            out = _ew.cast(out, as_dtype(dtype, "to"))
        if device is not None and normalize_device(device) != out.device:
            out = _shape.to_device(out, normalize_device(device))
        return out.clone() if copy and out is self else out

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    def float(self) -> "Tensor":
        return self.to(dtype=np.float32)

    def double(self) -> "Tensor":
        return self.to(dtype=np.float64)

    def long(self) -> "Tensor":
        return self.to(dtype=np.int64)

    def int(self) -> "Tensor":
        return self.to(dtype=np.int32)

    def bool(self) -> "Tensor":
        return self.to(dtype=np.bool_)

    def type(self, dtype) -> "Tensor":
        return self.to(dtype=dtype)

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) * gradient into every leaf's ``.grad``."""
        if not self.requires_grad:
            raise RuntimeError("backward(): tensor does not require grad and has no grad_fn "
                               f"(shape {self.shape})")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar "
                                   f"outputs, got shape {self.shape}; pass gradient=")
            grad = array_module(self.device).ones_like(self.data)
        else:
            grad = gradient.data if isinstance(gradient, Tensor) else gradient
            grad = array_module(self.device).asarray(to_device(grad, self.device),
                                                     dtype=self.dtype)
            if grad.shape != self.data.shape:
                raise RuntimeError(f"backward(): gradient shape {tuple(grad.shape)} does not "
                                   f"match tensor shape {self.shape}")
        if self._base is not None and self._view_epoch != self._version_counter.rebases:
            self._refresh_view()
        _autograd.run_backward(self, grad, retain_graph=retain_graph)

    def detach(self) -> "Tensor":
        """Same data (shared memory and version counter), cut from the graph."""
        out = Tensor._make(self.data, requires_grad=False, grad_fn=None)
        out._version_counter = self._version_counter
        return out

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not self.is_leaf:
            raise RuntimeError("requires_grad_(): can only change requires_grad of leaf "
                               "tensors; use detach() first")
        if requires_grad:
            _check_can_require_grad(self.dtype, "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Ask a non-leaf tensor to keep its ``.grad`` after backward (as PyTorch)."""
        if self.grad_fn is not None:
            # A weak reference: the tensor holds its node, so a strong one would be a cycle
            # that keeps every retained activation alive until the cycle collector runs.
            self.grad_fn.retained = weakref.ref(self)
        elif not self.requires_grad:
            raise RuntimeError("retain_grad(): tensor does not require grad")

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(self)`` runs after each gradient backward accumulates into ``self.grad``."""
        return _autograd.register_post_accumulate_grad_hook(self, hook)

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    def fill_(self, value) -> "Tensor":
        return self._write(Ellipsis, value, "fill_")

    def copy_(self, src) -> "Tensor":
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor's memory;
        with grad tracked, the gradient flows to ``src``."""
        return self._write(Ellipsis, src, "copy_")

    def __setitem__(self, index, value) -> None:
        """``t[index] = value`` with ``t[index]``'s indexing rules; in place (see the module
        docstring), differentiable with respect to ``value`` and the rest of ``t``."""
        self._write(index, value, "setitem")

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other): return _ew.add(self, other)
    def __radd__(self, other): return _ew.add(other, self)
    def __sub__(self, other): return _ew.sub(self, other)
    def __rsub__(self, other): return _ew.sub(other, self)
    def __mul__(self, other): return _ew.mul(self, other)
    def __rmul__(self, other): return _ew.mul(other, self)
    def __truediv__(self, other): return _ew.div(self, other)
    def __rtruediv__(self, other): return _ew.div(other, self)
    def __pow__(self, other): return _ew.pow(self, other)
    def __rpow__(self, other): return _ew.pow(other, self)
    def __neg__(self): return _ew.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ew.abs(self)
    def __matmul__(self, other): return _linalg.matmul(self, other)
    def __rmatmul__(self, other): return _linalg.matmul(other, self)

    def __lt__(self, other): return _ew.lt(self, other)
    def __le__(self, other): return _ew.le(self, other)
    def __gt__(self, other): return _ew.gt(self, other)
    def __ge__(self, other): return _ew.ge(self, other)
    def __eq__(self, other): return _ew.eq(self, other)
    def __ne__(self, other): return _ew.ne(self, other)
    # The named forms (``pred.eq(y.view_as(pred)).sum()`` in the lectures' accuracy code).
    def eq(self, other): return _ew.eq(self, other)
    def ne(self, other): return _ew.ne(self, other)
    def lt(self, other): return _ew.lt(self, other)
    def le(self, other): return _ew.le(self, other)
    def gt(self, other): return _ew.gt(self, other)
    def ge(self, other): return _ew.ge(self, other)
    # Bitwise on integers, logical on bools (as PyTorch); see ops/bitwise.py.
    def __invert__(self): return _bw.bitwise_not(self)
    def __and__(self, other): return _bw.bitwise_and(self, other)
    def __rand__(self, other): return _bw.bitwise_and(other, self)
    def __or__(self, other): return _bw.bitwise_or(self, other)
    def __ror__(self, other): return _bw.bitwise_or(other, self)
    def __xor__(self, other): return _bw.bitwise_xor(self, other)
    def __rxor__(self, other): return _bw.bitwise_xor(other, self)
    def __lshift__(self, other): return _bw.bitwise_left_shift(self, other)
    def __rlshift__(self, other): return _bw.bitwise_left_shift(other, self)
    def __rshift__(self, other): return _bw.bitwise_right_shift(self, other)
    def __rrshift__(self, other): return _bw.bitwise_right_shift(other, self)

    # ------------------------------------------------------------------ in-place writes
    def _inplace(self, op, *args) -> "Tensor":
        """``self = op(self, *args)`` in place (``add_``, ``relu_``, ...): op runs out of place,
        then its result is written into self's memory. With grad tracked, op sees a copy of
        self's old value (op may save it for its backward, and the write would overwrite it)
        and self becomes op's output."""
        name = op.__name__ + "_"
        tracked = _autograd.is_grad_enabled() and (
            self.requires_grad or any(getattr(a, "requires_grad", False) for a in args))
        self._check_inplace(name)
        if tracked:
            if self._base is not None and self._view_epoch != self._version_counter.rebases:
                self._refresh_view()
            old = Tensor._make(self.data.copy(), self.requires_grad, self.grad_fn)
            result = op(old, *args)
        else:
            result = op(self, *args)
        if result.shape != self.shape:
            raise RuntimeError(f"{name}: the result of shape {result.shape} doesn't match the "
                               f"shape {self.shape} of the tensor written in place")
        if not np.can_cast(result.dtype, self.dtype, casting="same_kind"):
            raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the "
                               f"desired output type {self.dtype} (shape {self.shape})")
        if not tracked:
            self.data[...] = result.data
            self._version_counter.value += 1
        elif self._base is None:  # self simply becomes op's output
            if result.dtype != self.dtype:
                result = _ew.cast(result, self.dtype)
            self.data[...] = result.data
            self.grad_fn, self.requires_grad = result.grad_fn, True
            self._bump(rebased=True)
        else:
            self._write_view(Ellipsis, result)
        return self

    def _write(self, index, value, name: str) -> "Tensor":
        """``self[index] = value`` for setitem, copy_ and fill_ (index is then ``...``)."""
        self._check_inplace(name)
        if self._base is not None and self._view_epoch != self._version_counter.rebases:
            self._refresh_view()  # its requires_grad may have changed with its base's
        if not isinstance(value, Tensor):
            value = Tensor._make(array_module(self.device).asarray(
                to_device(value, self.device), dtype=self.dtype), False, None)
        elif value.device != self.device:
            value = value.to(self.device)
        target, rest = _shape.split_index(self, index)  # a view of self, and what is left
        if not (_autograd.is_grad_enabled() and (target.requires_grad or value.requires_grad)):
            try:
                target.data[rest] = value.data
            except ValueError as exc:
                raise RuntimeError(f"{name}: can't write a value of shape {value.shape} into a "
                                   f"tensor of shape {self.shape} at index {index!r}: {exc}"
                                   ) from None
            self._version_counter.value += 1
        else:
            target._write_view(rest, value)
        return self

    def _write_view(self, index, value: "Tensor") -> None:
        """With grad tracked: write ``value`` at ``self[index]`` into the base's memory, and
        make the base's grad_fn a CopySlices node (the base with that region replaced)."""
        base = self if self._base is None else self._base
        out = _shape.CopySlices.apply(base, value, steps=self._view_ops or (), index=index)
        base.grad_fn, base.requires_grad = out.grad_fn, True
        self._bump(rebased=True)
        if self is not base:
            self._refresh_view()

    def _bump(self, rebased: bool) -> None:
        counter = self._version_counter
        counter.value += 1
        if rebased:
            counter.rebases += 1

    def _check_inplace(self, name: str) -> None:
        """PyTorch's refusals: leaves (or views of leaves) that require grad while grad mode
        is on, and memory that is read-only or where elements overlap (expand)."""
        if _autograd.is_grad_enabled():
            if self.is_leaf and self.requires_grad and self._base is None:
                raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in "
                                   f"an in-place operation (shape {self.shape}); wrap it in "
                                   "mt.no_grad() or use an out-of-place op")
            base = self._base
            if base is not None and base.is_leaf and base.requires_grad:
                raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is "
                                   f"being used in an in-place operation (view of shape "
                                   f"{self.shape}, leaf of shape {base.shape})")
        if not getattr(self.data.flags, "writeable", True):
            if 0 in self.data.strides and self.data.size > 1:
                raise RuntimeError(f"{name}: unsupported operation: more than one element of the "
                                   "written-to tensor refers to a single memory location "
                                   f"(an expanded tensor of shape {self.shape}). Please clone() "
                                   "the tensor before performing the operation.")
            raise RuntimeError(f"{name}: the tensor's memory (shape {self.shape}) is read-only; "
                               "clone() it first")

    def _refresh_view(self) -> None:
        """Regenerate a stale view's grad_fn by replaying its view steps on its base."""
        with _autograd.enable_grad():
            fresh = self._base
            for fn, params in self._view_ops:
                fresh = fn.apply(fresh, **params)
        self.grad_fn, self.requires_grad = fresh.grad_fn, fresh.requires_grad
        self._view_epoch = self._version_counter.rebases

    def __iadd__(self, other): return self._inplace(_ew.add, other)
    def __isub__(self, other): return self._inplace(_ew.sub, other)
    def __imul__(self, other): return self._inplace(_ew.mul, other)
    def __itruediv__(self, other): return self._inplace(_ew.div, other)
    def add_(self, other): return self._inplace(_ew.add, other)
    def sub_(self, other): return self._inplace(_ew.sub, other)
    def mul_(self, other): return self._inplace(_ew.mul, other)
    def div_(self, other): return self._inplace(_ew.div, other)

    # ------------------------------------------------------------------ math methods
    def exp(self): return _ew.exp(self)
    def log(self): return _ew.log(self)
    def sqrt(self): return _ew.sqrt(self)
    def abs(self): return _ew.abs(self)
    def clamp(self, min=None, max=None): return _ew.clamp(self, min, max)
    clip = clamp
    def tanh(self): return _act.tanh(self)
    def sigmoid(self): return _act.sigmoid(self)
    def relu(self): return _act.relu(self)
    def softmax(self, dim): return _act.softmax(self, dim)
    def log_softmax(self, dim): return _act.log_softmax(self, dim)
    def matmul(self, other): return _linalg.matmul(self, other)

    def sum(self, dim=None, keepdim=False): return _red.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim=False): return _red.mean(self, dim, keepdim)
    def var(self, dim=None, unbiased=True, keepdim=False):
        return _red.var(self, dim, unbiased=unbiased, keepdim=keepdim)
    def std(self, dim=None, unbiased=True, keepdim=False):
        return _red.std(self, dim, unbiased=unbiased, keepdim=keepdim)
    def max(self, dim=None, keepdim=False): return _red.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return _red.min(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return _red.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return _red.argmin(self, dim, keepdim)

    # ------------------------------------------------------------------ shape methods
    def reshape(self, *shape): return _shape.reshape(self, *shape)
    def view(self, *shape): return _shape.view(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return _shape.flatten(self, start_dim, end_dim)
    def transpose(self, dim0, dim1): return _shape.transpose(self, dim0, dim1)
    def permute(self, *dims): return _shape.permute(self, *dims)
    def squeeze(self, dim=None): return _shape.squeeze(self, dim)
    def unsqueeze(self, dim): return _shape.unsqueeze(self, dim)
    def expand(self, *sizes): return _shape.expand(self, *sizes)
    def view_as(self, other): return _shape.view(self, *other.shape)
    def reshape_as(self, other): return _shape.reshape(self, *other.shape)
    def expand_as(self, other): return _shape.expand(self, *other.shape)
    def type_as(self, other): return self.to(dtype=other.dtype)
    def contiguous(self): return _shape.contiguous(self)
    def clone(self): return _shape.clone(self)
    def t(self): return _shape.transpose(self, 0, 1) if self.ndim == 2 else self
    @property
    def T(self): return _shape.permute(self, *reversed(range(self.ndim)))
    def __getitem__(self, index): return _shape.getitem(self, index)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


# The op modules import Tensor from here, so they are imported after the class exists.
from . import autograd as _autograd  # noqa: E402
from .ops import activation as _act  # noqa: E402
from .ops import bitwise as _bw  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _red  # noqa: E402
from .ops import shape as _shape  # noqa: E402
