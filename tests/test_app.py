"""The Streamlit app under ``streamlit.testing.v1.AppTest``, always through ``app.py`` (the entry
script that holds the shared sidebar and the state): every page runs with defaults, the state set
on one page is the state of every page, each lecture scenario opens with its note, links with bad
values say so, and failures end in ``st.error``, never a traceback.

Most tests open a link with a small net (``SMALL``); trained models are shared by the whole process
(the app's job table), so later tests reuse them.
"""
import ast
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from toyood.evaluate import gan_metrics, toy_metrics
from toyood.gan import GanConfig, train_gan
from toyood.runfiles import load_run, read_metrics
from toyood.toy import ToyConfig, train_toy
from toyood_app.lecture import SCENARIOS

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300
# The app keeps trained runs on disk between server starts: this process starts with an empty cache
# of its own, so the tests train (and fill it).
os.environ["TOYOOD_APP_CACHE"] = tempfile.mkdtemp(prefix="toyood-app-cache-")
SMALL = {"hidden": "16,16", "epochs": "3"}
PAGE_FILES = {"playground": "app_pages/playground.py", "linear-regions": "app_pages/linear_regions.py",
              "far-away": "app_pages/far_away.py", "proof": "app_pages/proof.py",
              "image-benchmark": "app_pages/image_benchmark.py",
              "gan": "app_pages/gan.py"}
REJECT_LABEL = "reject class (Vernekar) · boundary OOD"


def open_link(page: str | None = None, **query) -> AppTest:
    """A fresh session opened with ``query`` (the overview, then ``page`` if given)."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    app.query_params.update(query)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app.switch_page(PAGE_FILES[page]).run() if page else app


def assert_clean(app: AppTest) -> None:
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def table_columns(app: AppTest) -> list[str]:
    """The model names of the (first) metrics table: one column per model."""
    return list(app.table[0].value.columns)


def listed_pages() -> list[str]:
    """The page files app.py lists (read from its PAGES, without running it)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    pages = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", None) == "PAGES")
    return [entry.elts[0].value for entry in pages.elts]


def test_app_lists_every_page_file_and_the_overview_links_them_and_the_scenarios():
    assert not (ROOT / "pages").exists(), "a pages/ folder makes a fresh server open deep links without app.py"
    assert sorted(listed_pages()) == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "app_pages").glob("*.py"))
    assert sorted(listed_pages()) == sorted(PAGE_FILES.values())
    for file in listed_pages():
        assert (ROOT / file).is_file(), f"{file} is listed in app.py but missing"
    app = open_link()
    assert_clean(app)
    links = [link.proto.label for link in app.get("page_link")]
    assert len(links) == len(SCENARIOS) + len(PAGE_FILES)
    assert links[0].startswith("1. Thm 3.1")


def test_playground_with_true_defaults_trains_the_2x500_net():
    app = open_link("playground")
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2
    assert table_columns(app) == ["plain (cross-entropy)"]
    assert app.selectbox(key="w:methods:one").value == "plain"
    assert app.text_input(key="w:hidden").value == "500,500"
    assert dict(app.query_params) == {}, "the defaults make a clean address"
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == ["Confidence map (HTML)", "Class map (HTML)", "Trained model (zip)", "Metrics (JSON)",
                      "Metrics (CSV)"]


def test_a_link_sets_every_widget_and_the_metrics_match_the_library():
    app = open_link("playground", method="reject", ood="general", sigma="1.5", seed="3", halfwidth="1000", **SMALL)
    assert_clean(app)
    assert app.selectbox(key="w:methods:one").value == "reject"
    assert app.radio(key="w:ood").value == "general"
    assert app.select_slider(key="w:sigma").value == 1.5
    assert app.number_input(key="w:seed").value == 3 and app.number_input(key="w:epochs").value == 3
    assert app.select_slider(key="w:halfwidth").value == 1000
    expected = toy_metrics(train_toy(ToyConfig(method="reject", ood="general", sigma=1.5, seed=3, hidden=(16, 16),
                                               epochs=3)))
    shown = app.table[0].value.iloc[:, 0]
    assert shown["test accuracy"] == expected["test_accuracy"]
    assert shown["MMC far OOD"] == expected["far_ood_mmc"]
    assert shown["directions → reject"] == expected["asymptotic_rejected"]


