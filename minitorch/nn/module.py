"""Module and Parameter: the containers that hold a model's learnable state.

A Module finds its state by watching attribute assignment (``__setattr__``):

    self.weight = Parameter(...)     -> self._parameters["weight"]   (learnable, in state_dict)
    self.fc = Linear(...)            -> self._modules["fc"]          (a child: recursed into)
    self.register_buffer("running_mean", t)  -> self._buffers       (state, not learnable)

Everything else (``parameters()``, dotted names, ``state_dict()``, ``to()``, ``train()``) is a
walk over that tree of dicts.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Callable, Iterator

import numpy as np

from ..autograd import no_grad
from ..backend import array_module, normalize_device, to_device
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` by default.

    ``Parameter(t)`` shares ``t``'s array (no copy), like PyTorch. Assigning one to a Module
    attribute (``self.weight = Parameter(...)``) is what makes ``parameters()`` find it.
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        super().__init__(data.data if isinstance(data, Tensor) else data,
                         requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """Returned by register_forward_hook: ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return lines[0] + "".join("\n" + " " * spaces + line for line in lines[1:])


def _note_failing_layer(exc: Exception, module: "Module") -> None:
    """Name the layer an error came from: ``in layer 'layer1.0.conv1' (Conv2d(...)) of ResNet``.

    Each Module.__call__ the exception passes through appends itself to a trail kept on the
    exception (innermost first) and rewrites one note (PEP 678, shown under the message in the
    traceback) with the dotted path from the outermost module reached so far. Only the error
    path pays for this."""
    try:
        trail = exc.__dict__.setdefault("_minitorch_layers", [])
    except AttributeError:  # an exception type without a __dict__: leave it alone
        return
    trail.append(module)
    names = []
    for parent, child in zip(trail[:0:-1], trail[-2::-1]):  # outer -> inner pairs
        names.append(next((n for n, m in parent._modules.items() if m is child), "?"))
    layer = repr(trail[0])
    layer = layer if "\n" not in layer else type(trail[0]).__name__
    note = (f"in layer '{'.'.join(names)}' ({layer}) of {type(module).__name__}" if names
            else f"in {layer}")
    notes = exc.__dict__.setdefault("__notes__", [])
    previous = exc.__dict__.get("_minitorch_note")
    if previous in notes:
        notes[notes.index(previous)] = note
    else:
        notes.append(note)
    exc._minitorch_note = note


