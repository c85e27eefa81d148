"""Figures of the joint GAN run (Lee et al. 2018; Vernekar et al. 2019 Sec. 5.2, Fig. 5): the
generated samples moving over the data and the classifier's confidence, one frame per snapshot.

To keep the figure quick to send to a browser, frame data are compact typed arrays (plotly encodes
numpy arrays as base64): confidence as uint8 percent, sample coordinates as float32 rounded to 0.1.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..data import N_CLASSES
from ..gan import GanRun, GanSnapshot
from .toy import CLASS_COLOURS, CONFIDENCE_SCALE, circles_trace

SAMPLE_COLOUR = "#ff00ff"  # as the OOD training samples in toyood.plots.toy
DATA_POINTS_PER_CLASS = 150
FRAME_MS = 250


def _percent(confidence: np.ndarray) -> np.ndarray:
    return np.rint(100 * np.asarray(confidence)).astype(np.uint8)


def _coordinates(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.round(np.asarray(points, dtype=np.float32), 1)
    return points[:, 0], points[:, 1]


def _title(snapshot: GanSnapshot) -> str:
    return (f"Iteration {snapshot.iteration} · boundary coverage {snapshot.coverage:.0%} · "
            f"mean distance to the 3σ circles {snapshot.ring_distance:.1f}")


def _heatmap(run: GanRun, snapshot: GanSnapshot, reject: bool) -> go.Heatmap:
    low = 0 if reject else round(100 / N_CLASSES)  # a K-class softmax's confidence is ≥ 1/K
    return go.Heatmap(x=np.round(run.grid_xs, 2), y=np.round(run.grid_ys, 2), z=_percent(snapshot.confidence),
                      zmin=low, zmax=100, colorscale=CONFIDENCE_SCALE,
                      colorbar=dict(title=dict(text="confidence %"), thickness=12),
                      hovertemplate="x %{x}, y %{y}<br>confidence %{z}%<extra></extra>")


def _samples(snapshot: GanSnapshot) -> go.Scatter:
    x, y = _coordinates(snapshot.samples)
    return go.Scatter(x=x, y=y, mode="markers", name="generated G(z)",
                      marker=dict(color=SAMPLE_COLOUR, size=5, line=dict(color="black", width=0.5)),
                      hoverinfo="skip")


def _data_traces(run: GanRun) -> list[go.Scatter]:
    data = run.classifier.data
    traces = []
    for k in np.unique(data.y_train):
        x, y = _coordinates(data.x_train[data.y_train == k][:DATA_POINTS_PER_CLASS])
        traces.append(go.Scatter(x=x, y=y, mode="markers", name=f"class {k}", hoverinfo="skip",
                                 marker=dict(color=CLASS_COLOURS[k % len(CLASS_COLOURS)], size=3, opacity=0.6)))
    return traces


def gan_animation(run: GanRun) -> go.Figure:
    """One frame per snapshot: the classifier's confidence (heatmap), the training data, the 3σ
    circles and the generated samples for fixed latents; coverage in the title; a slider and
    play/pause buttons; fixed axes (``toyood.gan.view_extent``)."""
    reject = run.config.classifier == "reject"
    first = run.snapshots[0]
    traces = [_heatmap(run, first, reject), *_data_traces(run), circles_trace(run.config.sigma), _samples(first)]
    animated = [0, len(traces) - 1]  # the heatmap and the generated samples
    names = [str(s.iteration) for s in run.snapshots]
    frames = [go.Frame(name=name, traces=animated, layout=dict(title=dict(text=_title(s))),
                       data=[go.Heatmap(z=_percent(s.confidence)), go.Scatter(x=xy[0], y=xy[1])])
              for name, s in zip(names, run.snapshots) for xy in [_coordinates(s.samples)]]

    def animate(frame_names, duration):
        return [frame_names, dict(mode="immediate", fromcurrent=True, transition=dict(duration=0),
                                  frame=dict(duration=duration, redraw=True))]

    xmin, xmax, ymin, ymax = (float(v) for v in (run.grid_xs[0], run.grid_xs[-1], run.grid_ys[0], run.grid_ys[-1]))
    fig = go.Figure(data=traces, frames=frames)
    fig.update_layout(
        title=dict(text=_title(first), font=dict(size=14), y=0.97, yanchor="top"),
        xaxis=dict(range=[xmin, xmax], autorange=False, constrain="domain"),
        yaxis=dict(range=[ymin, ymax], autorange=False, scaleanchor="x", scaleratio=1, constrain="domain"),
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),
        margin=dict(l=40, r=20, t=80, b=90),
        height=540,
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.08, xanchor="left", yanchor="top",
                          showactive=False, pad=dict(t=24, r=10),
                          buttons=[dict(label="▶ Play", method="animate", args=animate(None, FRAME_MS)),
                                   dict(label="❚❚ Pause", method="animate", args=animate([None], 0))])],
        sliders=[dict(active=0, x=0.2, len=0.8, y=-0.08, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix="iteration ", font=dict(size=12)),
                      steps=[dict(label=name, method="animate", args=animate([name], 0)) for name in names])],
    )
    return fig


def coverage_figure(runs: dict[str, GanRun]) -> go.Figure:
    """Boundary coverage (share of the 3σ circles' sectors hit) over the iterations, one line per run."""
    fig = go.Figure()
    for label, run in runs.items():
        fig.add_trace(go.Scatter(x=[s.iteration for s in run.snapshots], y=[s.coverage for s in run.snapshots],
                                 mode="lines", name=label))
    fig.update_layout(xaxis_title="iteration", yaxis=dict(title="coverage", range=[0, 1], tickformat=".0%"),
                      height=300, margin=dict(l=40, r=20, t=30, b=40), showlegend=len(runs) > 1)
    return fig
