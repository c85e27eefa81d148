"""Downloads against a local HTTP server on 127.0.0.1: the size cap, the overall deadline (a server
trickling a byte every 5 s), the MD5 check, and a bomb archive that unpacks to nothing."""
import dataclasses
import functools
import hashlib
import http.server
import io
import tarfile
import threading
import time
from pathlib import Path

import pytest

from test_images_datasets import CIFAR10_BATCHES, write_cifar
from toyood.images import datasets, download
from toyood.images.datasets import DatasetFileError, DatasetUnavailable, Resource, load_split

PAYLOAD = bytes(range(256)) * 400  # 100 KiB
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
TRICKLE_PERIOD = 5.0


class Handler(http.server.BaseHTTPRequestHandler):
    """/file: the payload; /endless: data without end; /liar: a Content-Length of 10 GB;
    /trickle: the payload one byte every 5 s; /slow-headers: the status line one byte every 5 s;
    /archive: ``server.archive``."""

    def log_message(self, *args):
        pass

    def _send(self, body: bytes, length: int | None = None):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        try:
            if self.path == "/file":
                self._send(PAYLOAD)
            elif self.path == "/archive":
                self._send(self.server.archive)
            elif self.path == "/liar":
                self._send(b"", length=10 * 2**30)
            elif self.path == "/endless":
                self.send_response(200)
                self.end_headers()
                while True:
                    self.wfile.write(bytes(2**16))
                    self.server.sent += 2**16
            elif self.path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Length", str(len(PAYLOAD)))
                self.end_headers()
                self._trickle(PAYLOAD)
            elif self.path == "/slow-headers":
                self._trickle(b"HTTP/1.0 200 OK\r\n\r\n" + PAYLOAD)
        except OSError:  # the client went away
            pass

    def _trickle(self, data: bytes):
        for byte in data:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            self.server.first_byte.set()
            if self.server.stop.wait(TRICKLE_PERIOD):
                return


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.sent, httpd.archive, httpd.first_byte, httpd.stop = 0, b"", threading.Event(), threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def resource(server, path: str, md5: str = PAYLOAD_MD5, size: int = len(PAYLOAD)) -> Resource:
    return Resource("file.bin", md5, size, (url(server, path),))


def test_a_good_download_appears_under_its_name(server, tmp_path):
    target = download.fetch(resource(server, "/file"), tmp_path / "data")
    assert target.read_bytes() == PAYLOAD and [p.name for p in target.parent.iterdir()] == ["file.bin"]


def test_download_stops_at_the_expected_size_plus_a_margin(server, tmp_path):
    with pytest.raises(DatasetUnavailable, match="more than 167,936 bytes arrived") as error:
        download.fetch(resource(server, "/endless"), tmp_path / "data", deadline_seconds=300)
    assert "file.bin" in str(error.value)  # the size limit, not the (300 s) deadline, stopped it
    assert not any((tmp_path / "data").iterdir())
    assert len(PAYLOAD) + 2**16 == 167_936


def test_a_larger_announced_size_is_refused_before_reading(server, tmp_path):
    with pytest.raises(DatasetUnavailable, match="announces 10,737,418,240 bytes"):
        download.fetch(resource(server, "/liar"), tmp_path / "data")
    assert not any((tmp_path / "data").iterdir())


class ManualTimer:
    """``threading.Timer``'s interface without a clock: the test fires it."""

    made: list["ManualTimer"] = []

    def __init__(self, seconds, function):
        self.seconds, self.function, self.started, self.cancelled = seconds, function, False, False
        ManualTimer.made.append(self)

    def start(self):
        self.started = True

    def cancel(self):
        self.cancelled = True


@pytest.mark.parametrize("path", ["/trickle", "/slow-headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(server, tmp_path, monkeypatch, path):
    """The watchdog is armed with the deadline; when it fires mid-transfer (here: once the server has
    sent its first byte, fired by hand, no clock) the download ends with the deadline's message."""
    ManualTimer.made = []
    monkeypatch.setattr(download, "_Watchdog", functools.partial(download._Watchdog, timer=ManualTimer))

    returned, hung = threading.Event(), []

    def fire_after_first_byte():
        if server.first_byte.wait(60):
            ManualTimer.made[0].function()
        if not returned.wait(60):  # the watchdog did not cut the connection: end the trickle, fail below
            hung.append(True)
            server.stop.set()
    firing = threading.Thread(target=fire_after_first_byte, daemon=True)
    firing.start()
    with pytest.raises(DatasetUnavailable, match="not finished within 600 s"):  # no socket timeout: 60 s > 5 s
        download.fetch(resource(server, path), tmp_path / "data", deadline_seconds=600, read_timeout=60)
    returned.set()
    firing.join()
    assert server.first_byte.is_set() and not hung, "the fired watchdog did not end the download"
    [timer] = ManualTimer.made
    assert timer.seconds == 600 and timer.started and timer.cancelled
    assert not any((tmp_path / "data").iterdir())


def test_a_finished_download_cancels_its_watchdog(server, tmp_path, monkeypatch):
    ManualTimer.made = []
    monkeypatch.setattr(download, "_Watchdog", functools.partial(download._Watchdog, timer=ManualTimer))
    download.fetch(resource(server, "/file"), tmp_path / "data", deadline_seconds=7.0)
    [timer] = ManualTimer.made
    assert timer.seconds == 7.0 and timer.started and timer.cancelled


def test_every_url_is_tried_and_every_failure_reported(server, tmp_path):
    bad_md5 = Resource("file.bin", "0" * 32, len(PAYLOAD), (url(server, "/missing"), url(server, "/file")))
    with pytest.raises(DatasetUnavailable) as error:
        download.fetch(bad_md5, tmp_path / "data")
    message = str(error.value)
    assert "/missing: " in message and "MD5" in message and "\n" not in message


def test_a_downloaded_archive_bomb_is_stopped_and_nothing_is_left(server, tmp_path, monkeypatch):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 8 * 2**20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    server.archive = out.getvalue()
    spec = dataclasses.replace(datasets.DATASETS["cifar10"], resources=(Resource(
        "cifar-10-python.tar.gz", hashlib.md5(server.archive).hexdigest(), len(server.archive),
        (url(server, "/archive"),)),), unpack=lambda archive, root: download.unpack_tar(archive, root, limit=2**20))
    monkeypatch.setitem(datasets.DATASETS, "cifar10", spec)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DatasetFileError, match="unpacks to more than 1.0 MiB"):
        load_split("cifar10", "test", tmp_path / "data", download=True)
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


def test_a_real_archive_downloads_and_unpacks_over_http(server, tmp_path, monkeypatch):
    source = tmp_path / "source"
    write_cifar(source / "cifar-10-batches-py", CIFAR10_BATCHES)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", "cifar-10-batches-py")
    server.archive = out.getvalue()
    spec = dataclasses.replace(datasets.DATASETS["cifar10"], resources=(Resource(
        "cifar-10-python.tar.gz", hashlib.md5(server.archive).hexdigest(), len(server.archive),
        (url(server, "/archive"),)),))
    monkeypatch.setitem(datasets.DATASETS, "cifar10", spec)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    x, _ = load_split("cifar10", "test", tmp_path / "data", download=True)
    assert x.shape == (5, 3, 32, 32)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["cifar-10-batches-py"]


def test_official_resources_have_sizes_and_checksums():
    for spec in datasets.DATASETS.values():
        for item in spec.resources:
            assert item.size > 1000 and len(item.md5) == 32 and all(u.startswith("http") for u in item.urls)
            assert item.size < item.size_limit <= item.size * 1.01 + 2**16