def test_state_set_on_one_page_is_the_state_of_every_page():
    app = open_link("playground", **SMALL)
    app.selectbox(key="w:methods:one").set_value("reject").run()
    assert_clean(app)
    assert table_columns(app) == [REJECT_LABEL]
    assert app.query_params["method"] == "reject"
    app.switch_page(PAGE_FILES["far-away"]).run()
    assert_clean(app)
    assert app.selectbox(key="w:methods:one").value == "reject" and table_columns(app) == [REJECT_LABEL]
    app.slider(key="w:theta").set_value(90.0).run()
    app.switch_page(PAGE_FILES["linear-regions"]).run()
    assert_clean(app)
    assert "reject class (Vernekar) · boundary OOD on a 16×16 net." in [c.value for c in app.caption]
    app.switch_page(PAGE_FILES["gan"]).run()
    app.switch_page(PAGE_FILES["far-away"]).run()
    assert app.slider(key="w:theta").value == 90.0, "a view setting survives a visit to another page"
    assert app.query_params["theta"] == "90" and app.query_params["method"] == "reject"


def test_compare_mode_trains_each_method_once_and_shows_them_everywhere(monkeypatch):
    from toyood_app import training
    trained = []  # every config the app trains, alone or in a batch

    def count(train, configs_of):
        def counted(*args, **kwargs):
            trained.extend(configs_of(*args))
            return train(*args, **kwargs)
        return counted
    monkeypatch.setattr(training, "train_toy_configs", count(training.train_toy_configs, lambda configs, *_: configs))
    monkeypatch.setattr(training, "train_toy_with_source", count(training.train_toy_with_source, lambda c, *_: [c]))
    app = open_link("playground", **{**SMALL, "seed": "11"})  # a seed of its own: nothing trained before
    app.toggle(key="w:compare").set_value(True).run()
    assert_clean(app)
    assert table_columns(app) == ["plain (cross-entropy)", "CEDA (Hein) · boundary OOD",
                                  "reject class (Vernekar) · boundary OOD", "RBF network"]
    charts = [chart.key for chart in app.get("plotly_chart")]
    assert charts == ["compare_colour_bar", "compare_map_plain", "compare_map_ceda", "compare_map_reject",
                      "compare_map_rbf"], "one shared colour bar, one map per method"
    assert app.query_params["method"] == "plain,ceda,reject,rbf"
    assert any("log max p" in c.value for c in app.sidebar.caption), "the max_conf objective is explained"
    app.switch_page(PAGE_FILES["far-away"]).run()
    assert_clean(app)
    assert len(table_columns(app)) == 4
    app.switch_page(PAGE_FILES["linear-regions"]).run()
    assert_clean(app)
    app.selectbox(key="w:focus").set_value("rbf").run()
    assert "not piecewise affine" in app.info[0].value
    assert sorted(c.method for c in trained) == ["ceda", "plain", "rbf", "reject"], "each method trained once"


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_each_scenario_opens_its_page_with_its_note(scenario):
    small = {**SMALL, "iterations": "200"} if scenario.page == "gan" else SMALL
    app = open_link(scenario.page, **scenario.link_query(), **small)
    assert_clean(app)
    notes = [info.value for info in app.info if info.value.startswith("**Step")]
    number = list(SCENARIOS).index(scenario.id) + 1
    assert len(notes) == 1 and notes[0].startswith(f"**Step {number} of {len(SCENARIOS)}: {scenario.title}")
    assert "…" not in notes[0] and "{" not in notes[0], "every live number of the note is filled in"
    assert app.query_params["scenario"] == scenario.id
    assert app.get("plotly_chart")


