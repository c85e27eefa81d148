"""A real click on the Playground's confidence map in Chromium adds an OOD training point: the
address gains ``ood-points`` at the clicked place and the model retrains with it (Streamlit
reports no selection for heatmap clicks, so this is the invisible click grid at work)."""
import urllib.parse

from test_browser import assert_no_error, browser, page, query, server_url, wait_until_ready  # noqa: F401


def test_clicking_the_confidence_map_adds_an_ood_point(page, server_url):  # noqa: F811
    page.goto(f"{server_url}/playground?method=confidence&hidden=16,16&epochs=3")
    wait_until_ready(page)
    area = page.locator('[data-testid="stPlotlyChart"]').first.locator(".nsewdrag").first.bounding_box()
    x, y = 35.0, -30.0  # data units on the default [−50, 50]² view; the click grid has a point every 2.5
    page.mouse.click(area["x"] + area["width"] * (x + 50) / 100, area["y"] + area["height"] * (50 - y) / 100)
    page.wait_for_function("() => window.location.search.includes('ood-points')", timeout=60_000)
    wait_until_ready(page)
    assert_no_error(page)
    assert query(page)["ood-points"] == "35:-30", urllib.parse.unquote(page.url)
    assert "1 so far" in page.locator('[data-testid="stCaptionContainer"]').all_inner_texts().__str__()
