"""The app in a real browser: ``streamlit run serve.py`` (README's command) driven by Debian's
Chromium via Playwright.

A link with query parameters opened in a fresh browser context shows exactly its state (widgets and
metrics), changing a setting changes the address, every page reached from the link shows the same
method, the Stop button stops a training, and compare-mode maps sit two per row, square. The
last test saves screenshots of every page at 1024×768 and 1920×1080 in light and dark to
artifacts/screenshots/ (to look at). Skips when /usr/bin/chromium or Playwright is missing.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from toyood.evaluate import toy_metrics
from toyood.toy import ToyConfig, train_toy

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
READY_TIMEOUT_MS = 600_000  # pages train models; generous for loaded machines
LINK = "method=reject&ood=general&hidden=16,16&epochs=12&seed=3&halfwidth=1000"  # 12 epochs: a trained net
SCREENS = [(1024, 768), (1920, 1080)]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(url: str, process: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not become healthy within {timeout} s")


@contextmanager
def streamlit_server(run_cache: Path | None = None, script: str = "serve.py"):
    """``streamlit run serve.py`` (README's command; or ``script``) on a free local port with its run
    cache in ``run_cache`` (default: a new empty folder, so every model is trained); yields its URL
    once healthy (serve.py: after its warm start)."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    cache = str(run_cache or tempfile.mkdtemp(prefix="toyood-app-cache-"))
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TOYOOD_APP_CACHE": cache})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def chromium():
    """Debian's headless Chromium under Playwright."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server_url():
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    """A page in a fresh context (no cookies, no session): like a student opening a link."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield context.new_page()
    context.close()


def wait_until_ready(page, timeout_ms: int = READY_TIMEOUT_MS) -> float:
    """Seconds until the current script run has finished (the running-man widget is gone)."""
    start = time.perf_counter()
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    try:
        page.wait_for_selector('[data-testid="stStatusWidget"]', timeout=1500)
    except sync_api.TimeoutError:
        pass
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stHeading"]', timeout=timeout_ms)
    while True:  # a fresh server shows the running status only after its first imports
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
        page.wait_for_timeout(300)
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            return time.perf_counter() - start


def assert_no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def selected_method(page) -> str:
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Method").input_value()


def query(page) -> dict[str, str]:
    """The address bar's query parameters, decoded."""
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(page.url).query))


def table_cells(page) -> list[list[str]]:
    rows = page.locator('[data-testid="stTable"] tr')
    return [[cell.strip() for cell in row.split("\t")] for row in rows.all_inner_texts()]


def test_a_link_opens_exactly_its_state_in_a_fresh_browser(server_url, page):
    page.goto(f"{server_url}/playground?{LINK}")
    wait_until_ready(page)
    assert_no_error(page)
    assert "reject class (Vernekar)" in selected_method(page)
    assert page.get_by_role("radio", name="general").is_checked()
    assert page.get_by_label("Hidden widths", exact=True).and_(page.locator("input")).input_value() == "16,16"
    assert "1,000" in page.locator('[data-testid="stSlider"]').filter(has_text="View half-width").inner_text()
    page.locator('[data-testid="stTable"]').filter(has_text="test accuracy").wait_for(timeout=READY_TIMEOUT_MS)
    wait_until_ready(page)  # the metrics come after the maps, in a job of their own
    cells = table_cells(page)
    assert cells[0][-1] == "reject class (Vernekar) · general OOD"
    expected = toy_metrics(train_toy(ToyConfig(method="reject", ood="general", hidden=(16, 16), epochs=12, seed=3)))
    shown = {row[0]: row[-1] for row in cells[1:]}
    assert shown["test accuracy"] == f"{expected['test_accuracy']:.3f}", cells
    assert shown["far OOD rejected"] == f"{expected['far_ood_rejected']:.3f}"
    assert query(page) == {"method": "reject", "ood": "general", "hidden": "16,16", "epochs": "12", "seed": "3",
                           "halfwidth": "1000"}


def test_changing_a_setting_changes_the_address(server_url, page):
    page.goto(f"{server_url}/playground?{LINK}")
    wait_until_ready(page)
    page.get_by_role("radio", name="boundary").check(force=True)
    wait_until_ready(page)
    assert_no_error(page)
    assert "ood" not in query(page) and query(page)["method"] == "reject", page.url
    page.get_by_label("Hidden widths", exact=True).and_(page.locator("input")).fill("12,12")
    page.get_by_label("Hidden widths", exact=True).and_(page.locator("input")).press("Enter")
    wait_until_ready(page)
    assert query(page)["hidden"] == "12,12", page.url
    assert table_cells(page)[0][-1] == "reject class (Vernekar) · boundary OOD"


