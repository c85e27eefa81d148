"""Figures of the 2-D toy: confidence and predicted-class maps, several confidence maps side by side,
and the far-away views (confidence along a ray, limit confidence per direction).

Every map is one ``go.Heatmap`` raster (float32 z on a grid given by x0/dx, so the browser receives
one base64 typed array) plus a few overlay traces, whatever the grid size. Maps keep a square plot
area (``scaleanchor`` + ``constrain="domain"``) with a horizontal colour bar under them that scales
with the map. Colours come from ``toyood.plots.colours``: one class palette and one confidence scale
over [0, 1] in which "rejected" (≈ 0) is grey and "undecided" (1/K) dark purple.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..data import MEANS, N_CLASSES, OOD_RADIUS_SIGMAS
from ..evaluate import GridEvaluation
from .colours import (CLASS_COLOURS, LEGEND_STYLE, LINE_COLOURS, OOD_SAMPLE_COLOUR, REJECT_COLOUR,  # noqa: F401
                      class_colour, class_colours, confidence_colorbar, confidence_colorscale)

TRAINING_BOX = 50.0  # the half-width of the box the data and the general OOD samples live in
MAX_OVERLAY_POINTS = 2000
MAX_COLUMNS = 2  # maps per row in a comparison: each stays ≥ 320 px wide at 1024 px
MAP_HEIGHT = 540  # default figure height of one map (px): ~300 px maps in a half column at 1024 and 1920 px
ROW_HEIGHT = 380  # default height per row of a comparison (px)
MAP_MARGIN = dict(l=50, r=20, t=50, b=170)  # the bottom holds x ticks, colour bar and legend
HALO = "rgba(255,255,255,0.8)"  # drawn under dark lines so they stay visible on dark fills


def _square_axes(fig: go.Figure, row: int | None = None, col: int | None = None, toward: str = "bottom") -> None:
    """Square data units in a square plot area; short SI tick labels (50, 2k, 1M) so zoomed-out axes
    stay readable. ``toward``: where the map sits when the figure is taller than wide ("bottom":
    against the colour bar under it)."""
    fig.update_xaxes(tickformat="~s", nticks=5, constrain="domain", showgrid=False, zeroline=False, row=row, col=col)
    fig.update_yaxes(tickformat="~s", nticks=5, constrain="domain", constraintoward=toward, showgrid=False,
                     zeroline=False, row=row, col=col)
    for axis in fig.select_yaxes(row=row, col=col):
        axis.update(scaleanchor=axis.anchor or "x", scaleratio=1)


def _map_layout(fig: go.Figure, title: str, height: int | None) -> None:
    """Margins, title and a legend at the very bottom, below the colour bar (never over the map)."""
    fig.update_layout(title=dict(text=title, x=0.5, xanchor="center") if title else None,
                      height=height or MAP_HEIGHT, margin=MAP_MARGIN,
                      legend=dict(LEGEND_STYLE, orientation="h", x=0.5, xanchor="center", y=0.01, yref="container",
                                  yanchor="bottom", itemsizing="constant", tracegroupgap=0, itemwidth=30))


def _extent(grid: GridEvaluation) -> float:
    return float(max(abs(grid.xs[0]), abs(grid.xs[-1]), abs(grid.ys[0]), abs(grid.ys[-1])))


def _fit_to_grid(fig: go.Figure, grid: GridEvaluation, row: int | None = None, col: int | None = None) -> None:
    """Axis ranges = the grid's cells exactly (overlay points outside do not widen the view)."""
    p = _grid_position(grid)
    fig.update_xaxes(range=[p["x0"] - p["dx"] / 2, p["x0"] + (len(grid.xs) - 0.5) * p["dx"]], row=row, col=col)
    fig.update_yaxes(range=[p["y0"] - p["dy"] / 2, p["y0"] + (len(grid.ys) - 0.5) * p["dy"]], row=row, col=col)


