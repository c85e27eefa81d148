"""Overconfidence playground: the shared model(s)' confidence from the training box out to 10⁶, one
method (confidence and class maps) or several side by side (two maps per row, one colour bar)."""
import streamlit as st

import ui
from toyood.appstate import ZOOM_LEVELS
from toyood.toy import EXTRA_OOD_COPIES
from toyood.plots import toy as plots

SINGLE_RESOLUTION = 200
COMPARE_RESOLUTION = 150


def compare_maps(results: dict[str, ui.ToyResult], halfwidth: int) -> None:
    """One confidence map per method (no colour bar of their own) under one shared colour bar."""
    first = next(iter(results.values())).run
    (x_shown, y_shown), circles, k = ui.shown_points(first.data), ui.circles(first.data, first.config.sigma), \
        first.config.classes
    ui.chart(st, ui.colour_bar_figure(k), "compare_colour_bar", "confidence-colour-bar",
             width=2 * ui.COMPARE_MAP_WIDTH + ui.MAP_GAP)
    row = ui.map_row(ui.COMPARE_MAP_WIDTH)
    for method, result in results.items():
        fig = plots.confidence_figure(ui.grid(result, halfwidth, COMPARE_RESOLUTION),
                                      title=ui.run_label(result.run.config), x_train=x_shown, y_train=y_shown,
                                      n_classes=k, **circles)
        fig.update_traces(showscale=False, selector=dict(type="heatmap"))
        fig.update_layout(showlegend=False, margin=dict(b=40))
        ui.map_chart(row, fig, f"compare_map_{method}", f"confidence-{method}", ui.COMPARE_MAP_WIDTH)
    st.caption(f"One colour scale for every map (above). Dots: {ui.OVERLAY_POINTS_PER_CLASS} training points "
               f"per class; {ui.overlay_caption(first)}; black square: the [−50, 50]² box when zoomed out.")


def single_maps(method: str, result: ui.ToyResult, halfwidth: int) -> None:
    """The confidence map and the predicted-class map of one model, with their downloads."""
    run = result.run
    circles, k = ui.circles(run.data, run.config.sigma), run.config.classes
    evaluation = ui.grid(result, halfwidth, SINGLE_RESOLUTION)
    x_shown, y_shown = ui.shown_points(run.data)
    confidence_fig = plots.confidence_figure(evaluation, title="Confidence", x_train=x_shown, y_train=y_shown,
                                             ood=ui.shown_ood(run), n_classes=k, **circles)
    class_fig = plots.class_map_figure(evaluation, k, reject=run.config.method_object().head == "reject",
                                       title="Predicted class", **circles)
    current = ui.state()
    clickable = ui.clicks_apply(current)
    if clickable:
        ui.with_click_grid(confidence_fig, halfwidth, current.ood_points)
    row = ui.map_row()
    event = ui.map_chart(row, confidence_fig, "confidence_map", f"confidence-{method}", clickable=clickable)
    ui.map_chart(row, class_fig, "class_map", f"classes-{method}")
    if clickable and ui.add_ood_points(ui.clicked_points(event, confidence_fig)):
        st.rerun(scope="app")  # a new config: every part of the page shows the retrained model
    own_points_note(current, clickable)
    buttons = st.container(horizontal=True)
    ui.download_figure(buttons, confidence_fig, f"confidence-{method}", "Confidence map (HTML)")
    ui.download_figure(buttons, class_fig, f"classes-{method}", "Class map (HTML)")
    ui.download_run(buttons, result, f"run-{method}")
    st.caption(f"Dots: {ui.OVERLAY_POINTS_PER_CLASS} training points per class"
               + (f" and {len(ui.shown_ood(run))} of the {len(run.ood_train):,} OOD training samples (magenta)"
                  if run.ood_train is not None else "")
               + f"; {ui.overlay_caption(run)}; black square: the [−50, 50]² box when zoomed out.")


def own_points_note(current, clickable: bool) -> None:
    """How clicking works, how many points there are, and a button to clear them."""
    count = len(current.ood_points)
    if not clickable:
        if count:
            st.caption(f"Your {count} OOD point{'s' * (count != 1)} train only a single method that uses OOD "
                       "samples from the boundary or general source.")
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption(f"**Click the confidence map** to add an OOD training point there ({count} so far; click one again "
                f"to remove it). Each joins the {current.ood} samples {EXTRA_OOD_COPIES} times; the model retrains.")
    if count:
        row.button("Clear my OOD points", on_click=ui.clear_ood_points, icon=":material/clear_all:",
                   key="clear-ood-points")


@st.fragment
def maps(results: dict[str, ui.ToyResult]) -> None:
    """The zoom and the maps: a zoom change reruns only this part (and writes the address)."""
    halfwidth = ui.widget("halfwidth", lambda key: st.select_slider(
        "View half-width (the training data lives in [−50, 50]²)", ZOOM_LEVELS, key=key, format_func="{:,}".format))
    ui.scenario_note("playground")
    if ui.state().compare:
        compare_maps(results, halfwidth)
    else:
        single_maps(*next(iter(results.items())), halfwidth)
    ui.sync_url()


st.title("Overconfidence playground")
st.caption(f"Data: {ui.data_title()}. Colour = the model's confidence (largest real-class probability). Zoom "
           "out: a ReLU network's confidence goes to 1 almost everywhere far from the data (Hein et al. Thm 3.1), "
           "whatever the data; an RBF network's goes to 1/K.")
results = ui.trained_or_stop(ui.configs_or_stop())
maps(results)
st.subheader("Metrics")
ui.show_metrics(ui.metrics_rows(results), "metrics-playground")
