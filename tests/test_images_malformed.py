"""A table of malformed dataset files and archives, built here in the real formats: each must give one
``DatasetFileError`` naming the file, within bounded memory, and the CLI one line with exit code 2."""
import gzip
import io
import os
import pickle
import struct
import tarfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from test_images_datasets import CIFAR10_BATCHES, write_cifar, write_idx_dataset, write_svhn
from toyood.cli import main
from toyood.images import datasets, download
from toyood.images.datasets import DatasetFileError, load_split

MEMORY_LIMIT = 64 * 2**20  # bytes a rejected file may make the reader allocate


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TOYOOD_DATA", raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {})


# ---- MATLAB v5 files written element by element (scipy cannot write inconsistent headers) ---------

MI_INT8, MI_UINT8, MI_INT32, MI_UINT32, MI_DOUBLE, MI_MATRIX, MI_COMPRESSED = 1, 2, 5, 6, 9, 14, 15
MAT_CLASSES = {np.dtype(np.uint8): (9, MI_UINT8), np.dtype(np.float64): (6, MI_DOUBLE)}


def mat_element(kind: int, payload: bytes, announced: int | None = None) -> bytes:
    size = len(payload) if announced is None else announced
    return struct.pack("<II", kind, size) + payload + b"\0" * (-len(payload) % 8)


def mat_matrix(name: str, array: np.ndarray, shape=None, announced: int | None = None) -> bytes:
    mx_class, mi_type = MAT_CLASSES[array.dtype]
    shape = array.shape if shape is None else shape
    body = (mat_element(MI_UINT32, struct.pack("<II", mx_class, 0))
            + mat_element(MI_INT32, struct.pack(f"<{len(shape)}i", *shape))
            + mat_element(MI_INT8, name.encode())
            + mat_element(mi_type, array.tobytes(order="F"), announced))
    return mat_element(MI_MATRIX, body)


def mat_file(*matrices: bytes, compress: bool = True, extra: bytes = b"") -> bytes:
    out = b"MATLAB 5.0 MAT-file, written by toyood's tests".ljust(116) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    for matrix in matrices:
        packed = zlib.compress(matrix + extra) if compress else matrix
        out += struct.pack("<II", MI_COMPRESSED, len(packed)) + packed if compress else matrix
    return out


def svhn_arrays(n=4):
    return np.zeros((32, 32, 3, n), np.uint8), np.arange(1, n + 1, dtype=np.float64).reshape(n, 1)


def test_the_hand_written_mat_file_is_read_like_scipys(tmp_path):
    x, y = svhn_arrays()
    for compress in (True, False):
        (tmp_path / "svhn").mkdir(exist_ok=True)
        (tmp_path / "svhn" / "test_32x32.mat").write_bytes(mat_file(mat_matrix("X", x), mat_matrix("y", y),
                                                                    compress=compress))
        images, labels = load_split("svhn", "test", tmp_path)
        assert images.shape == (4, 3, 32, 32) and labels.tolist() == [1, 2, 3, 4]


# ---- the cases: (dataset, split, damage(root) -> the file that must be named) ---------------------

def idx_case(damage):
    """MNIST files in root/mnist with the test images replaced by ``damage(raw idx bytes)``."""
    def make(root: Path) -> Path:
        write_idx_dataset(root / "mnist")
        path = root / "mnist" / "t10k-images-idx3-ubyte.gz"
        path.write_bytes(damage(gzip.decompress(path.read_bytes()), path.read_bytes()))
        return path
    return ("mnist", "test", make)


