"""Overconfidence playground: the shared model(s)' confidence from the training box out to 10⁶, one
method (confidence and class maps) or several side by side (two maps per row, one colour bar)."""
import dataclasses
import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from toyood.evaluate import OVERCONFIDENT, GridEvaluation, score_map
from toyood.plots import toy as plots
from toyood.plots.colours import confidence_colorbar
from toyood.scores import SCORE_LABELS, check_score, default_score
from toyood.timeline import Snapshot
from toyood.toy import EXTRA_OOD_COPIES, ToyRun
from toyood_app import charts, clicks, controls, session, stage, training, views
from toyood_app.labels import data_title, metric_text, overlay_caption, run_label
from toyood_app.state import TIMELINE_SNAPSHOTS, ZOOM_LEVELS

BOX_NOTE = "black square: the [−50, 50]² box when zoomed out"
MOVED_NOTE = ("crosses: the first 1,000 far test points after the attack (each moved by PGD within an ℓ∞ ball of half "
              "its norm towards the highest confidence); red: confidence ≥ 0.99 there, white: below")


def moved_points(run: ToyRun) -> list[go.Scatter]:
    """The far test points moved by the attack (``views.moved_far_points``): red where the moved
    point gets confidence ≥ 0.99 (``far_adv_overconfident``), white below."""
    moved, confidence = views.moved_far_points(run)
    sure = confidence >= OVERCONFIDENT
    return [go.Scatter(x=moved[part, 0], y=moved[part, 1], mode="markers", name=name, hoverinfo="skip",
                       marker=dict(symbol="x-thin", size=size, line=dict(width=width, color=colour)))
            for part, name, size, width, colour in (
                (~sure, "moved far point, < 0.99", 4, 1, "rgba(255, 255, 255, 0.45)"),
                (sure, "moved far point, ≥ 0.99", 8, 2, "#ff1f3d"))]


TIMELINE_HELP = ("Scrub through training: the nets kept at up to 20 epochs from the untrained one (epoch 0) to the "
                 "trained one, each with its map, its share of far test points at ≥ 0.99 and its test accuracy; "
                 "its regions counted when asked. Compared methods: one slider moves every net to the same snapshot. "
                 "Trains each net once more, keeping the snapshots.")


@dataclasses.dataclass(frozen=True)
class Moment:
    """One net at a snapshot of its training, as the scrubber shows it: its map, its numbers
    (``toyood.timeline.timeline_entries``), the snapshot, the run's epochs and its region count
    (None until counted)."""
    evaluation: GridEvaluation
    entry: dict
    snapshot: Snapshot
    epochs: int
    regions: int | None

    def caption(self) -> str:
        """The moment's numbers in one line, for under a compared map's title."""
        return (f"epoch {self.snapshot.epoch} of {self.epochs} · {self.snapshot.step:,} steps · far OOD ≥ 0.99: "
                f"**{metric_text('far_ood_overconfident', self.entry['far_ood_overconfident'])}** · test accuracy: "
                f"**{metric_text('test_accuracy', self.entry['test_accuracy'])}**"
                + (f" · regions in [−50, 50]²: **{self.regions:,}**" if self.regions is not None else ""))


def shown_score(run: ToyRun) -> str:
    """The score the page uses for ``run``: the chosen one, or the method's own where it does not apply."""
    chosen = session.state().score or default_score(run.config.method)
    try:
        return check_score(chosen, run.config.method_object().head)
    except ValueError:
        return default_score(run.config.method)


def score_figure(run: ToyRun, evaluation: GridEvaluation, score: str, **overlay) -> go.Figure:
    """The confidence map, or the map of another score (``toyood.evaluate.score_map``): entropy on its
    own scale 0 (certain, yellow like confidence 1) … log C (undecided), the others on theirs."""
    fig = plots.confidence_figure(evaluation, **overlay)
    if score == "max_prob":
        return fig
    if score in ("entropy", "dismax_entropy"):
        values, low, high, colours = evaluation.entropy, 0.0, math.log(evaluation.probs.shape[-1]), "Viridis_r"
        bar = plots.entropy_colorbar(evaluation.probs.shape[-1])
    else:
        values, low, high, colours = score_map(evaluation, run.model, run.config.method_object(), score), None, None, \
            "Viridis"
        bar = {**confidence_colorbar(), "tickvals": None, "ticktext": None,
               "title": dict(text=f"{SCORE_LABELS[score]} (higher = in-distribution)", side="top", font=dict(size=12))}
    fig.update_traces(z=np.asarray(values, dtype=np.float32), zmin=low, zmax=high, colorscale=colours, colorbar=bar,
                      hovertemplate=f"x=%{{x:.4g}}<br>y=%{{y:.4g}}<br>{SCORE_LABELS[score]}=%{{z:.4g}}<extra></extra>",
                      selector=dict(type="heatmap"))
    return fig


