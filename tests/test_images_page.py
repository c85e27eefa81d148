"""The image-benchmark page in AppTest, through app.py: a link opens the stored MNIST run at once with
the paper's numbers beside ours and trains nothing; settings no stored run holds get the estimate
and a Run button; a run shows its tables, joins this server's stored runs and survives a restart;
missing data, a bad link value, an unexpected failure and an over-budget run are messages."""
import json
import logging

import pytest
import streamlit as st

from test_app import assert_clean, open_link
from test_images_benchmark import TINY, write_mnist_like
from toyood.device import max_threads
from toyood.images import benchmark, datasets
from toyood.images.stored import STORED_DIR

pytestmark = pytest.mark.usefixtures("one_thread")
STORED_MNIST = STORED_DIR / "mnist-demo-seed0"
TRAINABLE = {"bench-dataset": "fmnist", "bench-preset": "quick"}  # no stored run: fmnist look-alikes, tiny preset


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


def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the page trained")
    monkeypatch.setattr(benchmark, "run_benchmark", refuse)
    monkeypatch.setattr(benchmark, "train_method", refuse)


def summary_of(app):
    return app.dataframe[0].value.set_index("Method")


@pytest.mark.skipif(not STORED_MNIST.is_dir(), reason="the repository's stored MNIST run is missing")
def test_the_link_opens_the_stored_mnist_run_with_the_paper_beside_it_and_trains_nothing(server, monkeypatch):
    no_training(monkeypatch)
    app = open_link("image-benchmark", **{"bench-dataset": "mnist", "bench-methods": "plain,ceda,acet",
                                          "bench-preset": "demo"})
    assert_clean(app)
    assert not app.button, "no run to start: the stored run holds the view"
    summary = summary_of(app)
    stored = json.loads((STORED_MNIST / "results.json").read_text())["methods"]
    assert list(summary.index) == ["Plain (cross-entropy)", "CEDA (Hein et al.)", "ACET (Hein et al.)"]
    assert summary.loc["Plain (cross-entropy)", "Test error"] == f"{stored['plain']['test_error']:.2%}"
    assert summary.loc["Plain (cross-entropy)", "Test error (paper)"] == "0.51%"  # Hein et al. Table 1, MNIST
    assert not any("None" in str(cell) for frame in app.dataframe for cell in frame.value.to_numpy().ravel())
    assert {"bench_noise", "bench_histograms", "bench_adversarial"} <= {c.key for c in app.get("plotly_chart")}
    assert not [name for name in app.query_params if name.startswith("bench-")], "the defaults: a short link"


def test_settings_no_stored_run_holds_get_the_estimate_and_a_run_button(server):
    app = open_link("image-benchmark", **TRAINABLE)
    assert_clean(app)
    threads = max_threads()
    where = f"on this server ({threads} CPU thread{'s' * (threads > 1)})"  # no accelerator here: the CPU estimate
    assert any("takes about" in info.value and where in info.value for info in app.info), [i.value for i in app.info]
    assert [b.label for b in app.button] == ["Run 3 methods"]


def test_a_run_shows_its_tables_joins_the_stored_runs_and_survives_a_restart(server):
    app = open_link("image-benchmark", **TRAINABLE, **{"bench-methods": "plain,dismax"})
    app.button[0].click().run()
    assert_clean(app)
    assert not app.button and len(app.dataframe) >= 2
    assert (server / "results" / "finished" / "fmnist-quick-seed0" / "provenance.json").is_file()
    st.cache_resource.clear()  # a server restart: only the disk remains
    again = open_link("image-benchmark", **TRAINABLE, **{"bench-methods": "plain,dismax"})
    assert_clean(again)
    assert not again.button and list(summary_of(again).index) == ["Plain (cross-entropy)", "DisMax (Macêdo et al.)"]


def test_missing_data_and_unknown_runs_are_messages(server, monkeypatch):
    app = open_link("image-benchmark", **{"bench-dataset": "svhn", "bench-preset": "quick"})
    message = app.warning[-1].value
    assert "In-distribution data" in message and "--" not in message and "TOYOOD" not in message
    assert not app.button and not app.exception
    app = open_link("image-benchmark", **{"bench-run": "mnist-paper-seed9"})
    assert any("No stored run is called mnist-paper-seed9" in w.value for w in app.warning) and not app.exception
    app = open_link(**{"bench-methods": "plain,resnet"})  # the overview says what is wrong with a link
    assert "`bench-methods=plain,resnet`" in app.warning[0].value and "image method" in app.warning[0].value


def test_an_unexpected_failure_is_a_message_for_the_visitor_and_a_traceback_in_the_log(server, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("something deep inside broke")

    monkeypatch.setattr(benchmark, "run_benchmark", broken)
    app = open_link("image-benchmark", **TRAINABLE)
    with caplog.at_level(logging.ERROR):
        app.button[0].click().run()
    assert not app.exception
    assert "server log" in app.error[0].value and "deep inside" not in app.error[0].value
    assert any(r.exc_info and "something deep inside broke" in str(r.exc_info[1]) for r in caplog.records)


def test_a_run_over_the_budget_is_an_error_before_the_run_button(server, monkeypatch):
    monkeypatch.setenv("TOYOOD_MAX_MINUTES", "0.01")
    app = open_link("image-benchmark", **TRAINABLE)
    assert not app.exception and not app.button
    assert "too large for this server" in app.error[0].value and "over the limit of" in app.error[0].value
