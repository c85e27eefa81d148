"""Figures of the joint GAN run (Lee et al. 2018; Vernekar et al. 2019 Sec. 5.2, Fig. 5): the
generated samples moving over the data and the classifier's confidence, one frame per snapshot.

To keep the figure quick to send to a browser, frame data are compact typed arrays (plotly encodes
numpy arrays as base64): confidence as uint8 percent, sample coordinates as float32 rounded to 0.1.
Confidence is drawn on the one confidence scale of ``toyood.plots.colours`` over 0–100 %, with its
colour bar under the map and the slider under the colour bar. No legend (it would push the map down
in a narrow column): the page's caption says what the marks are, as the toy maps' captions do.

The title gives each snapshot's test recall per class as it is; the verdict "a class lost"
(``toyood.gan.is_collapsed``) is said only on the last frame, of the final classifier, the one the
page's warning and ``gan_metrics``' ``collapsed`` judge: the classifier of an earlier frame is still
training (untrained at iteration 0 when trained jointly from scratch, where it calls every point one
class), and its recall is a moment, not a verdict.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..data import N_CLASSES
from ..gan import COLLAPSE_RECALL, GanRun, GanSnapshot, is_collapsed
from .colours import (LINE_COLOURS, OOD_SAMPLE_COLOUR, class_colour, confidence_colorbar,
                      confidence_colorscale)
from .toy import haloed_line, circles_trace

DATA_POINTS_PER_CLASS = 150
FRAME_MS = 250
TITLE_PAD = 72  # px above the map: the title's three lines (fixed margins: the page sizes the map's box by them)
COLOUR_BAR_PAD = 36  # px from the map's bottom edge to the colour bar's title, clear of the x tick labels
CONTROLS_PAD = 110  # px from the map's bottom edge to the play buttons (below the colour bar); the slider under them


def _percent(confidence: np.ndarray) -> np.ndarray:
    return np.rint(100 * np.asarray(confidence)).astype(np.uint8)


def _coordinates(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.round(np.asarray(points, dtype=np.float32), 1)
    return points[:, 0], points[:, 1]


def _recall_text(recall: tuple[float, ...], final: bool) -> str:
    """"test recall per class 97% / 98%" (empty without recalls); on the last snapshot (``final``: the
    trained classifier) that lost a class, "final classifier's test recall 40% / 100%: a class lost"."""
    if not recall:
        return ""
    values = " / ".join(f"{r:.0%}" for r in recall)
    if final and is_collapsed(recall):
        return f"final classifier's test recall {values}: <b>a class lost</b>"
    return f"test recall per class {values}"


def _title(snapshot: GanSnapshot, final: bool) -> str:
    """Short lines (the figure may be a third of a 1024 px screen wide): iteration and coverage, the
    distance to the circles, the test recall per class (``_recall_text``)."""
    small = [f"mean distance to the 3σ circles {snapshot.ring_distance:.1f}", _recall_text(snapshot.recall, final)]
    return "<br>".join([f"Iteration {snapshot.iteration} · boundary coverage {snapshot.coverage:.0%}",
                        *(f'<span style="font-size:11px">{line}</span>' for line in small if line)])


def _heatmap(run: GanRun, snapshot: GanSnapshot) -> go.Heatmap:
    """Confidence in percent on the one scale (0–100 %: the reject classifier's "rejected" is grey)."""
    colorbar = confidence_colorbar(N_CLASSES, title="confidence (largest real-class probability)")
    colorbar.update(tickvals=[100 * v for v in colorbar["tickvals"]], ypad=COLOUR_BAR_PAD)
    xs, ys = run.grid_xs, run.grid_ys
    return go.Heatmap(x0=round(float(xs[0]), 2), dx=float(xs[1] - xs[0]), y0=round(float(ys[0]), 2),
                      dy=float(ys[1] - ys[0]), z=_percent(snapshot.confidence), zmin=0, zmax=100,
                      colorscale=confidence_colorscale(N_CLASSES), colorbar=colorbar,
                      hovertemplate="x %{x:.1f}, y %{y:.1f}<br>confidence %{z}%<extra></extra>")


def _samples(snapshot: GanSnapshot) -> go.Scatter:
    x, y = _coordinates(snapshot.samples)
    return go.Scatter(x=x, y=y, mode="markers", name="generated G(z)",
                      marker=dict(color=OOD_SAMPLE_COLOUR, size=5, line=dict(color="black", width=0.5)),
                      hoverinfo="skip")


def _data_traces(run: GanRun) -> list[go.Scatter]:
    data = run.classifier.data
    traces = []
    for k in np.unique(data.y_train):
        x, y = _coordinates(data.x_train[data.y_train == k][:DATA_POINTS_PER_CLASS])
        traces.append(go.Scatter(x=x, y=y, mode="markers", name=f"class {k}", hoverinfo="skip",
                                 marker=dict(color=class_colour(int(k)), size=3, opacity=0.6)))
    return traces


def _controls(names: list[str], active: int) -> dict:
    """Play/pause buttons, and the iteration slider across the full width under them, below the
    colour bar (``pad`` is in px, so the stack holds at any figure size)."""
    def animate(frame_names, duration):
        return [frame_names, dict(mode="immediate", fromcurrent=True, transition=dict(duration=0),
                                  frame=dict(duration=duration, redraw=True))]

    return dict(
        updatemenus=[dict(type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
                          showactive=False, pad=dict(t=CONTROLS_PAD, r=10),
                          buttons=[dict(label="▶ Play", method="animate", args=animate(None, FRAME_MS)),
                                   dict(label="❚❚ Pause", method="animate", args=animate([None], 0))])],
        sliders=[dict(active=active, x=0, len=1.0, y=0, yanchor="top", pad=dict(t=CONTROLS_PAD + 36, b=0),
                      currentvalue=dict(prefix="iteration ", font=dict(size=12)),
                      steps=[dict(label=name, method="animate", args=animate([name], 0)) for name in names])])


def gan_animation(run: GanRun, *, height: int | None = None, initial_frame: int = 0) -> go.Figure:
    """One frame per snapshot: the classifier's confidence (heatmap), the training data, the 3σ
    circles and the generated samples for fixed latents; coverage, distance and test recall in the
    title (``_title``; the last frame's judges the final classifier); a slider and play/pause
    buttons; fixed axes (``toyood.gan.view_extent``) in square data units; no legend.
    ``initial_frame``: the snapshot shown first (an index; −1: the last)."""
    last = len(run.snapshots) - 1
    active = range(len(run.snapshots))[initial_frame]
    first = run.snapshots[active]
    traces = [_heatmap(run, first), *_data_traces(run),
              *haloed_line(circles_trace(run.config.sigma, run.classifier.data.centres)), _samples(first)]
    animated = [0, len(traces) - 1]  # the heatmap and the generated samples
    names = [str(s.iteration) for s in run.snapshots]
    frames = [go.Frame(name=name, traces=animated, layout=dict(title=dict(text=_title(s, i == last))),
                       data=[go.Heatmap(z=_percent(s.confidence)), go.Scatter(x=xy[0], y=xy[1])])
              for i, (name, s) in enumerate(zip(names, run.snapshots)) for xy in [_coordinates(s.samples)]]
    xmin, xmax, ymin, ymax = (float(v) for v in (run.grid_xs[0], run.grid_xs[-1], run.grid_ys[0], run.grid_ys[-1]))
    fig = go.Figure(data=traces, frames=frames)
    fig.update_layout(
        title=dict(text=_title(first, active == last), font=dict(size=14), x=0.5, xanchor="center",
                   yref="container", y=1, yanchor="top", pad=dict(t=10)),
        xaxis=dict(range=[xmin, xmax], autorange=False, constrain="domain", showgrid=False, zeroline=False,
                   automargin=False),
        yaxis=dict(range=[ymin, ymax], autorange=False, scaleanchor="x", scaleratio=1, constrain="domain",
                   constraintoward="bottom", showgrid=False, zeroline=False, automargin=False),
        showlegend=False, margin=dict(l=50, r=30, t=TITLE_PAD, b=CONTROLS_PAD + 125), height=height or 680,
        **_controls(names, active))
    return fig


def coverage_figure(runs: dict[str, GanRun]) -> go.Figure:
    """Boundary coverage (share of the 3σ circles' sectors hit) over the iterations, one line per run."""
    fig = go.Figure()
    for i, (label, run) in enumerate(runs.items()):
        fig.add_trace(go.Scatter(x=[s.iteration for s in run.snapshots], y=[s.coverage for s in run.snapshots],
                                 mode="lines", name=label, line=dict(color=LINE_COLOURS[i % len(LINE_COLOURS)])))
    fig.update_layout(xaxis_title="iteration", yaxis=dict(title="coverage", range=[0, 1], tickformat=".0%"),
                      height=300, margin=dict(l=50, r=20, t=30, b=80 if len(runs) > 1 else 50),
                      showlegend=len(runs) > 1,
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=0.01, yref="container", yanchor="bottom"))
    return fig


def recall_figure(run: GanRun) -> go.Figure:
    """The classifier's test recall per class over the iterations, with the collapse line at
    ``COLLAPSE_RECALL``: a class whose curve falls below it is lost (rejected or taken by the other)."""
    fig = go.Figure()
    iterations = [s.iteration for s in run.snapshots]
    recall = np.array([s.recall for s in run.snapshots], dtype=float).reshape(len(iterations), -1)
    for k in range(recall.shape[1]):
        fig.add_trace(go.Scatter(x=iterations, y=recall[:, k], mode="lines", name=f"class {k}",
                                 line=dict(color=class_colour(k))))
    fig.add_hline(y=COLLAPSE_RECALL, line=dict(color="grey", dash="dash"),
                  annotation_text="collapse", annotation_position="bottom right")
    fig.update_layout(xaxis_title="iteration", yaxis=dict(title="test recall", range=[0, 1.02], tickformat=".0%"),
                      height=300, margin=dict(l=50, r=20, t=30, b=50),
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=1.0, yanchor="bottom"))
    return fig
