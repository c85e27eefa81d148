"""Far away: confidence along a ray α·x up to α = 10¹², and the limit α → ∞ in every direction."""
import numpy as np
import streamlit as st

import ui
from toyood.farfield import DIRECTION_SAMPLES
from toyood.methods import METHODS
from toyood.plots import toy as plots

ALPHAS = tuple(np.geomspace(1.0, 1e12, 241))
LIMIT_ANGLES = 720
FAR_KEYS = ["asymptotic_overconfident", "asymptotic_rejected", "asymptotic_mmc", "median_alpha_999", "far_ood_mmc"]

st.title("Far away from the data")
st.caption("Walk out along α·x for α from 1 to 10¹². A ReLU network is affine on the last, unbounded region "
           "the ray enters, so its logits grow linearly in α and the softmax saturates: confidence → 1 "
           "(Hein et al. Thm 3.1) unless the top two logits grow equally fast. The RBF network is the "
           "contrast: every logit → 0, so the confidence → 1/K = 0.5 (Thm 3.2).")

methods = st.sidebar.multiselect("Methods", list(METHODS), ["plain", "ceda", "reject", "rbf"],
                                 format_func=ui.method_label, key="methods")
settings = ui.training_settings(show_ood=any(METHODS[m].needs_ood for m in methods))
along = st.segmented_control("Walk along", ["a direction", "a point"], default="a direction", required=True,
                             key="along")
if along == "a direction":
    degrees = st.slider("Direction θ (degrees; 0° = towards class 1 at (10, 0))", 0.0, 359.5, 30.0, 0.5,
                        key="angle")
    point = (float(np.cos(np.radians(degrees))), float(np.sin(np.radians(degrees))))
else:
    left, right = st.columns(2)
    point = (left.number_input("x", -1e3, 1e3, 30.0, key="x"), right.number_input("y", -1e3, 1e3, 20.0, key="y"))
    if point == (0.0, 0.0):
        st.error("The origin stays at the origin for every α: pick another point.")
        st.stop()
configs = ui.configs_or_stop(methods, settings)
trained = [m for m, config in configs.items() if ui.trained(config) is not None]
if not trained:
    st.stop()

labels = {m: ui.method_label(m) for m in trained}
ray_fig = plots.ray_confidence_figure(np.array(ALPHAS), {labels[m]: ui.ray_confidence(configs[m], point, ALPHAS)
                                                         for m in trained},
                                      title=f"Confidence at α·({point[0]:.3g}, {point[1]:.3g})")
st.plotly_chart(ray_fig, key="ray")
ui.download_figure(st, ray_fig, "confidence-along-ray")

st.subheader("Every direction at once")
limits = {labels[m]: ui.limit_confidence(configs[m], LIMIT_ANGLES) for m in trained}
angles = next(iter(limits.values()))[0]
limit_fig = plots.limit_confidence_figure(angles, {name: limit for name, (_, limit) in limits.items()},
                                          title="lim α→∞ of the confidence at α·u(θ)")
st.plotly_chart(limit_fig, key="limits")
ui.download_figure(st, limit_fig, "limit-confidence")
st.caption(f"Exact for ReLU nets with a linear or reject head: the circle of directions splits into arcs of "
           f"constant activation pattern at infinity, and on each arc the class with the largest logit slope "
           f"wins (confidence 1; 0 for a reject-class model whose reject logit wins). DisMax and RBF limits "
           f"are evaluated on {DIRECTION_SAMPLES:,} directions.")
ui.show_metrics({ui.run_label(configs[m]): ui.metrics(configs[m]) for m in trained}, "metrics-far-away", FAR_KEYS)
