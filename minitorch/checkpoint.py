"""A directory of resumable training checkpoints: write one every N steps, keep the newest
few, find the newest complete one after a crash.

    DIR/step-00000120.safetensors     <- newest (the step number orders them)
    DIR/step-00000100.safetensors     <- the one before, kept in case the newest is damaged

Each file is one ``mt.save`` (safetensors, no pickle) of a dict that holds everything the next
step depends on: model, optimizer and scheduler states, the DataLoader's position in its epoch
order, every random generator's state and the training loop's counters. Restoring all of it
makes a resumed run compute bit for bit what the uninterrupted run would have.

Why a crash can't leave a broken "newest" file: ``mt.save`` writes a hidden temporary file
(``.step-...safetensors.XXXX.tmp``) in the same directory, fsyncs it, and only then renames it
over the final name (``os.replace`` is atomic on POSIX and Windows). A process killed at any
moment leaves either the complete new file or none, plus possibly that temporary file, which
``CheckpointDir`` deletes the next time it opens the directory. Old checkpoints are deleted
only after the new one is in place.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from . import random as mt_random
from .serialization import SerializationError, load, save

_NAME = re.compile(r"^step-(\d+)\.safetensors$")
_TEMP = re.compile(r"^\.step-\d+\.safetensors\..*\.tmp$")  # mt.save's temporary names


class CheckpointError(Exception):
    """A checkpoint directory can't be used as asked (the CLI reports it in one line)."""


class CheckpointDir:
    """The checkpoints of one training run, in ``directory``; ``keep`` newest are kept."""

    def __init__(self, directory, keep: int = 2):
        if keep < 1:
            raise ValueError(f"CheckpointDir: keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.keep = int(keep)

    def path_for(self, step: int) -> Path:
        return self.directory / f"step-{step:08d}.safetensors"

    def steps(self) -> list[int]:
        """Steps of the complete checkpoints present, oldest first."""
        if not self.directory.is_dir():
            return []
        found = (_NAME.match(p.name) for p in self.directory.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def remove_partial_writes(self) -> list[str]:
        """Delete the temporary files of writes that a crash interrupted; returns their names."""
        if not self.directory.is_dir():
            return []
        stale = [p for p in self.directory.iterdir() if _TEMP.match(p.name)]
        for p in stale:
            p.unlink()
        return sorted(p.name for p in stale)

    def save(self, state: dict, step: int) -> Path:
        """Write ``state`` as step ``step`` (atomically), then drop all but the newest ``keep``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(step)
        save(state, path)
        for old in self.steps()[:-self.keep]:
            self.path_for(old).unlink(missing_ok=True)
        return path

    def load_latest(self, device: str = "cpu", warn=None) -> tuple[Path, dict]:
        """The newest checkpoint that loads; a damaged newest one (which an atomic write can't
        produce, but a failing disk or a hand-copied file can) is reported on ``warn`` and
        skipped for the one before it."""
        steps = self.steps()
        if not steps:
            raise CheckpointError(f"no checkpoint to resume from in {self.directory} (expected "
                                  "files named step-NNNNNNNN.safetensors written by "
                                  "--checkpoint-dir)")
        problems = []
        for step in reversed(steps):
            path = self.path_for(step)
            try:
                state = load(path, device=device)
                check_state(state, path)
                return path, state
            except SerializationError as exc:
                problems.append(str(exc))
                print(f"warning: skipping damaged checkpoint: {exc}", file=warn or sys.stderr)
        raise CheckpointError(f"no usable checkpoint in {self.directory}: "
                              + "; ".join(problems))


# --------------------------------------------------------------------------- what goes in
_REQUIRED = ("model", "optimizer", "loader", "rng", "loop", "meta")


def check_state(state, path) -> None:
    """Refuse a file that loads but is not a resumable checkpoint (e.g. a --save file)."""
    if not isinstance(state, dict) or any(k not in state for k in _REQUIRED):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise SerializationError(f"load: {path} is a safetensors file but not a resumable "
                                 f"training checkpoint: it needs entries {list(_REQUIRED)}, "
                                 f"it has {have}")


def rng_states(generators: dict) -> dict:
    """Every random stream a training step may draw from, as storable dicts: minitorch's
    default generator (init, dropout), the named ``generators`` (DataLoader shuffling...) and
    NumPy's legacy global one (unused by minitorch, but a user's model may draw from it)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"default": mt_random.get_rng_state(),
            "generators": {name: g.get_state() for name, g in generators.items()},
            "numpy_global": {"kind": kind, "keys": keys, "pos": int(pos),
                             "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}


def set_rng_states(states: dict, generators: dict) -> None:
    mt_random.set_rng_state(states["default"])
    for name, g in generators.items():
        g.set_state(states["generators"][name])
    n = states["numpy_global"]
    np.random.set_state((n["kind"], np.asarray(n["keys"], dtype=np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
