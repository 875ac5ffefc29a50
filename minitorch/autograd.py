"""Reverse-mode automatic differentiation: the Function protocol and the graph walk.

The flow, in one sitting:

1. An op is a ``Function`` subclass with two static methods working on raw ``xp`` arrays::

       forward(ctx, *arrays, **params) -> array
       backward(ctx, grad_out)         -> one grad per input array (None where not needed)

2. ``Function.apply(*tensors, **params)`` runs ``forward`` and, when any input requires grad
   (and grad mode is on), records a ``Node`` in the output tensor's ``grad_fn``. The node keeps
   the ctx (what forward saved) and, for each input, where its gradient must go next.
3. ``Tensor.backward()`` calls ``run_backward``: it orders the nodes topologically (iteratively:
   a 10,000-op chain needs no recursion), then walks them from the output back, summing the
   gradients that reach each node before calling its ``backward`` once. Leaves accumulate into
   ``.grad``.

Two safety nets on that path:

* Version counters (see tensor.py): ``apply`` records the version of every input or output
  whose memory the ctx holds on to; before a node's backward runs, the walk checks that none of
  them was written in place since, and raises PyTorch's "modified by an inplace operation".
* NumPy's floating-point warnings are off inside forward and backward (``np.errstate``), so
  log(0), 0/0 or sqrt(-1) give -inf/nan silently, as in PyTorch; ``detect_anomaly`` is the
  tool that turns them into errors.

Grad mode and anomaly mode live in ``contextvars`` so threads and async tasks don't share them.
"""
from __future__ import annotations

import contextvars
import functools
import traceback
import weakref

import numpy as np

from . import backend
from .backend import get_array_module

_grad_enabled = contextvars.ContextVar("minitorch_grad_enabled", default=True)
_anomaly_enabled = contextvars.ContextVar("minitorch_detect_anomaly", default=False)


# --------------------------------------------------------------------------- grad modes
def is_grad_enabled() -> bool:
    return _grad_enabled.get()


class _GradMode:
    """Context manager (and decorator) setting grad mode for the enclosed code."""

    _mode: bool

    def __enter__(self):
        self._token = _grad_enabled.set(self._mode)
        return self

    def __exit__(self, *exc):
        _grad_enabled.reset(self._token)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self._mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Disable graph recording: ``with mt.no_grad(): ...`` or ``@mt.no_grad()``."""
    _mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""
    _mode = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode: bool):
        self._mode = bool(mode)


class inference_mode(_GradMode):
    """``torch.inference_mode()``: no graph recording, as ``no_grad`` (minitorch has no
    separate inference tensors); ``inference_mode(False)`` records again."""

    def __init__(self, mode: bool = True):
        self._mode = not mode


class detect_anomaly:
    """Raise at the first op whose forward or backward produces NaN/Inf.

    The error names the op, the input shapes and the line of user code that created the op
    (its creation stack is recorded while this mode is on, which makes ops slower).
    """

    def __enter__(self):
        self._token = _anomaly_enabled.set(True)
        return self

    def __exit__(self, *exc):
        _anomaly_enabled.reset(self._token)
        return False


def is_anomaly_enabled() -> bool:
    return _anomaly_enabled.get()


class AnomalyError(RuntimeError):
    """Raised by detect_anomaly when an op produced a non-finite value."""


# --------------------------------------------------------------------------- graph records
class Context:
    """What a Function's forward leaves for its backward."""

    __slots__ = ("saved", "needs_input_grad", "__dict__")

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self.saved: tuple = ()

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays


class Node:
    """One recorded op application: the backward step of the graph.

    ``next`` holds, per input, the Node that produced it, the leaf Tensor that accumulates its
    gradient, or None when no gradient flows there.
    """

    __slots__ = ("fn", "ctx", "next", "input_meta", "created_at", "retained", "saved_versions",
                 "__weakref__")

    def __init__(self, fn, ctx, next_, input_meta, created_at=None):
        self.fn = fn
        self.ctx = ctx
        self.next = next_
        self.input_meta = input_meta  # (shape, dtype) per input, for checks and error messages
        self.created_at = created_at
        self.retained = None  # a weakref to the output Tensor, when it called retain_grad()
        self.saved_versions = ()  # (counter, version, shape, dtype) of each tensor ctx holds

    def check_versions(self) -> None:
        """Refuse to run backward on saved arrays that were overwritten in place since."""
        for counter, version, shape, dtype in self.saved_versions:
            if counter.value != version:
                site = f" (created at {self.created_at})" if self.created_at else ""
                raise RuntimeError(
                    f"{self.name()}: one of the variables needed for gradient computation has "
                    f"been modified by an inplace operation: [{dtype} {list(shape)}] is at "
                    f"version {counter.value}; expected version {version} instead. Hint: "
                    f"{self.name()}{site} saved that tensor for its backward and it was written "
                    "in place afterwards (add_, x[...] = v, copy_, an optimizer step, ...); "
                    "clone() it first or use an out-of-place op.")

    def name(self) -> str:
        return self.fn.__name__

    def __repr__(self):
        return f"<{self.name()}Backward>"


