"""Image datasets read from their official files (no torchvision).

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

Where files are looked for, in this order: the ``data_dir`` argument, the ``TOYOOD_DATA``
environment variable, the cache ``~/.cache/toyood`` (where downloads go unless a data dir is given);
under each, the official folder names and torchvision's layouts (``MNIST/raw``,
``FashionMNIST/raw``, ``EMNIST/raw``, ``cifar-10-batches-py``, ``svhn``, ...). Debian's
``dataset-fashion-mnist`` package is found too (``SYSTEM_DATA_DIRS``). idx files
placed directly in a data directory are read as MNIST.

Nothing is downloaded unless asked (``download=True``); downloads use the official URLs and are
bounded and checked by ``toyood.images.download``. Missing files raise ``DatasetUnavailable``,
naming the files, the directories searched and where to get them; malformed ones raise its
subclass ``DatasetFileError`` naming the file (``toyood.images.formats``).
"""
from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .download import Resource, fetch, unpack_tar, unpack_zip_members
from .formats import DatasetFileError, DatasetUnavailable, read_cifar_batch, read_idx, read_svhn_mat

SPLITS = ("train", "test")
SYSTEM_DATA_DIRS = {"fmnist": (Path("/usr/share/datasets/fashion-mnist"),)}
DATA_VARIABLE = "TOYOOD_DATA"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's files live, how to read them and how to fetch them."""

    name: str
    title: str
    shape: tuple[int, int, int]
    n_classes: int
    files: dict[str, tuple[str, ...]]  # split -> files needed (idx files may also end in .gz)
    folders: tuple[str, ...]  # searched under every data root; "" is the root itself
    read: Callable[[Path, str, "DatasetSpec"], tuple[np.ndarray, np.ndarray]]  # (folder, split, spec) -> uint8 NCHW, labels
    resources: tuple[Resource, ...]
    download_folder: str  # under the download root; where resources are saved
    unpack: Callable[[Path, Path], None] | None = None  # (archive, download root) -> files in place
    hint: str = ""  # one more sentence for the "not found" message


class Availability(NamedTuple):
    """Whether a dataset's files were found: where, or why not (the ``DatasetUnavailable`` text)."""

    present: bool
    location: Path | None
    reason: str


# ---------------------------------------------------------------------------------------------
# Reading one split of each format

def _idx_path(folder: Path, name: str) -> Path:
    gz = folder / f"{name}.gz"
    return gz if gz.is_file() else folder / name


