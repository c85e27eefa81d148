import dataclasses
import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from toyood.images import datasets, download
from toyood.images.augment import augmentation, random_crop, random_flip
from toyood.images.datasets import (DatasetFileError, DatasetUnavailable, Resource, available_datasets, data_roots,
                                    load_split, locate)

MNIST_10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-10k"
DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No user cache, no TOYOOD_DATA, no system directories: only what a test writes."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TOYOOD_DATA", raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {})


# ---- writers of the official formats ---------------------------------------------------------

def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    raw = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def random_images(n, shape, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def write_idx_dataset(folder: Path, n_train=6, n_test=4, prefix=("train", "t10k"), labels=(0, 10),
                      compress=True):
    data = {}
    for split, stem, n in (("train", prefix[0], n_train), ("test", prefix[1], n_test)):
        images = random_images(n, (28, 28), n)
        y = np.arange(n) % (labels[1] - labels[0]) + labels[0]
        write_idx(folder / f"{stem}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{stem}-labels-idx1-ubyte", y, compress)
        data[split] = (images, y)
    return data


def write_cifar(folder: Path, batch_names, n=5, label_key="labels", n_classes=10):
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate(batch_names):
        images = random_images(n, (3072,), i)
        batch = {"batch_label": name, "data": images, label_key: list(np.arange(n) % n_classes),
                 "filenames": [f"{name}_{k}.png" for k in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = (images.reshape(n, 3, 32, 32), np.arange(n) % n_classes)
    return written


def write_svhn(folder: Path, n=6):
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split in ("train", "test"):
        x = random_images(n, (32, 32, 3), n).transpose(1, 2, 3, 0)  # (32, 32, 3, N) as in the .mat files
        y = (np.arange(n) % 10 + 1).reshape(-1, 1)  # digits 1..10, 10 = digit 0
        scipy.io.savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})
        out[split] = (x, y)
    return out


CIFAR10_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


# ---- loading each format ---------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx_files_load_as_float_images_in_unit_range(tmp_path, compress):
    written = write_idx_dataset(tmp_path / "mnist", compress=compress)
    x_train, y_train = load_split("mnist", "train", tmp_path)
    x_test, y_test = load_split("mnist", "test", tmp_path)
    assert x_train.shape == (6, 1, 28, 28) and x_test.shape == (4, 1, 28, 28)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    np.testing.assert_allclose(x_train[:, 0].numpy() * 255, written["train"][0], atol=1e-4)
    np.testing.assert_array_equal(y_test.numpy(), written["test"][1])


def test_idx_files_directly_in_the_data_dir_are_mnist(tmp_path):
    write_idx_dataset(tmp_path)
    assert locate("mnist", tmp_path) == tmp_path


def test_emnist_letters_are_transposed_upright_with_labels_from_zero(tmp_path):
    written = write_idx_dataset(tmp_path / "emnist", prefix=("emnist-letters-train", "emnist-letters-test"),
                                labels=(1, 27))
    x, y = load_split("emnist", "train", tmp_path)
    np.testing.assert_allclose(x[:, 0].numpy() * 255, written["train"][0].transpose(0, 2, 1), atol=1e-4)
    np.testing.assert_array_equal(y.numpy(), written["train"][1] - 1)


def test_cifar10_pickle_batches_load_as_nchw(tmp_path):
    written = write_cifar(tmp_path / "cifar-10-batches-py", CIFAR10_BATCHES)
    x_train, y_train = load_split("cifar10", "train", tmp_path)
    x_test, _ = load_split("cifar10", "test", tmp_path)
    assert x_train.shape == (25, 3, 32, 32) and x_test.shape == (5, 3, 32, 32)
    np.testing.assert_allclose(x_test.numpy() * 255, written["test_batch"][0], atol=1e-4)
    np.testing.assert_array_equal(y_train[:5].numpy(), written["data_batch_1"][1])


def test_cifar100_uses_the_fine_labels(tmp_path):
    write_cifar(tmp_path / "cifar-100-python", ["train", "test"], n=7, label_key="fine_labels", n_classes=100)
    x, y = load_split("cifar100", "test", tmp_path)
    assert x.shape == (7, 3, 32, 32) and y.tolist() == list(range(7))


def test_svhn_mat_files_load_with_label_10_as_digit_0(tmp_path):
    written = write_svhn(tmp_path / "svhn")
    x, y = load_split("svhn", "test", tmp_path)
    assert x.shape == (6, 3, 32, 32)
    np.testing.assert_allclose(x.numpy() * 255, written["test"][0].transpose(3, 2, 0, 1), atol=1e-4)
    assert y.tolist() == [1, 2, 3, 4, 5, 6] and 0 not in y.tolist()
    write_svhn(tmp_path / "svhn", n=10)
    assert load_split("svhn", "train", tmp_path)[1].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]


