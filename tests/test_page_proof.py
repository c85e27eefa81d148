"""The proof page (``app_pages/proof.py``) under AppTest, through the app's navigation: four captioned
panels and the exact crossings for the shared model, the point in the link, bad points refused with
``st.error``, and the RBF net of a compare set.
"""
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from toyood.ray import model_ray_pieces, region_crossings
from toyood.toy import ToyConfig, train_toy

ROOT = Path(__file__).resolve().parents[1]
PAGE = "app_pages/proof.py"
TIMEOUT = 300
SMALL = {"hidden": "16,16", "epochs": "3"}
PANELS = ["proof-path", "proof-logits", "proof-gap", "proof-confidence"]


@pytest.fixture(scope="module")
def entry_script() -> Path:
    """The app's entry script, which lists the page."""
    return ROOT / "app.py"


def open_proof(entry_script: Path, **query) -> AppTest:
    app = AppTest.from_file(str(entry_script), default_timeout=TIMEOUT)
    app.query_params.update(query)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app.switch_page(str(ROOT / PAGE)).run()


def charts(app: AppTest) -> list[str]:
    return [chart.key for chart in app.get("plotly_chart")]


def assert_clean(app: AppTest) -> None:
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def test_defaults_show_four_captioned_panels_and_the_exact_crossings(entry_script, one_thread):
    app = open_proof(entry_script, **SMALL)
    assert_clean(app)
    assert charts(app) == PANELS
    assert app.number_input(key="w:point:proof-0").value == 30.0
    assert app.selectbox(key="w:methods:one").value == "plain", "the toy sidebar is drawn"
    captions = [c.value for c in app.caption]
    assert any(c.startswith("Lemma 3.1") for c in captions) and any(c.startswith("Thm 3.1") for c in captions)
    model = train_toy(ToyConfig(method="plain", hidden=(16, 16), epochs=3)).model
    expected = region_crossings(model_ray_pieces(model, np.array([30.0, 20.0])))
    shown = app.dataframe[0].value
    assert len(shown) == len(expected) > 1
    np.testing.assert_allclose(shown["enters at α"], [row["enters at α"] for row in expected], rtol=1e-9)
    assert shown["unbounded"].tolist() == [False] * (len(expected) - 1) + [True]
    assert app.metric[0].value == str(len(expected))


def test_the_point_goes_into_the_link_and_the_log_axis_is_a_toggle(entry_script, one_thread):
    app = open_proof(entry_script, point="-40,5", **SMALL)
    assert app.number_input(key="w:point:proof-0").value == -40.0
    app.number_input(key="w:point:proof-1").set_value(12.5).run()
    assert_clean(app)
    assert app.query_params["point"] == "-40,12.5"
    assert "x = (-40, 12.5)" in " ".join(c.value for c in app.caption)
    app.toggle(key="proof:log-alpha").set_value(True).run()
    assert_clean(app)
    logits = app.get("plotly_chart")[1].proto.spec
    assert '"type":"log"' in logits.replace(" ", "")


@pytest.mark.parametrize("x1, x2, words, kept", [(0.0, 0.0, "origin", "0,20"), (5000.0, 20.0, "[-1000, 1000]", None),
                                                 (-3.0, -1000.5, "[-1000, 1000]", "-3,20")])
def test_a_bad_point_gives_an_error_and_no_figures(entry_script, x1, x2, words, kept, one_thread):
    app = open_proof(entry_script, **SMALL)
    app.number_input(key="w:point:proof-0").set_value(x1)
    app.number_input(key="w:point:proof-1").set_value(x2).run()
    assert not app.exception, [e.message for e in app.exception]
    assert len(app.error) == 1 and words in app.error[0].value and f"x = ({x1:g}, {x2:g})" in app.error[0].value
    assert not charts(app)
    # each coordinate is stored when the point it makes is valid: x₁ first (with the default x₂ = 20), then x₂
    assert app.query_params.get("point") == kept, "the link holds the last valid point (None: the default)"


def test_a_link_with_a_bad_point_says_so_and_shows_the_default_point(entry_script, one_thread):
    app = AppTest.from_file(str(entry_script), default_timeout=TIMEOUT)  # the link opens the page itself
    app.query_params.update(point="inf,20", **SMALL)
    app.switch_page(str(ROOT / PAGE)).run()
    assert not app.exception and not app.error
    assert "`point=inf,20`: expected a finite number" in app.warning[0].value
    assert app.number_input(key="w:point:proof-0").value == 30.0 and charts(app) == PANELS


def test_compare_mode_shows_the_chosen_net_and_the_rbf_contrast(entry_script, one_thread):
    app = open_proof(entry_script, method="plain,rbf", **SMALL)
    assert_clean(app)
    assert charts(app) == PANELS and app.dataframe
    app.selectbox(key="w:focus").set_value("rbf").run()
    assert_clean(app)
    assert charts(app) == PANELS and not app.dataframe
    assert app.query_params["focus"] == "rbf"
    captions = " ".join(c.value for c in app.caption)
    assert "Thm 3.2" in captions and "1/K = 0.5" in captions
    assert "not piecewise affine" in app.info[0].value