def _read_idx_split(folder: Path, split: str, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = (_idx_path(folder, name) for name in spec.files[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.shape[1:] != spec.shape[1:] or images.dtype != np.uint8:
        raise DatasetFileError(image_file, f"holds {images.dtype} images of shape {images.shape[1:]}, "
                                           f"expected uint8 {spec.shape[1:]}: not {spec.title}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetFileError(label_file, f"has {labels.shape} labels for the {len(images)} images of {image_file.name}")
    images = images[:, None]
    if spec.name == "emnist":  # stored transposed; labels 1..26
        images, labels = images.transpose(0, 1, 3, 2), labels.astype(np.int64) - 1
    return images, labels


def _read_cifar_split(folder: Path, split: str, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_cifar_batch(folder / name) for name in spec.files[split]]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _read_svhn_split(folder: Path, split: str, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_svhn_mat(folder / spec.files[split][0])
    return images, np.where(labels == 10, 0, labels)


def _unpack_emnist_letters(archive: Path, root: Path) -> None:
    """Take the four EMNIST-letters files out of NIST's gzip.zip into ``root/emnist``."""
    unpack_zip_members(archive, root / "emnist",
                       lambda member: Path(member).name.startswith("emnist-letters-") and member.endswith(".gz"))


# ---------------------------------------------------------------------------------------------
# The datasets

def _idx_files(train_stem: str, test_stem: str) -> dict[str, tuple[str, ...]]:
    stems = {"train": train_stem, "test": test_stem}
    return {split: (f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte") for split, stem in stems.items()}


def _idx_resources(files: dict[str, tuple[str, ...]], md5s: tuple[str, ...], sizes: tuple[int, ...],
                   mirrors: tuple[str, ...]) -> tuple[Resource, ...]:
    """The four .gz files (train images, train labels, test images, test labels) on each mirror."""
    names = [f"{name}.gz" for split in SPLITS for name in files[split]]
    return tuple(Resource(name, md5, size, tuple(m + name for m in mirrors))
                 for name, md5, size in zip(names, md5s, sizes))


_MNIST_FILES = _idx_files("train", "t10k")
_EMNIST_FILES = _idx_files("emnist-letters-train", "emnist-letters-test")

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec(
        "mnist", "MNIST", (1, 28, 28), 10, _MNIST_FILES, ("", "mnist", "MNIST/raw"), _read_idx_split,
        _idx_resources(_MNIST_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                      "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                       (9_912_422, 28_881, 1_648_877, 4_542),
                       ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")),
        "mnist"),
    DatasetSpec(
        "fmnist", "Fashion-MNIST", (1, 28, 28), 10, _MNIST_FILES,
        ("fashion-mnist", "fashion_mnist", "fmnist", "FashionMNIST/raw"), _read_idx_split,
        _idx_resources(_MNIST_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                      "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
                       (26_421_880, 29_515, 4_422_102, 5_148),
                       ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)),
        "fashion-mnist", hint="On Debian/Ubuntu: apt-get install dataset-fashion-mnist."),
    DatasetSpec(
        "emnist", "EMNIST letters", (1, 28, 28), 26, _EMNIST_FILES,
        ("emnist", "EMNIST/raw", "emnist/gzip", "gzip", ""), _read_idx_split,
        (Resource("gzip.zip", "58c8d27c78d21e728a6bc7b3cc06412e", 561_753_746,
                  ("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",)),),
        "emnist", _unpack_emnist_letters, hint="The download is NIST's 535 MB gzip.zip; only the letters are kept."),
    DatasetSpec(
        "cifar10", "CIFAR-10", (3, 32, 32), 10,
        {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        ("cifar-10-batches-py", "cifar10/cifar-10-batches-py", ""), _read_cifar_split,
        (Resource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", 170_498_071,
                  ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)),),
        "", unpack_tar),
    DatasetSpec(
        "cifar100", "CIFAR-100", (3, 32, 32), 100, {"train": ("train",), "test": ("test",)},
        ("cifar-100-python", "cifar100/cifar-100-python"), _read_cifar_split,
        (Resource("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", 169_001_437,
                  ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",)),),
        "", unpack_tar),
    DatasetSpec(
        "svhn", "SVHN", (3, 32, 32), 10, {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)},
        ("svhn", "SVHN", ""), _read_svhn_split,
        (Resource("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373", 182_040_794,
                  ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",)),
         Resource("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3", 64_275_384,
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
    candidates = [data_dir, os.environ.get(DATA_VARIABLE) or None, default_cache_dir()]
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
        f"Its official files are {urls}; downloading them puts them in {target}. Copying them (or "
        "torchvision's layout of them) into one of the directories searched works too.", spec.hint])))


def available_datasets(data_dir: str | Path | None = None) -> dict[str, Availability]:
    """For every dataset: whether its files are found (where), or why not. Files are not parsed."""
    report = {}
    for name in DATASET_NAMES:
        try:
            report[name] = Availability(True, locate(name, data_dir), "")
        except DatasetUnavailable as error:
            report[name] = Availability(False, None, str(error))
    return report


def download_dataset(name: str, data_dir: str | Path | None = None) -> Path:
    """Fetch a dataset's official files into the first data root (unless already there) and unpack
    them; returns the folder holding them."""
    spec = _spec(name)
    try:
        return locate(name, data_dir)
    except DatasetUnavailable:
        pass
    root = data_roots(data_dir)[0]
    for resource in spec.resources:
        path = fetch(resource, root / spec.download_folder)
        if spec.unpack is not None:
            try:
                spec.unpack(path, root)
            finally:
                path.unlink(missing_ok=True)
    return locate(name, data_dir)


OFFICIAL_SIZES = {"mnist": (60_000, 10_000), "fmnist": (60_000, 10_000), "emnist": (124_800, 20_800),
                  "cifar10": (50_000, 10_000), "cifar100": (50_000, 10_000), "svhn": (73_257, 26_032)}


def split_size(name: str, split: str, data_dir: str | Path | None = None) -> int:
    """The number of images of a split without reading them: an idx file's header when the files are
    found, else the official split's size (``OFFICIAL_SIZES``)."""
    spec = _spec(name)
    official = OFFICIAL_SIZES[spec.name][SPLITS.index(split)]
    if spec.read is not _read_idx_split:
        return official
    try:
        labels = _idx_path(locate(name, data_dir, (split,)), spec.files[split][1])
        with (gzip.open(labels, "rb") if labels.suffix == ".gz" else open(labels, "rb")) as stream:
            header = stream.read(8)
    except (DatasetUnavailable, OSError, EOFError, zlib.error):
        return official
    return int.from_bytes(header[4:8], "big") if len(header) == 8 else official


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
    files = ", ".join(spec.files[split])
    if not len(labels):
        raise DatasetFileError(folder, f"the {split} files ({files}) hold no images")
    if labels.min() < 0 or labels.max() >= spec.n_classes:
        raise DatasetFileError(folder, f"the {split} labels ({files}) lie outside 0..{spec.n_classes - 1} "
                                       f"(found {labels.min()}..{labels.max()}): these are not {spec.title} files")
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255)
    if name == "cifar10-gray":
        x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=True)
        x = x.mean(1, keepdim=True).clamp_(0, 1)
    return x, torch.from_numpy(labels.astype(np.int64))
