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
    ui.chart(st, ui.colour_bar_figure(), "compare_colour_bar", "confidence-colour-bar")
    row = ui.map_row(ui.COMPARE_MAP_WIDTH)
    for method, result in results.items():
        fig = plots.confidence_figure(ui.grid(result, halfwidth, COMPARE_RESOLUTION), title=ui.run_label(result.run.config),
                                      x_train=data.x_train, y_train=data.y_train, sigma=sigma)
        fig.update_traces(showscale=False, selector=dict(type="heatmap")).update_layout(showlegend=False,
                                                                                  margin=dict(b=40))
        ui.map_chart(row, fig, f"compare_map_{method}", f"confidence-{method}", ui.COMPARE_MAP_WIDTH)
    st.caption("One colour scale for every map (above). Dots: the training data; dashed: the 3σ circles; "
               "black square: the [−50, 50]² box when zoomed out.")
else:
    method, result = next(iter(results.items()))
    config = result.run.config
    evaluation = ui.grid(result, halfwidth, SINGLE_RESOLUTION)
    confidence_fig = plots.confidence_figure(evaluation, title="Confidence", x_train=data.x_train,
                                             y_train=data.y_train, ood=result.run.ood_train, sigma=sigma)
    class_fig = plots.class_map_figure(evaluation, 2, reject=config.method_object().head == "reject",
                                       title="Predicted class", sigma=sigma)
    row = ui.map_row()
    ui.map_chart(row, confidence_fig, "confidence_map", f"confidence-{method}")
    ui.map_chart(row, class_fig, "class_map", f"classes-{method}")
    buttons = st.container(horizontal=True)
    ui.download_figure(buttons, confidence_fig, f"confidence-{method}", "Confidence map (HTML)")
    ui.download_figure(buttons, class_fig, f"classes-{method}", "Class map (HTML)")
    ui.download_run(buttons, result, f"run-{method}")
st.subheader("Metrics")
ui.show_metrics({ui.run_label(r.run.config): r.metrics for r in results.values()}, "metrics-playground")
