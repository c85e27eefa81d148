"""Finished benchmark runs shipped with the repository (``results/``), which open without training.

A stored run is a folder ``<dataset>-<preset>-seed<seed>`` holding a saved result
(``toyood.images.results``: ``results.json``, ``confidences.npz``, ``samples.npz``, ``table.txt``;
no weights) and ``provenance.json``: the exact command, the revision, the device, the wall time and
the data used (the dataset folder and the SHA-256 of each file read). ``scripts/store_results.py``
writes them; ``stored_runs`` reads and checks every one (no pickle; a malformed or incomplete
folder raises ``RunFileError`` naming the file and what is wrong).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import jsonutil
from ..device import resolve_device
from ..errors import RunFileError
from ..output_folder import atomic_directory
from .benchmark import BenchConfig, BenchResult
from .datasets import DATASETS, DatasetUnavailable, locate
from .results import load_result, write_result_files

STORED_DIR = Path(__file__).resolve().parents[2] / "results"  # the repository's results/ folder
PROVENANCE = "provenance.json"
PROVENANCE_FIELDS = {"command": str, "revision": str, "device": str, "wall_seconds": float, "created": str,
                     "data": dict}


@dataclass(frozen=True)
class StoredRun:
    """A stored run: its folder, its result (``model`` None for every method) and its provenance."""

    folder: Path
    result: BenchResult
    provenance: dict

    @property
    def name(self) -> str:
        return self.folder.name

    def label(self) -> str:
        """One line for a list: dataset, preset, methods, seed, wall time and device."""
        config = self.result.config
        return (f"{self.name}: {config.dataset}, preset {config.preset}, {', '.join(config.methods)}, seed "
                f"{config.seed} · {self.provenance['wall_seconds']:.0f} s on {self.provenance['device']} "
                f"· revision {self.provenance['revision'][:12]}")


def run_name(config: BenchConfig) -> str:
    return f"{config.dataset}-{config.preset}-seed{config.seed}"


def revision(repository: Path = STORED_DIR.parent) -> str:
    """The checkout's commit, with "+changes" when tracked files outside the stored runs differ from it
    (a run stored just before by the same script is not a change of the code); "unknown" outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                f":(exclude){STORED_DIR.name}"], cwd=repository,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def device_description(device: str) -> str:
    """E.g. "cpu (Intel Xeon …, 1 torch thread)" or "cuda (NVIDIA H100 …)"; "auto" as it resolves."""
    if device == "auto":
        device = resolve_device(device).type
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name()})"
    return f"{device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s))"


def data_used(config: BenchConfig, datasets: list[str]) -> dict:
    """For each dataset read (names of ``DATASETS``, "cifar10-gray" too; others are ignored): its
    folder and the SHA-256 of its files (as they are on disk)."""
    used = {}
    for name in datasets:
        spec = DATASETS.get(name.removesuffix("-gray"))
        if spec is None:
            continue
        try:
            folder = locate(name, config.data_dir)
        except DatasetUnavailable:
            continue
        files = {}
        for stem in (f for split in spec.files.values() for f in split):
            path = next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
            if path is not None:
                files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        used[name] = {"folder": str(folder), "sha256": files}
    return used


def save_stored(result: BenchResult, provenance: dict, directory: Path | None = None, overwrite: bool = True) -> Path:
    """Write ``result`` (without weights) and its provenance to ``directory/run_name`` (default
    ``STORED_DIR``), atomically."""
    _check_provenance(provenance, Path(PROVENANCE))
    light = dataclasses.replace(result, methods={m: dataclasses.replace(r, model=None) for m, r in result.methods.items()})
    folder = Path(directory or STORED_DIR) / run_name(result.config)
    with atomic_directory(folder, overwrite) as staging:
        write_result_files(light, staging)
        (staging / PROVENANCE).write_text(jsonutil.dumps(provenance, indent=2))
    return folder


def load_stored(folder: Path) -> StoredRun:
    """One stored run, every file checked (``RunFileError`` names the file and the problem)."""
    folder = Path(folder)
    result = load_result(folder)
    file = folder / PROVENANCE
    if not file.is_file():
        raise RunFileError(f"{folder} is not a stored run: {PROVENANCE} is missing (scripts/store_results.py writes it)")
    try:
        provenance = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFileError(f"{file} is not valid JSON: {error}") from None
    _check_provenance(provenance, file)
    if folder.name != run_name(result.config):
        raise RunFileError(f"{folder} holds the run {run_name(result.config)}: the folder must carry its name")
    return StoredRun(folder, result, provenance)


def stored_runs(directory: Path | None = None) -> list[StoredRun]:
    """Every stored run in ``directory`` (default ``STORED_DIR``; none when it does not exist), sorted by name."""
    directory = Path(directory or STORED_DIR)
    if not directory.is_dir():
        return []
    return [load_stored(folder) for folder in sorted(directory.iterdir()) if folder.is_dir()
            and not folder.name.startswith(".")]


def find_stored(runs: list[StoredRun], dataset: str, preset: str | None = None) -> StoredRun | None:
    """The run for ``dataset`` (and ``preset`` when given) with the most methods, or None."""
    fits = [r for r in runs if r.result.config.dataset == dataset and preset in (None, r.result.config.preset)]
    return max(fits, key=lambda r: len(r.result.methods), default=None)


def _check_provenance(provenance, file: Path) -> None:
    if not isinstance(provenance, dict):
        raise RunFileError(f"{file}: expected a JSON object, got {type(provenance).__name__}")
    for key, kind in PROVENANCE_FIELDS.items():
        value = provenance.get(key)
        ok = (type(value) in (int, float) and value >= 0) if kind is float else (isinstance(value, kind) and value)
        if not ok:
            raise RunFileError(f"{file}: {key} must be a non-empty {kind.__name__}"
                               f"{' ≥ 0' if kind is float else ''}, got {value!r}")
    load = provenance.get("load_average_1min", 0.0)  # optional: runs this server keeps have none
    if type(load) not in (int, float) or not load >= 0:
        raise RunFileError(f"{file}: load_average_1min must be a number ≥ 0 when given, got {load!r}")


def select_methods(result: BenchResult, methods: tuple[str, ...]) -> BenchResult:
    """``result`` restricted to ``methods`` in that order (a view of a stored run for a link's
    ``bench-methods``); ``RunFileError`` names the methods the run does not hold."""
    missing = [m for m in methods if m not in result.methods]
    if missing or not methods:
        raise RunFileError(f"the run holds {', '.join(result.methods)}; it has no {', '.join(missing) or 'method chosen'}")
    config = dataclasses.replace(result.config, methods=tuple(methods))
    return dataclasses.replace(result, config=config, methods={m: result.methods[m] for m in methods})