def compare_maps(cells: list, row, runs: dict[str, ToyRun], halfwidth: int,
                 moments: dict[str, Moment] | None = None) -> None:
    """One map per method, two per row: confidence maps share one colour bar in ``row`` above them;
    maps of another score keep their own. With ``moments`` (the scrubber), each net at that moment of
    its training, its numbers over its map."""
    first = next(iter(runs.values()))
    (x_shown, y_shown), circles, k = charts.shown_points(first.data), charts.circles(first.data, first.config.sigma), \
        first.config.classes
    shared_bar = all(shown_score(run) == "max_prob" for run in runs.values())
    if shared_bar:
        charts.chart(row, charts.colour_bar_figure(k), "compare_colour_bar", "confidence-colour-bar", width=230)
    attack = session.state().attack and moments is None
    for i, (method, run) in enumerate(runs.items()):
        if i >= len(cells):
            cells += charts.map_row(2)
        moment = None if moments is None else moments[method]

        def build(run=run, moment=moment):
            evaluation = views.grid(run, halfwidth, views.COMPARE_RESOLUTION) if moment is None else moment.evaluation
            fig = score_figure(run, evaluation, shown_score(run), title=run_label(run.config), x_train=x_shown,
                               y_train=y_shown, n_classes=k, **circles)
            fig.update_traces(showscale=not shared_bar, selector=dict(type="heatmap"))
            if attack:
                fig.add_traces(moved_points(run))
            return charts.fit_box(fig)
        if moment is not None:
            cells[i].caption(f"**{run_label(run.config)}** at {moment.caption()}")
        key = ("compare", run.config, halfwidth, shown_score(run), shared_bar, attack)
        fig = build() if moment is not None else views.shared_figure(key, build)
        charts.map_chart(cells[i], fig, f"compare_map_{method}", f"confidence-{method}")
    st.caption(f"{'One colour scale for every map (above them)' if shared_bar else 'Each map its own scale'}. "
               f"Dots: {charts.OVERLAY_POINTS_PER_CLASS} training "
               f"points per class; {overlay_caption(first.config)}; {BOX_NOTE}"
               + (f"; {MOVED_NOTE}." if attack else "."))


def single_maps(cells: list, method: str, run: ToyRun, halfwidth: int, moment: GridEvaluation | None = None) -> None:
    """The confidence map and the predicted-class map of one model (at a moment of its training, when
    ``moment`` is given), with their downloads."""
    circles, k = charts.circles(run.data, run.config.sigma), run.config.classes
    evaluation = views.grid(run, halfwidth, views.MAP_RESOLUTION) if moment is None else moment
    x_shown, y_shown = charts.shown_points(run.data)
    score, current = shown_score(run), session.state()
    clickable = clicks.clicks_apply(current)

    def confidence_map() -> go.Figure:
        fig = score_figure(run, evaluation, score, title="Confidence" if score == "max_prob" else
                           f"Score: {SCORE_LABELS[score]}", x_train=x_shown, y_train=y_shown,
                           ood=charts.shown_ood(run), n_classes=k, **circles)
        if current.attack and moment is None:
            fig.add_traces(moved_points(run))
        if clickable:
            clicks.with_click_grid(fig, halfwidth, current.ood_points)
        return charts.fit_box(fig)

    def class_map() -> go.Figure:
        return charts.fit_box(plots.class_map_figure(evaluation, k, reject=run.config.method_object().head == "reject",
                                                     title="Predicted class", **circles))
    if moment is None:  # one figure per view for every session (views.shared_figure)
        confidence_fig = views.shared_figure(("confidence", run.config, halfwidth, score, current.attack, clickable,
                                              current.ood_points if clickable else ()), confidence_map)
        class_fig = views.shared_figure(("classes", run.config, halfwidth), class_map)
    else:
        confidence_fig, class_fig = confidence_map(), class_map()
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
               + f"; {overlay_caption(run.config)}; {BOX_NOTE}" + (f"; {MOVED_NOTE}." if current.attack else "."))


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


