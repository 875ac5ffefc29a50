"""A directory of resumable training checkpoints: write one every N steps, keep the newest
few, find the newest complete one after a crash.

    DIR/step-00000120.safetensors     <- newest (the step number orders them)
    DIR/step-00000100.safetensors     <- the one before, kept in case the newest is damaged
    DIR/.minitorch.lock               <- while a run uses DIR: its PID, under an flock

Each file is one ``mt.save`` (safetensors, no pickle) of a dict that holds everything the next
step depends on: model, optimizer and scheduler states, the DataLoader's position in its epoch
order, every random generator's state and the training loop's counters. Restoring all of it
makes a resumed run compute bit for bit what the uninterrupted run would have.

Why a crash can't leave a broken "newest" file: ``mt.save`` writes a hidden temporary file
(``.step-...safetensors.XXXX.tmp``) in the same directory, fsyncs it, and only then renames it
over the final name (``os.replace`` is atomic on POSIX and Windows). A process killed at any
moment leaves either the complete new file or none, plus possibly that temporary file, which
the next run deletes once it holds the directory's lock. Old checkpoints are deleted only after
the new one is in place, and never the one just written.

Why a lock: two runs writing one directory would prune and clean up each other's files. The
lock is an ``fcntl.flock`` on ``DIR/.minitorch.lock``; the kernel drops it when its process dies
(however it dies), so a killed run never leaves a lock that blocks the next one.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import random as mt_random
from .serialization import SerializationError, load, save

try:
    import fcntl
except ImportError:  # Windows: no flock; directories are then not locked (documented above)
    fcntl = None

_NAME = re.compile(r"^step-(\d+)\.safetensors$")  # step-15.safetensors too (hand-renamed)
# Temporary names of our own writes: mt.save's (mkstemp: 8 random characters) and the space probe
_TEMP = re.compile(r"^\.(step-\d+\.safetensors|minitorch-probe)\.[a-z0-9_]{8}\.tmp$")
LOCK_NAME = ".minitorch.lock"


class CheckpointError(Exception):
    """A checkpoint directory or file can't be used as asked (the CLI reports it in one line)."""


class InUseError(CheckpointError):
    """Another live process holds the lock on a checkpoint directory or --save file."""


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


# --------------------------------------------------------------------------- the lock
class RunLock:
    """An exclusive, non-blocking ``flock`` on ``path`` (created if absent), holding this
    process's PID so that a refused second run can say who holds it. ``release()`` removes the
    file; a run killed before that leaves the file but not the lock (the kernel drops it)."""

    def __init__(self, path, what: str):
        self.path = Path(path)
        self.what = what  # "checkpoint directory runs/a", for the messages
        self._fd = None

    def acquire(self) -> "RunLock":
        if fcntl is None:
            return self
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise CheckpointError(f"{self.what}: can't write in {self.path.parent} (its "
                                      f"lock file {self.path.name}): {_strerror(exc)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise CheckpointError(f"{self.what}: can't lock {self.path}: "
                                          f"{_strerror(exc)}") from None
                raise InUseError(f"{self.what} is in use by another training process (PID "
                                 f"{holder}); wait for it to end or stop it: two runs writing "
                                 "the same checkpoints would destroy each other's files") from None
            # The previous holder may have removed the file between our open and our flock:
            # then we locked an orphan, and must lock the file that now has the name.
            try:
                current = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: no one else owns the name
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


