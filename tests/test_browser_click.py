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


def _choose_own_data(page) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Data").click()
    page.keyboard.type("your own")
    page.keyboard.press("Enter")
    wait_until_ready(page)


def test_uploading_a_bad_then_a_good_csv_in_the_browser(page, server_url, tmp_path):  # noqa: F811
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("x,y,label\n1,2,0\n3,4,0\n")
    good.write_text("x,y,label\n" + "".join(f"{i * 2},{(i * 7) % 11},{i % 3}\n" for i in range(60)))
    page.goto(f"{server_url}/playground?method=reject&hidden=16,16&epochs=3")
    wait_until_ready(page)
    _choose_own_data(page)
    uploader = page.locator('[data-testid="stSidebar"] input[type="file"]')
    uploader.set_input_files(str(bad))
    page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=60_000)
    wait_until_ready(page)
    assert "bad.csv cannot be used: the file holds one class only" in \
        page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    uploader.set_input_files(str(good))
    page.wait_for_function("() => document.body.innerText.includes('In use: 60 points, K = 3')", timeout=120_000)
    wait_until_ready(page)
    assert_no_error(page)
    assert "data" not in query(page), "an upload never goes into the link"
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2