def test_a_note_quotes_the_live_numbers_of_its_view():
    app = open_link("playground", **SCENARIOS["thm31"].link_query(), **SMALL)
    assert_clean(app)
    expected = toy_metrics(train_toy(ToyConfig(method="plain", hidden=(16, 16), epochs=3)))
    note = next(info.value for info in app.info if info.value.startswith("**Step"))
    assert f"{round(100 * expected['far_ood_overconfident'])}% of the far test points" in note, note
    figures = {metric.label: metric.value for metric in app.metric}
    assert figures["far OOD ≥ 0.99"] == f"{round(100 * expected['far_ood_overconfident'])}%"
    assert figures["directions → conf. 1"] == f"{round(100 * expected['asymptotic_overconfident'])}%"


def test_doing_what_a_note_asks_keeps_it_and_changing_the_step_drops_it():
    app = open_link("playground", **SCENARIOS["thm31"].link_query(), **SMALL)
    app.select_slider(key="w:halfwidth").set_value(50).run()  # step 1 says: zoom back in
    assert_clean(app)
    notes = [info.value for info in app.info if info.value.startswith("**Step 1")]
    assert len(notes) == 1 and "You changed `halfwidth`" in notes[0] and "halfwidth=1000000" in notes[0]
    assert app.query_params["scenario"] == "thm31" and "halfwidth" not in app.query_params  # 50: the default
    app.selectbox(key="w:methods:one").set_value("reject").run()  # not what the note asks
    assert_clean(app)
    assert not [info for info in app.info if info.value.startswith("**Step")]
    assert "scenario" not in app.query_params


def test_a_link_with_bad_values_says_so_and_shows_the_defaults():
    app = open_link(method="resnet", sigma="1.3", halfwidth="7", bogus="1", **SMALL)
    warning = app.warning[0].value
    assert "`method=resnet`" in warning and "`sigma=1.3`" in warning and "`bogus`" in warning
    app.switch_page(PAGE_FILES["playground"]).run()
    assert_clean(app)
    assert not app.warning, "said once"
    assert app.selectbox(key="w:methods:one").value == "plain"
    assert app.select_slider(key="w:halfwidth").value == 50
    assert "sigma" not in app.query_params and "bogus" not in app.query_params


@pytest.mark.parametrize("text", ["500,abc", "", "0,10", "1,2,3,4,5,6,7"])
def test_bad_hidden_widths_show_an_error(text):
    app = open_link("playground", **SMALL)
    app.text_input(key="w:hidden").set_value(text).run()
    assert not app.exception
    assert len(app.error) == 1 and "hidden widths" in app.error[0].value.lower()
    assert not app.get("plotly_chart")


def test_a_net_over_the_budget_is_refused_before_training():
    app = open_link("playground", hidden="4096,4096,4096", epochs="50")
    assert not app.exception
    assert "cannot be trained here" in app.error[0].value and "limit" in app.error[0].value


def test_an_unavailable_device_shows_what_to_change():
    app = open_link("playground", device="mps", **SMALL)
    assert not app.exception
    assert len(app.error) == 1 and "not available" in app.error[0].value


def test_students_view_hides_the_training_settings():
    app = open_link("playground", students="1", **SMALL)
    assert_clean(app)
    assert not app.sidebar.expander and app.toggle(key="w:students").value
    app.toggle(key="w:students").set_value(False).run()
    assert app.sidebar.expander and app.number_input(key="w:epochs").value == 3


def test_ceda_objective_is_a_control_and_changes_the_model():
    app = open_link("playground", method="ceda", **SMALL)
    assert any("gradient is 1 − p_max" in c.value for c in app.sidebar.caption)
    app.radio(key="w:ceda_objective").set_value("uniform").run()
    assert_clean(app)
    assert app.query_params["ceda-objective"] == "uniform"
    assert not any("gradient is 1 − p_max" in c.value for c in app.sidebar.caption)


def test_linear_regions_for_each_kind_of_model():
    app = open_link("linear-regions", **SMALL)
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2
    assert int(app.metric[0].value.replace(",", "")) > 10
    app.selectbox(key="w:methods:one").set_value("dismax").run()
    assert_clean(app)
    assert "DisMax" in app.info[0].value and len(app.get("plotly_chart")) == 2
    app.selectbox(key="w:methods:one").set_value("rbf").run()
    assert_clean(app)
    assert "not piecewise affine" in app.info[0].value and not app.get("plotly_chart")


