"""Saved toy runs: a folder (or a zip of one) that holds everything the run used.

Files: ``config.json`` (the ``ToyConfig``), ``model.pt`` (the state dict, loaded with
``weights_only=True``), ``ood_train.npy`` (the OOD training samples the run saw, loaded without
pickle), ``run.json`` (training time and loss per epoch) and, when given, ``metrics.json``.
Loading computes nothing new: no training, no GAN. Runs saved before ``ood_train.npy`` existed
still load: a sampled source (boundary, general) is redrawn from the config, which is exactly what
training drew; a 'gan' run's samples were never stored, so ``ood_train`` is None.

Writes are atomic: into a temporary sibling folder, then one rename; an existing run is replaced
only with ``overwrite=True``. Every malformed file raises ``RunFileError`` naming it.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import data as toydata
from . import jsonutil
from .errors import ConfigError, RunFileError
from .output_folder import atomic_directory
from .toy import ToyConfig, ToyRun, build_model, ood_pool, toy_data

RUN_FILES = ("config.json", "model.pt", "ood_train.npy", "data.npz", "run.json", "metrics.json")
MAX_JSON_BYTES = 10 * 2**20
MAX_OOD_ROWS = 100_000
MAX_ZIP_BYTES = 2 * 2**30


def save_run(run: ToyRun, directory: str | Path, metrics: dict | None = None, overwrite: bool = False) -> Path:
    """Write the run's files (see the module docstring) atomically into ``directory``."""
    with atomic_directory(directory, overwrite) as staging:
        write_run_files(run, staging, metrics)
    return Path(directory)