def _grid_position(grid: GridEvaluation) -> dict:
    """x0/dx/y0/dy of a regular grid (no coordinate arrays to send)."""
    dx = float(grid.xs[1] - grid.xs[0]) if len(grid.xs) > 1 else 1.0
    dy = float(grid.ys[1] - grid.ys[0]) if len(grid.ys) > 1 else 1.0
    return dict(x0=float(grid.xs[0]), dx=dx, y0=float(grid.ys[0]), dy=dy)


def haloed_line(trace: go.Scatter) -> list[go.Scatter]:
    """A line trace with a wider translucent white copy under it (same legend entry)."""
    group = trace.legendgroup or trace.name
    halo = go.Scatter(x=trace.x, y=trace.y, mode="lines", line=dict(color=HALO, width=trace.line.width + 2),
                      hoverinfo="skip", showlegend=False, legendgroup=group)
    trace.legendgroup = group
    return [halo, trace]


def circles_trace(sigma: float, centres: np.ndarray | None = None) -> go.Scatter:
    """The 3σ circles around the Gaussian means ``centres`` (default: the paper's two) as one line trace."""
    t = np.linspace(0, 2 * np.pi, 121)
    radius = OOD_RADIUS_SIGMAS * sigma
    centres = MEANS if centres is None else centres
    x = np.concatenate([np.r_[mean[0] + radius * np.cos(t), np.nan] for mean in centres]).astype(np.float32)
    y = np.concatenate([np.r_[mean[1] + radius * np.sin(t), np.nan] for mean in centres]).astype(np.float32)
    return go.Scatter(x=x, y=y, mode="lines", line=dict(color="black", width=1.5, dash="dash"),
                      name="3σ boundary", hoverinfo="skip")


def training_box_trace() -> go.Scatter:
    """The [−50, 50]² box the training data and the far test OOD live in."""
    b = TRAINING_BOX
    return go.Scatter(x=[-b, b, b, -b, -b], y=[-b, -b, b, b, -b], mode="lines",
                      line=dict(color="black", width=1), name="[−50, 50]² box", hoverinfo="skip")


def _thin(points: np.ndarray, limit: int = MAX_OVERLAY_POINTS) -> np.ndarray:
    points = np.asarray(points, dtype=np.float32)
    return points if len(points) <= limit else points[np.linspace(0, len(points) - 1, limit).astype(int)]


def overlay_traces(x_train: np.ndarray | None, y_train: np.ndarray | None, ood: np.ndarray | None,
                   sigma: float | None, show_box: bool = False, legend: bool = True,
                   centres: np.ndarray | None = None) -> list[go.Scatter]:
    """Training points per class, OOD training samples, the 3σ circles (around ``centres``, default
    the paper's two means; none when ``sigma`` is None) and optionally the data box (lines with a
    white halo, so they show on dark and light parts of the map)."""
    traces: list[go.Scatter] = []
    if ood is not None and len(ood):
        ood = _thin(ood)
        traces.append(go.Scatter(x=ood[:, 0], y=ood[:, 1], mode="markers", name="OOD samples",
                                 marker=dict(size=3, color=OOD_SAMPLE_COLOUR, opacity=0.6), showlegend=legend,
                                 legendgroup="ood", hoverinfo="skip"))
    if x_train is not None:
        for k in np.unique(y_train):
            points = _thin(np.asarray(x_train)[y_train == k], MAX_OVERLAY_POINTS // 2)
            traces.append(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name=f"class {k}",
                                     marker=dict(size=4, color=class_colour(int(k)),
                                                 line=dict(width=0.5, color="black")),
                                     showlegend=legend, legendgroup=f"class {k}", hoverinfo="skip"))
    lines = ([circles_trace(sigma, centres)] if sigma is not None else []) + ([training_box_trace()] if show_box else [])
    for line in lines:
        line.showlegend = legend
        traces += haloed_line(line)
    return traces


