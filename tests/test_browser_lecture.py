"""The lecture as a lecturer gives it: ``streamlit run serve.py``, Debian's Chromium at a projector's
1024×768 and at 1920×1080, the first step's link opened, then Next clicked through every step.
Each step must show its note, draw its charts with the first one on the first screen (compared maps
side by side, square), and the address bar must hold exactly the step's link, so that a reload or a
copied address opens the same screen. Screenshots of every step go to artifacts/screenshots/lecture/.
"""
from __future__ import annotations

import tempfile
import urllib.parse
from pathlib import Path

import pytest

from test_browser import CHROMIUM, SCREENSHOTS, assert_no_error, chromium, query, streamlit_server
from toyood_app.lecture import SCENARIOS
from toyood_app.link import parse_query, to_query

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")
SCREENS = [(1024, 768), (1920, 1080)]
CHART_BOXES_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]')]
    .map(e => e.getBoundingClientRect()).filter(b => b.width > 0 && b.height > 100)
    .map(b => [Math.round(b.x), Math.round(b.y), Math.round(b.width), Math.round(b.height)])"""


@pytest.fixture(scope="module")
def lecture_url():
    """One server for both screen sizes: the second walk finds the first one's models in the run cache."""
    with streamlit_server(Path(tempfile.mkdtemp(prefix="toyood-lecture-cache-"))) as url:
        yield url


def wait_until_idle(page, timeout_ms: int = 600_000) -> None:
    """Until the script run has ended (the status widget is gone and stays gone)."""
    while True:
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
        page.wait_for_timeout(300)
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            return


def expected_query(scenario) -> dict[str, str]:
    """The step's link as the app writes it (only what differs from the defaults)."""
    return to_query(parse_query(scenario.link_query())[0])


def wait_for_charts(page, count: int) -> list[list[int]]:
    page.wait_for_function(f"({CHART_BOXES_JS})().length >= {count}", timeout=120_000)
    page.wait_for_timeout(500)  # plotly's last relayout to the box's size
    return page.evaluate(CHART_BOXES_JS)


@pytest.mark.parametrize("width, height", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_next_walks_the_lecture_one_screen_per_step_with_a_truthful_address(lecture_url, width, height):
    folder = SCREENSHOTS / "lecture"
    folder.mkdir(parents=True, exist_ok=True)
    steps = list(SCENARIOS.values())
    with chromium() as browser:
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        page.goto(f"{lecture_url}/{steps[0].page}?{urllib.parse.urlencode(steps[0].link_query(), safe=',')}")
        for number, scenario in enumerate(steps, 1):
            page.get_by_text(f"Step {number} of {len(steps)}: {scenario.title}.").wait_for(timeout=600_000)
            wait_until_idle(page)
            assert_no_error(page)
            assert urllib.parse.urlparse(page.url).path == f"/{scenario.page}", page.url
            assert query(page) == expected_query(scenario), f"step {number}: the address bar says {page.url}"
            maps = 2 if scenario.page in ("playground", "gan", "far-away") else 1
            boxes = wait_for_charts(page, maps)
            page.screenshot(path=str(folder / f"step{number}-{scenario.id}-{width}x{height}.png"))
            assert min(box[1] for box in boxes) < height, f"step {number}: no chart on the first screen {boxes}"
            big = sorted((box for box in boxes if box[3] > 200), key=lambda box: box[1])[:2]
            if maps == 1:  # the image benchmark: its figures are tabs, one at a time
                continue_walk(page, steps, number)
                continue
            assert len(big) == 2 and abs(big[0][1] - big[1][1]) <= 2, f"step {number}: maps not side by side {big}"
            if scenario.page != "gan":  # the GAN's animation keeps its own height for its controls
                assert all(abs(box[2] - box[3]) <= 2 for box in big), f"step {number}: maps not square {big}"
            continue_walk(page, steps, number)


def continue_walk(page, steps, number: int) -> None:
    """Click Next (unless this is the last step) and wait for the next step's address."""
    if number < len(steps):
        page.get_by_role("link", name=f"Next: step {number + 1}").click()
        page.wait_for_url(lambda url, s=steps[number]: f"scenario={s.id}" in url, timeout=60_000)
