"""Overconfidence playground: the shared model(s)' confidence from the training box out to 10⁶, one
method (confidence and class maps) or several side by side (two maps per row, one colour bar)."""
import streamlit as st

from toyood.plots import toy as plots
from toyood.toy import EXTRA_OOD_COPIES, ToyRun
from toyood_app import charts, clicks, session, stage, training, views
from toyood_app.labels import data_title, overlay_caption, run_label
from toyood_app.state import ZOOM_LEVELS

SINGLE_RESOLUTION = 200
COMPARE_RESOLUTION = 150
BOX_NOTE = "black square: the [−50, 50]² box when zoomed out"


def compare_maps(cells: list, row, runs: dict[str, ToyRun], halfwidth: int) -> None:
    """One confidence map per method (no colour bar of their own), two per row, and the one shared
    colour bar in ``row`` above them."""
    first = next(iter(runs.values()))
    (x_shown, y_shown), circles, k = charts.shown_points(first.data), charts.circles(first.data, first.config.sigma), \
        first.config.classes
    charts.chart(row, charts.colour_bar_figure(k), "compare_colour_bar", "confidence-colour-bar", width=280)
    for i, (method, run) in enumerate(runs.items()):
        if i >= len(cells):
            cells += charts.map_row(2)
        fig = plots.confidence_figure(views.grid(run, halfwidth, COMPARE_RESOLUTION), title=run_label(run.config),
                                      x_train=x_shown, y_train=y_shown, n_classes=k, **circles)
        fig.update_traces(showscale=False, selector=dict(type="heatmap"))
        fig.update_layout(showlegend=False, margin=dict(b=40))
        charts.map_chart(cells[i], fig, f"compare_map_{method}", f"confidence-{method}")
    st.caption(f"One colour scale for every map (above them). Dots: {charts.OVERLAY_POINTS_PER_CLASS} training "
               f"points per class; {overlay_caption(first.config)}; {BOX_NOTE}.")


def single_maps(cells: list, method: str, run: ToyRun, halfwidth: int) -> None:
    """The confidence map and the predicted-class map of one model, with their downloads."""
    circles, k = charts.circles(run.data, run.config.sigma), run.config.classes
    evaluation = views.grid(run, halfwidth, SINGLE_RESOLUTION)
    x_shown, y_shown = charts.shown_points(run.data)
    confidence_fig = plots.confidence_figure(evaluation, title="Confidence", x_train=x_shown, y_train=y_shown,
                                             ood=charts.shown_ood(run), n_classes=k, **circles)
    class_fig = plots.class_map_figure(evaluation, k, reject=run.config.method_object().head == "reject",
                                       title="Predicted class", **circles)
    current = session.state()
    clickable = clicks.clicks_apply(current)
    if clickable:
        clicks.with_click_grid(confidence_fig, halfwidth, current.ood_points)
    event = charts.map_chart(cells[0], confidence_fig, "confidence_map", f"confidence-{method}", clickable=clickable)
    charts.map_chart(cells[1], class_fig, "class_map", f"classes-{method}")
    if clickable and clicks.add_ood_points(clicks.clicked_points(event, confidence_fig)):
        st.rerun(scope="app")  # a new config: every part of the page shows the retrained model
    own_points_note(current, clickable)
    buttons = st.container(horizontal=True)
    charts.download_figure(buttons, confidence_fig, f"confidence-{method}", "Confidence map (HTML)")
    charts.download_figure(buttons, class_fig, f"classes-{method}", "Class map (HTML)")
    charts.download_run(buttons, run, training.finished_metrics(run), f"run-{method}")
    st.caption(f"Dots: {charts.OVERLAY_POINTS_PER_CLASS} training points per class"
               + (f" and {len(charts.shown_ood(run))} of the {len(run.ood_train):,} OOD training samples (magenta)"
                  if run.ood_train is not None else "")
               + f"; {overlay_caption(run.config)}; {BOX_NOTE}.")


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
        row.button("Clear my OOD points", on_click=clicks.clear_ood_points, icon=":material/clear_all:",
                   key="clear-ood-points")


@st.fragment
def maps(runs: dict[str, ToyRun]) -> None:
    """The step's note, its numbers and the zoom in one row, the maps side by side under them: a
    zoom change reruns only this part (and writes the address)."""
    row = stage.step_header("playground", runs)
    halfwidth = session.widget("halfwidth", lambda key: row.select_slider(
        "View half-width (the data lives in [−50, 50]²)", ZOOM_LEVELS, key=key, format_func="{:,}".format,
        width=280))
    cells = charts.map_row(2)
    if session.state().compare:
        compare_maps(cells, row, runs, halfwidth)
    else:
        single_maps(cells, *next(iter(runs.items())), halfwidth)
    session.sync_url()


stage.intro("playground", "Overconfidence playground",
            f"Data: {data_title(session.state())}. Colour = the model's confidence (largest real-class probability). "
            "Zoom out: a ReLU network's confidence goes to 1 almost everywhere far from the data (Hein et al. "
            "Thm 3.1), whatever the data; an RBF network's goes to 1/K.")
runs = training.trained_or_stop(training.configs_or_stop())
maps(runs)
st.subheader("Metrics")
charts.show_metrics(training.metrics_rows(runs), "metrics-playground")