class Module:
    """Base class of every layer and model. Subclasses set attributes and define ``forward``."""

    _hook_id = 0

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # ------------------------------------------------------------------ registration
    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__})")

    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name, keep="_parameters")
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} of "
                                f"{type(self).__name__} (nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._check_init("child modules")
            self._forget(name, keep="_modules")
            self._modules[name] = value
        elif self.__dict__.get("_modules") is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                f"of {type(self).__name__} (nn.Module or None expected)")
            self._modules[name] = None
        elif self.__dict__.get("_buffers") is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} of "
                                f"{type(self).__name__} (Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str | None = None) -> None:
        """Drop ``name`` from every registry but ``keep`` (before registering it anew).

        The registry the value goes back into keeps its entry, so a replaced child
        (``model.conv1 = nn.Conv2d(...)``) stays in its place in ``children()`` and
        ``state_dict()``, as in PyTorch, instead of moving to the end.
        """
        self.__dict__.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                getattr(self, registry).pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._check_init("parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or None, got "
                            f"{type(param).__name__}")
        self._forget(name, keep="_parameters")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """State that is not learnable (e.g. BatchNorm's running stats): moved by ``to()``
        and saved in ``state_dict()`` unless ``persistent=False``."""
        self._check_init("buffers")
        if "." in name or not name:
            raise KeyError(f"register_buffer: buffer name can't be empty or contain '.', "
                           f"got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._forget(name, keep="_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be an nn.Module or None, got "
                            f"{type(module).__name__}")
        self._check_init("child modules")
        self._forget(name, keep="_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            module = module._modules[part]
        return module

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        for hook in tuple(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        forward = getattr(self, "forward", None)
        if forward is None:
            raise TypeError(f"{type(self).__name__} has no forward() method: subclasses of "
                            "nn.Module must define forward(self, ...)")
        try:
            out = forward(*args, **kwargs)
        except Exception as exc:
            _note_failing_layer(exc, self)
            raise
        for hook in tuple(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def _add_hook(self, hooks: dict, hook: Callable) -> RemovableHandle:
        Module._hook_id += 1
        hooks[Module._hook_id] = hook
        return RemovableHandle(hooks, Module._hook_id)

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, inputs, output)`` runs after forward (e.g. to grab feature maps)."""
        return self._add_hook(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, inputs)`` runs before forward; it may return replacement inputs."""
        return self._add_hook(self._forward_pre_hooks, hook)

    # ------------------------------------------------------------------ walking the tree
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        seen = set()
        for mod_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a parameter shared by two layers comes once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and on self, e.g. custom init."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch-norm batch statistics) for self and all children."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()
                p.grad.data[...] = 0

    # ------------------------------------------------------------------ device and dtype
    def to(self, device=None, dtype=None, non_blocking: bool = False) -> Module:
        """Move/cast parameters, grads and buffers IN PLACE: the Parameter objects stay the same,
        so an optimizer built before ``to()`` still updates them. ``dtype`` casts only
        floating-point tensors (integer buffers such as counters keep their dtype).
        ``non_blocking`` is accepted; the copies are synchronous."""
        if device is not None and not isinstance(device, str) and dtype is None:
            try:
                device, dtype = None, np.dtype(device)  # model.to(mt.float64)
            except TypeError:
                pass
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to: dtype must be floating point, got {dtype}")
        device = normalize_device(device) if device is not None else None

        def convert(t: Tensor) -> None:
            array = t.data
            if device is not None:
                array = to_device(array, device)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            t.data = array

        with no_grad():
            for t in self._all_state():
                convert(t)
                if t.grad is not None:
                    convert(t.grad)
        return self

    def _all_state(self) -> Iterator[Tensor]:
        for m in self.modules():
            for registry in (m._parameters, m._buffers):
                for t in registry.values():
                    if t is not None:
                        yield t

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    def float(self) -> Module:
        return self.to(dtype=np.float32)

    def double(self) -> Module:
        return self.to(dtype=np.float64)

    # ------------------------------------------------------------------ state_dict
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Name -> Tensor for every parameter and persistent buffer, detached (sharing memory,
        as PyTorch: copy them if you keep training and want a snapshot)."""
        out = OrderedDict()
        for mod_prefix, m in self.named_modules(prefix=prefix.rstrip("."),
                                                remove_duplicate=False):
            dot = f"{mod_prefix}." if mod_prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[dot + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into the existing parameters and buffers (cast to their dtype and device).

        With ``strict`` the keys must match exactly; a shape mismatch is an error either way.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict: expected state_dict to be dict-like, got "
                            f"{type(state_dict).__name__}")
        for mod_prefix, m in self.named_modules():
            materialize = getattr(m, "_materialize_from", None)  # lazy layers (nn/lazy.py)
            if materialize is not None:
                materialize(state_dict, f"{mod_prefix}." if mod_prefix else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value.data if isinstance(value, Tensor) else value
            shape = tuple(getattr(array, "shape", np.shape(array)))
            if shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {shape} from "
                              f"checkpoint, the shape in current model is {target.shape}.")
        name = type(self).__name__
        if strict and (missing or unexpected):
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {name}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    value = state_dict[key]
                    array = value.data if isinstance(value, Tensor) else value
                    xp = array_module(target.device)
                    target.data[...] = xp.asarray(to_device(array, target.device),
                                                  dtype=target.dtype)
                    target._version_counter.value += 1  # an in-place write (tensor.py)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text inside ``Name(...)``; layers override it with their hyperparameters."""
        return ""

    def __repr__(self) -> str:
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, child in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(child), 2))
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))
