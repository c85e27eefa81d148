"""The app's data controls under AppTest: the data set and K from a link and the sidebar, the same
data on every toy page, the GAN page's note, and own CSV uploads (each malformed file ends in its
``st.error``, never a traceback; a good one is stored server-side under its SHA-256 and used by
every page, and never goes into the link)."""
import hashlib
from pathlib import Path

import pytest

from test_app import PAGE_FILES, SMALL, assert_clean, open_link, table_columns
from test_cli_data import BAD_FILES, GOOD_CSV

from toyood_app import stores
from toyood.data import DATA_RADIUS


def _upload(app, name: str, content: bytes | str):
    if app.selectbox(key="w:dataset").value != "file":
        app.selectbox(key="w:dataset").set_value("file").run()
    data = content if isinstance(content, bytes) else content.encode()
    return app.file_uploader(key="upload-csv").set_value((name, data, "text/csv")).run()


def test_a_link_with_a_data_set_and_k_trains_that_data_on_every_page():
    app = open_link("playground", data="spiral", classes="3", **SMALL)
    assert_clean(app)
    assert app.selectbox(key="w:dataset").value == "spiral" and app.number_input(key="w:classes").value == 3
    assert "3 spiral arms" in app.caption[0].value
    class_map = app.get("plotly_chart")[1].proto.spec
    assert '"class 2"' in class_map and '"class 3"' not in class_map
    for page in ("far-away", "linear-regions", "proof"):
        app.switch_page(PAGE_FILES[page]).run()
        assert_clean(app)
        assert app.query_params["data"] == "spiral" and app.query_params["classes"] == "3"
    assert "class 2" in app.get("plotly_chart")[0].proto.spec


def test_moons_fix_k_at_two_and_the_sidebar_changes_the_link():
    app = open_link("playground", **SMALL)
    app.selectbox(key="w:dataset").set_value("rings").run()
    app.number_input(key="w:classes").set_value(4).run()
    assert_clean(app)
    assert app.query_params["data"] == "rings" and app.query_params["classes"] == "4"
    app.selectbox(key="w:dataset").set_value("moons").run()
    assert_clean(app)
    assert app.number_input(key="w:classes").value == 2 and app.number_input(key="w:classes").disabled
    assert app.query_params["data"] == "moons" and "classes" not in app.query_params


@pytest.mark.parametrize("data", ["spiral", "gaussians"])
def test_the_gan_page_says_it_needs_the_two_gaussians(data):
    app = open_link("gan", data=data, classes="3", iterations="200")
    assert_clean(app)
    assert "needs Gaussian classes: it shows the two at (±10, 0)" in app.info[0].value
    assert '"name":"class 2"' not in app.get("plotly_chart")[0].proto.spec, "no third class drawn"
    assert app.query_params["classes"] == "3", "the toy pages' K is kept"


def test_the_gan_source_on_other_data_is_an_error_not_a_traceback():
    app = open_link("playground", data="rings", method="reject", ood="gan", **SMALL)
    assert not app.exception
    assert "needs Gaussian classes" in app.error[0].value


@pytest.mark.parametrize("content,message", BAD_FILES, ids=[m for _, m in BAD_FILES])
def test_every_bad_upload_shows_its_message(content, message):
    app = _upload(open_link("playground", **SMALL), "points.csv", content)
    assert not app.exception, [e.message for e in app.exception]
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "points.csv cannot be used" in errors[0] and message in errors[0], errors
    assert "Upload a CSV" in app.info[0].value, "no data yet: the page asks for a file"
    assert not app.get("plotly_chart")


def test_a_good_upload_is_stored_by_digest_and_used_on_every_page():
    app = _upload(open_link("playground", **SMALL), "spiral of mine.csv", GOOD_CSV)
    assert_clean(app)
    digest = hashlib.sha256(GOOD_CSV.encode()).hexdigest()
    stored = stores.upload_dir() / f"{digest}.csv"
    assert stored.read_text() == GOOD_CSV
    in_use = [c.value for c in app.sidebar.caption if c.value.startswith("In use")]
    assert in_use and "60 points, K = 3" in in_use[0] and f"scaled by {DATA_RADIUS / 118:.4g}" in in_use[0]
    assert app.number_input(key="w:classes:file").value == 3
    assert "your own points (3 classes)" in app.caption[0].value
    assert "data" not in app.query_params and "classes" not in app.query_params
    shown = app.table[0].value.iloc[:, 0]
    app.switch_page(PAGE_FILES["far-away"]).run()
    assert_clean(app)
    assert app.table[0].value.loc["MMC far OOD"].iloc[0] == shown["MMC far OOD"], "the same model"
    app.switch_page(PAGE_FILES["playground"]).run()
    assert_clean(app)
    assert any(c.value.startswith("In use") for c in app.sidebar.caption), "the data survive a page change"


def test_a_bad_upload_after_a_good_one_keeps_the_good_data():
    app = _upload(open_link("playground", **SMALL), "good.csv", GOOD_CSV)
    app = _upload(app, "bad.csv", "1,2,0\n3,4,0\n")
    assert not app.exception
    assert "one class" in app.error[0].value
    assert table_columns(app) == ["plain (cross-entropy)"]
    assert any("K = 3" in c.value for c in app.sidebar.caption if c.value.startswith("In use"))


def test_stored_uploads_are_named_by_content_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYOOD_APP_CACHE", str(tmp_path / "runs"))
    path, digest = stores.store_upload(b"1,2,0\n3,4,1\n")
    assert path == tmp_path / "runs" / ".uploads" / f"{hashlib.sha256(b'1,2,0' + bytes([10]) + b'3,4,1' + bytes([10])).hexdigest()}.csv"
    assert stores.store_upload(b"1,2,0\n3,4,1\n") == (path, digest)
    for i in range(stores.MAX_UPLOADS + 3):
        stores.store_upload(f"{i},0,0\n".encode())
    assert len(list(path.parent.glob("*.csv"))) == stores.MAX_UPLOADS
    assert not list(Path(path.parent).glob("*.part"))


def test_an_evicted_upload_is_kept_again_or_asked_for_without_a_server_path():
    app = _upload(open_link("playground", **SMALL), "mine.csv", GOOD_CSV)
    stored = stores.upload_dir() / f"{hashlib.sha256(GOOD_CSV.encode()).hexdigest()}.csv"
    stored.unlink()
    app.run()
    assert_clean(app)
    assert stored.is_file(), "the uploader still holds the file: it is stored again"
    assert app.table, "and the page still shows the model"
    stored.unlink()
    app = app.file_uploader(key="upload-csv").set_value(None).run()
    assert_clean(app)
    evicted = [w.value for w in app.sidebar.warning if "upload the file again" in w.value]
    assert len(evicted) == 1 and str(stored.parent) not in evicted[0]
    assert "Upload a CSV" in app.info[0].value
    assert not app.get("plotly_chart")
