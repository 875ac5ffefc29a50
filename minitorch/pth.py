"""PyTorch checkpoints (``torch.save``) read without PyTorch and without running their pickles.

``mt.load(path)`` hands ``.pth`` / ``.pt`` files here (it tells them apart from safetensors by
their structure). Two layouts exist:

* zip (PyTorch >= 1.6, the default): ``<name>/data.pkl`` is a pickle of the object in which
  every tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and
  every storage a persistent id ``("storage", torch.FloatStorage, key, location, numel)``
  whose bytes are the record ``<name>/data/<key>``, in the byte order of ``<name>/byteorder``;
* legacy (``_use_new_zipfile_serialization=False``): five pickles in a row (a magic number,
  the protocol version 1001, system info, the object, the storage keys), then each storage as
  an 8-byte little-endian element count and its little-endian bytes.

The pickles go through ``minitorch.safe_pickle`` with an allowlist of exactly what a
``state_dict`` (and a dict of them, with epochs, optimizer states, ...) needs: the tensor and
Parameter rebuild functions, ``collections.OrderedDict``, ``torch.Size`` and the storage types
as dtype markers, all replaced by minitorch's own code: torch is never imported, and any other
global (a model class from ``torch.save(model)``, ``os.system`` in a hostile file) is refused
with an error naming it, before anything is called. The guarantee is that of
``torch.load(weights_only=True)``.

Storages are read straight from the file into one array each (their CRC-32 checked, as
zipfile does). A tensor that is its whole storage, C-contiguous (a parameter, as a state_dict
holds them), uses that array; any other is copied out of its storage with its offset and
strides (views, transposes and shared storages load as PyTorch saw them, without aliasing),
into a C-contiguous array of the storage's dtype:
float64/32/16, int64/32/16/8, uint8 and bool as themselves, uint16/32/64 too (PyTorch >= 2.3
saves those with ``_rebuild_tensor_v3`` on a byte storage); bfloat16 (NumPy has none) widened
exactly to float32; complex, float8 and quantized tensors are refused by name. A Parameter
loads as a minitorch ``nn.Parameter``, everything else as a plain Tensor on ``device``; one
tensor object saved under two names loads as one object, as with ``torch.load``.

Bounds: the pickle may span at most ``MAX_PICKLE_BYTES``; every storage's declared size must
equal its record's size, storages must be stored uncompressed (as torch.save writes them) and
may not add up to more than the file, every tensor must lie inside its storage, and all
tensors together may take at most 4x the file size plus 64 MiB (stride-0 expansions could
otherwise turn a small file into an arbitrarily large allocation).
"""
from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from . import safe_pickle
from .safe_pickle import MalformedPickleError, SafePickleError, UnsafePickleError, describe
from .serialization import CorruptFileError, UnsupportedFormatError
from .tensor import Tensor

MAX_PICKLE_BYTES = 256 << 20
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")

# torch.<Name>Storage -> the little-endian NumPy dtype of its bytes ("bf16": widened on load)
_STORAGES = {"DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
             "BFloat16Storage": "bf16", "LongStorage": "<i8", "IntStorage": "<i4",
             "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
             "BoolStorage": "?"}
_REFUSED_STORAGES = ("ComplexDoubleStorage", "ComplexFloatStorage", "QInt8Storage",
                     "QInt32Storage", "QUInt8Storage", "QUInt4x2Storage", "QUInt2x4Storage")
# torch.<dtype> as _rebuild_tensor_v3 names it (PyTorch >= 2.3 saves uint16/32/64 that way, on
# a byte storage, torch.storage.UntypedStorage)
_DTYPES = {"float64": "<f8", "float32": "<f4", "float16": "<f2", "bfloat16": "bf16",
           "int64": "<i8", "int32": "<i4", "int16": "<i2", "int8": "i1", "uint8": "u1",
           "bool": "?", "uint16": "<u2", "uint32": "<u4", "uint64": "<u8"}