def test_every_page_reached_from_the_link_shows_the_same_method(server_url, page):
    page.goto(f"{server_url}/playground?{LINK}")
    wait_until_ready(page)
    for title, path in (("Linear regions", "linear-regions"), ("Far away", "far-away"),
                        ("Overconfidence playground", "playground")):
        page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        page.wait_for_url(re.compile(f"/{path}\\?"), timeout=30_000)
        wait_until_ready(page)
        assert_no_error(page)
        assert "reject class (Vernekar)" in selected_method(page), title
        assert {k: query(page)[k] for k in ("method", "ood", "hidden")} == {
            "method": "reject", "ood": "general", "hidden": "16,16"}, page.url
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Linear regions", exact=True).click()
    wait_until_ready(page)
    assert page.get_by_text("reject class (Vernekar) · general OOD on a 16×16 net.").count() == 1


def test_the_stop_button_stops_a_training(server_url, page):
    page.goto(f"{server_url}/playground?hidden=200,200&preset=vernekar&epochs=400&seed=91")
    page.locator('[data-testid="stMain"]').get_by_role("button", name="Stop this job").click(timeout=120_000)
    page.get_by_role("button", name=re.compile("^Stopped: Training plain")).wait_for(timeout=60_000)
    wait_until_ready(page)
    assert page.get_by_role("button", name=re.compile("Start again")).count() == 1


SQUARE_MAPS_JS = """least => {
    const maps = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .nsewdrag')]
        .map(e => e.getBoundingClientRect()).filter(b => b.height > 100);
    return maps.length === 3 && maps.every(b => b.width >= least && Math.abs(b.width - b.height) <= 2)
        && new Set(maps.map(b => Math.round(b.y))).size === 2;
}"""
STILL_CHARTS_JS = """frames => {  // true once every chart's box has not moved for ``frames`` animation frames
    const key = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
        .map(e => { const b = e.getBoundingClientRect(); return [b.x, b.y, b.width, b.height].join(); }).join('|');
    if (key !== window.__chartBoxes) { window.__chartBoxes = key; window.__stillFrames = 0; }
    return ++window.__stillFrames >= frames;
}"""


def wait_for_still_charts(page, frames: int = 20) -> None:
    """Wait (on a condition, not a fixed sleep) until no chart moves or resizes for ``frames`` frames."""
    page.wait_for_function(STILL_CHARTS_JS, arg=frames, polling="raf", timeout=30_000)


def test_compare_maps_are_square_two_per_row_and_grow_with_the_window(server_url, browser):
    """Compared maps sit two per row, each as wide as its column (its plot area a fifth of the window
    at least, the sidebar open), with a square plot area."""
    for width, height in SCREENS:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{server_url}/playground?method=plain,reject,rbf&hidden=16,16&epochs=3")
        wait_until_ready(page)
        assert_no_error(page)
        page.wait_for_function("document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .nsewdrag').length >= 4",
                               timeout=60_000)  # the colour bar and three maps
        least = width // 5  # the sidebar open: two maps share about two thirds of the window
        try:  # plotly relayouts to the final widths: wait for the layout asserted below, then read it
            page.wait_for_function(SQUARE_MAPS_JS, arg=least, timeout=30_000)
        except sync_api.TimeoutError:
            pass  # the assertions below show the boxes
        areas = page.locator('[data-testid="stPlotlyChart"] .nsewdrag')
        boxes = [areas.nth(i).bounding_box() for i in range(areas.count())]
        maps = [box for box in boxes if box["height"] > 100]
        assert len(maps) == 3, boxes
        for box in maps:
            assert box["width"] >= least and abs(box["width"] - box["height"]) <= 2, (width, box)
        rows = {round(box["y"]) for box in maps}
        assert len(rows) == 2, ("two maps per row", width, maps)
        context.close()


PAGES = [("overview", "", 0), ("playground", "playground", 2), ("compare", "playground?method=plain,ceda,reject,rbf", 5),
         ("linear_regions", "linear-regions", 2), ("far_away", "far-away", 2), ("gan", "gan", 3),
         ("image_benchmark", "image-benchmark", 0)]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_every_page(server_url, browser, scheme):
    """Every page at both screen sizes, as a visitor sees it (the viewport) and whole; no exception."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in SCREENS:
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        page = context.new_page()
        for name, path, min_charts in PAGES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{server_url}/{path}")
            wait_until_ready(page)
            page.wait_for_function(f"document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= {min_charts}",
                                   timeout=READY_TIMEOUT_MS)
            assert page.locator('[data-testid="stException"]').count() == 0, name
            wait_for_still_charts(page)  # plotly's transitions
            stem = SCREENSHOTS / f"{name}_{width}x{height}_{scheme}"
            page.screenshot(path=f"{stem}_view.png")
            full = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
            page.set_viewport_size({"width": width, "height": max(height, int(full) + 40)})
            wait_for_still_charts(page)
            page.screenshot(path=f"{stem}_full.png")
        context.close()
