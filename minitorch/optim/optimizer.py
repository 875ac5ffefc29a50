"""Optimizer: parameter groups, per-parameter state, zero_grad, and PyTorch-format state_dict.

Subclasses implement ``step()``. Updates run under ``no_grad`` directly on the raw arrays
(``p.data``, ``p.grad.data``) in place: an optimizer step is plain array arithmetic, and
updating in place keeps every view of a parameter (e.g. a state_dict) in sync, as PyTorch.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import Callable

from ..autograd import enable_grad
from ..backend import array_module, get_array_module, to_device
from ..tensor import Tensor
from .common import count_step, effective_grad

def check_nonneg(op: str, name: str, value: float) -> None:
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"{op}: invalid {name}: {value} (must be >= 0)")


def check_betas(op: str, betas) -> None:
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{op}: invalid beta parameter at index {i}: {b} (must be in [0, 1))")


class Optimizer:
    """Holds ``param_groups`` (dicts of params + hyperparameters) and ``state`` (per parameter)."""

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)  # Parameter -> {"step": ..., buffers}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (e.g. a layer with its own lr); missing hyperparameters take defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("optimizer can't optimize a non-leaf Tensor (one computed by "
                                 "an op); optimize the leaf it was computed from")
        group = {**param_group, "params": params}
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer: a parameter group contains the same parameter twice")
        if seen & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def _closure_loss(self, closure: Callable | None):
        """``step(closure)`` re-evaluates the model first (with grad on) and returns its loss."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict):
        """(param, its array, its grad's array) for each param with a grad, for step() to
        update in place. Counts as an in-place write of the param: backward through a graph
        that saved the old value then raises instead of using the new one."""
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            g = grad.data
            if g.shape != p.data.shape or g.dtype != p.data.dtype:
                # p.grad is checked when assigned; p.grad.data can still be rebound by hand.
                raise RuntimeError(f"{type(self).__name__}.step: a parameter of shape "
                                   f"{tuple(p.data.shape)} and dtype {p.data.dtype} has a grad "
                                   f"of shape {tuple(g.shape)} and dtype {g.dtype}; they must "
                                   "match (step() would broadcast it)")
            p._version_counter.value += 1
            yield p, p.data, g

    def _counted_updates(self, group: dict):
        """(param array, its state, g) for each param with a grad, its step counted first and g
        the gradient the update uses (``effective_grad``): how Adagrad, RMSprop and Adadelta
        begin every parameter's update."""
        for p, data, grad in self._params_with_grad(group):
            state = self.state[p]
            count_step(state)
            yield data, state, effective_grad(group, data, grad)

    def _buffer(self, state: dict, name: str, like, fill: float = 0.0):
        """state[name]: a Tensor of ``fill`` shaped like the parameter, created on first use."""
        if name not in state:
            xp = get_array_module(like)
            state[name] = Tensor._make(xp.full(like.shape, fill, dtype=like.dtype), False, None)
        return state[name].data

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict:
        """PyTorch's format: ``state`` keyed by the parameter's index (counting through all
        groups in order) and ``param_groups`` with ``params`` as lists of those indices."""
        index, groups = {}, []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and per-parameter state (copied, cast to each parameter's
        dtype and device) from ``state_dict()``'s output."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            got = (f"a dict with keys {sorted(map(str, state_dict))}"
                   if isinstance(state_dict, dict) else type(state_dict).__name__)
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected the dict of "
                            f"optimizer.state_dict(), with 'state' and 'param_groups', got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer ({len(self.param_groups)})")
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group: group {i} has "
                                 f"{len(saved['params'])} params in the state dict, "
                                 f"{len(mine['params'])} in the optimizer")
        by_index = {}
        for mine, saved in zip(self.param_groups, saved_groups):
            by_index.update(zip(saved["params"], mine["params"]))
        self.state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            key = int(key)
            if key not in by_index:
                raise ValueError(f"loaded state dict has state for parameter index {key}, which "
                                 "no parameter group lists")
            p = by_index[key]
            self.state[p] = {name: self._cast_state(name, v, p) for name, v in values.items()}
        for mine, saved in zip(self.param_groups, saved_groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)

    @staticmethod
    def _cast_state(name: str, value, param: Tensor):
        if not isinstance(value, Tensor) and not hasattr(value, "shape"):
            return copy.deepcopy(value)  # Python numbers such as "step"
        array = value.data if isinstance(value, Tensor) else value
        if name != "step" and tuple(array.shape) != tuple(param.shape):
            # A state from another model would otherwise broadcast or fail deep in step().
            raise ValueError(f"load_state_dict: optimizer state {name!r} has shape "
                             f"{tuple(array.shape)}, but its parameter has shape "
                             f"{tuple(param.shape)} (a state dict of another model?)")
        xp = array_module(param.device)
        array = xp.array(to_device(array, param.device), copy=True)
        if array.dtype.kind == "f" and name != "step":
            array = array.astype(param.dtype, copy=False)
        return Tensor._make(array, False, None)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(k for k in group if k != "params"):
                lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"
