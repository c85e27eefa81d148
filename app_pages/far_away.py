"""Far away: confidence along a ray α·x up to α = 10¹², and the limit α → ∞ in every direction, for
the shared model(s)."""
import numpy as np
import streamlit as st

from toyood.farfield import DIRECTION_SAMPLES
from toyood.plots import toy as plots
from toyood.toy import ToyRun
from toyood_app import charts, session, training, views
from toyood_app.labels import method_label
from toyood_app.state import POINT_LIMIT, THETA_STEP, WALKS

ALPHAS = tuple(np.geomspace(1.0, 1e12, 241))
LIMIT_ANGLES = 720
FAR_KEYS = ["asymptotic_overconfident", "asymptotic_rejected", "asymptotic_mmc", "median_alpha_999", "far_ood_mmc"]
WALK_LABELS = {"direction": "a direction", "point": "a point"}


def walk_point() -> tuple[float, float] | None:
    """The point x of the walk α·x from the view controls (None, after an error, at the origin)."""
    along = session.widget("along", lambda key: st.segmented_control("Walk along", WALKS, key=key, required=True,
                                                                format_func=WALK_LABELS.get))
    if along == "direction":
        degrees = session.widget("theta", lambda key: st.slider(
            "Direction θ (degrees; 0° = along the positive x axis)", 0.0, 360.0 - THETA_STEP, step=THETA_STEP,
            format="%.1f°", key=key))
        return float(np.cos(np.radians(degrees))), float(np.sin(np.radians(degrees)))
    left, right = st.columns(2)
    session.widget("point", lambda key: left.number_input("x", -POINT_LIMIT, POINT_LIMIT, key=key),
              shown=lambda v: v[0], stored=lambda x: (float(x), session.state().point[1]), suffix=":x")
    point = session.widget("point", lambda key: right.number_input("y", -POINT_LIMIT, POINT_LIMIT, key=key),
                      shown=lambda v: v[1], stored=lambda y: (session.state().point[0], float(y)), suffix=":y")
    if point == (0.0, 0.0):
        st.error("The origin stays at the origin for every α: pick another point.")
        return None
    return point


@st.fragment
def walk(runs: dict[str, ToyRun]) -> None:
    """The walk's controls and its figure: changing them reruns only this part (and writes the address)."""
    point = walk_point()
    session.scenario_note("far-away")
    if point is not None:
        curves = {method_label(m): views.ray_confidence(run, point, ALPHAS) for m, run in runs.items()}
        ray_fig = plots.ray_confidence_figure(np.array(ALPHAS), curves, n_classes=session.state().classes,
                                              title=f"Confidence at α·({point[0]:.3g}, {point[1]:.3g})")
        charts.chart(st, ray_fig, "ray", "confidence-along-ray")
    session.sync_url()


st.title("Far away from the data")
st.caption("Walk out along α·x for α from 1 to 10¹². A ReLU network is affine on the last, unbounded region "
           "the ray enters, so its logits grow linearly in α and the softmax saturates: confidence → 1 "
           "(Hein et al. Thm 3.1) unless the top two logits grow equally fast. The RBF network is the "
           f"contrast: every logit → 0, so the confidence → 1/K = {1 / session.state().classes:.3g} (Thm 3.2).")
runs = training.trained_or_stop(training.configs_or_stop())
walk(runs)
labels = {m: method_label(m) for m in runs}

st.subheader("Every direction at once")
limits = {labels[m]: views.limit_confidence(run, LIMIT_ANGLES) for m, run in runs.items()}
angles = next(iter(limits.values()))[0]
limit_fig = plots.limit_confidence_figure(angles, {name: limit for name, (_, limit) in limits.items()},
                                          n_classes=session.state().classes,
                                          title="lim α→∞ of the confidence at α·u(θ)")
charts.chart(st, limit_fig, "limits", "limit-confidence")
st.caption(f"Exact for ReLU nets with a linear or reject head: the circle of directions splits into arcs of "
           f"constant activation pattern at infinity, and on each arc the class with the largest logit slope "
           f"wins (confidence 1; 0 for a reject-class model whose reject logit wins). DisMax and RBF limits "
           f"are evaluated on {DIRECTION_SAMPLES:,} directions.")
charts.show_metrics(training.metrics_rows(runs), "metrics-far-away", FAR_KEYS)
