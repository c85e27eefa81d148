"""Bounded downloads and unpacking of the official dataset files.

A download stops as soon as more than the resource's expected size plus a margin has arrived
(``Resource.size_limit``; a larger ``Content-Length`` is refused before reading), and when
``deadline_seconds`` have passed since it started: a server trickling a byte every few seconds never
trips a socket timeout, so a watchdog shuts the connection's socket at the deadline (headers
included), and each read waits at most ``read_timeout``. The file appears under its name only when
its MD5 sum matches. Unpacking writes regular files only, refuses paths that leave the target
folder, stops at ``MAX_UNPACKED_BYTES`` in total (counted as bytes are written, not taken from the
archive's headers), and works in a staging folder so a failed unpack leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from .formats import DatasetFileError, DatasetUnavailable, megabytes

CHUNK_BYTES = 1 << 16
READ_TIMEOUT = 30.0  # seconds one read may wait for data
DEADLINE_SECONDS = 3 * 3600.0  # one whole download (EMNIST's 536 MiB at 50 kB/s)
MAX_UNPACKED_BYTES = 1 << 30  # CIFAR-10/100 unpack to about 180 MB, EMNIST letters' files to 30 MB
MAX_ARCHIVE_MEMBERS = 10_000


class Resource(NamedTuple):
    """One file to download: its name, MD5 sum, size in bytes and the URLs to try in order."""

    filename: str
    md5: str
    size: int
    urls: tuple[str, ...]

    @property
    def size_limit(self) -> int:
        """The most bytes accepted: the expected size plus 1% (at least 64 KiB)."""
        return self.size + max(self.size // 100, 1 << 16)


class _Stopped(Exception):
    """A download went over its size or time limit (the reason is the message)."""


class _Watchdog:
    """Shuts down every socket the download opened once ``seconds`` have passed. ``timer``:
    ``threading.Timer`` or a stand-in with its interface (tests fire it themselves, not by the clock)."""

    def __init__(self, seconds: float, timer: Callable = threading.Timer):
        self.sockets: list[socket.socket] = []
        self.fired = False
        self.timer = timer(seconds, self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener whose HTTP(S) connections register their sockets with this watchdog."""
        watchdog = self

        class Connection(http.client.HTTPConnection):
            def connect(self):
                super().connect()
                watchdog.sockets.append(self.sock)

        class SecureConnection(http.client.HTTPSConnection):
            def connect(self):
                super().connect()
                watchdog.sockets.append(self.sock)

        class Handler(urllib.request.HTTPHandler):
            def http_open(self, request):
                return self.do_open(Connection, request)

        class SecureHandler(urllib.request.HTTPSHandler):
            def https_open(self, request):
                return self.do_open(SecureConnection, request, context=self._context)

        return urllib.request.build_opener(Handler, SecureHandler)


def _stream_to(response, out, resource: Resource) -> str:
    """Copy ``response`` into ``out`` up to the size limit; returns the MD5 hex digest."""
    announced = response.headers.get("Content-Length", "") if hasattr(response, "headers") else ""
    if announced.isdigit() and int(announced) > resource.size_limit:
        raise _Stopped(f"the server announces {int(announced):,} bytes; {resource.filename} has {resource.size:,}")
    digest, written = hashlib.md5(usedforsecurity=False), 0
    read = getattr(response, "read1", response.read)  # read1 returns what has arrived without waiting for more
    while chunk := read(CHUNK_BYTES):
        written += len(chunk)
        if written > resource.size_limit:
            raise _Stopped(f"more than {resource.size_limit:,} bytes arrived; {resource.filename} has "
                           f"{resource.size:,}")
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def _download(url: str, partial: Path, resource: Resource, deadline_seconds: float, read_timeout: float) -> str:
    """One attempt: the MD5 of what arrived, or ``_Stopped``/``OSError`` (URLError, timeouts)."""
    watchdog = _Watchdog(deadline_seconds)
    watchdog.timer.start()
    try:
        with watchdog.opener().open(url, timeout=min(read_timeout, deadline_seconds)) as response, \
                open(partial, "wb") as out:
            md5 = _stream_to(response, out, resource)
    except (OSError, http.client.HTTPException) as error:
        if not watchdog.fired:
            raise OSError(getattr(error, "reason", error)) from None
    finally:
        watchdog.timer.cancel()
    if watchdog.fired:  # a read cut short by the shutdown may have looked like a normal end
        raise _Stopped(f"not finished within {deadline_seconds:g} s")
    return md5


