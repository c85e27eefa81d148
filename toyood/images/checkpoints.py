"""Resumable benchmark runs: each method's training state saved after every epoch, per process.

A checkpoint folder holds ``<method>.epoch<k>.rank<r>.pt`` files: the ``toyood.train.TrainingState``
after epoch k (weights, optimiser, the training generator, losses, time) of process r, plus the
global random states of torch, NumPy and Python on that process, the run's config, the number of
processes and the epochs planned. Each file is written to a temporary name and renamed (a kill
never leaves half a file); the previous epoch's file goes only after every process has written the
new one, so the processes always share an epoch to resume from. A finished method keeps its last
file: a restart trains it no further (its evaluation runs again, from the same weights).

Reading: ``torch.load(weights_only=True)`` (no code runs), the unpacked size checked first, then
every field; a malformed file raises ``CheckpointError`` naming it. A checkpoint of another config
or another number of processes raises ``CheckpointMismatch`` saying what differs: runs are never
mixed.
"""
from __future__ import annotations

import math
import os
import random
import re
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..errors import RunFileError
from ..train import TrainingState
from .benchmark import IMAGE_METHODS, BenchConfig, image_method
from .datasets import N_CLASSES, SHAPES
from .distributed import Workers
from .models import build_image_model

FORMAT, VERSION = "toyood-bench-checkpoint", 1
IGNORED_SETTINGS = ("download",)  # settings that change no number of a run
FILE_NAME = re.compile(r"^(?P<method>[a-z]+)\.epoch(?P<epoch>\d+)\.rank(?P<rank>\d+)\.pt$")
SLACK_BYTES = 16 * 2**20  # beyond three copies of the weights (weights, two Adam moments)


class CheckpointError(RunFileError):
    """A checkpoint file is unreadable or malformed; the message names the file."""


class CheckpointMismatch(RunFileError):
    """A checkpoint belongs to another run (config or number of processes)."""


def comparable(config: BenchConfig) -> dict:
    """The settings a checkpoint must share with the run that resumes it: the config and the values
    its preset stands for."""
    settings = {**config.to_dict(), **{f"preset.{k}": v for k, v in asdict(config.preset_values()).items()}}
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items() if k not in IGNORED_SETTINGS}


def global_rng_states() -> dict:
    """This process's global random states as tensors and plain values."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(gauss)),
            "python": random.getstate()}


def set_global_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    kind, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


class Checkpoints:
    """The checkpoint folder of one run on one process (``workers``)."""

    def __init__(self, directory: str | Path, config: BenchConfig, workers: Workers):
        self.directory, self.config, self.workers = Path(directory), config, workers
        self.epochs = config.preset_values().epochs

    def files(self, method: str | None = None, rank: int | None = None) -> dict[tuple[str, int, int], Path]:
        """(method, epoch, rank) -> file, for the files present (of ``method`` / ``rank`` if given)."""
        if not self.directory.is_dir():
            return {}
        found = {}
        for path in self.directory.iterdir():
            match = FILE_NAME.match(path.name)
            if match and method in (None, match["method"]) and rank in (None, int(match["rank"])):
                found[(match["method"], int(match["epoch"]), int(match["rank"]))] = path
        return found

    def check(self) -> bool:
        """Read and validate every checkpoint of this process before any work; True if there are any.
        Raises ``CheckpointMismatch`` for another run's files, ``CheckpointError`` for malformed ones."""
        files = self.files()
        others = sorted({rank for _, _, rank in files} - set(range(self.workers.world)))
        if others:
            raise CheckpointMismatch(f"{files[next(k for k in sorted(files) if k[2] == others[0])]} was written "
                                     f"by process {others[0]} of a run on more processes than this one's "
                                     f"{self.workers.world}: resume with as many processes, or use another folder")
        for (method, epoch, rank), path in sorted(files.items()):
            if rank == self.workers.rank:
                self.read(path, method, epoch)
        return bool(files)

    def read(self, path: Path, method: str, epoch: int) -> dict:
        """The validated contents of one checkpoint file."""
        _require(method in IMAGE_METHODS, path, f"{method!r} is not a method of the benchmark")
        shapes = network_shapes(method, self.config, self.workers.world)
        payload = _load(path, _size_limit(shapes))
        _check_payload(payload, path)
        there, here = payload["config"], comparable(self.config)
        differences = [f"{key} {there.get(key)!r} there, {here[key]!r} here" for key in here if there.get(key) != here[key]]
        if differences or set(there) != set(here):
            raise CheckpointMismatch(f"{path} belongs to another run ({'; '.join(differences) or 'other settings'}): "
                                     "resume with the same flags, or use another checkpoint folder")
        if payload["world"] != self.workers.world:
            raise CheckpointMismatch(f"{path} was written by a run on {payload['world']} processes, this one has "
                                     f"{self.workers.world}: resume with as many processes, or use another folder")
        _require(payload["method"] == method and payload["rank"] == self.workers.rank and payload["epochs"] == self.epochs
                 and payload["training"]["epochs_done"] == epoch and 1 <= epoch <= self.epochs, path,
                 "its method, process, epoch or planned epochs do not match its name and this run")
        found = {name: tuple(tensor.shape) for name, tensor in payload["training"]["model"].items()}
        wrong = sorted(set(found) ^ set(shapes)) or [n for n in shapes if found[n] != shapes[n]]
        _require(not wrong, path, f"its weights do not fit this run's {method} network ({wrong[0]}: "
                                  f"{found.get(wrong[0], 'missing')} there, {shapes.get(wrong[0], 'none')} here)"
                 if wrong else "")
        return payload

    def for_method(self, method: str) -> "MethodCheckpoint":
        """The checkpointer of one method's training: it resumes from the latest epoch every process has."""
        mine = sorted(epoch for _, epoch, _ in self.files(method, self.workers.rank))
        shared = set.intersection(*[set(epochs) for epochs in self.workers.gather_objects(mine)])
        if not shared:
            return MethodCheckpoint(self, method, None, None)
        epoch = max(shared)
        path = self.files(method, self.workers.rank)[(method, epoch, self.workers.rank)]
        return MethodCheckpoint(self, method, path, self.read(path, method, epoch))


