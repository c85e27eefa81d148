"""Figures of the 2-D toy: confidence and predicted-class maps, side-by-side comparisons, and the
far-away views (confidence along a ray, limit confidence per direction).

Every map is one ``go.Heatmap`` raster plus a few overlay traces, whatever the grid size.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..data import MEANS, OOD_RADIUS_SIGMAS
from ..evaluate import GridEvaluation

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")  # as in toyood.plots.regions
REJECT_COLOUR = "#b0b0b0"
CONFIDENCE_SCALE = "Viridis"
TRAINING_BOX = 50.0  # the half-width of the box the data and the general OOD samples live in
MAX_OVERLAY_POINTS = 2000


def _equal_axes(fig: go.Figure, row: int | None = None, col: int | None = None) -> None:
    """Square data units, short SI tick labels (50, 2k, 1M) so that zoomed-out axes stay readable."""
    fig.update_xaxes(tickformat="~s", nticks=5, constrain="domain", row=row, col=col)
    fig.update_yaxes(tickformat="~s", nticks=5, constrain="domain", row=row, col=col)
    for axis in fig.select_yaxes(row=row, col=col):
        x_name = axis.anchor or "x"
        axis.update(scaleanchor=x_name, scaleratio=1)


def _extent(grid: GridEvaluation) -> float:
    return float(max(abs(grid.xs[0]), abs(grid.xs[-1]), abs(grid.ys[0]), abs(grid.ys[-1])))


def circles_trace(sigma: float) -> go.Scatter:
    """The two 3σ circles (the in-distribution boundary) as one line trace."""
    t = np.linspace(0, 2 * np.pi, 121)
    radius = OOD_RADIUS_SIGMAS * sigma
    x = np.concatenate([np.r_[mean[0] + radius * np.cos(t), np.nan] for mean in MEANS])
    y = np.concatenate([np.r_[mean[1] + radius * np.sin(t), np.nan] for mean in MEANS])
    return go.Scatter(x=x, y=y, mode="lines", line=dict(color="black", width=1.5, dash="dash"),
                      name="3σ boundary", hoverinfo="skip")


def training_box_trace() -> go.Scatter:
    """The [−50, 50]² box the training data and the far test OOD live in."""
    b = TRAINING_BOX
    return go.Scatter(x=[-b, b, b, -b, -b], y=[-b, -b, b, b, -b], mode="lines",
                      line=dict(color="black", width=1), name="[−50, 50]² box", hoverinfo="skip")


def _thin(points: np.ndarray, limit: int = MAX_OVERLAY_POINTS) -> np.ndarray:
    return points if len(points) <= limit else points[np.linspace(0, len(points) - 1, limit).astype(int)]


def overlay_traces(x_train: np.ndarray | None, y_train: np.ndarray | None, ood: np.ndarray | None,
                   sigma: float | None, show_box: bool = False, legend: bool = True) -> list[go.Scatter]:
    """Training points per class, OOD training samples, the 3σ circles and optionally the data box."""
    traces: list[go.Scatter] = []
    if ood is not None and len(ood):
        ood = _thin(ood)
        traces.append(go.Scatter(x=ood[:, 0], y=ood[:, 1], mode="markers", name="OOD training samples",
                                 marker=dict(size=3, color="#ff00ff", opacity=0.5), showlegend=legend))
    if x_train is not None:
        for k in np.unique(y_train):
            points = _thin(x_train[y_train == k], MAX_OVERLAY_POINTS // 2)
            traces.append(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name=f"class {k}",
                                     marker=dict(size=4, color=CLASS_COLOURS[k % len(CLASS_COLOURS)],
                                                 line=dict(width=0.5, color="black")), showlegend=legend))
    if sigma is not None:
        circle = circles_trace(sigma)
        circle.showlegend = legend
        traces.append(circle)
    if show_box:
        box = training_box_trace()
        box.showlegend = legend
        traces.append(box)
    return traces


def confidence_heatmap(grid: GridEvaluation, zmin: float = 0.5, zmax: float = 1.0, coloraxis: str | None = None,
                       name: str = "confidence") -> go.Heatmap:
    """The confidence (max real-class probability) raster of a grid."""
    common = dict(z=grid.confidence.astype(np.float32), x=grid.xs, y=grid.ys, name=name,
                  hovertemplate="x=%{x:.4g}<br>y=%{y:.4g}<br>confidence=%{z:.4f}<extra></extra>")
    if coloraxis:
        return go.Heatmap(**common, coloraxis=coloraxis)
    return go.Heatmap(**common, zmin=zmin, zmax=zmax, colorscale=CONFIDENCE_SCALE,
                      colorbar=dict(title=dict(text="confidence", side="right")))


def confidence_figure(grid: GridEvaluation, *, title: str = "", x_train=None, y_train=None, ood=None,
                      sigma: float | None = None, zmin: float = 0.5, zmax: float = 1.0) -> go.Figure:
    """Confidence map with the training data, OOD samples and 3σ circles overlaid.

    The colour scale runs from 1/K = 0.5 (no preference) to 1; lower values (a reject-class model's
    real-class probability far out) take the lowest colour. Zoomed out beyond the data box, the box
    itself is drawn for scale.
    """
    fig = go.Figure([confidence_heatmap(grid, zmin, zmax),
                     *overlay_traces(x_train, y_train, ood, sigma, show_box=_extent(grid) > 1.5 * TRAINING_BOX)])
    fig.update_layout(title=title, legend=dict(orientation="h", y=-0.12), margin=dict(l=10, r=10, t=40, b=10))
    _equal_axes(fig)
    return fig


def class_colours(n_classes: int, reject: bool) -> list[str]:
    return [CLASS_COLOURS[k % len(CLASS_COLOURS)] for k in range(n_classes)] + ([REJECT_COLOUR] if reject else [])


def class_map_figure(grid: GridEvaluation, n_classes: int, *, reject: bool = False, title: str = "",
                     sigma: float | None = None) -> go.Figure:
    """Predicted class per grid cell in discrete colours (the reject class in grey)."""
    colours = class_colours(n_classes, reject)
    n = len(colours)
    scale = []
    for k, colour in enumerate(colours):  # a stepped colour scale: one flat band per class
        scale += [[k / n, colour], [(k + 1) / n, colour]]
    labels = [f"class {k}" for k in range(n_classes)] + (["reject"] if reject else [])
    heatmap = go.Heatmap(z=grid.predicted.astype(np.int8), x=grid.xs, y=grid.ys, zmin=-0.5, zmax=n - 0.5,
                         colorscale=scale, hovertemplate="x=%{x:.4g}<br>y=%{y:.4g}<br>predicted %{z}"
                                                         + (f" ({n - 1} = reject)" if reject else "") + "<extra></extra>",
                         colorbar=dict(tickvals=list(range(n)), ticktext=labels, title="predicted"))
    traces = [heatmap]
    if sigma is not None:
        traces.append(circles_trace(sigma))
    if _extent(grid) > 1.5 * TRAINING_BOX:
        traces.append(training_box_trace())
    fig = go.Figure(traces)
    fig.update_layout(title=title, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    _equal_axes(fig)
    return fig


def compare_confidence_figure(grids: Mapping[str, GridEvaluation], *, sigma: float | None = None,
                              x_train=None, y_train=None, zmin: float = 0.5, zmax: float = 1.0,
                              columns: int = 4) -> go.Figure:
    """One confidence map per model, side by side, with one shared colour scale (tick labels on
    the outer axes only: all maps cover the same box)."""
    names = list(grids)
    columns = max(1, min(columns, len(names)))
    rows = -(-len(names) // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=names, horizontal_spacing=0.04,
                        vertical_spacing=0.1 / rows if rows > 1 else 0.0)
    for i, name in enumerate(names):
        row, col = divmod(i, columns)
        grid = grids[name]
        fig.add_trace(confidence_heatmap(grid, coloraxis="coloraxis", name=name), row=row + 1, col=col + 1)
        for trace in overlay_traces(x_train, y_train, None, sigma, show_box=_extent(grid) > 1.5 * TRAINING_BOX,
                                    legend=i == 0):
            fig.add_trace(trace, row=row + 1, col=col + 1)
        _equal_axes(fig, row + 1, col + 1)
        fig.update_yaxes(showticklabels=col == 0, row=row + 1, col=col + 1)
    fig.update_layout(coloraxis=dict(colorscale=CONFIDENCE_SCALE, cmin=zmin, cmax=zmax,
                                     colorbar=dict(title=dict(text="confidence", side="right"))),
                      height=rows * (1000 // columns + 60) + 80, legend=dict(orientation="h", y=-0.08),
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


LINE_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
LINE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid")


def _line(i: int) -> dict:
    """Distinct colour, dash and decreasing width per line, so curves on top of each other stay visible."""
    return dict(color=LINE_COLOURS[i % len(LINE_COLOURS)], dash=LINE_DASHES[i % len(LINE_DASHES)],
                width=max(1.5, 4.0 - 0.5 * i))


def ray_confidence_figure(alphas: np.ndarray, curves: Mapping[str, np.ndarray], *, n_classes: int = 2,
                          threshold: float = 0.999, title: str = "") -> go.Figure:
    """Confidence at α·x against α (log axis), one line per model, with 1/K and the threshold marked."""
    fig = go.Figure([go.Scatter(x=alphas, y=curve, mode="lines", name=name, line=_line(i),
                                hovertemplate="α=%{x:.3g}<br>confidence=%{y:.6f}<extra>" + name + "</extra>")
                     for i, (name, curve) in enumerate(curves.items())])
    fig.add_hline(y=1.0 / n_classes, line=dict(dash="dot", color="grey"), annotation_text=f"1/K = {1 / n_classes:g}",
                  annotation_position="bottom right")
    fig.add_hline(y=threshold, line=dict(dash="dash", color="grey"), annotation_text=f"{threshold:g}",
                  annotation_position="top left")
    fig.update_layout(title=title, xaxis=dict(type="log", title="α (the point is α·x)", exponentformat="power"),
                      yaxis=dict(title="confidence (max real-class probability)", range=[0, 1.02]),
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def limit_confidence_figure(angles: np.ndarray, limits: Mapping[str, np.ndarray], *, n_classes: int = 2,
                            title: str = "") -> go.Figure:
    """lim_{α→∞} confidence(α·u(θ)) against the direction θ (degrees), one line per model."""
    degrees = np.degrees(angles)
    fig = go.Figure([go.Scatter(x=degrees, y=limit, mode="lines", name=name, line=dict(shape="hv", **_line(i)),
                                hovertemplate="θ=%{x:.2f}°<br>limit=%{y:.6f}<extra>" + name + "</extra>")
                     for i, (name, limit) in enumerate(limits.items())])
    fig.add_hline(y=1.0 / n_classes, line=dict(dash="dot", color="grey"), annotation_text="1/K",
                  annotation_position="bottom right")
    fig.update_layout(title=title, xaxis=dict(title="direction θ (degrees)", range=[0, 360], dtick=45),
                      yaxis=dict(title="limit confidence as α → ∞", range=[0, 1.02]),
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=10, r=10, t=40, b=10))
    return fig