def _creation_site(stack) -> str:
    """The innermost stack frame outside minitorch: where the user created the op."""
    def inside(f, parts):
        return any(p in f.filename.replace("\\", "/") for p in parts)
    frames = [f for f in stack if not inside(f, ("/minitorch/", "<frozen "))]
    # No user frame (``python -m minitorch train``): the innermost layer, not the op's plumbing.
    frames = frames or [f for f in stack if not inside(f, ("/minitorch/ops/", "/autograd.py",
                                                           "/tensor.py", "<frozen "))]
    frame = frames[-1] if frames else stack[-1]
    return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}: {frame.line}'


_ARRAY_TYPES = (np.ndarray,) if backend._cupy is None else (np.ndarray, backend._cupy.ndarray)


def _saved_versions(ctx: Context, tensors) -> tuple:
    """(counter, version, shape, dtype) of each tensor whose memory ctx kept for backward:
    ``save_for_backward`` arrays and array attributes (also inside tuples/lists), matched by
    the object owning the memory (NumPy and CuPy point every view's ``base`` at it), so a saved
    view of an input counts and a saved copy (a mask) does not. Per owner, not per element,
    as PyTorch's counter is per storage. Plain loops: this runs for every recorded op."""
    owners = []
    for item in (*ctx.saved, *ctx.__dict__.values()):
        if isinstance(item, _ARRAY_TYPES):
            base = item.base
            owners.append(id(item if base is None else base))
        elif isinstance(item, (tuple, list)):
            for a in item:
                if isinstance(a, _ARRAY_TYPES):
                    base = a.base
                    owners.append(id(a if base is None else base))
    if not owners:
        return ()
    found = []
    for t in tensors:
        data = t.data
        base = data.base
        if id(data if base is None else base) in owners:
            counter = t._version_counter
            found.append((counter, counter.value, data.shape, data.dtype))
    return tuple(found)


def _check_finite(arrays, what: str, fn_name: str, node_or_site) -> None:
    for a in arrays:
        if a is None:
            continue
        xp = get_array_module(a)
        if a.dtype.kind in "fc" and not bool(xp.isfinite(a).all()):
            raise AnomalyError(f"{fn_name}: {what} produced NaN/Inf; {node_or_site}")


# --------------------------------------------------------------------------- Function
class Function:
    """Base class of every differentiable op. Subclasses define forward and backward."""

    @staticmethod
    def forward(ctx: Context, *arrays, **params):
        raise TypeError("Function subclasses must define forward")

    @staticmethod
    def backward(ctx: Context, grad_out):
        raise TypeError("Function subclasses must define backward")

    @classmethod
    def apply(cls, *inputs: "Tensor", **params) -> "Tensor":
        device = inputs[0].device
        for t in inputs:
            if t.device != device:
                shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in inputs)
                raise RuntimeError(
                    f"{cls.__name__}: all inputs must be on the same device, got {shapes}")
            if t._base is not None and t._view_epoch != t._version_counter.rebases:
                t._refresh_view()  # its base was written in place under grad: new grad_fn
        needs = tuple(t.requires_grad for t in inputs)
        record = any(needs) and _grad_enabled.get()
        ctx = Context(needs if record else (False,) * len(inputs))
        with np.errstate(all="ignore"):
            out = cls.forward(ctx, *[t.data for t in inputs], **params)
        if isinstance(out, np.generic):  # NumPy ufuncs turn 0-d arrays into scalars
            out = np.asarray(out)
        anomaly = _anomaly_enabled.get()
        site = _creation_site(traceback.extract_stack()[:-1]) if anomaly else None
        if anomaly:
            shapes = [tuple(t.shape) for t in inputs]
            _check_finite([out], f"forward (inputs {shapes})", cls.__name__, f"op created at {site}")
        if not record:
            return Tensor._make(out, requires_grad=False, grad_fn=None)
        next_ = tuple(
            (t.grad_fn if t.grad_fn is not None else t) if t.requires_grad else None
            for t in inputs)
        meta = tuple((t.data.shape, t.data.dtype) for t in inputs)
        node = Node(cls, ctx, next_, meta, site)
        result = Tensor._make(out, requires_grad=True, grad_fn=node)
        node.saved_versions = _saved_versions(ctx, (*inputs, result))
        return result


