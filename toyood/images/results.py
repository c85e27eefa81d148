"""Benchmark results on disk: a folder that reopens without training anything.

Files: ``results.json`` (``BenchResult.to_dict``: the config, sizes, skipped sets and every
method's numbers), ``confidences.npz`` (``<method>/<set>``: the confidence of every evaluated image,
for the histograms), ``samples.npz`` (``<method>/<kind>``: the sample images of the figures),
``table.txt`` (``report.format_table``) and ``model_<method>.pt`` (state dicts). ``save_result``
writes them atomically (a temporary sibling folder, then one rename); ``load_result`` checks every
value and array before use and raises ``RunFileError`` naming the file and what is wrong. The
models are not loaded: a reopened result has ``model=None``.
"""
from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from .. import jsonutil
from ..errors import ConfigError, RunFileError
from ..output_folder import atomic_directory
from .benchmark import GENERATED_SETS, SAMPLES_SHOWN, SET_METRICS, BenchConfig, BenchResult, MethodResult
from .datasets import DATASET_NAMES, SHAPES
from .report import format_table

RESULT_FILES = ("results.json", "confidences.npz", "samples.npz")
SAMPLE_KINDS = ("noise", "adv_noise", "test", "adv_samples")
MAX_JSON_BYTES = 16 * 2**20
MAX_ARRAYS_BYTES = 256 * 2**20


def write_result_files(result: BenchResult, folder: str | Path) -> None:
    """Write the result's files (see the module docstring) into an existing ``folder``."""
    folder = Path(folder)
    (folder / "results.json").write_text(jsonutil.dumps(result.to_dict(), indent=2))
    (folder / "table.txt").write_text(format_table(result) + "\n")
    np.savez_compressed(folder / "confidences.npz", **{f"{m}/{s}": c.astype(np.float32)
                                                      for m, r in result.methods.items()
                                                      for s, c in r.confidences.items()})
    np.savez_compressed(folder / "samples.npz", **{f"{m}/{k}": r.samples[k].astype(np.float32)
                                                  for m, r in result.methods.items() for k in SAMPLE_KINDS})
    for name, method_result in result.methods.items():
        if method_result.model is not None:
            torch.save(method_result.model.state_dict(), folder / f"model_{name}.pt")


def save_result(result: BenchResult, directory: str | Path, overwrite: bool = False) -> Path:
    """Write the result atomically into ``directory``; an existing folder is replaced only with ``overwrite``."""
    with atomic_directory(directory, overwrite) as staging:
        write_result_files(result, staging)
    return Path(directory)


def load_result(directory: str | Path) -> BenchResult:
    """The result saved in ``directory`` (by ``save_result`` or ``toyood bench --out``), every file checked."""
    folder = Path(directory)
    if not folder.is_dir():
        raise RunFileError(f"{folder} is not a folder of benchmark results")
    for name in RESULT_FILES:
        if not (folder / name).is_file():
            raise RunFileError(f"{folder} is not a saved benchmark result: {name} is missing "
                               "(write one with: toyood bench --out DIR)")
    file = folder / "results.json"
    raw = _read_json(file)
    _check(isinstance(raw, dict), file, f"expected a JSON object, got {type(raw).__name__}")
    config = _config(raw.get("config"), file)
    sizes = {key: raw.get(key) for key in ("n_train", "n_test")}
    _check(all(type(v) is int and v > 0 for v in sizes.values()), file, f"n_train and n_test must be positive "
                                                                          f"whole numbers, got {sizes}")
    skipped = raw.get("skipped", {})
    _check(isinstance(skipped, dict) and all(isinstance(v, str) for v in skipped.values()), file,
           "skipped must map set names to reasons")
    methods = raw.get("methods")
    _check(isinstance(methods, dict) and list(methods) == list(config.methods), file,
           f"methods must hold exactly {', '.join(config.methods)} (the config's methods)")
    confidences = _read_arrays(folder / "confidences.npz")
    samples = _read_arrays(folder / "samples.npz")
    results = {name: _method_result(name, methods[name], file, confidences, samples, config, folder)
               for name in config.methods}
    return BenchResult(config, results, skipped, sizes["n_train"], sizes["n_test"])


# ---------------------------------------------------------------------------------------------
# Checks

def _check(ok: bool, file: Path, problem: str) -> None:
    if not ok:
        raise RunFileError(f"{file}: {problem}")


def _read_json(file: Path):
    if file.stat().st_size > MAX_JSON_BYTES:
        raise RunFileError(f"{file} is larger than {MAX_JSON_BYTES // 2**20} MiB: not a benchmark result")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFileError(f"{file} is not valid JSON: {error}") from None


_CONFIG_TYPES = {"dataset": str, "preset": str, "device": str, "ceda_objective": str, "seed": int,
                 "download": bool, "ood_weight": float}
_OPTIONAL_TYPES = {"data_dir": str, "epochs": int, "n_train": int, "n_test": int}
_NAME_LISTS = ("methods", "ood_sets")


def _config_value(key: str, value, file: Path):
    if key in _NAME_LISTS:
        _check((value is None and key == "ood_sets") or (isinstance(value, list) and
                                                         all(isinstance(v, str) for v in value)),
               file, f"config {key} must be a list of names, got {value!r}")
        return None if value is None else tuple(value)
    expected = _CONFIG_TYPES.get(key) or _OPTIONAL_TYPES[key]
    if value is None and key in _OPTIONAL_TYPES:
        return None
    if expected is float and type(value) in (int, float):
        return float(value)
    _check(type(value) is expected, file, f"config {key} must be {expected.__name__}, got {value!r}")
    return value