def idx_header(dims, dtype=0x08) -> bytes:
    return bytes([0, 0, dtype, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def corrupt_deflate(raw, packed):
    middle = bytearray(gzip.compress(raw + bytes(range(256)) * 64, compresslevel=9))
    for i in range(20, 60):
        middle[i] ^= 0xA5
    return bytes(middle)


def empty_idx_split(root: Path) -> Path:
    write_idx_dataset(root / "mnist")
    for kind, dims in (("images", (0, 28, 28)), ("labels", (0,))):
        (root / "mnist" / f"t10k-{kind}-idx{len(dims)}-ubyte.gz").write_bytes(gzip.compress(idx_header(dims)))
    return root / "mnist" / "t10k-images-idx3-ubyte.gz"


def cifar_case(replacement):
    def make(root: Path) -> Path:
        write_cifar(root / "cifar-10-batches-py", CIFAR10_BATCHES)
        path = root / "cifar-10-batches-py" / "test_batch"
        replacement(path)
        return path
    return ("cifar10", "test", make)


def svhn_case(content):
    def make(root: Path) -> Path:
        write_svhn(root / "svhn")
        path = root / "svhn" / "test_32x32.mat"
        path.write_bytes(content())
        return path
    return ("svhn", "test", make)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def sparse(size):
    def make(path: Path):
        with open(path, "wb") as file:
            file.truncate(size)
    return make


X, Y = svhn_arrays()
CASES = {
    # idx (MNIST, Fashion-MNIST, EMNIST)
    "idx dims overflow np.prod to 0": idx_case(lambda raw, packed: gzip.compress(idx_header((2**16,) * 4))),
    "idx .gz bomb: header announces 4 GiB": idx_case(
        lambda raw, packed: gzip.compress(idx_header((5_478_275, 28, 28)) + bytes(4 * 2**20))),
    "idx .gz bomb: 64 MiB behind a small header": idx_case(
        lambda raw, packed: gzip.compress(idx_header((4, 28, 28)) + bytes(64 * 2**20), compresslevel=1)),
    "idx .gz corrupt deflate stream": idx_case(corrupt_deflate),
    "idx .gz truncated": idx_case(lambda raw, packed: packed[:len(packed) // 2]),
    "idx .gz bad CRC": idx_case(lambda raw, packed: packed[:-8] + bytes(4) + packed[-4:]),
    "idx named .gz but not gzip": idx_case(lambda raw, packed: raw),
    "idx empty file": idx_case(lambda raw, packed: b""),
    "idx bad magic": idx_case(lambda raw, packed: gzip.compress(b"\x01\x02" + raw[2:])),
    "idx truncated header": idx_case(lambda raw, packed: gzip.compress(raw[:9])),
    "idx short data": idx_case(lambda raw, packed: gzip.compress(raw[:-10])),
    "idx int32 images": idx_case(lambda raw, packed: gzip.compress(idx_header((4, 28, 28), 0x0C) + bytes(4 * 784 * 4))),
    "idx 32×32 images": idx_case(lambda raw, packed: gzip.compress(idx_header((4, 32, 32)) + bytes(4 * 1024))),
    "idx no images for the labels": idx_case(lambda raw, packed: gzip.compress(idx_header((0, 28, 28)))),
    "idx no images, no labels": ("mnist", "test", empty_idx_split),
    # CIFAR python pickles
    "cifar not a pickle": cifar_case(lambda path: path.write_bytes(b"not a pickle at all")),
    "cifar pickle that runs code": cifar_case(lambda path: path.write_bytes(pickle.dumps({"data": Exploit()}))),
    "cifar pickle of a list": cifar_case(lambda path: path.write_bytes(pickle.dumps([1, 2, 3]))),
    "cifar without data": cifar_case(lambda path: path.write_bytes(pickle.dumps({"labels": [1]}))),
    "cifar wrong image size": cifar_case(lambda path: path.write_bytes(
        pickle.dumps({"data": np.zeros((5, 100), np.uint8), "labels": [0] * 5}))),
    "cifar labels do not match": cifar_case(lambda path: path.write_bytes(
        pickle.dumps({"data": np.zeros((5, 3072), np.uint8), "labels": [0] * 3}))),
    "cifar truncated pickle": cifar_case(lambda path: path.write_bytes(path.read_bytes()[:200])),
    "cifar 600 MB file": cifar_case(sparse(600 * 2**20)),
    # SVHN .mat
    "svhn garbage": svhn_case(lambda: b"garbage"),
    "svhn empty file": svhn_case(lambda: b""),
    "svhn MATLAB v7.3 (HDF5)": svhn_case(lambda: b"MATLAB 7.3 MAT-file".ljust(512, b"\0")),
    "svhn .mat bomb: X announces 3 GB": svhn_case(lambda: mat_file(
        mat_matrix("X", X, shape=(32, 32, 3, 1_000_000)), mat_matrix("y", Y))),
    "svhn .mat bomb: data element announces 3 GB": svhn_case(lambda: mat_file(
        mat_matrix("X", X, announced=3_000_000_000), mat_matrix("y", Y))),
    "svhn .mat bomb, uncompressed": svhn_case(lambda: mat_file(
        mat_matrix("X", X, announced=3_000_000_000), mat_matrix("y", Y), compress=False)),
    "svhn labels announce 3 GB": svhn_case(lambda: mat_file(mat_matrix("X", X), mat_matrix("y", Y, announced=3 * 10**9))),
    "svhn without y": svhn_case(lambda: mat_file(mat_matrix("X", X))),
    "svhn X of doubles": svhn_case(lambda: mat_file(mat_matrix("X", X.astype(np.float64)), mat_matrix("y", Y))),
    "svhn 28×28 images": svhn_case(lambda: mat_file(mat_matrix("X", np.zeros((28, 28, 1, 4), np.uint8)),
                                                    mat_matrix("y", Y))),
    "svhn fewer labels than images": svhn_case(lambda: mat_file(mat_matrix("X", X), mat_matrix("y", Y[:2]))),
    "svhn truncated data": svhn_case(lambda: mat_file(mat_matrix("X", X), mat_matrix("y", Y), compress=False)[:2000]),
    "svhn corrupt deflate stream": svhn_case(lambda: (lambda b: b[:300] + bytes(x ^ 0x5A for x in b[300:400])
                                                      + b[400:])(mat_file(mat_matrix("X", np.arange(12288, dtype=np.uint8)
                                                                                      .reshape(32, 32, 3, 4) % 7),
                                                                          mat_matrix("y", Y)))),
    "svhn labels outside 0..9": svhn_case(lambda: mat_file(mat_matrix("X", X), mat_matrix("y", Y + 20))),
}


@pytest.mark.parametrize("case", CASES)
def test_malformed_file_gives_one_typed_error_naming_it_in_bounded_memory(tmp_path, case):
    dataset, split, make = CASES[case]
    bad = make(tmp_path / "data")
    tracemalloc.start()
    try:
        with pytest.raises(DatasetFileError) as error:
            load_split(dataset, split, tmp_path / "data")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bad.name in str(error.value) or error.value.path == bad.parent, str(error.value)
    assert "\n" not in str(error.value)
    assert peak < MEMORY_LIMIT, f"{case}: {peak / 2**20:.0f} MiB allocated before the error"


@pytest.mark.parametrize("case", CASES)
def test_cli_reports_a_malformed_file_in_one_line(tmp_path, capsys, case):
    dataset, _, make = CASES[case]
    bad = make(tmp_path / "data")
    code = main(["bench", "--dataset", dataset, "--methods", "plain", "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and (bad.name in err or str(bad.parent) in err)


def test_the_table_covers_every_format():
    assert {dataset for dataset, _, _ in CASES.values()} == {"mnist", "cifar10", "svhn"} and len(CASES) >= 35


# ---- archives: path guards, total-bytes limit, corrupt archives; nothing left behind ---------------

def tar_gz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, payload in members.items():
            zipped.writestr(name, payload)
    return out.getvalue()


ARCHIVES = {
    "tar bomb over the limit": (tar_gz({"cifar-10-batches-py/data_batch_1": bytes(3 * 2**20)}), "more than"),
    "tar bomb in many members": (tar_gz({f"cifar-10-batches-py/{i}": bytes(2**19) for i in range(5)}), "more than"),
    "tar.gz that is not gzip": (b"just some bytes", "not a readable .tar.gz"),
    "tar.gz truncated": (tar_gz({"cifar-10-batches-py/test_batch": os.urandom(2**16)})[:3000], "not a readable"),
    "zip bomb over the limit": (zip_bytes({"gzip/emnist-letters-test-images-idx3-ubyte.gz": bytes(3 * 2**20)}),
                                "more than"),
    "zip that is not a zip": (b"PK\x03\x04 but nothing else", "not a readable zip"),
}


@pytest.mark.parametrize("case", ARCHIVES)
def test_malformed_archive_gives_one_typed_error_and_leaves_nothing(tmp_path, case):
    content, expected = ARCHIVES[case]
    archive = tmp_path / ("archive.zip" if case.startswith("zip") else "archive.tar.gz")
    archive.write_bytes(content)
    root = tmp_path / "root"
    unpack = (lambda: download.unpack_zip_members(archive, root / "emnist", lambda name: True, limit=2**20)) \
        if case.startswith("zip") else (lambda: download.unpack_tar(archive, root, limit=2**20))
    with pytest.raises(DatasetFileError, match=expected) as error:
        unpack()
    assert error.value.path == archive
    assert not [p for p in root.rglob("*") if p.is_file()]


def test_unpacking_refuses_escaping_paths_and_links_and_keeps_the_rest(tmp_path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name in ("../escaped.txt", "/absolute.txt", "good/file.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
        link = tarfile.TarInfo("good/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(out.getvalue())
    download.unpack_tar(archive, tmp_path / "root")
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file() or p.is_symlink())
    assert files == ["a.tar.gz", "root/good/file.txt"]


def test_emnist_letters_are_taken_from_nists_zip(tmp_path):
    letters = {f"gzip/emnist-letters-{s}-{k}-idx{d}-ubyte.gz": b"x" for s in ("train", "test")
               for k, d in (("images", 3), ("labels", 1))}
    archive = tmp_path / "gzip.zip"
    archive.write_bytes(zip_bytes({**letters, "gzip/emnist-digits-train-images-idx3-ubyte.gz": b"y"}))
    datasets._unpack_emnist_letters(archive, tmp_path)
    assert sorted(p.name for p in (tmp_path / "emnist").iterdir()) == sorted(Path(n).name for n in letters)
