"""The GAN page (lecture step 10) as a lecturer shows it (issue 21): in Debian's Chromium at a
projector's 1024×768 with the sidebar open, the note, the numbers (one row) and at least the top half
of the animated map are on the first screen, the map starts right under its title (no legend or empty
band above it), the final classifier's map is at least 300 px wide; with the presentation layout the
whole animated map is on the first screen, and at 1920×1080 both maps are."""
from __future__ import annotations

import pytest

from test_browser import CHROMIUM, assert_no_error, chromium, streamlit_server
from test_browser_lecture import wait_until_idle
from test_plots_gan import hand_made_run
from toyood.plots.gan import TITLE_PAD, gan_animation

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")
MARGIN = gan_animation(hand_made_run(2)).layout.margin
SIDE_MARGINS = MARGIN.l + MARGIN.r  # px left and right of the animated map
LAYOUT_JS = """() => {
  const box = e => { const b = e.getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
  const main = document.querySelector('[data-testid="stMain"]');
  return {charts: [...main.querySelectorAll('[data-testid="stPlotlyChart"]')].map(box),
          plots: [...main.querySelectorAll('.main-svg .nsewdrag')].map(box),
          metrics: [...main.querySelectorAll('[data-testid="stMetric"]')].map(box)}; }"""


@pytest.fixture(scope="module")
def server_url():
    with streamlit_server(script="app.py") as url:  # no warm start: only this page's run is trained
        yield url


def gan_layout(url: str, width: int, height: int, present: bool) -> dict:
    with chromium() as browser:
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        page.goto(f"{url}/gan?scenario=gan" + ("&present=1" if present else ""))
        page.wait_for_function("document.querySelectorAll('[data-testid=\"stMain\"] .nsewdrag').length >= 4",
                               timeout=600_000)
        wait_until_idle(page)
        page.wait_for_timeout(500)  # plotly's last relayout to the box's size
        assert_no_error(page)
        return page.evaluate(LAYOUT_JS)


@pytest.mark.parametrize("width, height, present", [(1024, 768, False), (1024, 768, True), (1920, 1080, False)],
                         ids=["1024x768", "1024x768-present", "1920x1080"])
def test_step_10_shows_its_numbers_in_one_row_and_the_animated_map_on_the_first_screen(server_url, width, height,
                                                                                          present):
    layout = gan_layout(server_url, width, height, present)
    (animation, final), (plot, final_plot) = layout["charts"][:2], layout["plots"][:2]
    assert len({round(m["y"]) for m in layout["metrics"]}) == 1, f"numbers wrap: {layout['metrics']}"
    assert abs(animation["y"] - final["y"]) <= 2 and min(animation["h"], final["h"]) > 200, "maps not side by side"
    assert plot["y"] - animation["y"] <= TITLE_PAD + 2, f"a band above the map: {animation} {plot}"
    assert plot["w"] >= animation["w"] - SIDE_MARGINS - 2, f"the map does not span its column: {animation} {plot}"
    shown = plot["y"] + (plot["h"] if present or width > 1024 else plot["h"] / 2)
    assert shown <= height, f"the animated map is below the first screen: {plot}"
    assert final["w"] >= 300 and final_plot["w"] >= 150, f"the final map is small: {final} {final_plot}"
    if width > 1024:
        assert max(animation["y"] + animation["h"], final["y"] + final["h"]) <= height