class MethodCheckpoint:
    """``toyood.train.Checkpointer`` for one method: restores ``payload`` (if any), saves every epoch."""

    def __init__(self, owner: Checkpoints, method: str, path: Path | None, payload: dict | None):
        self.owner, self.method, self.path, self.payload = owner, method, path, payload
        self.save_seconds: list[float] = []  # time of each save (the overhead of checkpointing)

    @property
    def epochs_done(self) -> int:
        return 0 if self.payload is None else self.payload["training"]["epochs_done"]

    def restore(self, state: TrainingState) -> None:
        if self.payload is None:
            return
        try:
            state.load_state_dict(self.payload["training"])
            set_global_rng_states(self.payload["rng"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(f"{self.path}: does not fit this run's {self.method} network: {message}") from None
        self.payload = None  # the tensors now live in the model and the optimiser

    def save(self, state: TrainingState) -> None:
        owner, rank = self.owner, self.owner.workers.rank
        start = time.perf_counter()
        owner.directory.mkdir(parents=True, exist_ok=True)
        path = owner.directory / f"{self.method}.epoch{state.epochs_done}.rank{rank}.pt"
        staging = owner.directory / f".{path.name}.{os.getpid()}.tmp"
        payload = {"format": FORMAT, "version": VERSION, "config": comparable(owner.config), "method": self.method,
                   "rank": rank, "world": owner.workers.world, "epochs": owner.epochs,
                   "training": state.state_dict(), "rng": global_rng_states()}
        try:
            with open(staging, "wb") as stream:
                torch.save(payload, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(staging, path)
        finally:
            staging.unlink(missing_ok=True)
        owner.workers.barrier()  # every process has this epoch's file: the older ones can go
        for (_, epoch, _), old in owner.files(self.method, rank).items():
            if epoch != state.epochs_done:
                old.unlink(missing_ok=True)
        for stale in owner.directory.glob(f".{self.method}.epoch*.rank{rank}.pt.*.tmp"):  # a killed save's
            stale.unlink(missing_ok=True)
        self.save_seconds.append(time.perf_counter() - start)


def network_shapes(method: str, config: BenchConfig, world: int) -> dict[str, tuple[int, ...]]:
    """The state-dict names and shapes of ``fit``'s model for ``method`` (``ShardedForward`` around
    the network, itself around ``DistributedDataParallel`` on several processes)."""
    with torch.random.fork_rng(devices=[]):
        model = build_image_model(SHAPES[config.dataset], N_CLASSES[config.dataset],
                                  image_method(method, config).head, config.architecture)
    prefix = "net.module." if world > 1 else "net."
    return {prefix + name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _size_limit(shapes: dict[str, tuple[int, ...]]) -> int:
    """The largest unpacked checkpoint a network can need: three float32 copies of its weights."""
    return 3 * 4 * sum(math.prod(shape) for shape in shapes.values()) + SLACK_BYTES


def _load(path: Path, max_bytes: int) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > max_bytes:
            raise CheckpointError(f"{path} unpacks to {unpacked:,} bytes, more than the {max_bytes:,} a checkpoint "
                                  "of this network can need")
        return torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as error:  # zipfile, pickle and torch raise many types for a damaged file
        first = (str(error).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(f"{path} is not a toyood checkpoint ({type(error).__name__}: {first})") from None


def _require(ok: bool, path: Path, problem: str) -> None:
    if not ok:
        raise CheckpointError(f"{path}: {problem}")


_FIELDS = {"format": str, "version": int, "config": dict, "method": str, "rank": int, "world": int, "epochs": int,
           "training": dict, "rng": dict}
_TRAINING = {"model": dict, "optimizer": dict, "generator": torch.Tensor, "epochs_done": int, "epoch_losses": list,
             "seconds": float}


def _check_payload(payload, path: Path) -> None:
    """The fields and their types (values that must fit the network are checked when restored)."""
    _require(isinstance(payload, dict) and payload.get("format") == FORMAT, path, "not a toyood benchmark checkpoint")
    _require(payload.get("version") == VERSION, path, f"checkpoint version {payload.get('version')!r}, "
                                                      f"this toyood reads version {VERSION}")
    for fields, holder, where in ((_FIELDS, payload, ""), (_TRAINING, payload.get("training"), "training/")):
        _require(isinstance(holder, dict), path, f"{where or 'the file'} must be a dictionary")
        for key, kind in fields.items():
            _require(isinstance(holder.get(key), kind), path, f"{where}{key} must be {kind.__name__}, got "
                                                               f"{type(holder.get(key)).__name__}")
    training, rng = payload["training"], payload["rng"]
    _require(all(isinstance(v, float) for v in training["epoch_losses"])
             and len(training["epoch_losses"]) == training["epochs_done"], path,
             "training/epoch_losses must hold one number per epoch done")
    _require(all(isinstance(v, torch.Tensor) for v in training["model"].values()), path,
             "training/model must map names to tensors")
    _require(isinstance(rng.get("torch"), torch.Tensor) and isinstance(rng.get("numpy"), tuple)
             and len(rng["numpy"]) == 5 and isinstance(rng["numpy"][1], torch.Tensor)
             and isinstance(rng.get("python"), tuple) and len(rng["python"]) == 3, path,
             "rng must hold the torch, numpy and python random states")