def write_run_files(run: ToyRun, staging: Path, metrics: dict | None = None) -> None:
    """The run's files in a folder being written (inside ``atomic_directory``)."""
    (staging / "config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
    torch.save(run.model.state_dict(), staging / "model.pt")
    if run.config.dataset == "file":
        d = run.data
        np.savez(staging / "data.npz", x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test,
                 scale=np.float64(d.scale))
    if run.ood_train is not None:
        np.save(staging / "ood_train.npy", np.asarray(run.ood_train, dtype=np.float32), allow_pickle=False)
    record = {"train_seconds": float(run.train_seconds), "epoch_losses": [float(v) for v in run.epoch_losses]}
    (staging / "run.json").write_text(json.dumps(record, indent=2))
    if metrics is not None:
        (staging / "metrics.json").write_text(jsonutil.dumps(metrics, indent=2))


def load_run(path: str | Path) -> ToyRun:
    """Load a run written by ``save_run`` from its folder or from a zip of it; trains nothing."""
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory() as folder:
            return _load_folder(_unzip_run(path, Path(folder)), source=path)
    if not path.is_dir():
        raise RunFileError(f"{path} is neither a run folder nor a zip of one")
    return _load_folder(path, source=path)


def read_metrics(path: str | Path) -> dict | None:
    """The run's stored metrics.json (None when it has none)."""
    file = Path(path) / "metrics.json"
    return _read_json(file) if file.is_file() else None


def _load_folder(folder: Path, source: Path) -> ToyRun:
    for name in ("config.json", "model.pt"):
        if not (folder / name).is_file():
            raise RunFileError(f"{source} is not a saved toyood run: {name} is missing "
                               "(write one with: toyood toy --out DIR)")
    config = config_from_json(_read_json(folder / "config.json"), folder / "config.json")
    data = _stored_data(folder / "data.npz", config) if config.dataset == "file" else toy_data(config)
    model = build_model(config, data)
    _load_weights(model, folder / "model.pt")
    model.eval()
    record = _read_json(folder / "run.json") if (folder / "run.json").is_file() else {}
    return ToyRun(config, model, data, _ood_samples(folder, config, data), _number(record.get("train_seconds", 0.0)),
                  [_number(v) for v in record.get("epoch_losses", [])] if isinstance(record, dict) else [])


def config_from_json(raw, file: Path) -> ToyConfig:
    """A ``ToyConfig`` from a config.json object, every field type-checked; unknown keys are an error."""
    if not isinstance(raw, dict):
        raise RunFileError(f"{file}: expected a JSON object of settings, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(ToyConfig)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise RunFileError(f"{file}: unknown settings {', '.join(unknown)}")
    values = {}
    for key, value in raw.items():
        values[key] = _typed(key, value, ToyConfig.__dataclass_fields__[key].default, file)
    try:
        return ToyConfig(**values)
    except ConfigError as error:
        raise RunFileError(f"{file}: {error}") from None


def _typed(key: str, value, default, file: Path):
    if key == "extra_ood":
        if not (isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 and
                                                all(type(v) in (int, float) for v in p) for p in value)):
            raise RunFileError(f"{file}: extra_ood must be a list of [x, y] number pairs, got {value!r:.80}")
        return tuple((float(x), float(y)) for x, y in value)
    if key == "hidden":
        if not (isinstance(value, list) and value and all(type(v) is int for v in value)):
            raise RunFileError(f"{file}: hidden must be a list of whole numbers, got {value!r}")
        return tuple(value)
    if value is None and default is None:
        return None
    expected = type(default) if default is not None else (int if key in ("epochs", "batch_size", "acet_steps")
                                                           else float if key == "lr" else str)
    if expected is float and type(value) in (int, float):
        return float(value)
    if type(value) is not expected:
        raise RunFileError(f"{file}: {key} must be {expected.__name__}, got {value!r}")
    return value


def _read_json(file: Path):
    if file.stat().st_size > MAX_JSON_BYTES:
        raise RunFileError(f"{file} is larger than {MAX_JSON_BYTES // 2**20} MiB: not a toyood run file")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFileError(f"{file} is not valid JSON: {error}") from None


def _number(value) -> float:
    return float(value) if type(value) in (int, float) else 0.0


def _load_weights(model: torch.nn.Module, file: Path) -> None:
    """Check the archive's sizes against the model before reading, then load with weights_only."""
    expected = {k: v.shape for k, v in model.state_dict().items()}
    limit = 4 * sum(int(np.prod(s)) for s in expected.values()) * 2 + 2**20
    try:
        with zipfile.ZipFile(file) as archive:
            stored = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise RunFileError(f"{file} is not a PyTorch state dict (torch.save writes a zip archive)") from None
    if stored > limit:
        raise RunFileError(f"{file} unpacks to {stored:,} bytes, more than the {limit:,} the network of "
                           f"config.json can need")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad or blocked archive
        raise RunFileError(f"{file} cannot be read as weights: {str(error).splitlines()[0][:200]}") from None
    _check_state(state, expected, file)
    model.load_state_dict(state)


def _check_state(state, expected: dict, file: Path) -> None:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RunFileError(f"{file} does not hold a state dict of tensors")
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise RunFileError(f"{file} does not match config.json: missing {missing or 'none'}, "
                           f"unexpected {extra or 'none'}")
    for key, shape in expected.items():
        if state[key].shape != shape or not state[key].is_floating_point():
            raise RunFileError(f"{file} does not match config.json: {key} has shape "
                               f"{tuple(state[key].shape)}, the config's network needs {tuple(shape)}")


def _ood_samples(folder: Path, config: ToyConfig, data: toydata.ToyData) -> np.ndarray | None:
    file = folder / "ood_train.npy"
    if not file.is_file():
        return None if config.ood in ("none", "gan") else ood_pool(config, data)
    try:
        with open(file, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(handle)
            if len(shape) != 2 or shape[1] != 2 or not 1 <= shape[0] <= MAX_OOD_ROWS or dtype.kind != "f":
                raise RunFileError(f"{file}: expected up to {MAX_OOD_ROWS} rows of 2 floats, "
                                   f"got shape {shape} of {dtype}")
        samples = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise RunFileError(f"{file} is not a NumPy array file: {error}") from None
    if not np.isfinite(samples).all():
        raise RunFileError(f"{file} holds NaN or infinite values")
    return samples.astype(np.float32)


def _stored_data(file: Path, config: ToyConfig) -> toydata.ToyData:
    """The own data a run trained on, from its data.npz (no pickle; shapes and labels checked)."""
    if not file.is_file():
        raise RunFileError(f"{file} is missing: a run on own data stores the points it used")
    try:
        with np.load(file, allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in ("x_train", "y_train", "x_test", "y_test", "scale")}
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
        raise RunFileError(f"{file} is not a toyood data archive: {error}") from None
    rows_ok = all(arrays[x].ndim == 2 and arrays[x].shape[1] == 2 and len(arrays[x]) == len(arrays[y]) <= 10**5
                  for x, y in (("x_train", "y_train"), ("x_test", "y_test")))
    labels = np.concatenate([arrays["y_train"], arrays["y_test"]])
    if not rows_ok or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= config.classes:
        raise RunFileError(f"{file} does not hold (n, 2) points with labels 0..{config.classes - 1}")
    return toydata.ToyData(arrays["x_train"].astype(np.float32), arrays["y_train"].astype(np.int64),
                           arrays["x_test"].astype(np.float32), arrays["y_test"].astype(np.int64),
                           config.sigma, config.classes, None, toydata.OOD_RADIUS_SIGMAS * config.sigma,
                           float(arrays["scale"]))


def _unzip_run(archive_path: Path, target: Path) -> Path:
    """Extract a run's files (top level or one folder deep) with size and path checks."""
    with zipfile.ZipFile(archive_path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir() and Path(i.filename).name in RUN_FILES]
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise RunFileError(f"{archive_path} unpacks to more than {MAX_ZIP_BYTES // 2**30} GiB")
        folders = {Path(i.filename).parent for i in infos}
        if len(folders) != 1 or len(Path(next(iter(folders))).parts) > 1:
            raise RunFileError(f"{archive_path} must hold one run: config.json and model.pt at the top "
                               "or in one folder")
        for info in infos:
            (target / Path(info.filename).name).write_bytes(archive.read(info))
    return target
