"""``minitorch.device``: PyTorch's device object, for code that writes

    DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    net.to(DEVICE); x = x.to(DEVICE)

A device *is* its canonical string ("cpu", "cuda", "cuda:1"), a ``str`` subclass, so every
minitorch function that takes ``device="cuda"`` takes it unchanged, and it compares equal to
that string and to ``Tensor.device`` ("cpu" / "cuda"). ``type`` and ``index`` are PyTorch's.
"""
from __future__ import annotations

import operator

_TYPES = ("cpu", "cuda")


def _parse(spec, index):
    if isinstance(spec, device):
        if index is not None:
            raise ValueError(f"device(): index given twice ({spec!r} and index={index})")
        return spec.type, spec.index
    if not isinstance(spec, str):
        raise TypeError(f"device(): expected a string such as 'cpu' or 'cuda:0' (or a device), "
                        f"got {type(spec).__name__}")
    kind, colon, rest = spec.strip().partition(":")
    if kind not in _TYPES:
        raise RuntimeError(f"device(): expected one of {', '.join(_TYPES)} device type at the "
                           f"start of device string: {spec!r}")
    if colon:
        if index is not None:
            raise ValueError(f"device(): index given twice ({spec!r} and index={index})")
        if not rest.isdigit():
            raise RuntimeError(f"device(): invalid device string {spec!r} (the index after "
                               "':' must be a non-negative integer)")
        index = int(rest)
    if index is not None:
        index = operator.index(index)
        if index < 0:
            raise RuntimeError(f"device(): device index must be >= 0, got {index}")
        if kind == "cpu" and index != 0:
            raise RuntimeError(f"device(): the CPU has only index 0, got {spec!r}")
    return kind, index


class device(str):  # noqa: N801  (PyTorch's name)
    """``device("cuda:0")``, ``device("cuda", 0)``, ``device("cpu")``."""

    def __new__(cls, type, index=None):  # noqa: A002  (PyTorch's argument names)
        kind, idx = _parse(type, index)
        self = super().__new__(cls, kind if idx is None else f"{kind}:{idx}")
        self._type, self._index = kind, idx
        return self

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __reduce__(self):
        return (device, (self._type, self._index))
