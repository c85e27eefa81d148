"""Overconfidence playground: train one method (or several side by side) and look at its confidence
from the training box out to 10⁶."""
import streamlit as st

import ui
from toyood.methods import METHODS
from toyood.plots import toy as plots

ZOOM_LEVELS = [m * 10**e for e in range(1, 7) for m in (1, 2, 5) if 50 <= m * 10**e <= 10**6]
COMPARE_DEFAULT = ["plain", "ceda", "reject", "rbf"]

st.title("Overconfidence playground")
st.caption("Two Gaussian classes at (±10, 0). Colour = the model's confidence (largest real-class "
           "probability). Zoom out: a ReLU network's confidence goes to 1 almost everywhere far from the data "
           "(Hein et al. Thm 3.1); an RBF network's goes to 1/K.")

compare = st.sidebar.toggle("Compare methods", key="compare",
                            help="Several methods side by side on the same data, seed and settings.")
if compare:
    methods = st.sidebar.multiselect("Methods", list(METHODS), COMPARE_DEFAULT, format_func=ui.method_label,
                                     key="methods")
else:
    methods = [st.sidebar.selectbox("Method", list(METHODS), format_func=ui.method_label, key="method")]
settings = ui.training_settings(show_ood=any(METHODS[m].needs_ood for m in methods))
halfwidth = st.select_slider("View half-width (the training data lives in [−50, 50]²)", ZOOM_LEVELS, 50,
                             format_func=lambda v: f"{v:,}", key="halfwidth")
configs = ui.configs_or_stop(methods, settings)
runs = {m: run for m, config in configs.items() if (run := ui.trained(config)) is not None}
if not runs:
    st.stop()

if compare:
    resolution = 150
    grids = {ui.method_label(m): ui.grid(configs[m], halfwidth, resolution) for m in runs}
    data = next(iter(runs.values())).data
    fig = plots.compare_confidence_figure(grids, sigma=settings.sigma, x_train=data.x_train, y_train=data.y_train)
    st.plotly_chart(fig, key="compare_map")
    ui.download_figure(st, fig, "confidence-compare")
    st.subheader("Metrics")
    ui.show_metrics({ui.run_label(configs[m]): ui.metrics(configs[m]) for m in runs}, "metrics-compare")
else:
    method, run = next(iter(runs.items()))
    config = configs[method]
    evaluation = ui.grid(config, halfwidth, 200)
    left, right = st.columns(2)
    confidence_fig = plots.confidence_figure(
        evaluation, title="Confidence", x_train=run.data.x_train, y_train=run.data.y_train,
        ood=run.ood_train, sigma=settings.sigma)
    class_fig = plots.class_map_figure(evaluation, 2, reject=config.method_object().head == "reject",
                                       title="Predicted class", sigma=settings.sigma)
    left.plotly_chart(confidence_fig, key="confidence_map")
    right.plotly_chart(class_fig, key="class_map")
    buttons = st.columns(3)
    ui.download_figure(buttons[0], confidence_fig, f"confidence-{method}", "Confidence map (HTML)")
    ui.download_figure(buttons[1], class_fig, f"classes-{method}", "Class map (HTML)")
    ui.download_run(buttons[2], config, f"run-{method}")
    st.subheader("Metrics")
    ui.show_metrics({ui.run_label(config): ui.metrics(config)}, f"metrics-{method}")
