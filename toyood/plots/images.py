"""Figures of the image benchmark: confidence histograms per evaluation set (log counts, as Hein et
al.'s Fig. 4), overlaid (``confidence_histograms_figure``) or one panel per method and set
(``method_histograms_figure``), and sample grids of noise, adversarial noise and adversarial samples
(their Fig. 2-3), per method with its confidence on every image (``noise_confidence_grid_figure``)."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..images.benchmark import BenchResult
from ..images.report import METHOD_TITLES, SET_TITLES, evaluation_sets

METHOD_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
GAP = 2  # white pixels between the tiles of a sample grid
PANEL_HEIGHT, ROW_GAP = 220, 90  # pixels: a histogram panel, and the space for its axis title and the next title
TOP_MARGIN, BOTTOM_MARGIN = 40, 90  # pixels: the first row's titles; the last axis titles and the legend
GRID_WIDTH, GRID_MARGINS = 520, 50  # pixels: a sample grid's picture at 1024 px; its title and margins


def confidence_histograms_figure(result: BenchResult, columns: int = 3) -> go.Figure:
    """One panel per evaluation set (the in-distribution test set first): the histogram of every
    method's confidence (largest real-class probability), counts on a log scale."""
    sets = ["in", *evaluation_sets(result)]
    titles = [f"{SET_TITLES[result.config.dataset]} (in-dist.)", *(SET_TITLES[s] for s in sets[1:])]
    rows = -(-len(sets) // columns)
    plot_height = rows * PANEL_HEIGHT + (rows - 1) * ROW_GAP
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.07,
                        vertical_spacing=ROW_GAP / plot_height if rows > 1 else 0.0)
    for m, (name, method_result) in enumerate(result.methods.items()):
        for i, set_name in enumerate(sets):
            fig.add_trace(go.Histogram(x=method_result.confidences[set_name],
                                       xbins=dict(start=0, end=1.0001, size=0.05),
                                       name=name, legendgroup=name, showlegend=i == 0, opacity=0.6,
                                       marker_color=METHOD_COLOURS[m % len(METHOD_COLOURS)],
                                       hovertemplate=f"{name}<br>confidence %{{x}}<br>%{{y}} images<extra></extra>"),
                          row=i // columns + 1, col=i % columns + 1)
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(type="log", dtick=1)
    for i in range(len(sets)):
        row, col = i // columns + 1, i % columns + 1
        if i + columns >= len(sets):  # the lowest panel of its column
            fig.update_xaxes(title_text="confidence", row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text="images", row=row, col=col)
    fig.update_layout(barmode="overlay", height=plot_height + TOP_MARGIN + BOTTOM_MARGIN,
                      legend=dict(orientation="h", yanchor="top", y=-60 / plot_height),
                      margin=dict(l=10, r=10, t=TOP_MARGIN, b=BOTTOM_MARGIN))
    return fig


def _mosaic(rows: list[np.ndarray | None]) -> np.ndarray:
    """Rows of N×C×H×W images in [0, 1] tiled into one H'×W'×3 uint8 picture with white gaps (a
    None row stays white: room for a block's title)."""
    shown = [row for row in rows if row is not None]
    n_cols = max(len(row) for row in shown)
    _, _, h, w = shown[0].shape
    picture = np.full((len(rows) * (h + GAP) - GAP, n_cols * (w + GAP) - GAP, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(() if row is None else row):
            rgb = np.repeat(image, 3, 0) if image.shape[0] == 1 else image
            picture[r * (h + GAP):r * (h + GAP) + h, c * (w + GAP):c * (w + GAP) + w] = (
                np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)
    return picture


GridRow = tuple[str, "np.ndarray | None", "np.ndarray | None"]  # label, images (None: a title row), confidences


def _grid_figure(rows: list[GridRow], title: str, width: int = GRID_WIDTH) -> go.Figure:
    """The rows' images as one picture, each tile labelled with its confidence; a row without images
    carries its label as a title over the block below. As tall as the picture is at ``width`` pixels
    (the page's column at 1024 px), top-aligned when the column is wider."""
    picture = _mosaic([images for _, images, _ in rows])
    h, w = next(images for _, images, _ in rows if images is not None).shape[2:]
    png = px.imshow(picture, binary_string=True, binary_backend="pypng").data[0]  # 1/10 of the JSON of z=picture
    fig = go.Figure(png.update(hoverinfo="skip", hovertemplate=None))
    fig.update_layout(annotations=[  # one layout update: adding ~100 annotations one by one takes a second
        dict(x=c * (w + GAP) + w / 2, y=r * (h + GAP) + h, text=f"{value:.2f}", showarrow=False, yanchor="bottom",
             font=dict(size=12, color="white"), bgcolor="rgba(0, 0, 0, 0.65)")
        for r, (_, _, values) in enumerate(rows) for c, value in enumerate(() if values is None else values)] + [
        dict(x=0, y=r * (h + GAP) + h, text=f"<b>{label}</b>", showarrow=False, xanchor="left", yanchor="bottom",
             font=dict(size=14)) for r, (label, images, _) in enumerate(rows) if images is None])
    labelled = [(r, label) for r, (label, images, _) in enumerate(rows) if images is not None]
    fig.update_yaxes(tickvals=[r * (h + GAP) + h / 2 for r, _ in labelled], ticktext=[label for _, label in labelled],
                     constrain="domain", constraintoward="top", ticklabelstandoff=6)
    fig.update_xaxes(showticklabels=False, constrain="domain", constraintoward="left")
    height = round(width * picture.shape[0] / picture.shape[1]) + GRID_MARGINS
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white")
    return fig


def noise_grid_figure(result: BenchResult) -> go.Figure:
    """Hein's noise images (shared by all methods) and, per method, their adversarial versions with
    the method's confidence on each."""
    first = next(iter(result.methods.values()))
    n = len(first.samples["noise"])
    rows = [("noise", first.samples["noise"], None),
            *((f"adv. noise · {m}", r.samples["adv_noise"], r.confidences["adv_noise"][:n])
              for m, r in result.methods.items())]
    return _grid_figure(rows, "Noise and adversarial noise (number: the method's confidence)")


def adversarial_samples_figure(result: BenchResult) -> go.Figure:
    """Test images and, per method, their adversarial samples with the method's confidence on each."""
    first = next(iter(result.methods.values()))
    n = len(first.samples["test"])
    rows = [("test images", first.samples["test"], None),
            *((f"adv. samples · {m}", r.samples["adv_samples"], r.confidences["adv_samples"][:n])
              for m, r in result.methods.items())]
    return _grid_figure(rows, "Adversarial samples (number: the method's confidence)")


def method_histograms_figure(result: BenchResult, sets: list[str] | None = None) -> go.Figure:
    """Hein et al.'s Fig. 4 for every method and set: a grid of histograms, one row per evaluation
    set (the in-distribution test set first), one column and one colour per method, counts on a log
    scale; each panel titled with the method's full name and its MMC on that set."""
    sets = sets or ["in", *evaluation_sets(result)]
    methods = list(result.methods)
    titles = [f"{METHOD_TITLES[m]} · {_set_title(result, s)} · MMC {float(np.mean(result.methods[m].confidences[s])):.3f}"
              for s in sets for m in methods]
    fig = make_subplots(rows=len(sets), cols=len(methods), subplot_titles=titles, shared_xaxes=True,
                        horizontal_spacing=0.03, vertical_spacing=min(0.08, 0.5 / len(sets)))
    for r, set_name in enumerate(sets):
        for c, method in enumerate(methods):
            colour = METHOD_COLOURS[c % len(METHOD_COLOURS)]
            fig.add_trace(go.Histogram(x=result.methods[method].confidences[set_name], xbins=dict(start=0, end=1.0001, size=0.05),
                                       marker_color=colour, showlegend=False, name=METHOD_TITLES[method],
                                       hovertemplate=f"{METHOD_TITLES[method]}<br>confidence %{{x}}<br>%{{y}} images<extra></extra>"),
                          row=r + 1, col=c + 1)
    fig.update_annotations(font_size=10)
    fig.update_xaxes(range=[0, 1])
    fig.update_xaxes(title_text="confidence", row=len(sets))
    fig.update_yaxes(type="log", dtick=1)
    fig.update_layout(height=170 * len(sets) + 60, margin=dict(l=10, r=10, t=40, b=40), bargap=0.05)
    return fig


def _set_title(result: BenchResult, set_name: str) -> str:
    return f"{SET_TITLES[result.config.dataset]} test" if set_name == "in" else SET_TITLES[set_name]


def noise_confidence_grid_figure(result: BenchResult) -> go.Figure:
    """Hein et al.'s Fig. 2-3 for every method: two blocks, uniform noise (the same images for every
    method) above adversarial noise (ℓ∞ PGD from those images towards each method's high confidence),
    one row per method, each tile labelled with that method's confidence on it."""
    first = next(iter(result.methods.values()))
    n = len(first.samples["noise"])
    noise = [(METHOD_TITLES[m], first.samples["noise"], r.confidences["noise"][:n]) for m, r in result.methods.items()]
    adversarial = [(METHOD_TITLES[m], r.samples["adv_noise"][:n], r.confidences["adv_noise"][:n])
                   for m, r in result.methods.items()]
    return _grid_figure([("Uniform noise", None, None), *noise, ("Adversarial noise (moved towards high confidence)",
                                                                None, None), *adversarial],
                        "Each method's confidence on noise and on adversarial noise")
