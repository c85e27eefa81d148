"""Image datasets read from their official files (no torchvision), plus batch augmentation.

Datasets (``DATASETS``), all returned as float32 N×C×H×W tensors in [0, 1] (no normalisation)
with int64 labels:

- ``mnist``, ``fmnist`` (Fashion-MNIST), ``emnist`` (EMNIST letters; labels 1..26 shifted to 0..25,
  images transposed upright as in Hein et al.'s code): idx files ``*-idx3-ubyte`` / ``*-idx1-ubyte``,
  gzipped or not;
- ``cifar10``, ``cifar100`` (fine labels): the python pickle batches ``cifar-10-batches-py/``,
  ``cifar-100-python/``;
- ``svhn``: ``train_32x32.mat`` / ``test_32x32.mat`` (label 10 means digit 0);
- ``cifar10-gray``: CIFAR-10 resized to 28×28 (bilinear, antialiased) and averaged over the colour
  channels, as in Hein et al.'s code: an OOD set for the 28×28 datasets.

Where files are looked for, in this order: the ``data_dir`` argument (CLI ``--data-dir``), the
``TOYOOD_DATA`` environment variable, the cache ``~/.cache/toyood`` (where downloads go unless a
data dir is given); under each, the official folder names and torchvision's layouts
(``MNIST/raw``, ``FashionMNIST/raw``, ``EMNIST/raw``, ``cifar-10-batches-py``, ``svhn``, ...).
Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``) is found too.
idx files placed directly in a data directory are read as MNIST.

Nothing is downloaded unless asked (``download=True``); downloads use the official URLs and are
checked against torchvision's MD5 sums. Missing or unreadable files raise ``DatasetUnavailable``
whose message names the files, the directories searched and how to get them.
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import pickle
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import scipy.io
import torch
import torch.nn.functional as F

try:
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct, scalar

SPLITS = ("train", "test")
SYSTEM_DATA_DIRS = {"fmnist": (Path("/usr/share/datasets/fashion-mnist"),)}


class DatasetUnavailable(RuntimeError):
    """A dataset's files are missing, corrupt or could not be downloaded."""


class Resource(NamedTuple):
    """One file to download: its name, its MD5 sum and the URLs to try in order."""

    filename: str
    md5: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's files live, how to read them and how to fetch them."""

    name: str
    title: str
    shape: tuple[int, int, int]
    n_classes: int
    files: dict[str, tuple[str, ...]]  # split -> files needed (idx files may also end in .gz)
    folders: tuple[str, ...]  # searched under every data root; "" is the root itself
    read: Callable[[Path, str, "DatasetSpec"], tuple[np.ndarray, np.ndarray]]
    resources: tuple[Resource, ...]
    download_folder: str  # under the download root; where resources are saved
    unpack: Callable[[Path, Path], None] | None = None  # (archive, download root) -> files in place
    hint: str = ""


@dataclass(frozen=True)
class ImageDataset:
    """Both splits of a dataset in memory: images float32 N×C×H×W in [0, 1], labels int64."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    location: Path

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x_test.shape[1:])


class Availability(NamedTuple):
    """Whether a dataset's files were found: where, or why not (the ``DatasetUnavailable`` text)."""

    present: bool
    location: Path | None
    reason: str


