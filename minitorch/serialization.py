"""``mt.save(obj, path)`` / ``mt.load(path)``: checkpoints in the safetensors format, no pickle.

A safetensors file is an 8-byte little-endian header length, a JSON header (name -> dtype,
shape, byte range; plus a str -> str ``__metadata__``), then the raw tensor bytes. Loading it
can't run code, unlike a pickle, and PyTorch, JAX and NumPy all read it.

``obj`` may be a Tensor, a state_dict, or any nesting of dicts / lists / tuples holding Tensors,
NumPy arrays, numbers, strings, bools and None, e.g.
``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``:

* every Tensor (and NumPy array) becomes one safetensors entry named by its dotted path
  (``model.0.weight``, ``optimizer.state.0.exp_avg``); a flat state_dict keeps its own keys, so
  ``safetensors.torch.load_file`` hands PyTorch exactly ``model.state_dict()``'s names;
* everything else, and the nesting itself (dict key types included: optimizer states use int
  keys), goes into one JSON string in the metadata, with each tensor replaced by its entry name.

A file without that JSON (written by PyTorch's ``safetensors.torch.save_file``, say) loads as a
flat ``{name: Tensor}`` dict.
"""
from __future__ import annotations

import json
import numbers
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from .backend import to_numpy
from .tensor import Tensor

_STRUCTURE_KEY = "minitorch.structure"  # metadata entry holding the JSON structure
_FORMAT_VERSION = 1


class SerializationError(ValueError):
    """A file can't be read back as a checkpoint (or an object can't be written as one)."""


class CorruptFileError(SerializationError):
    """The file is in a format ``load`` reads but is damaged: truncated, a malformed header,
    offsets that don't cover the file, or tensor bytes that don't match their stored digest.
    A caller holding older copies (``--resume``, ``eval``) can fall back to one of them."""


class UnsupportedFormatError(SerializationError):
    """The file is intact but not something ``load`` reads: another format (NumPy, gzip, a
    plain pickle), a newer minitorch format version, or a pickle needing a global that is not
    on the allowlist."""


# --------------------------------------------------------------------------- obj -> (tensors, JSON)
def _flatten(obj, path: list, tensors: dict) -> object:
    """Return obj's JSON structure; put its arrays into ``tensors`` under dotted names."""
    where = ".".join(map(str, path)) or "<root>"
    if isinstance(obj, (Tensor, np.ndarray)):
        name = where if path else "tensor"
        if name in tensors:
            raise SerializationError(f"save: two tensors would be stored as {name!r} (a key "
                                     "containing '.' collides with a nested key); rename one")
        array = to_numpy(obj.data) if isinstance(obj, Tensor) else obj
        # safetensors stores C-order bytes (np.ascontiguousarray would turn 0-d into 1-d)
        tensors[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"$tensor": name} if isinstance(obj, Tensor) else {"$ndarray": name}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise SerializationError(f"save: dict key {k!r} at {where!r} is a "
                                         f"{type(k).__name__}; only str and int keys are stored")
            items.append([k, _flatten(v, path + [k], tensors)])
        return {"$dict": items}
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, path + [i], tensors) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"$tuple": items}
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    raise SerializationError(
        f"save: can't store a {type(obj).__name__} at {where!r}: only Tensors, NumPy arrays, "
        "numbers, strings, bools, None, and lists/tuples/dicts of them (no pickle)")


def _unflatten(node, tensors: dict, device: str):
    if isinstance(node, list):
        return [_unflatten(v, tensors, device) for v in node]
    if isinstance(node, dict):
        if "$tensor" in node:
            return Tensor(tensors[node["$tensor"]], device=device)
        if "$ndarray" in node:
            return tensors[node["$ndarray"]]
        if "$tuple" in node:
            return tuple(_unflatten(v, tensors, device) for v in node["$tuple"])
        return {k: _unflatten(v, tensors, device) for k, v in node["$dict"]}
    return node


# --------------------------------------------------------------------------- save
def save(obj, path) -> None:
    """Write ``obj`` to ``path`` as safetensors, atomically: the data goes to a temporary file
    in the same directory, is flushed to disk, then renamed over ``path``. A crash or error
    mid-write leaves the previous file untouched."""
    from safetensors.numpy import save as st_save

    tensors: dict[str, np.ndarray] = {}
    structure = _flatten(obj, [], tensors)
    metadata = {"format": "pt",  # what PyTorch-side loaders (e.g. transformers) expect
                _STRUCTURE_KEY: json.dumps({"version": _FORMAT_VERSION, "obj": structure})}
    payload = st_save(tensors, metadata=metadata)

    atomic_write_bytes(Path(path), payload)


# --------------------------------------------------------------------------- load
def _describe_foreign(head: bytes) -> str | None:
    """Name the common formats people pass by mistake."""
    if head[:4] == b"PK\x03\x04":
        return "a zip archive (a torch.save checkpoint or a NumPy .npz?)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (torch.save's legacy format?), which minitorch never loads"
    if head[:6] == b"\x93NUMPY":
        return "a NumPy .npy file"
    if head[:2] == b"\x1f\x8b":
        return "a gzip archive"
    return None


def _read_header(path: Path, raw: bytes) -> dict:
    def bad(what: str) -> SerializationError:
        return SerializationError(f"load: {path} is not a valid safetensors file: {what}")

    foreign = _describe_foreign(raw[:8])
    if foreign:
        raise bad(f"it looks like {foreign}")
    if len(raw) < 8:
        raise bad(f"only {len(raw)} bytes, too short for the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise bad(f"the header claims {n} bytes but the file has only {len(raw) - 8} after "
                  "the length (truncated, or not safetensors)")
    try:
        header = json.loads(raw[8:8 + n])
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"the header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    data_len = len(raw) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        end = offsets[1] if isinstance(offsets, list) and len(offsets) == 2 else offsets
        if not isinstance(end, int) or end > data_len:
            raise bad(f"tensor {name!r} needs bytes up to {end}, but the data section has "
                      f"{data_len} (truncated?)")
    return header


def load(path, device="cpu"):
    """Read a file written by ``save`` (or any safetensors file) back, tensors on ``device``."""
    from safetensors.numpy import load as st_load

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file: {path}") from None
    except OSError as exc:  # a directory, no permission...
        raise SerializationError(f"load: can't read {path}: {exc.strerror or exc}") from None
    header = _read_header(path, raw)
    try:
        arrays = st_load(raw)
    except Exception as exc:  # safetensors' own checks (overlapping offsets, bad dtype...)
        raise SerializationError(f"load: {path} is not a valid safetensors file: {exc}") from None
    # safetensors hands out read-only views of ``raw``; optimizers update weights in place.
    arrays = {k: np.array(v) for k, v in arrays.items()}

    meta = header.get("__metadata__") or {}
    if _STRUCTURE_KEY not in meta:
        return {k: Tensor(v, device=device) for k, v in arrays.items()}
    try:
        doc = json.loads(meta[_STRUCTURE_KEY])
        return _unflatten(doc["obj"], arrays, device)
    except (ValueError, KeyError, TypeError) as exc:
        raise SerializationError(f"load: {path}: the stored structure is damaged ({exc!r})") \
            from None


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temp file beside ``path``, fsync, then rename over it: a crash at any moment
    leaves either the old file or the new one, never a half-written one."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable (POSIX; not possible on every platform)
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
