"""What the app keeps on disk (pure Python: no Streamlit): trained toy runs, uploaded CSV files and
image-benchmark results. Each store is a folder of entries named by a SHA-256 digest of what they
hold, pruned oldest first (``keep_newest``); a damaged entry is logged and ignored, never shown. Servers
that share the run cache (two processes behind one proxy) train a config once: ``stored_or_trained``
holds a file lock (``fcntl.flock``) beside the entry while it looks, trains and stores.

Where: ``$TOYOOD_APP_CACHE`` (default ``~/.cache/toyood/app-runs``; ``off``: no run cache) for runs,
its hidden ``.uploads`` folder for uploads, ``$TOYOOD_RESULTS`` (default
``~/.cache/toyood/bench-results``) for image results — the server operator's choice, never a visitor's.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

import toyood
from toyood.device import resolve_device
from toyood.errors import ConfigError, RunFileError
from toyood.images import benchmark, stored
from toyood.images.benchmark import BenchConfig, BenchResult
from toyood.images.results import load_result, save_result
from toyood.runfiles import load_run, read_metrics, save_run
from toyood.toy import ToyConfig, ToyRun

LOGGER = logging.getLogger("toyood.app")
MAX_CACHED_RUNS = 64  # trained runs kept on disk (about 1 MB each for 2×500)
LOCK_POLL_SECONDS = 0.25  # how often a server waiting for another's lock on an entry looks again
MAX_UPLOADS = 32  # uploaded CSV files kept on the server (each at most toyood.data.MAX_CSV_BYTES)
MAX_PAGE_RUNS = 48  # image-benchmark method results kept on disk
RESULTS_VARIABLE = "TOYOOD_RESULTS"
PAGE_RUNS = "page-runs"  # the image page's own finished runs, under the results folder


def keep_newest(entries: Iterable[Path], limit: int, remove: Callable[[Path], None]) -> None:
    """Remove all but the ``limit`` most recently modified of ``entries`` (the oldest first)."""
    ordered = sorted(entries, key=lambda path: path.stat().st_mtime)
    for old in ordered[:max(0, len(ordered) - limit)]:
        remove(old)


def remove_folder(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Trained toy runs, kept between server starts


def run_cache_dir() -> Path | None:
    """Where trained runs are kept ($TOYOOD_APP_CACHE, default ~/.cache/toyood/app-runs; "off": nowhere)."""
    setting = os.environ.get("TOYOOD_APP_CACHE", "").strip()
    if setting.lower() == "off":
        return None
    return Path(setting) if setting else Path.home() / ".cache" / "toyood" / "app-runs"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """What a cached run was trained with: the toyood sources and the numeric libraries' versions,
    so that a changed library never serves an old run (read once per process)."""
    digest = hashlib.sha256(f"{torch.__version__} {np.__version__}".encode())
    package = Path(toyood.__file__).parent
    for file in sorted(package.rglob("*.py")):
        digest.update(file.relative_to(package).as_posix().encode() + file.read_bytes())
    return digest.hexdigest()


def run_folder(config: ToyConfig) -> Path | None:
    """The cache folder of a config (on the device it resolves to here); None without a cache or
    when the device is not available (the training then says so)."""
    root = run_cache_dir()
    if root is None:
        return None
    try:
        device = resolve_device(config.device).type
    except ConfigError:
        return None
    key = json.dumps({**config.to_dict(), "device": device}, sort_keys=True)
    return root / hashlib.sha256((key + code_digest()).encode()).hexdigest()[:32]


def is_stored(config: ToyConfig) -> bool:
    folder = run_folder(config)
    return folder is not None and folder.is_dir()


def stored_run(config: ToyConfig) -> ToyRun | None:
    """The cached run of a config, if there is a readable one."""
    folder = run_folder(config)
    if folder is None or not folder.is_dir():
        return None
    try:
        run = load_run(folder)
    except (RunFileError, ConfigError, OSError) as error:
        LOGGER.warning("ignoring the cached run %s: %s", folder, error)
        return None
    return run if run.config == config else None


def stored_metrics(config: ToyConfig) -> dict | None:
    folder = run_folder(config)
    try:
        return read_metrics(folder) if folder is not None and folder.is_dir() else None
    except (RunFileError, OSError) as error:
        LOGGER.warning("ignoring the cached metrics in %s: %s", folder, error)
        return None


def store_run(run: ToyRun, metrics: dict | None = None) -> None:
    """Keep a run (and its metrics) in the cache, dropping the oldest beyond ``MAX_CACHED_RUNS``; a
    cache that cannot be written is logged and skipped."""
    folder = run_folder(run.config)
    if folder is None:
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        save_run(run, folder, metrics, overwrite=True)
        keep_newest((f for f in folder.parent.iterdir() if f.is_dir() and not f.name.startswith(".")),
                    MAX_CACHED_RUNS, remove_folder)
    except (OSError, ConfigError, RunFileError) as error:
        LOGGER.warning("cannot keep the run in the cache %s: %s", folder.parent, error)


@contextlib.contextmanager
def entry_lock(config: ToyConfig, waiting: Callable[[], None] | None = None):
    """Hold an exclusive ``fcntl.flock`` on ``<entry>.lock`` beside the config's cache entry (every
    process and thread opens its own handle, so each excludes the others); ``waiting()`` runs every
    ``LOCK_POLL_SECONDS`` meanwhile (it may raise to give up). No cache: no lock."""
    folder = run_folder(config)
    if folder is None:
        yield
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waiting is not None:
                    waiting()
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stored_or_trained(config: ToyConfig, train: Callable[[], tuple[ToyRun, dict | None]],
                      waiting: Callable[[], None] | None = None) -> tuple[ToyRun, bool]:
    """The cached run of ``config`` (and False), else the run of ``train()`` (it returns the run and
    its metrics or None), stored with them (and True). Under the entry's lock: a second server asking
    meanwhile waits for the first, then loads its run."""
    with entry_lock(config, waiting):
        stored = stored_run(config)
        if stored is not None:
            return stored, False
        run, metrics = train()
        store_run(run, metrics)
        return run, True


# ---------------------------------------------------------------------------------------------
# Uploaded CSV files


def upload_dir() -> Path:
    """Where uploaded CSV files are kept: a hidden folder of the run cache (the run cache never
    evicts it), or a temporary folder when the run cache is off."""
    cache = run_cache_dir()
    return cache / ".uploads" if cache is not None else Path(tempfile.gettempdir()) / f"toyood-uploads-{os.getuid()}"


def store_upload(content: bytes) -> tuple[Path, str]:
    """Write the bytes to ``upload_dir()/<sha256>.csv`` (atomically; the oldest beyond
    ``MAX_UPLOADS`` go) and return the path and the digest. Names come from the content only, so a
    visitor can never name a server path."""
    digest = hashlib.sha256(content).hexdigest()
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.csv"
    if not path.is_file():
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as handle:
            handle.write(content)
        os.replace(handle.name, path)
    path.touch()
    keep_newest(folder.glob("*.csv"), MAX_UPLOADS, remove_file)
    return path, digest


def upload_still_kept(data_file: str, digest: str) -> bool:
    """Whether an upload is still stored under its digest (older uploads are evicted)."""
    path = Path(data_file)
    return path.is_file() and path.stem == digest


# ---------------------------------------------------------------------------------------------
# Image-benchmark results


@functools.lru_cache(maxsize=1)
def shipped_runs() -> tuple[stored.StoredRun, ...]:
    """The repository's stored image runs (``results/``), read once per server (``serve.py``'s warm
    start reads them before the first visitor)."""
    return tuple(stored.stored_runs())


def results_root() -> Path:
    return Path(os.environ.get(RESULTS_VARIABLE, "").strip() or Path.home() / ".cache" / "toyood" / "bench-results")


def saved_results() -> list[Path]:
    """Folders of results placed in the results folder (e.g. by ``toyood bench --out``), newest first."""
    root = results_root()
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name != PAGE_RUNS and (p / "results.json").is_file()]
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


class ResultFolders:
    """Finished image runs on disk, one folder per (config, method), so they survive server restarts
    (the job table holds them only while the server runs). A method's numbers do not depend on the
    other methods of its run (every seed is per method)."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.Lock()  # runs that share a method write its folder one after the other

    def folder(self, config: BenchConfig, method: str) -> Path:
        key = replace(config, methods=(method,), download=False)  # downloading changes no result
        digest = hashlib.sha256(json.dumps(key.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
        return self.root / f"{config.dataset}-{method}-{digest}"

    def load(self, config: BenchConfig, method: str) -> BenchResult | None:
        """The stored result of one method, or None (a damaged folder is logged and removed)."""
        folder = self.folder(config, method)
        if not folder.is_dir():
            return None
        try:
            return load_result(folder)
        except RunFileError:
            LOGGER.exception("removing the damaged stored result %s", folder)
            remove_folder(folder)
            return None

    def missing(self, config: BenchConfig) -> list[str]:
        return [m for m in config.methods if not (self.folder(config, m) / "results.json").is_file()]

    def run(self, config: BenchConfig, progress) -> bool:
        """Train and evaluate the methods of ``config`` not stored yet, and store them."""
        with self.lock:
            if missing := self.missing(config):
                self.add(benchmark.run_benchmark(replace(config, methods=tuple(missing)), progress))
        return True

    def add(self, result: BenchResult) -> None:
        for name, method_result in result.methods.items():
            single = replace(result, config=replace(result.config, methods=(name,)),
                             methods={name: replace(method_result, model=None)})
            save_result(single, self.folder(result.config, name), overwrite=True)
        keep_newest(self.root.iterdir(), MAX_PAGE_RUNS, remove_folder)

    def result(self, config: BenchConfig) -> BenchResult | None:
        """The stored methods of ``config`` as one result; None when one is missing."""
        parts = [self.load(config, m) for m in config.methods]
        if any(part is None for part in parts):
            return None
        return BenchResult(config, {m: part.methods[m] for m, part in zip(config.methods, parts)},
                           parts[0].skipped, parts[0].n_train, parts[0].n_test)