def test_gray_cifar10_is_28x28_channel_mean(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder, CIFAR10_BATCHES)
    colours = np.array([[255, 0, 0], [0, 255, 0], [30, 60, 90], [0, 0, 0], [255, 255, 255]], np.uint8)
    solid = np.repeat(colours[:, :, None], 1024, 2).reshape(5, 3072)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": solid, "labels": [0] * 5}, protocol=2))
    x, _ = load_split("cifar10-gray", "test", tmp_path)
    assert x.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(x[:, 0, 14, 14].numpy(), colours.mean(1) / 255, atol=1e-6)


# ---- torchvision's layouts, Debian's package, environment variable -----------------------------

@pytest.mark.parametrize("name,folder,prefix,labels", [
    ("mnist", "MNIST/raw", ("train", "t10k"), (0, 10)),
    ("fmnist", "FashionMNIST/raw", ("train", "t10k"), (0, 10)),
    ("emnist", "EMNIST/raw", ("emnist-letters-train", "emnist-letters-test"), (1, 27)),
])
def test_torchvision_raw_layouts_with_uncompressed_files(tmp_path, name, folder, prefix, labels):
    write_idx_dataset(tmp_path / folder, prefix=prefix, labels=labels, compress=False)
    assert locate(name, tmp_path) == tmp_path / folder
    assert load_split(name, "test", tmp_path)[0].shape == (4, 1, 28, 28)


def test_torchvision_cifar_and_svhn_layouts(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py", CIFAR10_BATCHES)
    write_cifar(tmp_path / "cifar-100-python", ["train", "test"], label_key="fine_labels")
    write_svhn(tmp_path / "svhn")
    report = available_datasets(tmp_path)
    assert {name for name, entry in report.items() if entry.present} == {"cifar10", "cifar100", "svhn", "cifar10-gray"}
    assert report["svhn"].location == tmp_path / "svhn"


def test_debian_fashion_mnist_directory_is_searched(tmp_path, monkeypatch):
    debian = tmp_path / "usr-share-datasets-fashion-mnist"
    write_idx_dataset(debian)
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {"fmnist": (debian,)})
    assert locate("fmnist") == debian
    assert not available_datasets()["mnist"].present


def test_toyood_data_environment_variable_is_a_data_root(tmp_path, monkeypatch):
    write_svhn(tmp_path / "elsewhere" / "svhn")
    monkeypatch.setenv("TOYOOD_DATA", str(tmp_path / "elsewhere"))
    assert data_roots(tmp_path / "given")[:2] == [tmp_path / "given", tmp_path / "elsewhere"]
    assert locate("svhn", tmp_path / "given") == tmp_path / "elsewhere" / "svhn"


# ---- missing and corrupt files -----------------------------------------------------------------

def test_missing_dataset_message_names_files_directories_and_remedy(tmp_path):
    with pytest.raises(DatasetUnavailable) as error:
        load_split("svhn", "train", tmp_path)
    message = str(error.value)
    assert "train_32x32.mat" in message and not isinstance(error.value, DatasetFileError)
    assert str(tmp_path / "svhn") in message and str(tmp_path / "home" / ".cache" / "toyood") in message
    assert "http://ufldl.stanford.edu/housenumbers/train_32x32.mat" in message
    assert "--" not in message  # the library names no command-line flags


def test_available_datasets_says_why_not(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    report = available_datasets(tmp_path)
    assert report["mnist"].present and report["mnist"].location == tmp_path / "mnist"
    assert not report["emnist"].present and "emnist-letters-train-images-idx3-ubyte" in report["emnist"].reason


@pytest.mark.parametrize("damage", ["truncated gzip", "bad magic", "short data"])
def test_corrupt_idx_file_is_named(tmp_path, damage):
    write_idx_dataset(tmp_path / "mnist")
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    if damage == "truncated gzip":
        path.write_bytes(path.read_bytes()[:40])
    elif damage == "bad magic":
        path.write_bytes(gzip.compress(b"\x01\x02" + raw[2:]))
    else:
        path.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DatasetFileError, match="t10k-images-idx3-ubyte.gz") as error:
        load_split("mnist", "test", tmp_path)
    assert error.value.path == path


