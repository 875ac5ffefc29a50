"""Random number generators: a global default one, ``manual_seed``, and ``Generator`` objects.

Every random tensor in minitorch (``rand``, ``randn``, ``randint``, ``randperm``, dropout masks,
weight init, DataLoader shuffling) is drawn on the CPU by a ``numpy.random.Generator`` (PCG64)
and then moved to its device (one exception: the GPU draws dropout masks itself, from a seed
this generator draws; minitorch/ops/dropout.py). That costs a host-to-device copy on the GPU, and buys one
property worth more for teaching and testing: a seed gives the same numbers on every device,
so a run on "cpu" and on "cuda" starts from the same weights.

As in PyTorch, the default generator starts from a fixed seed, so a fresh process is
reproducible even without ``manual_seed``; call ``seed()`` for a non-deterministic one.

States are plain dicts of Python ints and strings (NumPy's ``bit_generator.state``), so a
checkpoint can store them as JSON: no pickle anywhere.
"""
from __future__ import annotations

import copy
import operator

import numpy as np

_DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed
_UINT64 = (1 << 64) - 1


def _as_seed(seed) -> int:
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}") from None
    return seed & _UINT64  # negative seeds wrap, as in PyTorch


class Generator:
    """A source of random numbers that ops, init functions and DataLoader can take
    (``generator=``), like ``torch.Generator``.

    ``device`` is accepted for PyTorch compatibility; numbers are always drawn on the CPU
    (see the module docstring). ``rng`` is the underlying ``numpy.random.Generator``.
    """

    def __init__(self, device="cpu"):
        self.device = str(device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns self, so ``Generator().manual_seed(0)``."""
        self._initial_seed = _as_seed(seed)
        self.rng = np.random.Generator(np.random.PCG64(self._initial_seed))
        return self

    def seed(self) -> int:
        """Re-seed from OS entropy; returns the new seed."""
        new = int(np.random.SeedSequence().entropy) & _UINT64
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> dict:
        """A JSON-serialisable snapshot of the stream (PCG64's state dict)."""
        return copy.deepcopy(self.rng.bit_generator.state)

    def set_state(self, state: dict) -> "Generator":
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError("set_state: expected a state dict from Generator.get_state() "
                             f"(bit_generator 'PCG64'), got {str(state)[:80]!r}")
        self.rng.bit_generator.state = copy.deepcopy(state)
        return self

    def __repr__(self) -> str:
        return f"<minitorch.Generator initial_seed={self._initial_seed} device={self.device!r}>"


default_generator = Generator()


def numpy_generator(generator: Generator | None = None) -> np.random.Generator:
    """The numpy.random.Generator to draw from: ``generator``'s, or the default one's."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a minitorch.Generator, got "
                        f"{type(generator).__name__}")
    return generator.rng


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it (as ``torch.manual_seed``)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator non-deterministically; returns the seed used."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """The default generator's state, as a JSON-serialisable dict."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)
