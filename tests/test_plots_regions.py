"""Region figures (toyood.plots.regions): traces, colours, hover, size."""
import base64

import numpy as np
import plotly.graph_objects as go
import pytest

from toyood.plots.regions import limit_ring_figure, region_map_figure
from toyood.regions import enumerate_regions


@pytest.fixture(scope="module")
def regions():
    rng = np.random.default_rng(0)
    sizes = [2, 12, 12, 2]
    layers = [(rng.uniform(-1, 1, (o, i)), rng.uniform(-1, 1, o)) for i, o in zip(sizes[:-1], sizes[1:])]
    return enumerate_regions(layers, 5.0)


@pytest.mark.parametrize("color_by", ["region", "confidence", "class"])
def test_raster_map_is_one_image_plus_overlays(regions, color_by):
    points, labels = np.random.default_rng(1).normal(size=(50, 2)), np.repeat([0, 1], 25)
    fig = region_map_figure(regions, color_by, resolution=200, points=points, labels=labels, max_outlines=0)
    kinds = [type(trace).__name__ for trace in fig.data]
    assert kinds.count("Image") == 1 and kinds.count("Heatmap") == 1
    assert kinds.count("Scattergl") == 2  # one per label
    image = next(trace for trace in fig.data if isinstance(trace, go.Image))
    assert base64.b64decode(image.source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.to_json()) < 1_500_000


@pytest.mark.parametrize("color_by", ["region", "confidence", "class"])
def test_outlines_are_bucketed_not_one_trace_per_polygon(regions, color_by):
    fig = region_map_figure(regions, color_by, resolution=100)
    fills = [trace for trace in fig.data if isinstance(trace, go.Scatter) and trace.fill == "toself"]
    assert 0 < len(fills) <= 12 < len(regions)
    drawn = sum(sum(v is None for v in trace.x) for trace in fills)
    assert drawn == len(regions)


def test_unbounded_outlined_and_hover_carries_region(regions):
    fig = region_map_figure(regions, resolution=100, hover_resolution=50)
    unbounded = [trace for trace in fig.data if trace.name == "unbounded region"]
    assert len(unbounded) == 1
    assert sum(v is None for v in unbounded[0].x) == regions.unbounded.sum()
    hover = next(trace for trace in fig.data if isinstance(trace, go.Heatmap))
    z = np.asarray(hover.z, dtype=float)
    assert np.nanmax(z) < len(regions) and "region %{z}" in hover.hovertemplate


def test_zoomed_view_counts_regions_in_view(regions):
    fig = region_map_figure(regions, bounds=(0.0, 1.0, 0.0, 1.0), resolution=100)
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
