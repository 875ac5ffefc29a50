"""MNIST and Fashion-MNIST: IDX files -> verified NumPy arrays -> (image, label) samples.

Where the files live (first match wins):
    1. the ``root`` argument,  2. the ``MINITORCH_DATA`` environment variable,
    3. ``$XDG_CACHE_HOME/minitorch/data`` (default ``~/.cache/minitorch/data``)
with ``ROOT/mnist/`` and ``ROOT/fashion-mnist/`` holding the four standard files
``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz`` (gzip-compressed, or already decompressed without ``.gz``).

Identity: the SHA-256 of every *decompressed* file is pinned below and checked on load, so a
truncated download or a different "MNIST" can't train silently. The archives themselves are not
hashed: mirrors re-compress them, the decompressed bytes are the data.

Bounded reads: a file is decompressed as a stream, hashed on the way, and refused as soon as
it passes its expected size (pinned below with the hashes, else what the IDX header declares),
so a gzip bomb or a huge file costs a few megabytes, not all memory; the IDX header's shape is
checked against that size before the data is read. Only regular files are read.

IDX format (LeCun): a 4-byte big-endian magic ``0x00 0x00 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the values in C order (big-endian for multi-byte types).

Each file is decoded once per process and kept in memory; ``.data`` (uint8, N x 28 x 28) and
``.targets`` (int64, N) are those arrays, and ``get_batch`` turns a batch of indices into float
images with one NumPy call, which is what the DataLoader uses.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import struct
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from ..serialization import atomic_write_bytes
from .dataset import Dataset, _check_index

# SHA-256 of the decompressed IDX files (the values of ../shared/data/*/SHA256SUMS.decompressed;
# for MNIST these match the canonical yann.lecun.com release).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


# Decompressed sizes of the pinned files: 16 (images) / 8 (labels) header bytes + the data.
_SIZES = {"train-images-idx3-ubyte": 16 + 60000 * 28 * 28, "train-labels-idx1-ubyte": 8 + 60000,
          "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28, "t10k-labels-idx1-ubyte": 8 + 10000}
EXPECTED_SIZES = {sha: _SIZES[name] for table in (MNIST_SHA256, FASHION_MNIST_SHA256)
                  for name, sha in table.items()}  # by SHA-256: the hash names the file
MAX_IDX_BYTES = 1 << 31  # an IDX file with no pinned size may not declare more
_CHUNK = 1 << 20


class DataError(Exception):
    """Base of the dataset errors below (the CLI reports them in one line)."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The dataset files are not where they should be (and were not downloaded)."""


class DataIntegrityError(DataError, ValueError):
    """A file is corrupt: truncated, not IDX, or not the expected data (hash mismatch)."""