_REFUSED_DTYPES = ("complex32", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2",
                   "float8_e4m3fnuz", "float8_e5m2fnuz", "qint8", "quint8", "qint32")


class _StorageType:
    """What ``GLOBAL torch.FloatStorage`` (or ``torch.float32``) stands for here: a dtype
    marker, nothing callable."""

    def __init__(self, name: str, code: str | None):
        self.name, self.refused = name, code is None
        self.wire = np.dtype("<u2") if code == "bf16" else np.dtype(code or "u1")
        self.bf16 = code == "bf16"

    def __repr__(self) -> str:
        return f"torch.{self.name}"


_UNTYPED = "UntypedStorage"


class _TypeMarker:
    """``torch.Tensor`` / ``torch.nn.parameter.Parameter`` as ``_rebuild_from_type_v2``'s
    type argument."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


_TENSOR, _PARAMETER = _TypeMarker("torch.Tensor"), _TypeMarker("torch.nn.parameter.Parameter")


class _Storage:
    def __init__(self, array: np.ndarray, kind: _StorageType, byteorder: str = "little"):
        self.array, self.kind, self.byteorder = array, kind, byteorder
        self.lent = False  # handed out whole to one tensor (the others get copies)
        self.typed: dict = {}  # an untyped (byte) storage's views by dtype name


def _malformed(what: str) -> MalformedPickleError:
    return MalformedPickleError(what)


def _ints(value, what: str) -> tuple:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int and v >= 0 for v in value):
        raise _malformed(f"{what} {describe(value)} is not a tuple of non-negative ints")
    return tuple(value)


class _Reader:
    """The allowlist and the storages of one file; tensors go to ``device``."""

    def __init__(self, path: Path, size: int, device: str):
        self.path, self.size, self.device = path, size, device
        self.budget = 4 * size + (64 << 20)  # bytes all tensors together may take
        self.used = 0
        self.storages: dict[str, _Storage] = {}
        self.storage_bytes = 0

    # ---------------------------------------------------------------- allowlist
    def allowed(self, dry: bool = False) -> dict:
        rebuild = self._dry if dry else self.rebuild_tensor
        rebuild_v2 = self._dry if dry else self.rebuild_tensor_v2
        rebuild_v3 = self._dry if dry else self.rebuild_tensor_v3
        parameter = self._dry if dry else self.rebuild_parameter
        allowed = {
            "collections.OrderedDict": OrderedDict,
            "torch._utils._rebuild_tensor": rebuild,
            "torch._utils._rebuild_tensor_v2": rebuild_v2,
            "torch._utils._rebuild_tensor_v3": rebuild_v3,
            f"torch.storage.{_UNTYPED}": _StorageType(_UNTYPED, "u1"),
            f"torch.{_UNTYPED}": _StorageType(_UNTYPED, "u1"),
            "torch._utils._rebuild_parameter": parameter,
            "torch._utils._rebuild_parameter_with_state": parameter,
            "torch._tensor._rebuild_from_type_v2": self.rebuild_from_type_v2,
            "torch.Size": tuple,
            "torch.Tensor": _TENSOR, "torch.nn.parameter.Parameter": _PARAMETER,
        }
        for name in (*_STORAGES, *_REFUSED_STORAGES):
            allowed[f"torch.{name}"] = _StorageType(name, _STORAGES.get(name))
        for name in (*_DTYPES, *_REFUSED_DTYPES):
            allowed[f"torch.{name}"] = _StorageType(name, _DTYPES.get(name))
        return allowed

    @staticmethod
    def _dry(*args):
        """Pass 1 of a legacy file (storages not read yet): only the storage ids matter."""
        return None

    # ---------------------------------------------------------------- tensors
    def rebuild_tensor(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise _malformed(f"a tensor's storage is a {type(storage).__name__}")
        if type(offset) is not int or offset < 0:
            raise _malformed(f"storage offset {describe(offset)} is not a non-negative int")
        size, stride = _ints(size, "tensor size"), _ints(stride, "tensor stride")
        if len(size) != len(stride) or len(size) > 64:
            raise _malformed(f"tensor size and stride have {len(size)} and {len(stride)} "
                             "dims (equal, at most 64, expected)")
        source = storage.array
        numel = int(np.prod(size, dtype=object))
        contiguous = tuple(int(np.prod(size[i + 1:], dtype=object)) for i in range(len(size)))
        if numel == 0:
            array = np.empty(size, dtype=source.dtype)
        elif offset == 0 and numel == source.size and not storage.lent and all(
                n == 1 or s == c for n, s, c in zip(size, stride, contiguous)):
            storage.lent = True  # the usual case: a parameter owning its storage, no copy
            array = source.reshape(size)
        else:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= source.size:
                raise _malformed(f"a tensor of size {size}, stride {stride}, offset {offset} "
                                 f"reaches element {last}, but its storage has {source.size}")
            nbytes = numel * source.itemsize
            self.used += nbytes
            if self.used > self.budget:
                raise _malformed(f"the tensors would take more than {self.budget} bytes for a "
                                 f"{self.size}-byte file (stride-0 expansions?); refused")
            array = np.lib.stride_tricks.as_strided(
                source[offset:], shape=size, strides=[s * source.itemsize for s in stride],
                writeable=False).copy()
        return Tensor(array, device=self.device)

    def rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad=False,
                          backward_hooks=None, metadata=None):
        if backward_hooks:  # hooks are code; torch.save never writes them in a state_dict
            raise UnsafePickleError("a tensor with backward hooks")
        return self.rebuild_tensor(storage, offset, size, stride)

    def rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad=False,
                          backward_hooks=None, dtype=None, metadata=None):
        """PyTorch >= 2.3: a byte storage and the dtype to read it as."""
        if not isinstance(storage, _Storage) or storage.kind.name != _UNTYPED:
            raise _malformed("_rebuild_tensor_v3 of a storage that is not a byte storage")
        if not isinstance(dtype, _StorageType) or dtype.name not in (*_DTYPES,
                                                                    *_REFUSED_DTYPES):
            raise _malformed(f"_rebuild_tensor_v3 with dtype {describe(dtype)}")
        if dtype.refused:
            raise UnsafePickleError(f"a torch.{dtype.name} tensor (complex, float8 and "
                                    "quantized tensors are not supported)")
        if backward_hooks:
            raise UnsafePickleError("a tensor with backward hooks")
        if dtype.name not in storage.typed:
            raw = storage.array
            if raw.size % dtype.wire.itemsize:
                raise _malformed(f"a {raw.size}-byte storage read as {dtype.name}")
            storage.typed[dtype.name] = self.make_storage(
                raw.view(self.wire_dtype(dtype, storage.byteorder)), dtype, storage.byteorder)
        return self.rebuild_tensor(storage.typed[dtype.name], offset, size, stride)

    def rebuild_parameter(self, data, requires_grad=True, backward_hooks=None, state=None):
        from .nn import Parameter

        if not isinstance(data, Tensor):
            raise _malformed(f"a Parameter of a {type(data).__name__}")
        if backward_hooks:
            raise UnsafePickleError("a Parameter with backward hooks")
        if not requires_grad or data.dtype.kind not in "fc":
            return data
        return Parameter(data, requires_grad=True)

    def rebuild_from_type_v2(self, func, new_type, args, state):
        """Tensor subclasses: only Tensor and Parameter, and only through allowed rebuilds."""
        if new_type not in (_TENSOR, _PARAMETER):
            raise UnsafePickleError(f"a tensor of type {describe(new_type)}")
        if func not in (self.rebuild_tensor, self.rebuild_tensor_v2, self.rebuild_tensor_v3,
                        self.rebuild_parameter, self._dry):
            raise UnsafePickleError(f"_rebuild_from_type_v2 with {describe(func)}")
        if not isinstance(args, tuple):
            raise _malformed("_rebuild_from_type_v2's arguments are not a tuple")
        return func(*args)

    # ---------------------------------------------------------------- storages
    def storage_id(self, pid, legacy: bool):
        """Validate a persistent id; return (key, kind, numel, view)."""
        n = 6 if legacy else 5
        if not (isinstance(pid, tuple) and len(pid) == n and pid[0] == "storage"):
            raise _malformed(f"persistent id {describe(pid)} is not ('storage', type, key, "
                             "location, numel" + (", view)" if legacy else ")"))
        kind, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(kind, _StorageType):
            raise _malformed(f"storage type {describe(kind)} is not a torch storage type")
        if kind.refused or kind.name in _DTYPES:
            raise UnsafePickleError(f"a torch.{kind.name} storage (complex and quantized "
                                    "tensors are not supported)" if kind.refused else
                                    f"a storage typed torch.{kind.name}")
        if not isinstance(key, str) or not _KEY.match(key):
            raise _malformed(f"storage key {describe(key)} is not a plain name")
        if type(numel) is not int or numel < 0:
            raise _malformed(f"storage size {describe(numel)} is not a non-negative int")
        view = pid[5] if legacy else None
        return key, kind, numel, view

    def add_storage_bytes(self, nbytes: int, key: str) -> None:
        self.storage_bytes += nbytes
        if self.storage_bytes > self.size:
            raise _malformed(f"storage {key!r} brings the storages to {self.storage_bytes} "
                             f"bytes, more than the {self.size}-byte file holds")

    @staticmethod
    def wire_dtype(kind: _StorageType, byteorder: str) -> np.dtype:
        return kind.wire.newbyteorder(">" if byteorder == "big" else "<") \
            if kind.wire.itemsize > 1 else kind.wire

    def make_storage(self, array: np.ndarray, kind: _StorageType,
                     byteorder: str = "little") -> _Storage:
        """A storage from its bytes as read (``array`` of ``wire_dtype``): native byte order,
        bfloat16 widened."""
        wire = array.dtype
        if kind.bf16:  # bfloat16 is float32's top half: widen exactly
            array = (array.astype(np.uint32) << 16).view(np.float32)
        else:
            array = array.astype(wire.newbyteorder("="), copy=False)
        return _Storage(array, kind, byteorder)


# --------------------------------------------------------------------------- zip
def _zip_error(path: Path, exc) -> CorruptFileError:
    return CorruptFileError(f"load: {path} is a damaged zip archive: {exc}")


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
               NotImplementedError, struct.error, KeyError)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path,
                 error=None) -> bytes:
    """A member's bytes, at most its declared size (checked by the caller first); zipfile
    checks the local header and the CRC-32 on the way. ``error(msg)`` makes the exception
    (inside the unpickler: a MalformedPickleError, which it reports with its position)."""
    error = error or (lambda msg: _zip_error(path, msg))
    try:
        with zf.open(info) as member:
            data = member.read(info.file_size + 1)
    except _ZIP_ERRORS as exc:
        raise error(f"record {info.filename!r}: {exc}") from None
    if len(data) != info.file_size:
        raise error(f"record {info.filename!r} has {len(data)} bytes, its header says "
                    f"{info.file_size}")
    return data


def _readinto(f, array: np.ndarray) -> int:
    """Fill ``array`` from ``f``; the number of bytes read (short at the end of the file)."""
    view, got = memoryview(array.reshape(-1)).cast("B"), 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _read_stored(f, size: int, info: zipfile.ZipInfo, array: np.ndarray) -> None:
    """Read an uncompressed record straight into ``array`` (one allocation, writable) and
    check its CRC-32, as zipfile would: its local header must be where the central directory
    says, and its bytes inside the file."""
    def bad(what: str) -> MalformedPickleError:
        return _malformed(f"damaged zip: record {info.filename!r}: {what}")

    if info.flag_bits & 0x1:
        raise bad("it is encrypted")
    f.seek(info.header_offset)
    local = f.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise bad(f"no local header at offset {info.header_offset}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + name_len + extra_len
    if start + info.file_size > size:
        raise bad(f"its {info.file_size} bytes at offset {start} lie outside the "
                  f"{size}-byte file")
    f.seek(start)
    if _readinto(f, array) != info.file_size:
        raise bad("truncated")
    if zlib.crc32(memoryview(array.reshape(-1)).cast("B")) != info.CRC:
        raise bad("Bad CRC-32 (the file is damaged)")


def _refused(path: Path, exc: SafePickleError):
    kind = UnsupportedFormatError if isinstance(exc, UnsafePickleError) else CorruptFileError
    return kind(f"load: {exc}" if str(exc).startswith(str(path)) else f"load: {path}: {exc}")


def load_zip(f, size: int, path: Path, device: str):
    """A ``torch.save`` zip archive (see the module docstring)."""
    try:
        zf = zipfile.ZipFile(f)
        infos = {i.filename: i for i in zf.infolist()}
    except _ZIP_ERRORS as exc:
        raise _zip_error(path, exc) from None
    pickles = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
    if not pickles:
        raise UnsupportedFormatError(
            f"load: {path} is a zip archive but not a PyTorch checkpoint (no <name>/data.pkl "
            "record; a NumPy .npz?)")
    if len(pickles) > 1:
        raise CorruptFileError(f"load: {path}: a PyTorch archive with several data.pkl "
                               f"records ({', '.join(pickles[:4])})")
    prefix = pickles[0][:-len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in infos:
        info = infos[prefix + "byteorder"]
        if info.file_size > 16:
            raise _zip_error(path, f"record {info.filename!r} is {info.file_size} bytes")
        byteorder = _read_member(zf, info, path).decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise _zip_error(path, f"byteorder record says {byteorder[:16]!r}")
    info = infos[pickles[0]]
    if info.file_size > MAX_PICKLE_BYTES:
        raise CorruptFileError(f"load: {path}: {info.filename} declares {info.file_size} "
                               f"bytes, more than the {MAX_PICKLE_BYTES} a checkpoint needs")
    data = _read_member(zf, info, path)
    reader = _Reader(path, size, device)

    def persistent_load(pid):
        key, kind, numel, _ = reader.storage_id(pid, legacy=False)
        if key in reader.storages:
            storage = reader.storages[key]
            if storage.kind.name != kind.name or storage.array.size != numel:
                raise _malformed(f"storage {key!r} is used as {kind.name} of {numel} and as "
                                 f"{storage.kind.name} of {storage.array.size}")
            return storage
        record = infos.get(f"{prefix}data/{key}")
        if record is None:
            raise _malformed(f"storage {key!r} has no record {prefix}data/{key}")
        if record.compress_type != zipfile.ZIP_STORED:
            raise _malformed(f"record {record.filename!r} is compressed; torch.save stores "
                             "tensors uncompressed (the archive was re-packed)")
        nbytes = numel * kind.wire.itemsize
        if record.file_size != nbytes:
            raise _malformed(f"storage {key!r} declares {numel} {kind.name} elements "
                             f"({nbytes} bytes), its record holds {record.file_size}")
        reader.add_storage_bytes(nbytes, key)
        array = np.empty(numel, dtype=reader.wire_dtype(kind, byteorder))
        _read_stored(f, size, record, array)
        storage = reader.make_storage(array, kind, byteorder)
        reader.storages[key] = storage
        return storage

    try:
        return safe_pickle.loads(data, reader.allowed(), persistent_load=persistent_load,
                                 name=f"{path} ({info.filename})")
    except SafePickleError as exc:
        raise _refused(path, exc) from None


# --------------------------------------------------------------------------- legacy
def load_legacy(f, size: int, path: Path, device: str):
    """A legacy (pre-zip) ``torch.save`` file: a pickle stream (see the module docstring)."""
    def header(what: str, allowed=None):
        try:
            return safe_pickle.load(f, allowed, name=f"{path} ({what})")
        except SafePickleError as exc:
            raise UnsupportedFormatError(
                f"load: {path} is a Python pickle that is not a PyTorch checkpoint, which "
                f"minitorch never loads ({exc})") from None

    f.seek(0)
    magic = header("magic number")
    if magic != _LEGACY_MAGIC:
        raise UnsupportedFormatError(
            f"load: {path} is a Python pickle that is not a PyTorch checkpoint (it does not "
            "start with torch.save's magic number), which minitorch never loads")
    try:
        protocol = safe_pickle.load(f, name=f"{path} (protocol version)")
        sys_info = safe_pickle.load(f, name=f"{path} (system info)")
    except SafePickleError as exc:
        raise _refused(path, exc) from None
    if protocol != _LEGACY_PROTOCOL:
        raise UnsupportedFormatError(f"load: {path}: legacy torch.save protocol "
                                     f"{describe(protocol)}"
                                     f" (minitorch reads {_LEGACY_PROTOCOL})")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise UnsupportedFormatError(f"load: {path}: a legacy checkpoint written on a "
                                     "big-endian machine (or without system info)")
    body = f.tell()
    reader = _Reader(path, size, device)
    declared: dict[str, tuple] = {}

    def declare(pid):  # pass 1: collect the storages the object refers to
        key, kind, numel, view = reader.storage_id(pid, legacy=True)
        if view is not None:
            if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                    and all(type(v) is int and v >= 0 for v in view[1:])):
                raise _malformed(f"storage view {describe(view)} is not (key, offset, size)")
            if view[1] + view[2] > numel:
                raise _malformed(f"storage view {view} lies outside its {numel}-element root")
        old = declared.setdefault(key, (kind, numel))
        if old[0].name != kind.name or old[1] != numel:
            raise _malformed(f"storage {key!r} is declared twice, differently")
        return None

    name = f"{path} (object)"
    try:
        safe_pickle.load(f, reader.allowed(dry=True), persistent_load=declare, name=name)
        keys = safe_pickle.load(f, name=f"{path} (storage keys)")
        if not (isinstance(keys, list) and sorted(keys) == sorted(declared)):
            raise _malformed(f"the storage key list {describe(keys)} does not match the "
                             f"storages used ({sorted(declared)[:8]})")
        roots = {}
        for key in keys:
            kind, numel = declared[key]
            count = f.read(8)
            if len(count) != 8 or struct.unpack("<q", count)[0] != numel:
                raise _malformed(f"storage {key!r}: its size record does not say {numel}")
            nbytes = numel * kind.wire.itemsize
            reader.add_storage_bytes(nbytes, key)
            array = np.empty(numel, dtype=reader.wire_dtype(kind, "little"))
            got = _readinto(f, array)
            if got != nbytes:
                raise _malformed(f"truncated: storage {key!r} needs {nbytes} bytes, "
                                 f"{got} remain")
            roots[key] = reader.make_storage(array, kind)

        def persistent_load(pid):  # pass 2: the real tensors
            key, kind, numel, view = reader.storage_id(pid, legacy=True)
            if view is None:
                return roots[key]
            view_key, offset, count = view
            if view_key not in reader.storages:
                view_storage = _Storage(roots[key].array[offset:offset + count], kind)
                view_storage.lent = True  # shares the root's memory: tensors of it copy
                reader.storages[view_key] = view_storage
            return reader.storages[view_key]

        f.seek(body)
        return safe_pickle.load(f, reader.allowed(), persistent_load=persistent_load, name=name)
    except SafePickleError as exc:
        raise _refused(path, exc) from None