def _config(raw, file: Path) -> BenchConfig:
    _check(isinstance(raw, dict), file, "config must be a JSON object of settings")
    fields = {f.name for f in dataclasses.fields(BenchConfig)}
    unknown = sorted(set(raw) - fields)
    _check(not unknown, file, f"unknown config settings {', '.join(unknown)}")
    try:
        return BenchConfig(**{key: _config_value(key, value, file) for key, value in raw.items()})
    except ConfigError as error:
        raise RunFileError(f"{file}: {error}") from None


ROUNDING = 1e-9  # sums of float64 shares (e.g. average precision) can exceed 1 by a few ulps


def _number(value, file: Path, what: str, low: float = 0.0, high: float = float("inf"), none_ok: bool = False):
    if value is None and none_ok:
        return None
    _check(type(value) in (int, float) and low - ROUNDING <= value <= high + ROUNDING, file,
           f"{what} must be a number in [{low:g}, {high:g}]{' or null' if none_ok else ''}, got {value!r}")
    return float(value)


def _sets(raw, file: Path, method: str) -> dict[str, dict[str, float | None]]:
    _check(isinstance(raw, dict) and set(GENERATED_SETS) <= set(raw) and set(raw) <= {*DATASET_NAMES, *GENERATED_SETS},
           file, f"{method}: sets must name the evaluated datasets and {', '.join(GENERATED_SETS)}")
    sets = {}
    for name, metrics in raw.items():
        _check(isinstance(metrics, dict) and set(metrics) == set(SET_METRICS), file,
               f"{method}: the metrics of {name} must be {', '.join(SET_METRICS)}")
        sets[name] = {key: _number(value, file, f"{method}/{name}/{key}", 0.0, 1.0, none_ok=True)
                      for key, value in metrics.items()}
    return sets


def _method_result(name: str, raw, file: Path, confidences: dict, samples: dict, config: BenchConfig,
                   folder: Path) -> MethodResult:
    _check(isinstance(raw, dict) and raw.get("method") == name, file, f"methods/{name} must be an object for {name}")
    sets = _sets(raw.get("sets"), file, name)
    losses = raw.get("epoch_losses", [])
    _check(isinstance(losses, list), file, f"{name}: epoch_losses must be a list of numbers")
    set_confidences = {s: _confidence_array(confidences, f"{name}/{s}", folder / "confidences.npz")
                       for s in ("in", *sets)}
    shape = SHAPES[config.dataset]
    set_samples = {k: _sample_array(samples, f"{name}/{k}", folder / "samples.npz", shape) for k in SAMPLE_KINDS}
    return MethodResult(
        name, _number(raw.get("test_error"), file, f"{name}/test_error", 0.0, 1.0),
        _number(raw.get("in_mmc"), file, f"{name}/in_mmc", 0.0, 1.0), sets,
        _number(raw.get("median_alpha"), file, f"{name}/median_alpha", 1.0, none_ok=True),
        _number(raw.get("alpha_overconfident"), file, f"{name}/alpha_overconfident", 0.0, 1.0, none_ok=True),
        _number(raw.get("train_seconds", 0.0), file, f"{name}/train_seconds"),
        _number(raw.get("eval_seconds", 0.0), file, f"{name}/eval_seconds"),
        [_number(v, file, f"{name}/epoch_losses", float("-inf")) for v in losses],
        set_confidences, set_samples)


def _read_arrays(file: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file, its unpacked size checked before reading, no pickles."""
    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_ARRAYS_BYTES:
            raise RunFileError(f"{file} unpacks to {unpacked:,} bytes, more than the "
                               f"{MAX_ARRAYS_BYTES // 2**20} MiB a benchmark result can need")
        with np.load(file, allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    except RunFileError:
        raise
    except Exception as error:  # zipfile, zlib and numpy raise many types for a damaged archive
        raise RunFileError(f"{file} is not a NumPy .npz archive ({type(error).__name__}: {error})") from None


def _confidence_array(arrays: dict, key: str, file: Path) -> np.ndarray:
    _check(key in arrays, file, f"{key} is missing")
    values = arrays[key]
    _check(values.ndim == 1 and len(values) > 0 and values.dtype.kind == "f", file,
           f"{key} must be a non-empty 1-D float array, got {values.dtype} {values.shape}")
    _check(bool(np.all((values >= 0) & (values <= 1))), file, f"{key} holds values outside [0, 1]")
    return values


def _sample_array(arrays: dict, key: str, file: Path, shape: tuple[int, ...]) -> np.ndarray:
    _check(key in arrays, file, f"{key} is missing")
    values = arrays[key]
    _check(values.ndim == 4 and 1 <= len(values) <= SAMPLES_SHOWN and values.shape[1:] == shape
           and values.dtype.kind == "f", file,
           f"{key} must be 1 to {SAMPLES_SHOWN} float images of shape {shape}, got {values.dtype} {values.shape}")
    _check(bool(np.all((values >= 0) & (values <= 1))), file, f"{key} holds pixel values outside [0, 1]")
    return values