# --------------------------------------------------------------------------- where
def default_root() -> Path:
    """``$MINITORCH_DATA``, else ``$XDG_CACHE_HOME/minitorch/data`` (~/.cache/minitorch/data)."""
    env = os.environ.get("MINITORCH_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "minitorch" / "data"


def resolve_root(root=None) -> Path:
    return Path(root).expanduser() if root is not None else default_root()


def check_root(root, given=None, who: str = "dataset") -> None:
    """A data root that exists must be a directory: say so (and where it came from) instead
    of failing deeper with NotADirectoryError. ``given``: the ``root`` argument, if any."""
    root = Path(root)
    if (root.exists() or root.is_symlink()) and not root.is_dir():
        source = ("root=" if given is not None else
                  "$MINITORCH_DATA" if os.environ.get("MINITORCH_DATA") else
                  "the default cache location")
        raise DataError(f"{who}: the data root {root} (from {source}) is a file, not a "
                        "directory: point it at the folder that holds (or will hold) mnist/ "
                        "and fashion-mnist/")


# --------------------------------------------------------------------------- IDX parsing
# IDX dtype codes -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(buf: bytes, name: str = "<bytes>", header_only: bool = False) -> np.ndarray:
    """Decode one IDX file's (decompressed) bytes into a native-endian array (``header_only``:
    just check the magic number and the header's length)."""
    def bad(what: str) -> DataIntegrityError:
        return DataIntegrityError(f"{name}: not a valid IDX file: {what}")

    if len(buf) < 4:
        raise bad(f"only {len(buf)} bytes, too short for the 4-byte magic number")
    zero0, zero1, code, ndim = buf[0], buf[1], buf[2], buf[3]
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise bad(f"bad magic number 0x{buf[:4].hex()} (expected 0x0000TTNN: two zero bytes, "
                  f"a type code in {{{', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)}}}, "
                  "and the number of dims)")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise bad(f"truncated header: {ndim} dims need {header} bytes, file has {len(buf)}")
    if header_only:
        return None
    shape = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(buf) - header
    if found < expected:
        raise bad(f"truncated: shape {shape} of {dtype.name} needs {expected} data bytes, "
                  f"found {found}")
    if found > expected:
        raise bad(f"{found - expected} unexpected bytes after the data of shape {shape}")
    return np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="), copy=False)


def _open_regular(path: Path):
    """Open ``path`` without blocking (a FIFO would wait) and refuse non-regular files."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise DataNotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataIntegrityError(f"{path}: can't read it ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise DataIntegrityError(f"{path}: not a regular file (a directory, pipe or device)")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), st.st_size


def _stream(f, path: Path):
    """Decompressed chunks of an open file (gzip, or already decompressed)."""
    magic = f.read(2)
    f.seek(0)
    source = gzip.GzipFile(fileobj=f, mode="rb") if magic == b"\x1f\x8b" else f
    while True:
        try:
            chunk = source.read(_CHUNK)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataIntegrityError(f"{path}: corrupt gzip archive ({exc}); delete it and "
                                     "download it again") from None
        if not chunk:
            return
        yield chunk


def _declared_size(buf: bytes, name: str) -> int | None:
    """The total size (header + data) an IDX file's header declares; None until the whole
    header is in ``buf``. A bad magic number is refused at once (parse_idx's message)."""
    if len(buf) < 4:
        return None
    ndim = buf[3]
    if len(buf) < 4 + 4 * ndim:
        return None
    parse_idx(bytes(buf[:4 + 4 * ndim]) + b"", name, header_only=True)
    shape = struct.unpack(f">{ndim}I", bytes(buf[4:4 + 4 * ndim]))
    itemsize = _IDX_DTYPES[buf[2]].itemsize
    return 4 + 4 * ndim + itemsize * int(np.prod(shape, dtype=object))


def _read_verified(f, path: Path, expected_sha256: str | None = None,
                   expected_size: int | None = None) -> bytes:
    """Decompress, hash and size-check one IDX file as a stream; return its bytes.

    The bound is ``expected_size``, else the size the IDX header declares (plus a little, so
    parse_idx can say how many bytes trail), at most ``MAX_IDX_BYTES``: nothing past it is
    ever decompressed, and a header that disagrees with ``expected_size`` stops the read."""
    digest, buf = hashlib.sha256(), bytearray()
    bound = expected_size if expected_size is not None else MAX_IDX_BYTES
    declared = None
    for chunk in _stream(f, path):
        if len(buf) + len(chunk) > bound:
            raise DataIntegrityError(
                f"{path}: the decompressed data is more than the expected {bound} bytes (a "
                "gzip bomb, or not the expected file); delete it and download it again")
        buf += chunk
        digest.update(chunk)
        if declared is None:
            declared = _declared_size(buf, str(path))
            # (a smaller file is left to the hash check, whose message says more)
            if declared is not None and expected_size is not None and declared > expected_size:
                shape = tuple(struct.unpack(f">{buf[3]}I", bytes(buf[4:4 + 4 * buf[3]])))
                raise DataIntegrityError(
                    f"{path}: the IDX header declares shape {shape} of "
                    f"{_IDX_DTYPES[buf[2]].name}, {declared} bytes in all, more than the "
                    f"expected {expected_size}: not the expected file; delete it and download "
                    "it again")
            if declared is not None and expected_size is None:
                if declared > MAX_IDX_BYTES:
                    raise DataIntegrityError(f"{path}: the IDX header declares {declared} "
                                             f"bytes, more than the {MAX_IDX_BYTES} allowed")
                bound = declared + 4096
    if expected_sha256 is not None:
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise DataIntegrityError(
                f"{path}: SHA-256 of the decompressed data is {actual}, expected "
                f"{expected_sha256}: the file is corrupt or not the expected release. Delete "
                "it and download it again (download=True, or `python -m minitorch train`).")
    return bytes(buf)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_idx(path, expected_sha256: str | None = None,
             expected_size: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or not), check the decompressed bytes' size and SHA-256 while
    streaming them (see ``_read_verified``), decode it. ``expected_size`` defaults to the
    pinned size of the file ``expected_sha256`` names."""
    path = Path(path)
    if expected_size is None and expected_sha256 is not None:
        expected_size = EXPECTED_SIZES.get(expected_sha256)
    f, _ = _open_regular(path)
    with f:
        raw = _read_verified(f, path, expected_sha256, expected_size)
    return parse_idx(raw, str(path))


# One decode per file per process: key (path, size, mtime) so a replaced file is re-read.
_CACHE: dict[tuple, np.ndarray] = {}


def _load_cached(path: Path, expected_sha256: str) -> np.ndarray:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, expected_sha256)
    if key not in _CACHE:
        array = read_idx(path, expected_sha256)
        array.flags.writeable = False  # shared by every dataset object of this process
        _CACHE[key] = array
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


# --------------------------------------------------------------------------- download
MAX_DOWNLOAD_BYTES = 64 << 20  # the largest archive (Fashion-MNIST's training images) is 26 MB


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise DataIntegrityError(f"more than {MAX_DOWNLOAD_BYTES} bytes: not an MNIST archive")
    return data


# --------------------------------------------------------------------------- datasets
class MNIST(Dataset):
    """MNIST digits: 60,000 training and 10,000 test images, 28x28 greyscale, labels 0-9.

    ``ds[i] -> (image, label)``: image a float32 Tensor in [0, 1] of shape (1, 28, 28) ((784,)
    with ``flatten=True``), standardised with the training set's mean/std when
    ``normalize=True``; label a Python int. ``transform`` / ``target_transform`` (PyTorch's
    per-sample hooks) receive that image Tensor / the label; with either set, the DataLoader
    fetches sample by sample. ``.data`` (uint8, N x 28 x 28) and ``.targets`` (int64) hold the
    whole split.
    """

    folder = "mnist"
    sha256 = MNIST_SHA256
    # torchvision's mirror list: the PyTorch S3 copy first, then the original site.
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    mean, std = 0.1307, 0.3081  # of the training pixels on [0, 1]

    def __init__(self, root=None, train: bool = True, download: bool = False,
                 transform=None, target_transform=None, normalize: bool = False,
                 flatten: bool = False):
        self.root = resolve_root(root)
        check_root(self.root, root, type(self).__name__)
        self.train = bool(train)
        self.transform, self.target_transform = transform, target_transform
        self.normalize, self.flatten = bool(normalize), bool(flatten)
        split = "train" if self.train else "t10k"
        self._files = {"images": f"{split}-images-idx3-ubyte", "labels": f"{split}-labels-idx1-ubyte"}
        if download:
            self.download()
        images = _load_cached(self._path(self._files["images"]), self.sha256[self._files["images"]])
        labels = _load_cached(self._path(self._files["labels"]), self.sha256[self._files["labels"]])
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 \
                or images.shape[0] != labels.shape[0]:
            raise DataIntegrityError(f"{type(self).__name__}: images {images.shape} and labels "
                                     f"{labels.shape} in {self.folder_path} don't form a dataset "
                                     "of N 28x28 images with N labels")
        self.data = images                                  # uint8 (N, 28, 28), read-only
        self.targets = labels.astype(np.int64)              # int64 (N,)
        if transform is None and target_transform is None:
            # Whole batches in one NumPy call; per-sample transforms need the slow path.
            self.get_batch = self._get_batch

    # ---------------------------------------------------------------- files
    @property
    def folder_path(self) -> Path:
        return self.root / self.folder

    @classmethod
    def file_names(cls) -> list[str]:
        return [f"{s}-{k}-idx{d}-ubyte.gz" for s in ("train", "t10k")
                for k, d in (("images", 3), ("labels", 1))]

    def _path(self, stem: str) -> Path:
        """The .gz file, else a decompressed copy; missing -> say exactly what to put where."""
        for candidate in (self.folder_path / (stem + ".gz"), self.folder_path / stem):
            if candidate.is_file():
                return candidate
        missing = [n for n in self.file_names()
                   if not (self.folder_path / n).is_file()
                   and not (self.folder_path / n[:-3]).is_file()]
        raise DataNotFoundError(
            f"{type(self).__name__}: {stem}.gz not found in {self.folder_path}. Put the files "
            f"{', '.join(missing)} into {self.folder_path}, or pass download=True to fetch them "
            f"from {self.mirrors[0]} (the data root is root=..., else $MINITORCH_DATA, else "
            "~/.cache/minitorch/data).")

    def download(self) -> None:
        """Fetch the missing files from the mirrors, verify each, and rename it into place."""
        self.folder_path.mkdir(parents=True, exist_ok=True)
        for name in self.file_names():
            dest = self.folder_path / name
            if dest.is_file() or (self.folder_path / name[:-3]).is_file():
                continue
            errors = []
            for mirror in self.mirrors:
                url = mirror + name
                try:
                    raw = _fetch(url)
                    expected = self.sha256[name[:-3]]
                    _read_verified(io.BytesIO(raw), dest, expected, EXPECTED_SIZES.get(expected))
                except (OSError, ValueError, DataIntegrityError) as exc:
                    errors.append(f"{url}: {exc}")
                    continue
                atomic_write_bytes(dest, raw)
                break
            else:
                raise DataNotFoundError(
                    f"{type(self).__name__}: could not download {name} "
                    f"({'; '.join(errors)}). Without network access, copy the files "
                    f"{', '.join(self.file_names())} into {self.folder_path} by hand.")

    # ---------------------------------------------------------------- samples
    def __len__(self) -> int:
        return int(self.data.shape[0])

    def _images(self, raw: np.ndarray) -> np.ndarray:
        """uint8 (B, 28, 28) -> float32 (B, 1, 28, 28) in [0, 1] (or standardised)."""
        x = raw.astype(np.float32)
        x *= np.float32(1 / 255)
        if self.normalize:
            x -= np.float32(self.mean)
            x *= np.float32(1 / self.std)
        return x.reshape(raw.shape[0], -1) if self.flatten else x[:, None]

    def __getitem__(self, index):
        i = _check_index(type(self).__name__, index, len(self))
        image = Tensor._make(self._images(self.data[i:i + 1])[0], False, None)
        label = int(self.targets[i])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def _get_batch(self, indices: np.ndarray) -> tuple:
        indices = np.asarray(indices)
        return self._images(self.data[indices]), self.targets[indices]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={'train' if self.train else 'test'}, "
                f"n={len(self)}, root={str(self.root)!r})")


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): MNIST's format and sizes, 10 kinds of clothing."""

    folder = "fashion-mnist"
    sha256 = FASHION_MNIST_SHA256
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    mean, std = 0.2860, 0.3530
