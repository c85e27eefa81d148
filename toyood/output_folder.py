"""Output folders written safely: checked before any work, filled in a temporary sibling folder and
put in place with one rename, so a failure leaves the previous contents untouched and no leftovers."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import ConfigError


def check_output_path(path: str | Path, overwrite: bool = False) -> Path:
    """Validate where a run will be written, before any work: not empty, not a file, its parent
    writable, and an existing folder replaced only with ``overwrite``."""
    text = str(path).strip()
    if not text:
        raise ConfigError("the output path is empty: give a folder name, e.g. runs/reject")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ConfigError(f"{path} already holds files: choose a new folder or allow overwriting it")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    try:  # the one reliable test of writability: make (and remove) a folder there
        os.rmdir(tempfile.mkdtemp(prefix=".toyood-check.", dir=parent))
    except OSError as error:
        raise ConfigError(f"cannot write into {parent}: {error.strerror or error}") from None
    return path


@contextlib.contextmanager
def atomic_directory(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` in one rename
    (the old folder is removed only after the new one is complete); on error nothing changes."""
    path = check_output_path(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / "run")
        os.replace(staging, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
