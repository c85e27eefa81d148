"""Charts, tables and downloads as the pages place them (Streamlit): maps at a fixed square size,
rows of two, the shared colour bar, the metrics table, the training preview and the download buttons."""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from toyood import data as toydata
from toyood.plots import toy as toy_plots
from toyood.plots.colours import confidence_colorbar, confidence_colorscale
from toyood.plots.export import export_config
from toyood.runfiles import save_run
from toyood.toy import ToyRun

from .labels import METRIC_LABELS, METRICS_HELP, NEVER_KEYS

OVERLAY_POINTS_PER_CLASS = 150  # training points drawn per class over a map (the training order is random)
OVERLAY_OOD_SAMPLES = 500  # OOD training samples drawn over a map


def circles(data: toydata.ToyData, sigma: float) -> dict:
    """The map builders' 3σ-circle arguments for this data: around its Gaussian means, or none
    (other data sets: OOD there means 3σ from every data point, which no circle shows)."""
    return {} if data.centres is None else dict(sigma=sigma, centres=data.centres)


def show_training(view, key: str) -> None:
    """The loss curve so far beside the current coarse confidence map (``training.TrainingView``;
    one under the other where the page is narrow)."""
    left, right = map_row()
    loss = go.Figure(go.Scatter(x=np.arange(1, len(view.losses) + 1), y=view.losses, mode="lines+markers"))
    loss.update_layout(title=f"Training loss, epoch {len(view.losses)} of {view.epochs}",
                       xaxis=dict(title="epoch", range=[0.5, view.epochs + 0.5]), yaxis=dict(title="loss"),
                       margin=dict(l=10, r=10, t=40, b=10))
    map_chart(left, loss, f"{key}-loss", "training-loss")
    rings = {} if view.centres is None else dict(sigma=view.sigma, centres=view.centres)
    confidence = toy_plots.confidence_figure(view.grid, title="Confidence now (coarse)", **rings,
                                             n_classes=view.n_classes)
    map_chart(right, confidence.update_layout(showlegend=False), f"{key}-map", "training-confidence")


def shown_points(data) -> tuple[np.ndarray, np.ndarray]:
    """The training points drawn over a map: an evenly spread subset of ``OVERLAY_POINTS_PER_CLASS``
    per class (each point is an SVG marker the browser redraws at every change; the blobs look the
    same with fewer)."""
    keep = np.concatenate([np.flatnonzero(data.y_train == k)[:OVERLAY_POINTS_PER_CLASS]
                           for k in np.unique(data.y_train)])
    return data.x_train[keep], data.y_train[keep]


