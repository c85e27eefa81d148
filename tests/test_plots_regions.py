"""Region figures (toyood.plots.regions): traces, colours, hover, size."""
import base64
import zlib

import numpy as np
import plotly.graph_objects as go
import pytest

from toyood.plots import colours
from toyood.plots.regions import CONFIDENCE_BUCKETS, limit_ring_figure, region_map_figure
from toyood.regions import enumerate_regions, rasterize


def random_regions(outputs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = [2, 12, 12, outputs]
    layers = [(rng.uniform(-1, 1, (o, i)), rng.uniform(-1, 1, o)) for i, o in zip(sizes[:-1], sizes[1:])]
    return enumerate_regions(layers, 5.0)


@pytest.fixture(scope="module")
def regions():
    return random_regions(2)


@pytest.fixture(scope="module")
def reject_regions():
    """Three outputs, the last a reject class."""
    return random_regions(3, seed=4)


def decode_png(uri: str) -> np.ndarray:
    """RGB rows (top to bottom) of the filter-0 PNG written by ``toyood.plots.regions._png_uri``."""
    png = base64.b64decode(uri.split(",", 1)[1])
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    idat_length = int.from_bytes(png[33:37], "big")
    raw = np.frombuffer(zlib.decompress(png[41:41 + idat_length]), np.uint8).reshape(height, 1 + 3 * width)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(height, width, 3)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(float) @ [0.2126, 0.7152, 0.0722] / 255


@pytest.mark.parametrize("colour_by", ["region", "confidence", "class"])
def test_raster_map_is_one_image_plus_overlays(regions, colour_by):
    points, labels = np.random.default_rng(1).normal(size=(50, 2)), np.repeat([0, 1], 25)
    fig = region_map_figure(regions, colour_by, resolution=200, points=points, labels=labels, max_outlines=0)
    kinds = [type(trace).__name__ for trace in fig.data]
    assert kinds.count("Image") == 1 and kinds.count("Heatmap") == 1
    assert kinds.count("Scattergl") == 2  # one per label
    image = next(trace for trace in fig.data if isinstance(trace, go.Image))
    assert base64.b64decode(image.source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.to_json()) < 1_500_000


@pytest.mark.parametrize("colour_by", ["region", "confidence", "class"])
def test_outlines_are_bucketed_not_one_trace_per_polygon(regions, colour_by):
    fig = region_map_figure(regions, colour_by, resolution=100)
    fills = [trace for trace in fig.data if isinstance(trace, go.Scatter) and trace.fill == "toself"]
    assert 0 < len(fills) <= CONFIDENCE_BUCKETS < len(regions)
    drawn = sum(sum(v is None for v in trace.x) for trace in fills)
    assert drawn == len(regions)


def test_unbounded_outlined_and_hover_carries_region(regions):
    fig = region_map_figure(regions, resolution=100, hover_resolution=50)
    unbounded = [trace for trace in fig.data if trace.legendgroup == "unbounded"]
    assert len(unbounded) == 2  # a white halo under the red outline: visible on dark fills
    halo, outline = unbounded
    assert outline.name == "unbounded region" and halo.line.width > outline.line.width and "255,255,255" in halo.line.color
    assert sum(v is None for v in outline.x) == regions.unbounded.sum()
    hover = next(trace for trace in fig.data if isinstance(trace, go.Heatmap))
    z = np.asarray(hover.z, dtype=float)
    assert np.nanmax(z) < len(regions) and "region %{z}" in hover.hovertemplate


def test_zoomed_view_counts_regions_in_view(regions):
    fig = region_map_figure(regions, extent=(0.0, 1.0, 0.0, 1.0), resolution=100)
    assert fig.layout.xaxis.range == (0.0, 1.0)
    assert "in view" in fig.layout.title.text


def test_limit_ring_arcs_cover_the_circle(regions):
    fig = limit_ring_figure(regions)
    widths = np.concatenate([np.asarray(trace.width) for trace in fig.data])
    assert widths.sum() == pytest.approx(360.0)
    assert len(widths) == len(regions.arcs.start)


def test_bad_color_by(regions):
    with pytest.raises(ValueError):
        region_map_figure(regions, "nope")


def colour_bar_trace(fig: go.Figure):
    bars = [trace for trace in fig.data if getattr(trace, "marker", None) is not None and trace.marker.showscale]
    return bars[0] if bars else None


@pytest.mark.parametrize("max_outlines", [0, 3000])
def test_confidence_view_has_the_confidence_colour_bar(regions, max_outlines):
    fig = region_map_figure(regions, "confidence", resolution=100, max_outlines=max_outlines)
    bar = colour_bar_trace(fig)
    assert bar is not None and bar.marker.colorbar.orientation == "h"
    assert [c for _, c in bar.marker.colorscale] == [c for _, c in colours.confidence_colorscale(2)]
    assert "rejected" in bar.marker.colorbar.ticktext[0]
    assert colour_bar_trace(region_map_figure(regions, "region", resolution=100)) is None


def test_class_view_has_a_class_colour_bar_with_the_reject_class(reject_regions):
    fig = region_map_figure(reject_regions, "class", resolution=100, class_names=["class 0", "class 1", "reject"])
    bar = colour_bar_trace(fig)
    assert list(bar.marker.colorbar.ticktext) == ["class 0", "class 1", "reject"]
    assert bar.marker.colorscale[-1][1] == colours.REJECT_COLOUR


def test_reject_model_confidence_is_the_largest_real_class_probability(reject_regions):
    fig = region_map_figure(reject_regions, "confidence", resolution=60, hover_resolution=30, reject=True)
    hover = next(trace for trace in fig.data if trace.name == "hover")
    data = np.asarray(hover.customdata, dtype=float)
    z = np.asarray(hover.z, dtype=float)
    inside = ~np.isnan(z)
    xs = hover.x0 + hover.dx * np.arange(30)
    ys = hover.y0 + hover.dy * np.arange(30)
    points = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), -1)[inside]
    region = z[inside].astype(int)
    logits = np.einsum("nkd,nd->nk", reject_regions.linear[region], points) + reject_regions.bias[region]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(data[inside][:, 1], probs[:, :2].max(1), atol=1e-5)
    assert data[inside][:, 1].min() < 1 / 3  # below what max softmax over all three could ever be


