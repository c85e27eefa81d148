"""Overconfidence playground: the shared model(s)' confidence from the training box out to 10⁶, one
method (confidence and class maps) or several side by side (two maps per row, one colour bar)."""
import streamlit as st

import ui
from toyood.appstate import ZOOM_LEVELS
from toyood.plots import toy as plots

SINGLE_RESOLUTION = 200
COMPARE_RESOLUTION = 150

st.title("Overconfidence playground")
st.caption("Two Gaussian classes at (±10, 0). Colour = the model's confidence (largest real-class "
           "probability). Zoom out: a ReLU network's confidence goes to 1 almost everywhere far from the data "
           "(Hein et al. Thm 3.1); an RBF network's goes to 1/K.")
halfwidth = ui.widget("halfwidth", lambda key: st.select_slider(
    "View half-width (the training data lives in [−50, 50]²)", ZOOM_LEVELS, key=key, format_func="{:,}".format))
ui.scenario_note("playground")
configs = ui.configs_or_stop()
results = ui.trained_or_stop(configs)
sigma = ui.state().sigma
data = next(iter(results.values())).run.data

if ui.state().compare:
    grids = {ui.method_label(m): ui.grid(result, halfwidth, COMPARE_RESOLUTION) for m, result in results.items()}
    fig = plots.compare_confidence_figure(grids, sigma=sigma, x_train=data.x_train, y_train=data.y_train, columns=2)
    ui.chart(st, fig, "compare_map", "confidence-compare")
    ui.download_figure(st, fig, "confidence-compare")
else:
    method, result = next(iter(results.items()))
    config = result.run.config
    evaluation = ui.grid(result, halfwidth, SINGLE_RESOLUTION)
    left, right = st.columns(2)
    confidence_fig = plots.confidence_figure(evaluation, title="Confidence", x_train=data.x_train,
                                             y_train=data.y_train, ood=result.run.ood_train, sigma=sigma)
    class_fig = plots.class_map_figure(evaluation, 2, reject=config.method_object().head == "reject",
                                       title="Predicted class", sigma=sigma)
    ui.chart(left, confidence_fig, "confidence_map", f"confidence-{method}")
    ui.chart(right, class_fig, "class_map", f"classes-{method}")
    buttons = st.columns(3)
    ui.download_figure(buttons[0], confidence_fig, f"confidence-{method}", "Confidence map (HTML)")
    ui.download_figure(buttons[1], class_fig, f"classes-{method}", "Class map (HTML)")
    ui.download_run(buttons[2], result, f"run-{method}")
st.subheader("Metrics")
ui.show_metrics({ui.run_label(r.run.config): r.metrics for r in results.values()}, "metrics-playground")