# ---------------------------------------------------------------------------------------------
# Readers of the official formats

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An idx file (LeCun's MNIST format, gzipped when the name ends in .gz) as a numpy array."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise DatasetUnavailable(f"cannot read {path}: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or not 1 <= raw[3] <= 4:
        raise DatasetUnavailable(f"{path} is not an idx file (bad magic number); delete it and get it again")
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise DatasetUnavailable(f"{path} is truncated (incomplete header); delete it and get it again")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", n_dims, 4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    if len(raw) - header != int(np.prod(dims)) * dtype.itemsize:
        raise DatasetUnavailable(f"{path} is truncated or corrupt: the header announces shape {dims} but "
                                 f"{len(raw) - header} data bytes follow; delete it and get it again")
    return np.frombuffer(raw, dtype, offset=header).astype(dtype.newbyteorder("=")).reshape(dims)


def _idx_path(folder: Path, name: str) -> Path:
    gz = folder / f"{name}.gz"
    return gz if gz.is_file() else folder / name


def _read_idx_split(folder: Path, split: str, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = (_idx_path(folder, name) for name in spec.files[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.shape[1:] != spec.shape[1:] or images.dtype != np.uint8:
        raise DatasetUnavailable(f"{image_file} holds {images.dtype} images of shape {images.shape[1:]}, "
                                 f"expected uint8 {spec.shape[1:]}: not {spec.title}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetUnavailable(f"{label_file} has {labels.shape} labels for {len(images)} images in {image_file}")
    images = images[:, None]
    if spec.name == "emnist":  # stored transposed; labels 1..26
        images, labels = images.transpose(0, 1, 3, 2), labels.astype(np.int64) - 1
    return images, labels


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


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python pickle batch as uint8 N×3×32×32 images and int64 (fine) labels."""
    try:
        with open(path, "rb") as file:
            batch = _ArrayUnpickler(file, encoding="latin1").load()
        data = np.asarray(batch["data"])
        labels = np.asarray(batch["labels"] if "labels" in batch else batch["fine_labels"], dtype=np.int64)
    except OSError as error:
        raise DatasetUnavailable(f"cannot read {path}: {error}") from None
    except Exception as error:  # any unpickling failure means a damaged file
        raise DatasetUnavailable(f"{path} is not a CIFAR python batch ({type(error).__name__}: {error}); "
                                 "delete it and get it again") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetUnavailable(f"{path} is corrupt: data {data.dtype} {data.shape} with {len(labels)} labels, "
                                 "expected uint8 (N, 3072) with N labels")
    return data.reshape(-1, 3, 32, 32), labels


def _read_cifar_split(folder: Path, split: str, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_cifar_batch(folder / name) for name in spec.files[split]]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _read_svhn_split(folder: Path, split: str, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    path = folder / spec.files[split][0]
    try:
        mat = scipy.io.loadmat(path)
        images, labels = np.asarray(mat["X"]), np.asarray(mat["y"]).astype(np.int64).ravel()
    except Exception as error:  # scipy raises ValueError, MatReadError, OSError, ... on damaged files
        raise DatasetUnavailable(f"{path} is not an SVHN .mat file ({type(error).__name__}: {error}); "
                                 "delete it and get it again") from None
    if images.dtype != np.uint8 or images.shape[:3] != (32, 32, 3) or images.shape[3] != len(labels):
        raise DatasetUnavailable(f"{path} is corrupt: X is {images.dtype} {images.shape} with {len(labels)} "
                                 "labels, expected uint8 (32, 32, 3, N) with N labels")
    return images.transpose(3, 2, 0, 1), np.where(labels == 10, 0, labels)


# ---------------------------------------------------------------------------------------------
# Unpacking downloaded archives

def _unpack_tar(archive: Path, root: Path) -> None:
    """Extract the regular files of a .tar.gz under ``root`` (refusing paths that leave it)."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            target = (root / member.name).resolve()
            if not member.isfile() or root.resolve() not in target.parents:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)


def _unpack_emnist_letters(archive: Path, root: Path) -> None:
    """Take the four EMNIST-letters files out of NIST's gzip.zip into ``root/emnist``."""
    folder = root / "emnist"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            if Path(member).name.startswith("emnist-letters-") and member.endswith(".gz"):
                with zipped.open(member) as source, open(folder / Path(member).name, "wb") as out:
                    shutil.copyfileobj(source, out)


# ---------------------------------------------------------------------------------------------
# The datasets

def _idx_files(train_stem: str, test_stem: str) -> dict[str, tuple[str, ...]]:
    stems = {"train": train_stem, "test": test_stem}
    return {split: (f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte") for split, stem in stems.items()}


def _idx_resources(files: dict[str, tuple[str, ...]], md5s: tuple[str, ...], mirrors: tuple[str, ...]):
    names = [f"{name}.gz" for split in SPLITS for name in files[split]]
    return tuple(Resource(name, md5, tuple(m + name for m in mirrors)) for name, md5 in zip(names, md5s))


_MNIST_FILES = _idx_files("train", "t10k")
_EMNIST_FILES = _idx_files("emnist-letters-train", "emnist-letters-test")

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec(
        "mnist", "MNIST", (1, 28, 28), 10, _MNIST_FILES, ("", "mnist", "MNIST/raw"), _read_idx_split,
        _idx_resources(_MNIST_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                      "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                       ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")),
        "mnist"),
    DatasetSpec(
        "fmnist", "Fashion-MNIST", (1, 28, 28), 10, _MNIST_FILES,
        ("fashion-mnist", "fashion_mnist", "fmnist", "FashionMNIST/raw"), _read_idx_split,
        _idx_resources(_MNIST_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                      "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
                       ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)),
        "fashion-mnist", hint="On Debian/Ubuntu: apt-get install dataset-fashion-mnist."),
    DatasetSpec(
        "emnist", "EMNIST letters", (1, 28, 28), 26, _EMNIST_FILES,
        ("emnist", "EMNIST/raw", "emnist/gzip", "gzip", ""), _read_idx_split,
        (Resource("gzip.zip", "58c8d27c78d21e728a6bc7b3cc06412e",
                  ("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",)),),
        "emnist", _unpack_emnist_letters, hint="The download is NIST's 535 MB gzip.zip; only the letters are kept."),
    DatasetSpec(
        "cifar10", "CIFAR-10", (3, 32, 32), 10,
        {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        ("cifar-10-batches-py", "cifar10/cifar-10-batches-py", ""), _read_cifar_split,
        (Resource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                  ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)),),
        "", _unpack_tar),
    DatasetSpec(
        "cifar100", "CIFAR-100", (3, 32, 32), 100, {"train": ("train",), "test": ("test",)},
        ("cifar-100-python", "cifar100/cifar-100-python"), _read_cifar_split,
        (Resource("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85",
                  ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",)),),
        "", _unpack_tar),
    DatasetSpec(
        "svhn", "SVHN", (3, 32, 32), 10, {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)},
        ("svhn", "SVHN", ""), _read_svhn_split,
        (Resource("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373",
                  ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",)),
         Resource("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3",
                  ("http://ufldl.stanford.edu/housenumbers/test_32x32.mat",))),
        "svhn"),
)}
DERIVED = {"cifar10-gray": "cifar10"}  # derived dataset -> the dataset its files come from
DATASET_NAMES = (*DATASETS, *DERIVED)
TITLES = {**{name: spec.title for name, spec in DATASETS.items()}, "cifar10-gray": "CIFAR-10 (gray, 28×28)"}
SHAPES = {**{name: spec.shape for name, spec in DATASETS.items()}, "cifar10-gray": (1, 28, 28)}
N_CLASSES = {**{name: spec.n_classes for name, spec in DATASETS.items()}, "cifar10-gray": 10}


# ---------------------------------------------------------------------------------------------
# Finding, downloading, loading

def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "toyood"


def data_roots(data_dir: str | Path | None = None) -> list[Path]:
    """The directories searched, in order: ``data_dir``, ``$TOYOOD_DATA``, ``~/.cache/toyood``."""
    candidates = [data_dir, os.environ.get("TOYOOD_DATA") or None, default_cache_dir()]
    roots: list[Path] = []
    for candidate in candidates:
        if candidate is not None and Path(candidate).expanduser() not in roots:
            roots.append(Path(candidate).expanduser())
    return roots


def _spec(name: str) -> DatasetSpec:
    name = DERIVED.get(name, name)
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    return DATASETS[name]


def _search_folders(spec: DatasetSpec, data_dir) -> list[Path]:
    folders = [root / sub if sub else root for root in data_roots(data_dir) for sub in spec.folders]
    return folders + list(SYSTEM_DATA_DIRS.get(spec.name, ()))


def _has_file(folder: Path, name: str, spec: DatasetSpec) -> bool:
    idx = spec.read is _read_idx_split
    return (folder / name).is_file() or (idx and (folder / f"{name}.gz").is_file())


def locate(name: str, data_dir: str | Path | None = None, splits: tuple[str, ...] = SPLITS) -> Path:
    """The first searched folder holding every file of ``splits``; ``DatasetUnavailable`` if none."""
    spec = _spec(name)
    needed = [file for split in splits for file in spec.files[split]]
    folders = _search_folders(spec, data_dir)
    for folder in folders:
        if all(_has_file(folder, file, spec) for file in needed):
            return folder
    gz = "(.gz)" if spec.read is _read_idx_split else ""
    target = data_roots(data_dir)[0] / spec.download_folder
    urls = " and ".join(resource.urls[0] for resource in spec.resources)
    raise DatasetUnavailable(" ".join(filter(None, [
        f"{spec.title} not found: looked for {', '.join(f + gz for f in needed)} in "
        + ", ".join(str(f) for f in folders) + ".",
        f"To get it, pass download=True (CLI: --download) to fetch {urls} into {target}, or copy the official "
        "files (or torchvision's layout of them) into one of these directories.", spec.hint])))


def available_datasets(data_dir: str | Path | None = None) -> dict[str, Availability]:
    """For every dataset: whether its files are found (where), or why not. Files are not parsed."""
    report = {}
    for name in DATASET_NAMES:
        try:
            report[name] = Availability(True, locate(name, data_dir), "")
        except DatasetUnavailable as error:
            report[name] = Availability(False, None, str(error))
    return report


def _fetch(resource: Resource, folder: Path) -> Path:
    """Download one resource into ``folder`` and check its MD5 sum; the file appears only if it matches."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetUnavailable(f"cannot download into {folder}: {error}; choose another data directory") from None
    target = folder / resource.filename
    partial = target.with_name(target.name + ".part")
    failures = []
    for url in resource.urls:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            print(f"downloading {url} into {folder}", file=sys.stderr, flush=True)
            with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
            partial.unlink(missing_ok=True)
            continue
        if digest.hexdigest() != resource.md5:
            partial.unlink(missing_ok=True)
            failures.append(f"{url}: MD5 {digest.hexdigest()} differs from the expected {resource.md5}")
            continue
        partial.replace(target)
        return target
    raise DatasetUnavailable(f"could not download {resource.filename}: " + "; ".join(failures))


def download_dataset(name: str, data_dir: str | Path | None = None) -> Path:
    """Fetch a dataset's official files into the first data root (unless already there); its folder.
    Says on stderr what it downloads."""
    spec = _spec(name)
    try:
        return locate(name, data_dir)
    except DatasetUnavailable:
        pass
    root = data_roots(data_dir)[0]
    folder = root / spec.download_folder
    for resource in spec.resources:
        path = _fetch(resource, folder)
        if spec.unpack is not None:
            try:
                spec.unpack(path, root)
            except (OSError, tarfile.TarError, zipfile.BadZipFile) as error:
                raise DatasetUnavailable(f"cannot unpack {path}: {error}") from None
            path.unlink()
    return locate(name, data_dir)


def load_split(name: str, split: str, data_dir: str | Path | None = None, download: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One split (``train`` or ``test``) as float32 N×C×H×W images in [0, 1] and int64 labels;
    fetches the files first when ``download`` and they are not found."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    spec = _spec(name)
    if download:
        download_dataset(name, data_dir)
    folder = locate(name, data_dir, (split,))
    images, labels = spec.read(folder, split, spec)
    if len(labels) and (labels.min() < 0 or labels.max() >= spec.n_classes):
        raise DatasetUnavailable(f"{spec.title} in {folder}: labels outside 0..{spec.n_classes - 1} "
                                 f"(found {labels.min()}..{labels.max()}); these are not {spec.title} files")
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255)
    if name == "cifar10-gray":
        x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=True)
        x = x.mean(1, keepdim=True).clamp_(0, 1)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = False) -> ImageDataset:
    """Both splits of a dataset (see ``load_split``), fetching the files first when ``download``."""
    x_train, y_train = load_split(name, "train", data_dir, download)
    x_test, y_test = load_split(name, "test", data_dir)
    return ImageDataset(name, x_train, y_train, x_test, y_test, N_CLASSES[name], locate(name, data_dir))


# ---------------------------------------------------------------------------------------------
# Augmentation on whole batches

def random_crop(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Per-image random crop of the zero-padded batch back to its size (torchvision RandomCrop(padding)),
    as one gather: output pixel (i, j) of image k is padded pixel (i + dy_k, j + dx_k)."""
    n, c, h, w = x.shape
    padded_width = w + 2 * pad
    padded = F.pad(x, (pad, pad, pad, pad)).flatten(2)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=generator.device).to(x.device)
    window = (torch.arange(h, device=x.device)[:, None] * padded_width + torch.arange(w, device=x.device)).flatten()
    index = (window + (dy * padded_width + dx)[:, None])[:, None, :].expand(n, c, h * w)
    return padded.gather(2, index).view(n, c, h, w)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(len(x), generator=generator, device=generator.device).to(x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def augmentation(name: str) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """Hein et al.'s training augmentation: random crop with padding 4; plus h-flips for CIFAR."""
    flips = name.startswith("cifar")

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = random_crop(x, generator)
        return random_flip(x, generator) if flips else x

    return augment