def shown_ood(run: ToyRun) -> np.ndarray | None:
    """The OOD training samples drawn over a map: at most ``OVERLAY_OOD_SAMPLES``, evenly spread."""
    if run.ood_train is None:
        return None
    step = max(1, -(-len(run.ood_train) // OVERLAY_OOD_SAMPLES))
    return run.ood_train[::step]


def chart(container, fig: go.Figure, key: str, file_stem: str | None = None, width: int | str = "stretch") -> None:
    """``st.plotly_chart`` whose camera button saves a 2× PNG named ``file_stem`` (default: ``key``)."""
    container.plotly_chart(fig, key=key, width=width, config=export_config(file_stem or key))


def map_row(count: int = 2, side: bool = False) -> list:
    """Columns for ``count`` maps side by side (each as wide as its column, square) and, with
    ``side``, a narrower one after them for the view's controls and numbers."""
    return st.columns([3] * count + ([2] if side else []), gap="medium")


def fit_box(fig: go.Figure) -> go.Figure:
    """``fig`` laid out to fill a square box (``map_chart``): sized by the box and, for a map (a
    heatmap or image), its colour bar upright at the right and no legend (the captions say what the
    marks are), so the plot area takes most of the box; curves keep their legend. Marked done
    (``layout.meta``), so a figure shared by sessions is laid out once."""
    if fig.layout.meta == "boxed":
        return fig
    if not any(trace.type in ("heatmap", "image") for trace in fig.data):
        return fig.update_layout(height=None, width=None, autosize=True, meta="boxed")
    upright = dict(orientation="v", x=1.01, xanchor="left", y=0.5, yanchor="middle", yref="paper", len=0.8,
                   lenmode="fraction", ypad=0, thickness=12, title=dict(side="right"))
    fig.for_each_trace(lambda trace: trace.update(colorbar=upright), selector=lambda t: "colorbar" in t)
    fig.for_each_trace(lambda trace: trace.update(colorbar_title_side="top"),  # labels under their ticks: title above
                       selector=lambda t: "colorbar" in t and t.colorbar.ticklabelposition == "outside bottom")
    fig.for_each_trace(lambda trace: trace.update(marker_colorbar=upright),
                       selector=lambda t: t.type in ("scatter", "scattergl") and t.marker.showscale)
    scale = any(trace.type == "heatmap" and trace.showscale is not False for trace in fig.data) or any(
        getattr(trace, "marker", None) is not None and getattr(trace.marker, "showscale", None) for trace in fig.data)
    return fig.update_layout(height=None, width=None, autosize=True, showlegend=False, meta="boxed",
                             margin=dict(l=50, r=90 if scale else 20, t=40, b=40))


def map_chart(container, fig: go.Figure, key: str, file_stem: str, clickable: bool = False):
    """A map that fills a square box as wide as ``container`` and at most as tall as the window
    allows (``stage.PAGE_CSS``: boxes keyed ``map-…``); its plot area stays square (the builders'
    ``scaleanchor``). ``clickable``: a click on a point of the figure reruns the app and the chart
    returns the selection event."""
    box = container.container(key=f"map-{key}")
    select = dict(on_select="rerun", selection_mode="points") if clickable else {}
    return box.plotly_chart(fit_box(fig), key=key, width="stretch", height="stretch",
                            config=export_config(file_stem), **select)


def animation_box_css(fig: go.Figure, key: str) -> str:
    """CSS sizing the box of ``animation_chart``: as tall as the column's width needs for the plot
    area (square data units, as wide as the column less the side margins) plus the figure's fixed
    top and bottom margins (title; colour bar and controls), never taller than the window less
    6rem. A CSS container query: the box's width is known only in the browser."""
    (x0, x1), (y0, y1), margin = fig.layout.xaxis.range, fig.layout.yaxis.range, fig.layout.margin
    ratio = (y1 - y0) / (x1 - x0)
    return (f"<style>.st-key-anim-{key} {{container-type: inline-size;}} .st-key-anim-box-{key} {{flex: none; height: "
            f"calc((100cqw - {margin.l + margin.r}px) * {ratio:.4f} + {margin.t + margin.b}px); "
            "max-height: calc(100vh - 6rem);}</style>")


def animation_chart(container, fig: go.Figure, key: str, file_stem: str) -> None:
    """An animated map with fixed axes (``toyood.plots.gan.gan_animation``) as wide as ``container``
    and exactly as tall as that needs (``animation_box_css``): no empty band above or below its plot
    area, whatever the width. The shared figure is sized by its box once (``layout.meta``)."""
    if fig.layout.meta != "boxed":
        fig.update_layout(height=None, width=None, autosize=True, meta="boxed")
    outer = container.container(key=f"anim-{key}")
    outer.html(animation_box_css(fig, key))
    outer.container(key=f"anim-box-{key}").plotly_chart(fig, key=key, width="stretch", height="stretch",
                                                         config=export_config(file_stem))


def colour_bar_figure(n_classes: int = 2) -> go.Figure:
    """The confidence colour bar alone: the one shared scale of a row of maps drawn without theirs."""
    fig = go.Figure(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                               marker=dict(colorscale=confidence_colorscale(n_classes), cmin=0.0, cmax=1.0, color=[0.0],
                                           showscale=True,
                                           colorbar={**confidence_colorbar(n_classes), "y": 0.0, "ypad": 0,
                                                     "yanchor": "bottom", "len": 360})))
    fig.update_layout(height=70, margin=dict(l=10, r=10, t=0, b=0), xaxis=dict(visible=False),
                      yaxis=dict(visible=False), plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return fig


def metrics_table(rows: dict[str, dict], keys: list[str] | None = None) -> pd.DataFrame:
    """One row per metric (``keys``, default all of ``METRIC_LABELS``), one column per model: the
    table stays narrow for any number of models."""
    keys = keys or list(METRIC_LABELS)
    table = pd.DataFrame({name: [m.get(key) for key in keys] for name, m in rows.items()},
                         index=[METRIC_LABELS[key] for key in keys]).astype(float)
    table.index.name = "metric"
    return table


def show_metrics(rows: dict[str, dict], file_stem: str, keys: list[str] | None = None) -> None:
    """The metrics table (every row, no inner scroll; '–' for a missing value, 'never' for an α never
    reached), its explanation and JSON/CSV downloads."""
    if not rows:
        return
    keys = keys or list(METRIC_LABELS)
    table = metrics_table(rows, keys)
    never = [METRIC_LABELS[key] for key in keys if key in NEVER_KEYS]
    styler = table.style.format(precision=3, na_rep="–")
    if never:
        styler = styler.format(precision=3, na_rep="never", subset=pd.IndexSlice[never, :])
    st.table(styler, width="content" if len(rows) == 1 else "stretch")
    st.caption(METRICS_HELP)
    row = st.container(horizontal=True)
    row.download_button("Metrics (JSON)", json.dumps(rows, indent=2), f"{file_stem}.json", "application/json",
                         on_click="ignore", key=f"json_{file_stem}")
    row.download_button("Metrics (CSV)", lambda: pd.DataFrame.from_dict(rows, orient="index").to_csv(),
                          f"{file_stem}.csv", "text/csv", on_click="ignore", key=f"csv_{file_stem}")


def download_figure(container, fig: go.Figure, file_stem: str, label: str = "Figure (HTML)") -> None:
    """A download button for a stand-alone HTML copy of the figure (built only when clicked)."""
    container.download_button(label, lambda: fig.to_html(include_plotlyjs=True, full_html=True),
                              f"{file_stem}.html", "text/html", on_click="ignore", key=f"html_{file_stem}")


def download_run(container, run: ToyRun, metrics: dict | None, file_stem: str) -> None:
    """A download button for the run as a zip (config.json, model.pt, ood_train.npy, run.json and,
    when given, metrics.json: ``toyood.runfiles.load_run`` opens it); built only when clicked."""
    container.download_button("Trained model (zip)", lambda: run_archive(run, metrics), f"{file_stem}.zip",
                              "application/zip", on_click="ignore", key=f"zip_{file_stem}",
                              help="The run's files; toyood.runfiles.load_run opens the zip as it is.")


def run_archive(run: ToyRun, metrics: dict | None) -> bytes:
    """The bytes of the run's zip: its saved files at the top level."""
    with tempfile.TemporaryDirectory() as directory:
        folder = save_run(run, Path(directory) / "run", metrics)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zipped:
            for path in sorted(folder.iterdir()):
                zipped.write(path, path.name)
    return buffer.getvalue()