def timeline_view(row, runs: dict[str, ToyRun], halfwidth: int) -> dict[str, Moment] | None:
    """The scrubber over training (``timeline`` in the link: the snapshot shown; off by default): one
    slider over the same snapshot index of every shown net's training (each kept at the same count,
    spread evenly over its own epochs), each net's map and numbers at that moment (one method: in
    the slider's row), and region counts on demand. None while off (the trained nets are shown)."""
    on = session.widget("timeline", lambda key: row.toggle("Training over time", key=key, help=TIMELINE_HELP),
                        shown=lambda v: v is not None, suffix=":on",
                        stored=lambda on: (TIMELINE_SNAPSHOTS - 1 if session.state().timeline is None
                                           else session.state().timeline) if on else None)
    if on is None:  # the stored value: the snapshot shown, 0 included (epoch 0, the untrained net)
        return None
    count = min(TIMELINE_SNAPSHOTS, *(run.config.epochs + 1 for run in runs.values()))
    configs = {m: dataclasses.replace(run.config, temperature=1.0) for m, run in runs.items()}  # T is read later
    results = {m: training.timeline_of(config, count) for m, config in configs.items()}
    if any(result is None for result in results.values()):
        return None
    snapshots = {m: result[1] for m, result in results.items()}
    first, single = next(iter(runs)), len(runs) == 1
    same = len({tuple(s.epoch for s in kept) for kept in snapshots.values()}) == 1
    label = (lambda i: f"epoch {snapshots[first][i].epoch} of {runs[first].config.epochs}") if same else \
        (lambda i: f"snapshot {i} of {count - 1}")
    bar = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    index = session.widget("timeline", lambda key: bar.select_slider(
        "Snapshot", list(range(count)), key=key, width=320, format_func=label),
        shown=lambda v: min(v, count - 1), stored=int, suffix=":scrub", options=list(range(count)))
    views_at = {m: views.snapshot_view(run, count, index, halfwidth, snapshots[m][index]) for m, run in runs.items()}
    if single:
        moment_metrics(bar, snapshots[first][index], views_at[first][1])
    asked = bar.button("Count its regions" if single else "Count their regions", key="timeline-count",
                       help="Exact count in [−50, 50]² (1-2 s for a 2×500 net)")
    moments = {m: Moment(*views_at[m], snapshots[m][index], run.config.epochs,
                         training.snapshot_regions(configs[m], count, index, snapshots[m][index], count=asked))
               for m, run in runs.items()}
    if single and moments[first].regions is not None:
        bar.metric("Regions in [−50, 50]²", f"{moments[first].regions:,}", width="content")
    return moments


def moment_metrics(bar, snapshot: Snapshot, entry: dict) -> None:
    """One net's numbers at the scrubbed moment, in the slider's row."""
    bar.metric("Optimiser steps", f"{snapshot.step:,}", width="content")
    bar.metric("far OOD ≥ 0.99", metric_text("far_ood_overconfident", entry["far_ood_overconfident"]), width="content")
    bar.metric("test accuracy", metric_text("test_accuracy", entry["test_accuracy"]), width="content")


def metrics(runs: dict[str, ToyRun]) -> None:
    """The metrics table, detection ranked by each net's shown score (its own unless one is chosen)."""
    chosen = session.state().score
    if chosen is not None and any(shown_score(run) != chosen for run in runs.values()):
        st.caption(f"The {chosen} score needs a DisMax net: the other nets use their own score here.")
    rows = {run_label(run.config): training.metrics_by_score(run, None if chosen is None else shown_score(run))
            for run in runs.values()}
    charts.show_metrics({label: row for label, row in rows.items() if row is not None}, "metrics-playground")
    st.caption("Detection metrics by score: " + "; ".join(f"{run_label(run.config)}: {SCORE_LABELS[shown_score(run)]}"
                                                           for run in runs.values()) + ".")


@st.fragment
def maps(runs: dict[str, ToyRun]) -> None:
    """The step's note, its numbers and the zoom in one row, the maps side by side under them: a
    zoom change reruns only this part (and writes the address)."""
    header = stage.StepHeader()
    row = header.row
    halfwidth = session.widget("halfwidth", lambda key: row.select_slider(
        "View half-width (the data lives in [−50, 50]²)", ZOOM_LEVELS, key=key, format_func="{:,}".format,
        width=230))
    session.widget("attack", lambda key: row.toggle(
        "Attack the far points", key=key, help="Move the first 1,000 far test points by PGD (ℓ∞ ball of half "
        "each point's norm) towards the highest confidence and draw them: ACET trains on such moves, CEDA does not."))
    moments = timeline_view(row, runs, halfwidth)
    header.fill("playground", runs)
    cells = charts.map_row(2)
    if session.state().compare:
        compare_maps(cells, row, runs, halfwidth, moments)
    else:
        method, run = next(iter(runs.items()))
        single_maps(cells, method, run, halfwidth, None if moments is None else moments[method].evaluation)
    session.sync_url()


stage.intro("playground", "Overconfidence playground",
            f"Data: {data_title(session.state())}. Colour = the model's confidence (largest real-class probability). "
            "Zoom out: a ReLU network's confidence goes to 1 almost everywhere far from the data (Hein et al. "
            "Thm 3.1), whatever the data; an RBF network's goes to 1/K.")
runs = controls.at_temperature(training.trained_or_stop(training.configs_or_stop()))
maps(runs)
st.subheader("Metrics")
metrics(runs)
