"""Every page of the Streamlit app under ``streamlit.testing.v1.AppTest``: defaults run, widgets
rerun with the matching results, bad input and failing trainings show ``st.error``, never a traceback.

Small nets and few epochs are set through the widgets' session state before the first run; the
trained runs are cached per process, so later tests reuse them.
"""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from toyood.errors import TrainingDiverged

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 180
SMALL = {"hidden": "16,16", "epochs_interactive": 3}


def page(name: str, **state) -> AppTest:
    """The page script with small training settings (and ``state``) set before its first run."""
    app = AppTest.from_file(str(ROOT / name), default_timeout=TIMEOUT)
    for key, value in {**SMALL, **state}.items():
        app.session_state[key] = value
    return app.run()


def assert_clean(app: AppTest) -> None:
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def metrics_rows(app: AppTest) -> list[str]:
    """The model names of the metrics table (its columns when it shows a single model)."""
    table = app.dataframe[0].value
    return list(table.columns if table.index.name == "metric" else table.index)


def test_overview_links_every_present_page():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not app.exception
    links = app.get("page_link")
    present = [path for path in ("pages/1_Playground.py", "pages/2_Linear_regions.py", "pages/3_Far_away.py",
                                 "pages/4_Image_benchmark.py", "pages/5_GAN.py") if (ROOT / path).exists()]
    assert len(links) == len(present)


def test_playground_defaults_then_method_and_ood_changes():
    app = page("pages/1_Playground.py")
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2
    assert metrics_rows(app) == ["plain (cross-entropy)"]
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == ["Confidence map (HTML)", "Class map (HTML)", "Trained model (zip)", "Metrics (JSON)",
                      "Metrics (CSV)"]
    assert not app.radio, "no OOD source for a method that does not use OOD samples"

    app.selectbox(key="method").set_value("reject").run()
    assert_clean(app)
    assert app.radio(key="ood").value == "boundary"
    assert metrics_rows(app) == ["reject class (Vernekar) · boundary OOD"]

    app.radio(key="ood").set_value("general").run()
    assert_clean(app)
    assert metrics_rows(app) == ["reject class (Vernekar) · general OOD"]

    app.select_slider(key="halfwidth").set_value(10**6).run()
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2


def test_playground_compare_mode_shows_one_table_for_all_methods():
    app = page("pages/1_Playground.py", compare=True)
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 1
    assert metrics_rows(app) == ["plain (cross-entropy)", "CEDA (Hein) · boundary OOD",
                                 "reject class (Vernekar) · boundary OOD", "RBF network"]


@pytest.mark.parametrize("text", ["500,abc", "", "0,10", "1,2,3,4,5,6,7"])
def test_bad_hidden_widths_show_an_error(text):
    app = page("pages/1_Playground.py", hidden=text)
    assert not app.exception
    assert len(app.error) == 1 and "hidden widths" in app.error[0].value.lower()
    assert not app.get("plotly_chart")


def test_unavailable_device_shows_what_to_change():
    app = page("pages/1_Playground.py", device="mps")
    assert not app.exception
    assert len(app.error) == 1 and "not available" in app.error[0].value


def test_diverging_training_shows_an_error_and_the_page_recovers(monkeypatch):
    def diverge(config, progress=None):
        raise TrainingDiverged("training diverged in epoch 1: the loss became nan; lower the learning rate")

    monkeypatch.setattr(ui, "train_toy", diverge)
    app = page("pages/1_Playground.py", seed=4242, lr_interactive=1.0)
    assert not app.exception
    assert "lower the learning rate" in app.error[0].value
    monkeypatch.undo()
    app.select_slider(key="lr_interactive").set_value(1e-3).run()
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2


def test_linear_regions_for_each_kind_of_model():
    app = page("pages/2_Linear_regions.py")
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2
    assert int(app.metric[0].value.replace(",", "")) > 10
    app.selectbox(key="method").set_value("dismax").run()
    assert_clean(app)
    assert "DisMax" in app.info[0].value and len(app.get("plotly_chart")) == 2
    app.selectbox(key="method").set_value("rbf").run()
    assert_clean(app)
    assert "not piecewise affine" in app.info[0].value and not app.get("plotly_chart")


def test_far_away_direction_and_point():
    app = page("pages/3_Far_away.py", methods=["plain", "rbf"])
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 2
    table = app.dataframe[0].value
    assert table.loc["RBF network", "directions → conf. 1"] == 0.0
    assert table.loc["RBF network", "limit MMC"] == pytest.approx(0.5)
    app.segmented_control(key="along").set_value("a point").run()
    assert_clean(app)
    app.number_input(key="x").set_value(0.0).run()
    app.number_input(key="y").set_value(0.0).run()
    assert not app.exception and "origin" in app.error[0].value