def confidence_heatmap(grid: GridEvaluation, zmin: float = 0.0, zmax: float = 1.0, coloraxis: str | None = None,
                       name: str = "confidence", n_classes: int = N_CLASSES) -> go.Heatmap:
    """The confidence (largest real-class probability) raster of a grid, on the one confidence scale;
    with ``coloraxis`` the colours come from that shared axis instead."""
    common = dict(z=np.asarray(grid.confidence, dtype=np.float32), **_grid_position(grid), name=name,
                  hovertemplate="x=%{x:.4g}<br>y=%{y:.4g}<br>confidence=%{z:.4f}<extra></extra>")
    if coloraxis:
        return go.Heatmap(**common, coloraxis=coloraxis)
    return go.Heatmap(**common, zmin=zmin, zmax=zmax, colorscale=confidence_colorscale(n_classes, zmin, zmax),
                      colorbar=confidence_colorbar(n_classes, zmin, zmax))


def confidence_figure(grid: GridEvaluation, *, title: str = "", x_train=None, y_train=None, ood=None,
                      sigma: float | None = None, centres: np.ndarray | None = None, zmin: float = 0.0,
                      zmax: float = 1.0, n_classes: int = N_CLASSES, height: int | None = None) -> go.Figure:
    """Confidence map with the training data, OOD samples and 3σ circles (``overlay_traces``) overlaid.

    The colours span [zmin, zmax] of the one confidence scale (default all of [0, 1]: grey below
    1/K for a reject-class model's "rejected", Viridis from 1/K "undecided" to 1). Zoomed out beyond
    the data box, the box itself is drawn for scale. ``height``: figure height in px.
    """
    fig = go.Figure([confidence_heatmap(grid, zmin, zmax, n_classes=n_classes),
                     *overlay_traces(x_train, y_train, ood, sigma, show_box=_extent(grid) > 1.5 * TRAINING_BOX,
                                     centres=centres)])
    _map_layout(fig, title, height)
    _square_axes(fig)
    _fit_to_grid(fig, grid)
    return fig


def class_map_figure(grid: GridEvaluation, n_classes: int, *, reject: bool = False, title: str = "",
                     sigma: float | None = None, centres: np.ndarray | None = None,
                     height: int | None = None) -> go.Figure:
    """Predicted class per grid cell in the class colours (the reject class in grey), with a
    categorical colour bar under the map, placed like the confidence map's."""
    colours = class_colours(n_classes, reject)
    n = len(colours)
    scale = []
    for k, colour in enumerate(colours):  # a stepped colour scale: one flat band per class
        scale += [[k / n, colour], [(k + 1) / n, colour]]
    labels = [f"class {k}" for k in range(n_classes)] + (["reject"] if reject else [])
    colorbar = {**confidence_colorbar(), "tickvals": list(range(n)), "ticktext": labels,
                "title": dict(text="predicted class", side="top", font=dict(size=12))}
    heatmap = go.Heatmap(z=np.asarray(grid.predicted, dtype=np.int8), **_grid_position(grid), zmin=-0.5,
                         zmax=n - 0.5, colorscale=scale, colorbar=colorbar,
                         hovertemplate="x=%{x:.4g}<br>y=%{y:.4g}<br>predicted %{z}"
                                       + (f" ({n - 1} = reject)" if reject else "") + "<extra></extra>")
    lines = ([circles_trace(sigma, centres)] if sigma is not None else []) + (
        [training_box_trace()] if _extent(grid) > 1.5 * TRAINING_BOX else [])
    fig = go.Figure([heatmap, *(trace for line in lines for trace in haloed_line(line))])
    _map_layout(fig, title, height)
    fig.update_layout(showlegend=False)
    _square_axes(fig)
    _fit_to_grid(fig, grid)
    return fig