# --------------------------------------------------------------------------- graph walk
def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from root, each after every node that consumes its output."""
    order: list[Node] = []
    visited = {id(root)}
    stack = [(root, iter(root.next))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if isinstance(child, Node) and id(child) not in visited:
                visited.add(id(child))
                stack.append((child, iter(child.next)))
                break
        else:
            stack.pop()
            order.append(node)  # post-order: inputs before the ops that consume them
    order.reverse()
    return order


# id(leaf) -> hooks called after a gradient is accumulated into its .grad (data-parallel
# training starts reducing a bucket of gradients as soon as they are all there). Keyed by id,
# not by the Tensor (whose == is elementwise); an entry goes when its tensor is collected, so a
# hook never keeps a parameter alive.
_post_accumulate_hooks: dict[int, list] = {}


class HookHandle:
    """What ``register_post_accumulate_grad_hook`` returns: ``handle.remove()`` undoes it."""

    def __init__(self, key: int, hook):
        self._key, self._hook = key, hook

    def remove(self) -> None:
        hooks = _post_accumulate_hooks.get(self._key, [])
        if self._hook in hooks:
            hooks.remove(self._hook)


def register_post_accumulate_grad_hook(tensor: "Tensor", hook) -> HookHandle:
    """Call ``hook(tensor)`` each time backward has accumulated a gradient into the leaf
    ``tensor.grad`` (PyTorch's ``Tensor.register_post_accumulate_grad_hook``)."""
    if not tensor.is_leaf or not tensor.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require "
                           f"grad accumulate gradients (shape {tensor.shape})")
    key = id(tensor)
    if key not in _post_accumulate_hooks:
        _post_accumulate_hooks[key] = []
        weakref.finalize(tensor, _post_accumulate_hooks.pop, key, None)
    _post_accumulate_hooks[key].append(hook)
    return HookHandle(key, hook)


def _accumulate_leaf(leaf: "Tensor", grad) -> None:
    if leaf._grad is None:
        # A copy: the same array may also flow to other inputs (e.g. both sides of an add).
        leaf._grad = Tensor._make(grad.copy(), requires_grad=False, grad_fn=None)
    else:
        leaf._grad.data = leaf._grad.data + grad
    if _post_accumulate_hooks:
        for hook in _post_accumulate_hooks.get(id(leaf), ()):
            hook(leaf)


def _as_grad_tuple(fn_name: str, grads, n_inputs: int) -> tuple:
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != n_inputs:
        raise RuntimeError(f"{fn_name}.backward returned {len(grads)} grads for {n_inputs} inputs")
    return grads


def run_backward(root: "Tensor", grad, retain_graph: bool = False) -> None:
    """Backpropagate ``grad`` (an xp array shaped like root) through root's graph."""
    if root.grad_fn is None:
        _accumulate_leaf(root, grad)
        return
    with np.errstate(all="ignore"):  # 1/x at 0 is inf, as in PyTorch: no NumPy warnings
        _walk(root.grad_fn, grad, retain_graph)


def _walk(root: Node, grad, retain_graph: bool) -> None:
    pending: dict[int, object] = {id(root): grad}
    anomaly = _anomaly_enabled.get()
    for node in _topological_order(root):
        grad_out = pending.pop(id(node), None)
        if grad_out is None:
            continue
        if node.ctx is None:
            raise RuntimeError(
                f"{node.name()}: trying to backward through the graph a second time (its saved "
                "arrays were freed); call backward(retain_graph=True) the first time")
        node.check_versions()
        retained = node.retained() if node.retained is not None else None
        if retained is not None:
            _accumulate_leaf(retained, grad_out)
        grads = _as_grad_tuple(node.name(), node.fn.backward(node.ctx, grad_out), len(node.next))
        if anomaly:
            _check_finite(grads, f"backward (grad_out shape {tuple(grad_out.shape)})",
                          node.name(), f"op created at {node.created_at}")
        for target, g, (shape, dtype) in zip(node.next, grads, node.input_meta):
            if target is None or g is None:
                continue
            if g.shape != shape:
                raise RuntimeError(f"{node.name()}.backward: grad shape {tuple(g.shape)} does not "
                                   f"match input shape {tuple(shape)}")
            if g.dtype != dtype:
                g = g.astype(dtype)
            if isinstance(target, Node):
                prev = pending.get(id(target))
                pending[id(target)] = g if prev is None else prev + g
            else:
                _accumulate_leaf(target, g)
        if not retain_graph:
            node.ctx = None  # frees the saved arrays; a second backward raises above


from .tensor import Tensor  # noqa: E402  (Tensor imports this module lazily; see tensor.py)