def test_far_away_direction_and_point():
    app = open_link("far-away", method="plain,rbf", **SMALL)
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2
    table = app.table[0].value
    assert table.loc["directions → conf. 1", "RBF network"] == 0.0
    assert table.loc["limit MMC", "RBF network"] == pytest.approx(0.5)
    app.segmented_control(key="w:along").set_value("point").run()
    assert_clean(app)
    app.number_input(key="w:point:x").set_value(0.0).run()
    app.number_input(key="w:point:y").set_value(0.0).run()
    assert not app.exception and "origin" in app.error[0].value


def test_gan_page_and_image_page_start_cleanly(one_thread):
    app = open_link("gan", iterations="200")
    assert_clean(app)
    charts = [chart.key for chart in app.get("plotly_chart")]
    assert charts == ["gan_animation", "gan_final", "gan_coverage", "gan_recall"], charts
    figures = {metric.label: metric.value for metric in app.metric}
    metrics = gan_metrics(train_gan(GanConfig(iterations=200, snapshot_every=5)))
    assert figures["Final coverage"] == f"{metrics['coverage']:.0%}"
    assert figures["Test accuracy"] == f"{metrics['test_accuracy']:.1%}"
    assert not app.warning or metrics["collapsed"], "a warning only for a collapsed classifier"
    app = open_link("image-benchmark")
    assert not app.exception


def _job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("toyood-job-")]


def test_a_job_nobody_watches_stops_soon():
    """A session that goes away (here: its run times out) leaves the job unwatched; it stops at its
    next progress report after the grace period, well before it would have finished."""
    before = set(_job_threads())
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    app.query_params.update({"hidden": "300,300", "preset": "vernekar", "epochs": "400", "seed": "77"})
    app.run()
    with pytest.raises(RuntimeError):
        app.switch_page(PAGE_FILES["playground"]).run(timeout=3)
    started = set(_job_threads()) - before
    assert started, "the training job runs in a worker thread"
    deadline = time.monotonic() + 30
    while any(t.is_alive() for t in started) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(t.is_alive() for t in started), "the abandoned job did not stop"


def test_trained_runs_are_kept_on_disk_and_served_from_there():
    config = ToyConfig(method="confidence", ood="boundary", hidden=(16, 16), epochs=3, seed=11)
    app = open_link("playground", method="confidence", seed="11", **SMALL)
    assert_clean(app)
    folders = [f for f in Path(os.environ["TOYOOD_APP_CACHE"]).iterdir()
               if f.is_dir() and not f.name.startswith(".") and load_run(f).config == config]  # not .uploads
    assert len(folders) == 1
    shown = app.table[0].value.iloc[:, 0]
    assert shown["test accuracy"] == read_metrics(folders[0])["test_accuracy"]
    reference = train_toy(config)
    for kept, trained in zip(load_run(folders[0]).model.parameters(), reference.model.parameters()):
        assert (kept == trained).all(), "the kept run is the run training gives"


def test_a_leaky_net_s_regions_are_enumerated_and_named_leaky():
    """The page's count (compiled cutter) against the numpy cutter on the same trained net."""
    from toyood_app.state import AppState
    from toyood.models import piecewise_affine_layers
    from toyood.regions import enumerate_regions
    from toyood.toy import train_toy
    app = open_link("linear-regions", **SMALL, leaky="0.2")
    assert_clean(app)
    assert "plain (cross-entropy) on a 16×16 leaky-ReLU (0.2) net." in [c.value for c in app.caption]
    shown = next(m for m in app.metric if m.label == "Regions in the box").value
    config = next(iter(AppState(hidden=(16, 16), epochs=3, leaky=0.2).toy_configs().values()))
    layers, slope = piecewise_affine_layers(train_toy(config).model)
    assert slope == 0.2 and shown == f"{len(enumerate_regions(layers, 50.0, slope, engine='numpy')):,}"
