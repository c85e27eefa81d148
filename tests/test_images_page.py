"""The image-benchmark page in AppTest: data and results folders come from the server's environment,
the page opens on a dataset that is present, the run prompt goes after a run, results survive a
restart, saved folders open, and failures show a message instead of a traceback."""
import logging
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from test_images_benchmark import TINY, write_mnist_like
from toyood.cli import main
from toyood.images import benchmark, datasets

PAGE = str(Path(__file__).parents[1] / "app_pages" / "image_benchmark.py")
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-10k"
DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The operator's environment: data in $TOYOOD_DATA (Fashion-MNIST look-alikes only), results in
    $TOYOOD_RESULTS, no system folders, the tiny preset; a fresh cache (as after a restart)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TOYOOD_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TOYOOD_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("TOYOOD_DOWNLOADS", raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {})
    monkeypatch.setitem(benchmark.PRESETS, "quick", {"lenet": TINY, "resnet": TINY})
    write_mnist_like(tmp_path / "data" / "fashion-mnist", 1)
    st.cache_resource.clear()
    return tmp_path


def open_page(timeout=120) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=timeout)
    app.run()
    assert not app.exception, app.exception
    return app


def in_distribution(app: AppTest):
    return next(box for box in app.sidebar.selectbox if box.label == "In-distribution data")


def test_page_opens_on_a_present_dataset_and_offers_no_path_box(server):
    app = open_page()
    assert in_distribution(app).value == "fmnist"
    assert not app.sidebar.text_input and not app.sidebar.checkbox  # no paths to type; downloads are off
    assert [b.label for b in app.button] == ["Run 3 methods"]


@pytest.mark.skipif(not (SHARED_MNIST.is_dir() and DEBIAN_FMNIST.is_dir()), reason="the real data is not here")
def test_page_finds_the_shared_mnist_and_debians_fashion_mnist(server, monkeypatch):
    monkeypatch.delenv("TOYOOD_DATA")
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {"fmnist": (DEBIAN_FMNIST,)})
    app = open_page()
    box = in_distribution(app)
    assert box.value == "mnist"
    assert [box.format_func(name) for name in ("mnist", "fmnist")] == ["MNIST", "FMNIST"]
    assert box.format_func("svhn").endswith("(missing)")


def test_missing_data_message_points_at_the_page_controls(server, monkeypatch):
    app = open_page()
    in_distribution(app).set_value("svhn").run()
    message = app.warning[0].value
    assert "In-distribution data" in message and "--" not in message and "TOYOOD" not in message
    assert not app.button and not app.exception
    monkeypatch.setenv("TOYOOD_DOWNLOADS", "1")
    app = open_page()
    in_distribution(app).set_value("svhn").run()
    assert "Download missing datasets" in app.warning[0].value
    assert [box.label for box in app.sidebar.checkbox] == ["Download missing datasets"]


def test_run_prompt_disappears_and_results_survive_a_restart(server):
    app = open_page(timeout=300)
    next(m for m in app.sidebar.multiselect if m.label == "Methods").set_value(["plain", "dismax"]).run()
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert not app.button and not [i for i in app.info if "To train and evaluate" in i.value]
    assert len(app.dataframe) >= 2
    stored = sorted(p.name.split("-")[1] for p in (server / "results" / "page-runs").iterdir())
    assert stored == ["dismax", "plain"]
    st.cache_resource.clear()  # a server restart: only the disk remains
    again = open_page()
    next(m for m in again.sidebar.multiselect if m.label == "Methods").set_value(["plain", "dismax"]).run()
    assert not again.button and len(again.dataframe) >= 2 and not again.exception


def test_a_results_folder_written_by_the_cli_opens_in_the_page(server, capsys):
    out = server / "results" / "fmnist-from-cli"
    assert main(["bench", "--dataset", "fmnist", "--methods", "plain", "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    app = open_page()
    next(r for r in app.sidebar.radio if r.label == "Results").set_value("Saved results").run()
    saved = next(box for box in app.sidebar.selectbox if box.label == "Saved results")
    assert saved.format_func(saved.value) == "fmnist-from-cli"
    assert len(app.dataframe) >= 2 and not app.exception and not app.button


def test_a_damaged_saved_folder_shows_which_file_is_wrong(server):
    out = server / "results" / "broken"
    out.mkdir(parents=True)
    (out / "results.json").write_text("{}")
    app = open_page()
    next(r for r in app.sidebar.radio if r.label == "Results").set_value("Saved results").run()
    assert "confidences.npz is missing" in app.error[0].value and not app.exception


def test_an_unexpected_failure_is_a_message_for_the_visitor_and_a_traceback_in_the_log(server, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("something deep inside broke")

    monkeypatch.setattr(benchmark, "run_benchmark", broken)
    app = open_page()
    with caplog.at_level(logging.ERROR):
        app.button[0].click().run()
    assert not app.exception
    assert "server log" in app.error[0].value and "deep inside" not in app.error[0].value
    assert any(r.exc_info and "something deep inside broke" in str(r.exc_info[1]) for r in caplog.records)


def test_a_run_over_the_budget_is_an_error_before_the_run_button(server, monkeypatch):
    monkeypatch.setenv("TOYOOD_MAX_MINUTES", "0.01")
    app = open_page()
    assert not app.exception and not app.button
    assert "too large for this server" in app.error[0].value and "over the limit of" in app.error[0].value
    monkeypatch.setenv("TOYOOD_MAX_MINUTES", "120")
    assert [b.label for b in open_page().button] == ["Run 3 methods"]