def confidence_maps_figure(grids: Mapping[str, GridEvaluation], *, sigma: float | None = None,
                           centres: np.ndarray | None = None, x_train=None, y_train=None, zmin: float = 0.0, zmax: float = 1.0,
                           columns: int = MAX_COLUMNS, n_classes: int = N_CLASSES,
                           height: int | None = None) -> go.Figure:
    """One confidence map per label, at most two per row, with ONE shared colour axis and colour bar
    (under the last row) and the legend once. Each map sits square under its subplot title; tick
    labels are on the outer axes only (all maps cover the same box). ``height``: figure height in
    px (default ``ROW_HEIGHT`` per row)."""
    names = list(grids)
    if not names:
        raise ValueError("confidence_maps_figure needs at least one grid")
    columns = max(1, min(columns, MAX_COLUMNS, len(names)))
    rows = -(-len(names) // columns)
    height = height or rows * ROW_HEIGHT + MAP_MARGIN["b"]
    plot_height = height - MAP_MARGIN["b"] - 40
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=names, horizontal_spacing=0.05,
                        vertical_spacing=min(0.3, 64 / plot_height) if rows > 1 else 0.0)  # x ticks + title
    for i, name in enumerate(names):
        row, col = i // columns + 1, i % columns + 1
        grid = grids[name]
        fig.add_trace(confidence_heatmap(grid, coloraxis="coloraxis", name=name), row=row, col=col)
        for trace in overlay_traces(x_train, y_train, None, sigma, show_box=_extent(grid) > 1.5 * TRAINING_BOX,
                                    legend=i == 0, centres=centres):
            fig.add_trace(trace, row=row, col=col)
        _square_axes(fig, row, col, toward="top")
        _fit_to_grid(fig, grid, row, col)
        fig.update_yaxes(showticklabels=col == 1, row=row, col=col)
    fig.update_annotations(font=dict(size=14))  # the subplot titles
    _map_layout(fig, "", height)
    fig.update_layout(coloraxis=dict(colorscale=confidence_colorscale(n_classes, zmin, zmax), cmin=zmin, cmax=zmax,
                                     colorbar=confidence_colorbar(n_classes, zmin, zmax)),
                      margin=dict(MAP_MARGIN, t=40))
    return fig


def compare_confidence_figure(grids: Mapping[str, GridEvaluation], *, sigma: float | None = None,
                              centres: np.ndarray | None = None, x_train=None, y_train=None, zmin: float = 0.0, zmax: float = 1.0,
                              columns: int = MAX_COLUMNS, height: int | None = None) -> go.Figure:
    """The comparison under its first name: ``confidence_maps_figure`` (at most two maps per row)."""
    return confidence_maps_figure(grids, sigma=sigma, centres=centres, x_train=x_train, y_train=y_train, zmin=zmin, zmax=zmax,
                                  columns=columns, height=height)


LINE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid")


def _line(i: int) -> dict:
    """Distinct colour, dash and decreasing width per line, so curves on top of each other stay visible."""
    return dict(color=LINE_COLOURS[i % len(LINE_COLOURS)], dash=LINE_DASHES[i % len(LINE_DASHES)],
                width=max(1.5, 4.0 - 0.5 * i))


def _curve_layout(fig: go.Figure, title: str, height: int | None) -> None:
    """Centred title, legend under the plot (below the x-axis title), room for both."""
    fig.update_layout(title=dict(text=title, x=0.5, xanchor="center") if title else None, height=height or 460,
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=0.01, yref="container", yanchor="bottom"),
                      margin=dict(l=60, r=20, t=50 if title else 20, b=100))


def ray_confidence_figure(alphas: np.ndarray, curves: Mapping[str, np.ndarray], *, n_classes: int = 2,
                          threshold: float = 0.999, title: str = "", height: int | None = None) -> go.Figure:
    """Confidence at α·x against α (log axis), one line per model, with 1/K and the threshold marked."""
    fig = go.Figure([go.Scatter(x=alphas, y=curve, mode="lines", name=name, line=_line(i),
                                hovertemplate="α=%{x:.3g}<br>confidence=%{y:.6f}<extra>" + name + "</extra>")
                     for i, (name, curve) in enumerate(curves.items())])
    fig.add_hline(y=1.0 / n_classes, line=dict(dash="dot", color="grey"), annotation_text=f"1/K = {1 / n_classes:.2g}",
                  annotation_position="bottom right")
    fig.add_hline(y=threshold, line=dict(dash="dash", color="grey"), annotation_text=f"{threshold:g}",
                  annotation_position="bottom left")
    fig.update_layout(xaxis=dict(type="log", title="α (the point is α·x)", exponentformat="power"),
                      yaxis=dict(title="confidence (largest real-class probability)", range=[0, 1.05]))
    _curve_layout(fig, title, height)
    return fig


