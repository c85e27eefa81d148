"""Readers of the official image-dataset files, each bounded before it allocates.

- idx (LeCun's MNIST format, gzipped or not): the header's dimensions give the exact payload size,
  which is checked against ``MAX_ARRAY_BYTES`` before any data is read; gzip is decompressed as a
  stream into a buffer of exactly that size, so a small ``.gz`` that expands to gigabytes stops at
  the limit (or at the first byte beyond the announced payload);
- CIFAR python pickle batches: the file size is capped and only dicts, lists and numpy arrays may
  be unpickled (no code runs);
- SVHN ``.mat`` (MATLAB v5): every variable's headers are read first, inflating at most a few
  hundred bytes of a compressed one, and ``X``/``y`` must have the SVHN shapes, and data sizes that
  match them, within the limit before scipy loads the arrays; other variables are skipped unread.

Every malformed file raises ``DatasetFileError`` naming the file and what is wrong.
"""
from __future__ import annotations

import codecs
import gzip
import itertools
import math
import pickle
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.io

try:
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct, scalar

MAX_ARRAY_BYTES = 512 * 2**20  # largest decoded file accepted: SVHN's train X is 225 MB, EMNIST letters' 98 MB
REMEDY = "delete it and get it again"


class DatasetUnavailable(RuntimeError):
    """A dataset's files are missing, corrupt or could not be downloaded."""


class DatasetFileError(DatasetUnavailable):
    """One dataset file (or downloaded archive) is malformed; the message names it and says what is wrong."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)


def megabytes(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


# ---------------------------------------------------------------------------------------------
# idx

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_exact(stream, n: int, path: Path, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise DatasetFileError(path, f"truncated: the file ends inside the {what}; {REMEDY}")
    return data


def _read_payload(stream, size: int, path: Path, dims: tuple[int, ...]) -> bytearray:
    """Exactly ``size`` bytes into one preallocated buffer, then a check that nothing follows."""
    buffer = bytearray(size)
    view, filled = memoryview(buffer), 0
    while filled < size:
        got = stream.readinto(view[filled:filled + (1 << 22)])
        if not got:
            raise DatasetFileError(path, f"truncated or corrupt: the header announces shape {dims} "
                                         f"({size:,} data bytes) but only {filled:,} follow; {REMEDY}")
        filled += got
    if stream.read(1):
        raise DatasetFileError(path, f"more data follows the {size:,} bytes its header announces "
                                     f"(shape {dims}): not an idx file; {REMEDY}")
    return buffer


def read_idx(path: Path, max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """An idx file (gzipped when the name ends in .gz) as a numpy array of the header's shape."""
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as stream:
            magic = _read_exact(stream, 4, path, "magic number")
            if magic[0] or magic[1] or magic[2] not in _IDX_DTYPES or not 1 <= magic[3] <= 4:
                raise DatasetFileError(path, f"not an idx file (bad magic number {magic.hex()}); {REMEDY}")
            dims = struct.unpack(f">{magic[3]}I", _read_exact(stream, 4 * magic[3], path, "header"))
            dtype = np.dtype(_IDX_DTYPES[magic[2]])
            size = math.prod(dims) * dtype.itemsize  # Python integers: no overflow
            if size > max_bytes:
                raise DatasetFileError(path, f"the header announces shape {dims}, {megabytes(size)} of data, "
                                             f"more than the {megabytes(max_bytes)} limit: not a dataset file")
            payload = _read_payload(stream, size, path, dims)
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise DatasetFileError(path, f"cannot be read ({type(error).__name__}: {error}); {REMEDY}") from None
    return np.frombuffer(payload, dtype).astype(dtype.newbyteorder("=")).reshape(dims)


# ---------------------------------------------------------------------------------------------
# CIFAR python pickles

_PICKLE_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "scalar"): scalar,
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists and numpy arrays only: a CIFAR batch cannot run code when loaded."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return _PICKLE_GLOBALS[module, name]