# --------------------------------------------------------------------------- disk checks
def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` can't be a checkpoint without even opening it (opening a FIFO would block):
    None for a regular file, else a phrase."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return f"is a symbolic link to {os.readlink(path)}, which does not exist"
        return "does not exist"
    except OSError as exc:
        return f"can't be read: {_strerror(exc)}"
    if stat.S_ISREG(mode):
        return None
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
    return f"is not a regular file ({kind})"


def check_writable(directory: Path, nbytes: int, what: str) -> None:
    """Reserve ``nbytes`` (about one checkpoint) in a file in ``directory``, then delete it: a
    read-only directory, a full disk or a file-size limit shows up now, before any training
    time is spent, not at the first checkpoint. ``posix_fallocate`` reserves the blocks without
    writing them (glibc writes zeros where a file system can't); elsewhere zeros are written
    and fsynced."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".minitorch-probe.", suffix=".tmp")
    except OSError as exc:
        raise CheckpointError(f"{what}: can't write in {directory}: {_strerror(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "posix_fallocate") and nbytes > 0:
                os.posix_fallocate(f.fileno(), 0, nbytes)
            else:
                chunk = bytes(min(nbytes, 1 << 20))
                for start in range(0, nbytes, len(chunk) or 1):
                    f.write(chunk[:nbytes - start])
                f.flush()
                os.fsync(f.fileno())
    except OSError as exc:
        raise CheckpointError(f"{what}: {directory} has no room for a checkpoint of about "
                              f"{nbytes / 2**20:.1f} MiB: {_strerror(exc)}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_partial_writes_of(path: Path) -> list[str]:
    """Delete the temporary files that an interrupted ``mt.save(obj, path)`` left beside
    ``path`` (``.NAME.XXXXXXXX.tmp``); call it only while holding ``path``'s lock."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp$")
    directory = path.parent
    if not directory.is_dir():
        return []
    stale = [p for p in directory.iterdir() if pattern.match(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return sorted(p.name for p in stale)


# --------------------------------------------------------------------------- the directory
class CheckpointDir:
    """The checkpoints of one training run, in ``directory``; ``keep`` newest are kept."""

    def __init__(self, directory, keep: int = 2):
        if keep < 1:
            raise ValueError(f"CheckpointDir: keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.keep = int(keep)

    def path_for(self, step: int) -> Path:
        return self.directory / f"step-{step:08d}.safetensors"

    def entries(self) -> list[tuple[int, Path]]:
        """(step, path) of every file named like a checkpoint, oldest first; for one step the
        canonical zero-padded name comes last (it is tried first)."""
        if not self.directory.is_dir():
            return []
        found = []
        for p in self.directory.iterdir():
            m = _NAME.match(p.name)
            if m:
                step = int(m.group(1))
                found.append((step, p.name == self.path_for(step).name, p))
        return [(step, p) for step, _, p in sorted(found)]

    def steps(self) -> list[int]:
        """Steps of the checkpoint files present, oldest first."""
        return sorted({step for step, _ in self.entries()})

    def lock(self) -> RunLock:
        """The directory's lock (``with cdir.lock(): ...``); the directory must exist."""
        return RunLock(self.directory / LOCK_NAME, f"checkpoint directory {self.directory}")

    def prepare(self, nbytes: int, flag: str = "--checkpoint-dir") -> None:
        """Create the directory if needed and check that a checkpoint of ``nbytes`` fits."""
        if self.directory.exists() and not self.directory.is_dir():
            raise CheckpointError(f"{flag} {self.directory}: exists and is not a directory")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"{flag} {self.directory}: can't create the directory: "
                                  f"{_strerror(exc)}") from None
        check_writable(self.directory, nbytes, f"{flag} {self.directory}")

    def remove_partial_writes(self) -> list[str]:
        """Delete the temporary files of writes that a crash interrupted; returns their names.
        Call it only while holding the lock: a live run's temp file looks the same."""
        if not self.directory.is_dir():
            return []
        stale = [p for p in self.directory.iterdir() if _TEMP.match(p.name) and p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        return sorted(p.name for p in stale)

    def save(self, state: dict, step: int) -> Path:
        """Write ``state`` as step ``step`` (atomically), then delete older checkpoints so that
        ``keep`` remain counting this one. Files numbered above ``step`` (a damaged leftover
        that a resume skipped) are left alone, and the new file is never deleted."""
        path = self.path_for(step)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            save(state, path)
        except OSError as exc:
            raise CheckpointError(f"can't write the checkpoint {path}: {_strerror(exc)}; the "
                                  f"checkpoints already in {self.directory} are intact (resume "
                                  f"from them with --resume {self.directory})") from None
        older = [p for s, p in self.entries() if s < step and not p.is_dir()]
        for old in older[:max(0, len(older) - (self.keep - 1))]:
            old.unlink(missing_ok=True)
        return path

    def load_latest(self, device: str = "cpu", warn=None) -> tuple[Path, dict]:
        """The newest checkpoint that loads. A damaged newest one (which an atomic write can't
        produce, but a failing disk, a hand-copied file or a dangling link can) is reported on
        ``warn`` (default stderr) and skipped for the one before it."""
        entries = self.entries()
        if not entries:
            raise CheckpointError(f"no checkpoint to resume from in {self.directory} (expected "
                                  "files named step-NNNNNNNN.safetensors written by "
                                  "--checkpoint-dir)")
        problems = []
        for _, path in reversed(entries):
            reason = unreadable_reason(path)
            try:
                if reason is not None:
                    raise SerializationError(f"{path} {reason}")
                state = load(path, device=device)
                check_state(state, path)
                return path, state
            except (SerializationError, OSError) as exc:  # what mt.load raises for bad files
                problems.append(str(exc))
                print(f"warning: skipping damaged checkpoint: {exc}", file=warn or sys.stderr)
        raise CheckpointError(f"no usable checkpoint in {self.directory}: "
                              + "; ".join(problems))


# --------------------------------------------------------------------------- what goes in
_REQUIRED = ("model", "optimizer", "loader", "rng", "loop", "meta")
_LOOP = ("epoch", "step", "sums", "best_val", "since_best", "history", "stopped")


def _is_count(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0


def _content_problems(state: dict) -> list[str]:
    """What in a loaded checkpoint has the wrong type or an impossible value."""
    problems = [f"{k!r} is a {type(state[k]).__name__}, not a dict"
                for k in (*_REQUIRED, "scheduler") if k in state and not isinstance(state[k], dict)]
    if problems:
        return problems
    loader, loop, rng = state["loader"], state["loop"], state["rng"]
    if not isinstance(state["meta"].get("args", {}), dict):
        problems.append("meta args (the run's arguments) is not a dict")
    for k in ("epoch", "position"):
        if not _is_count(loader.get(k)):
            problems.append(f"loader {k} {loader.get(k)!r} is not an integer >= 0")
    missing = [k for k in _LOOP if k not in loop]
    if missing:
        problems.append(f"loop counters {missing} missing")
    else:
        for k in ("epoch", "step", "since_best"):
            if not _is_count(loop[k]):
                problems.append(f"loop {k} {loop[k]!r} is not an integer >= 0")
        sums = loop["sums"]
        if sums is not None and not (isinstance(sums, (list, tuple)) and len(sums) == 3
                                     and _is_count(sums[2])):
            problems.append(f"loop sums {sums!r} is not None or (loss sum, correct, seen)")
        if not isinstance(loop["best_val"], (int, float)) or isinstance(loop["best_val"], bool):
            problems.append(f"loop best_val {loop['best_val']!r} is not a number")
        if not isinstance(loop["history"], list) or not isinstance(loop["stopped"], bool):
            problems.append("loop history must be a list and stopped a bool")
    numpy_global = rng.get("numpy_global")
    if not isinstance(rng.get("generators"), dict) or "default" not in rng \
            or not isinstance(numpy_global, dict) or any(
                k not in numpy_global for k in ("kind", "keys", "pos", "has_gauss",
                                                "cached_gaussian")):
        problems.append("rng must hold 'default', 'generators' and 'numpy_global' states")
    return problems


def check_state(state, path) -> None:
    """Refuse a file that loads but is not a resumable checkpoint (e.g. a --save file, or one
    with entries of the wrong type or impossible counters, such as a negative position)."""
    if not isinstance(state, dict) or any(k not in state for k in _REQUIRED):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise SerializationError(f"load: {path} is a safetensors file but not a resumable "
                                 f"training checkpoint: it needs entries {list(_REQUIRED)}, "
                                 f"it has {have}")
    problems = _content_problems(state)
    if problems:
        raise SerializationError(f"load: {path} is not a valid resumable training checkpoint: "
                                 + "; ".join(problems))


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