def test_mismatched_labels_file_is_reported(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte", np.zeros(3))
    with pytest.raises(DatasetUnavailable, match="t10k-labels-idx1-ubyte"):
        load_split("mnist", "test", tmp_path)


def test_corrupt_cifar_batch_is_named(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py", CIFAR10_BATCHES)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DatasetUnavailable, match="test_batch"):
        load_split("cifar10", "test", tmp_path)


def test_cifar_batch_cannot_run_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("owned",))

    write_cifar(tmp_path / "cifar-10-batches-py", CIFAR10_BATCHES)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": Exploit()}))
    with pytest.raises(DatasetUnavailable, match="unexpected object builtins.print"):
        load_split("cifar10", "test", tmp_path)


def test_corrupt_svhn_file_is_named(tmp_path):
    write_svhn(tmp_path / "svhn")
    (tmp_path / "svhn" / "test_32x32.mat").write_bytes(b"garbage")
    with pytest.raises(DatasetUnavailable, match="test_32x32.mat"):
        load_split("svhn", "test", tmp_path)


def test_files_of_another_dataset_are_rejected(tmp_path):
    write_idx_dataset(tmp_path / "emnist", prefix=("emnist-letters-train", "emnist-letters-test"), labels=(0, 30))
    with pytest.raises(DatasetFileError, match="outside 0..25"):
        load_split("emnist", "train", tmp_path)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        load_split("imagenet", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        load_split("mnist", "validation")


# ---- downloading (from local file:// URLs: tests never touch the network) -----------------------

def cifar_archive(tmp_path) -> Path:
    source = tmp_path / "source"
    write_cifar(source / "cifar-10-batches-py", CIFAR10_BATCHES)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", "cifar-10-batches-py")
    return archive


def test_download_checks_md5_and_unpacks(tmp_path, monkeypatch):
    archive = cifar_archive(tmp_path)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    spec = dataclasses.replace(datasets.DATASETS["cifar10"], resources=(
        Resource("cifar-10-python.tar.gz", md5, archive.stat().st_size,
                 ("file:///nonexistent/cifar.tar.gz", archive.as_uri())),))
    monkeypatch.setitem(datasets.DATASETS, "cifar10", spec)
    target = tmp_path / "data"
    x, y = load_split("cifar10", "test", target, download=True)
    assert x.shape == (5, 3, 32, 32)
    assert locate("cifar10", target) == target / "cifar-10-batches-py"
    assert not (target / "cifar-10-python.tar.gz").exists()


def test_download_with_wrong_md5_leaves_nothing(tmp_path, monkeypatch):
    archive = cifar_archive(tmp_path)
    spec = dataclasses.replace(datasets.DATASETS["cifar10"], resources=(
        Resource("cifar-10-python.tar.gz", "0" * 32, archive.stat().st_size, (archive.as_uri(),)),))
    monkeypatch.setitem(datasets.DATASETS, "cifar10", spec)
    with pytest.raises(DatasetUnavailable, match="MD5"):
        load_split("cifar10", "test", tmp_path / "data", download=True)
    assert not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


def test_unpacking_ignores_paths_outside_the_root(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    (tmp_path / "root").mkdir()
    download.unpack_tar(archive, tmp_path / "root")
    assert not (tmp_path / "escaped.txt").exists() and not any((tmp_path / "root").iterdir())


# ---- the real data at hand ---------------------------------------------------------------------

@pytest.mark.skipif(not MNIST_10K.is_dir(), reason="the shared MNIST subset is not on this machine")
def test_shared_mnist_subset_has_8000_train_and_2000_test_images():
    x_train, y_train = load_split("mnist", "train", MNIST_10K)
    x_test, _ = load_split("mnist", "test", MNIST_10K)
    assert (len(x_train), len(x_test)) == (8000, 2000)
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    assert set(y_train.tolist()) == set(range(10))


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_is_found_without_configuration(monkeypatch):
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {"fmnist": (DEBIAN_FMNIST,)})
    x, y = load_split("fmnist", "test")
    assert x.shape == (10000, 1, 28, 28) and set(y.tolist()) == set(range(10))


# ---- batch augmentation ------------------------------------------------------------------------

def test_random_crop_takes_a_window_of_the_zero_padded_image():
    x = torch.rand(16, 3, 8, 8)
    out = random_crop(x, torch.Generator().manual_seed(0), pad=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for image, crop in zip(padded, out):
        windows = [image[:, i:i + 8, j:j + 8] for i in range(5) for j in range(5)]
        assert any(torch.equal(crop, w) for w in windows)


def test_augmentation_is_seeded_and_flips_only_cifar():
    x = torch.rand(64, 3, 32, 32)
    same = [augmentation("cifar10")(x, torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*same)
    # with zero padding 0 no crop happens, so any change is a flip
    flipped = random_flip(x, torch.Generator().manual_seed(1))
    changed = ~(flipped == x).flatten(1).all(1)
    assert 10 < changed.sum() < 54 and torch.equal(flipped[changed], x[changed].flip(-1))
    digits = torch.zeros(8, 1, 28, 28)
    digits[:, :, 10:18, 0:4] = 1  # a bar on the left stays on the left (shifted by at most 4)
    assert augmentation("mnist")(digits, torch.Generator().manual_seed(0))[:, :, :, 14:].sum() == 0


def test_download_into_an_unusable_directory_says_so(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DatasetUnavailable, match="cannot download into"):
        load_split("svhn", "test", blocker / "data", download=True)