def _check_file_size(path: Path, max_bytes: int) -> None:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DatasetFileError(path, f"cannot be read ({error})") from None
    if size > max_bytes:
        raise DatasetFileError(path, f"{megabytes(size)} is more than the {megabytes(max_bytes)} limit: "
                                     "not a dataset file")


def read_cifar_batch(path: Path, max_bytes: int = MAX_ARRAY_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python pickle batch as uint8 N×3×32×32 images and int64 (fine) labels."""
    path = Path(path)
    _check_file_size(path, max_bytes)
    try:
        with open(path, "rb") as file:
            batch = _ArrayUnpickler(file, encoding="latin1").load()
        data = np.asarray(batch["data"])
        labels = np.asarray(batch["labels"] if "labels" in batch else batch["fine_labels"], dtype=np.int64)
    except OSError as error:
        raise DatasetFileError(path, f"cannot be read ({error})") from None
    except Exception as error:  # any unpickling failure means a damaged file
        raise DatasetFileError(path, f"not a CIFAR python batch ({type(error).__name__}: {error}); {REMEDY}") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise DatasetFileError(path, f"corrupt: data {data.dtype} {data.shape} with {labels.size} labels, "
                                     "expected uint8 (N, 3072) with N labels")
    return data.reshape(-1, 3, 32, 32), labels


# ---------------------------------------------------------------------------------------------
# SVHN .mat (MATLAB v5: a 128-byte header, then one tagged element per variable, each a miMATRIX
# or a zlib-compressed miMATRIX; a matrix holds array flags, dimensions, name and its real part)

MI_MATRIX, MI_COMPRESSED = 14, 15
_MAT_CLASSES = {6: ("double", 8), 7: ("single", 4), 8: ("int8", 1), 9: ("uint8", 1), 10: ("int16", 2),
                11: ("uint16", 2), 12: ("int32", 4), 13: ("uint32", 4), 14: ("int64", 8),
                15: ("uint64", 8)}  # mxCLASS -> name, bytes per value
_MAT_HEAD_BYTES = 512  # enough for the flags, dimensions, name and the real part's tag


class MatVariable(NamedTuple):
    """What a .mat variable's headers announce: class, dimensions and the bytes of its real part."""

    kind: str
    shape: tuple[int, ...]
    data_bytes: int


def _inflate_prefix(stream, compressed_bytes: int, wanted: int) -> bytes:
    """The first ``wanted`` bytes a zlib stream of ``compressed_bytes`` bytes expands to (no more)."""
    inflater, out, left = zlib.decompressobj(), b"", compressed_bytes
    while len(out) < wanted and left > 0:
        chunk = stream.read(min(left, 1 << 14))
        if not chunk:
            break
        left -= len(chunk)
        out += inflater.decompress(chunk, wanted - len(out))
    return out


def _subelements(head: bytes, order: str):
    """The (type, data) sub-elements of a miMATRIX, reading the small format (≤ 4 bytes) too."""
    position = 8  # after the matrix's own tag
    while position + 8 <= len(head):
        kind, size = struct.unpack_from(order + "II", head, position)
        if kind >> 16:  # small data element: type in the low half, size in the high half
            kind, size = kind & 0xFFFF, kind >> 16
            yield kind, head[position + 4:position + 4 + size], size
            position += 8
        else:
            yield kind, head[position + 8:position + 8 + size], size
            position += 8 + size + (-size % 8)


def _matrix_header(head: bytes, order: str, path: Path) -> tuple[str, MatVariable]:
    parts = list(itertools.islice(_subelements(head, order), 4))
    if len(parts) < 4 or len(parts[0][1]) < 8:
        raise DatasetFileError(path, f"a variable's headers are truncated; {REMEDY}")
    (_, flags, _), (_, dims, _), (_, name, _), (_, _, data_bytes) = parts
    flags_word = struct.unpack_from(order + "I", flags)[0]
    kind, _ = _MAT_CLASSES.get(flags_word & 0xFF, ("unsupported", 0))
    if flags_word & 0x800:  # complex values
        kind = "complex"
    shape = struct.unpack(order + f"{len(dims) // 4}i", dims[:len(dims) // 4 * 4])
    return name.rstrip(b"\0").decode("latin1"), MatVariable(kind, tuple(shape), data_bytes)


def mat_variables(path: Path) -> dict[str, MatVariable]:
    """Every variable's headers, read without loading (or decompressing) any array."""
    with open(path, "rb") as stream:
        header = stream.read(128)
        if len(header) < 128 or header[126:128] not in (b"IM", b"MI") or not header.startswith(b"MATLAB 5.0"):
            raise DatasetFileError(path, f"not a MATLAB v5 .mat file (bad header); {REMEDY}")
        order = "<" if header[126:128] == b"IM" else ">"
        variables = {}
        while len(tag := stream.read(8)) == 8:
            kind, size = struct.unpack(order + "II", tag)
            start = stream.tell()
            if kind == MI_COMPRESSED:
                head = _inflate_prefix(stream, size, _MAT_HEAD_BYTES)
            elif kind == MI_MATRIX:
                head = tag + stream.read(min(size, _MAT_HEAD_BYTES))
            else:
                raise DatasetFileError(path, f"holds an element of type {kind}, not a variable; {REMEDY}")
            name, variable = _matrix_header(head, order, path)
            variables[name] = variable
            stream.seek(start + size + (-size % 8 if kind == MI_MATRIX else 0))
    return variables


def _check_svhn_headers(path: Path, max_bytes: int) -> int:
    """The number of images X and y announce, checked against the SVHN layout and ``max_bytes``
    before any array is allocated (scipy allocates what a data element announces before reading it)."""
    try:
        variables = mat_variables(path)
    except (OSError, zlib.error, struct.error, UnicodeDecodeError) as error:
        raise DatasetFileError(path, f"not a readable .mat file ({type(error).__name__}: {error}); {REMEDY}") from None
    if "X" not in variables or "y" not in variables:
        raise DatasetFileError(path, f"holds variables {sorted(variables)}, not SVHN's X and y")
    x, y = variables["X"], variables["y"]
    if len(x.shape) != 4 or x.shape[:3] != (32, 32, 3) or x.kind != "uint8" or x.shape[3] < 0:
        raise DatasetFileError(path, f"X is {x.kind} {x.shape}, expected uint8 (32, 32, 3, N)")
    n = x.shape[3]
    if n * 3072 > max_bytes:
        raise DatasetFileError(path, f"X announces {n:,} images ({megabytes(n * 3072)}), more than the "
                                     f"{megabytes(max_bytes)} limit: not a dataset file")
    if x.data_bytes != n * 3072:
        raise DatasetFileError(path, f"X's data element announces {x.data_bytes:,} bytes, but {n:,} images of "
                                     f"32×32×3 hold {n * 3072:,}: corrupt, or not SVHN")
    width = dict(_MAT_CLASSES.values()).get(y.kind, 0)
    if y.shape not in ((n, 1), (1, n)) or not width or y.data_bytes > n * width:
        raise DatasetFileError(path, f"y is {y.kind} {y.shape} with {y.data_bytes:,} data bytes, expected "
                                     f"({n}, 1) real numbers: one label per image")
    return n


def read_svhn_mat(path: Path, max_bytes: int = MAX_ARRAY_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """An SVHN ``*_32x32.mat`` as uint8 N×3×32×32 images and int64 labels (10 means digit 0, as stored)."""
    path = Path(path)
    n = _check_svhn_headers(path, max_bytes)
    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
        images, labels = np.asarray(mat["X"]), np.asarray(mat["y"]).astype(np.int64).ravel()
    except Exception as error:  # a damaged payload behind valid headers
        raise DatasetFileError(path, f"not an SVHN .mat file ({type(error).__name__}: {error}); {REMEDY}") from None
    if images.dtype != np.uint8 or images.shape != (32, 32, 3, n) or labels.shape != (n,):
        raise DatasetFileError(path, f"corrupt: X is {images.dtype} {images.shape} with {labels.size} labels, "
                                     f"expected uint8 (32, 32, 3, {n}) with {n} labels")
    return images.transpose(3, 2, 0, 1), labels