@pytest.mark.parametrize("colour_by", ["confidence", "class", "region"])
def test_boundaries_contrast_with_their_fill(regions, colour_by):
    fig = region_map_figure(regions, colour_by, resolution=120, max_outlines=0)
    rgb = decode_png(next(trace for trace in fig.data if isinstance(trace, go.Image)).source)  # row 0 at ymin
    ids = rasterize(regions, (-5.0, 5.0, -5.0, 5.0), 120, 120)
    boundary = np.zeros(ids.shape, bool)
    boundary[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    boundary[:-1, :] |= ids[:-1, :] != ids[1:, :]
    # a boundary pixel whose left neighbour is an interior pixel of the same region
    rows, cols = np.nonzero(boundary[:, 1:] & ~boundary[:, :-1] & (ids[:, 1:] == ids[:, :-1]))
    edge, fill = luminance(rgb[rows, cols + 1]), luminance(rgb[rows, cols])
    dark = fill < 0.45
    assert len(fill) > 100 and (~dark).any() and (dark.any() or colour_by == "class")  # class view: light tints
    lighter, darker = edge > fill + 0.15, edge < fill - 0.15
    assert np.mean(np.where(dark, lighter, darker)) > 0.95  # light lines on dark fills, dark on light ones


def test_confidence_view_has_dark_and_light_fills_to_outline(regions):
    fig = region_map_figure(regions, "confidence", resolution=120, max_outlines=0)
    fill = luminance(decode_png(next(trace for trace in fig.data if isinstance(trace, go.Image)).source))
    assert fill.min() < 0.2 and fill.max() > 0.5  # so the contrast test above sees both cases


def test_hover_layer_is_float32(regions):
    fig = region_map_figure(regions, resolution=100, hover_resolution=80)
    hover = next(trace for trace in fig.data if trace.name == "hover")
    assert np.asarray(hover.z).dtype == np.float32 and np.asarray(hover.customdata).dtype == np.float32