def limit_confidence_figure(angles: np.ndarray, limits: Mapping[str, np.ndarray], *, n_classes: int = 2,
                            title: str = "", height: int | None = None) -> go.Figure:
    """lim_{α→∞} confidence(α·u(θ)) against the direction θ (degrees), one line per model."""
    degrees = np.degrees(angles)
    fig = go.Figure([go.Scatter(x=degrees, y=limit, mode="lines", name=name, line=dict(shape="hv", **_line(i)),
                                hovertemplate="θ=%{x:.2f}°<br>limit=%{y:.6f}<extra>" + name + "</extra>")
                     for i, (name, limit) in enumerate(limits.items())])
    fig.add_hline(y=1.0 / n_classes, line=dict(dash="dot", color="grey"), annotation_text=f"1/K = {1 / n_classes:.2g}",
                  annotation_position="bottom right")
    fig.update_layout(xaxis=dict(title="direction θ (degrees)", range=[0, 360], dtick=45),
                      yaxis=dict(title="limit confidence as α → ∞", range=[0, 1.05]))
    _curve_layout(fig, title, height)
    return fig


def entropy_ticks(n_outputs: int) -> tuple[list[float], list[str]]:
    """The entropy scale's named values in nats: 0 = certain, log K = undecided (K equal outputs)."""
    top = float(np.log(n_outputs))
    return [0.0, top], ["0 = certain", f"log {n_outputs} = {top:.2g}<br>undecided"]


def entropy_colorbar(n_outputs: int) -> dict:
    """The colour bar of an entropy map (nats, 0 = certain … log C = undecided): each label stacked
    under its tick and the title above the bar (``toyood_app.charts.fit_box`` keeps it there when it
    stands the bar upright), so title and labels never meet, however short the bar."""
    values, _ = entropy_ticks(n_outputs)
    return {**confidence_colorbar(), "tickvals": values, "ticktext": ["0<br>certain", f"log {n_outputs}<br>undecided"],
            "ticklabelposition": "outside bottom", "title": dict(text="entropy<br>(nats)", side="top", font=dict(size=12))}


def limit_entropy_figure(angles: np.ndarray, limits: Mapping[str, np.ndarray], *, n_classes: int = 2,
                         reject: bool = False, title: str = "", height: int | None = None) -> go.Figure:
    """lim_{α→∞} entropy (nats) of softmax(f(α·u(θ)) / T) against the direction θ (degrees), one line
    per model, on the scale 0 (certain) … log K (undecided), and log (K+1) when a model has a reject
    output (``reject``). Vernekar et al.'s corollary: 0 on a ReLU net, except where top slopes tie."""
    degrees = np.degrees(angles)
    fig = go.Figure([go.Scatter(x=degrees, y=limit, mode="lines", name=name, line=dict(shape="hv", **_line(i)),
                                hovertemplate="θ=%{x:.2f}°<br>limit entropy=%{y:.6f} nats<extra>" + name + "</extra>")
                     for i, (name, limit) in enumerate(limits.items())])
    values, labels = entropy_ticks(n_classes)
    fig.add_hline(y=values[-1], line=dict(dash="dot", color="grey"))
    if reject:
        values.append(float(np.log(n_classes + 1)))
        labels.append(f"log {n_classes + 1} = {values[-1]:.2g}<br>all K+1 equal")
    fig.update_layout(xaxis=dict(title="direction θ (degrees)", range=[0, 360], dtick=45),
                      yaxis=dict(title="limit entropy as α → ∞ (nats)", range=[-0.03 * values[-1], 1.08 * values[-1]],
                                 tickvals=values, ticktext=labels))
    _curve_layout(fig, title, height)
    return fig