def fetch(resource: Resource, folder: Path, deadline_seconds: float = DEADLINE_SECONDS,
          read_timeout: float = READ_TIMEOUT) -> Path:
    """Download ``resource`` into ``folder`` (trying its URLs in order) within the size and time
    limits; the file appears only when its MD5 sum matches. Says on stderr what it downloads."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetUnavailable(f"cannot download into {folder}: {error}") from None
    target = folder / resource.filename
    partial = target.with_name(target.name + ".part")
    failures = []
    for url in resource.urls:
        print(f"downloading {url} into {folder}", file=sys.stderr, flush=True)
        try:
            md5 = _download(url, partial, resource, deadline_seconds, read_timeout)
        except (OSError, _Stopped) as error:
            failures.append(f"{url}: {error}")
            partial.unlink(missing_ok=True)
            continue
        if md5 != resource.md5:
            partial.unlink(missing_ok=True)
            failures.append(f"{url}: MD5 {md5} differs from the expected {resource.md5}")
            continue
        partial.replace(target)
        return target
    raise DatasetUnavailable(f"could not download {resource.filename}: " + "; ".join(failures))


# ---------------------------------------------------------------------------------------------
# Unpacking

class _Budget:
    """Bytes left to write while unpacking one archive."""

    def __init__(self, archive: Path, limit: int):
        self.archive, self.limit, self.left = archive, limit, limit

    def copy(self, source, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            while chunk := source.read(min(CHUNK_BYTES, self.left + 1)):
                self.left -= len(chunk)
                if self.left < 0:
                    raise DatasetFileError(self.archive, f"unpacks to more than {megabytes(self.limit)}: "
                                                         "not the official archive")
                out.write(chunk)


@contextlib.contextmanager
def _staged(destination: Path) -> Iterator[Path]:
    """A staging folder inside ``destination``; on success its top-level entries replace the
    same-named entries of ``destination``; on failure nothing changes."""
    destination.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=destination))
    try:
        yield staging
        for entry in staging.iterdir():
            target = destination / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _inside(root: Path, name: str) -> Path | None:
    """``root / name`` when it stays inside ``root``; None for absolute paths or '..' escapes."""
    target = (root / name).resolve()
    return target if root.resolve() in target.parents else None


def unpack_tar(archive: Path, root: Path, limit: int = MAX_UNPACKED_BYTES) -> None:
    """Extract the regular files of a .tar.gz under ``root`` (refusing paths that leave it) until
    ``limit`` bytes are written in total."""
    budget = _Budget(archive, limit)
    try:
        with tarfile.open(archive, "r:gz") as tar, _staged(root) as staging:
            for count, member in enumerate(tar):
                if count >= MAX_ARCHIVE_MEMBERS:
                    raise DatasetFileError(archive, f"holds more than {MAX_ARCHIVE_MEMBERS:,} entries")
                target = _inside(staging, member.name)
                if member.isfile() and target is not None:
                    with tar.extractfile(member) as source:
                        budget.copy(source, target)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DatasetFileError(archive, f"not a readable .tar.gz ({type(error).__name__}: {error})") from None


def unpack_zip_members(archive: Path, folder: Path, wanted: Callable[[str], bool],
                       limit: int = MAX_UNPACKED_BYTES) -> None:
    """Copy the members of a zip whose name satisfies ``wanted`` into ``folder`` (flattened to their
    base names) until ``limit`` bytes are written in total."""
    budget = _Budget(archive, limit)
    try:
        with zipfile.ZipFile(archive) as zipped, _staged(folder) as staging:
            members = zipped.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise DatasetFileError(archive, f"holds more than {MAX_ARCHIVE_MEMBERS:,} entries")
            for member in members:
                name = Path(member.filename).name
                if not member.is_dir() and name and wanted(member.filename):
                    with zipped.open(member) as source:
                        budget.copy(source, staging / name)
    except DatasetFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError, NotImplementedError,
            RuntimeError) as error:  # RuntimeError: encrypted members
        raise DatasetFileError(archive, f"not a readable zip ({type(error).__name__}: {error})") from None
