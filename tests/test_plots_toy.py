"""The toy figure builders: the traces they contain, that they show the evaluated numbers, square
maps with a small colour bar, one shared colour bar when comparing, and a compact payload."""
import json

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
import pytest

from toyood.evaluate import GridEvaluation, evaluate_grid
from toyood.plots import colours
from toyood.plots import toy as plots
from toyood.toy import ToyConfig, train_toy


@pytest.fixture(scope="module")
def reject_run():
    return train_toy(ToyConfig(method="reject", hidden=(16, 16), epochs=2, n_per_class=200, n_ood=200, n_far=200))


@pytest.fixture(scope="module")
def grid(reject_run):
    return evaluate_grid(reject_run.model, reject_run.config.method_object(), 50.0, 40)


def synthetic_grid(n: int = 200, halfwidth: float = 50.0) -> GridEvaluation:
    xs = ys = np.linspace(-halfwidth, halfwidth, n)
    confidence = np.random.default_rng(0).uniform(0, 1, (n, n))
    probs = np.stack([confidence, 1 - confidence], -1)
    return GridEvaluation(xs, ys, probs, confidence, probs.argmax(-1), np.zeros((n, n)))


def heatmap_x(heatmap: go.Heatmap, n: int) -> np.ndarray:
    return heatmap.x0 + heatmap.dx * np.arange(n)


def colour_at(scale, zmin: float, zmax: float, value: float) -> np.ndarray:
    text = pc.sample_colorscale([[float(v), c] for v, c in scale], [(value - zmin) / (zmax - zmin)])[0]
    return np.array([float(v) for v in text[4:-1].split(",")])


def test_confidence_figure_shows_the_grid_and_the_overlays(reject_run, grid):
    fig = plots.confidence_figure(grid, x_train=reject_run.data.x_train, y_train=reject_run.data.y_train,
                                  ood=reject_run.ood_train, sigma=1.0)
    assert isinstance(fig, go.Figure)
    heatmap = fig.data[0]
    assert heatmap.type == "heatmap"
    np.testing.assert_allclose(np.asarray(heatmap.z, dtype=float), grid.confidence, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(heatmap_x(heatmap, len(grid.xs)), grid.xs, atol=1e-9)
    assert (heatmap.zmin, heatmap.zmax) == (0.0, 1.0)
    names = [trace.name for trace in fig.data[1:] if trace.showlegend is not False]
    assert names == ["OOD samples", "class 0", "class 1", "3σ boundary"]


def test_rejected_and_undecided_get_different_colours(grid):
    heatmap = plots.confidence_figure(grid).data[0]
    rejected, undecided = (colour_at(heatmap.colorscale, heatmap.zmin, heatmap.zmax, v) for v in (0.0, 0.5))
    assert np.linalg.norm(rejected - undecided) > 120
    labels = " ".join(heatmap.colorbar.ticktext)
    assert "rejected" in labels and "undecided" in labels


def test_a_restricted_range_keeps_the_colours_of_the_full_scale(grid):
    full, half = (plots.confidence_figure(grid, zmin=zmin).data[0] for zmin in (0.0, 0.5))
    for value in (0.5, 0.8, 1.0):
        np.testing.assert_allclose(colour_at(half.colorscale, 0.5, 1.0, value),
                                   colour_at(full.colorscale, 0.0, 1.0, value), atol=2.5)


@pytest.mark.parametrize("build", ["confidence", "class"])
def test_maps_are_square_with_a_small_colour_bar_under_them(grid, build):
    fig = (plots.confidence_figure(grid, sigma=1.0) if build == "confidence"
           else plots.class_map_figure(grid, 2, reject=True, sigma=1.0))
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert fig.layout.xaxis.constrain == fig.layout.yaxis.constrain == "domain"
    half_cell = (grid.xs[1] - grid.xs[0]) / 2
    np.testing.assert_allclose(fig.layout.xaxis.range, [grid.xs[0] - half_cell, grid.xs[-1] + half_cell])
    bar = fig.data[0].colorbar
    assert bar.orientation == "h" and bar.lenmode == "pixels" and bar.len <= 320 and bar.yanchor == "top"
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y < 0.05  # under the bar, off the map


def test_zoomed_out_map_draws_the_training_box(reject_run):
    far = evaluate_grid(reject_run.model, reject_run.config.method_object(), 1e6, 20)
    fig = plots.confidence_figure(far, sigma=1.0)
    assert "[−50, 50]² box" in [trace.name for trace in fig.data]
    assert np.all(np.isfinite(np.asarray(fig.data[0].z, dtype=float)))


def test_dark_overlay_lines_have_a_white_halo(grid):
    fig = plots.confidence_figure(grid, sigma=1.0)
    circles = [trace for trace in fig.data if trace.legendgroup == "3σ boundary"]
    assert len(circles) == 2
    halo, line = circles
    assert halo.line.width > line.line.width and "255,255,255" in halo.line.color and halo.showlegend is False


def test_class_map_has_a_reject_colour(grid):
    fig = plots.class_map_figure(grid, 2, reject=True, sigma=1.0)
    heatmap = fig.data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z), grid.predicted)
    assert list(heatmap.colorbar.ticktext) == ["class 0", "class 1", "reject"]
    assert heatmap.colorscale[-1][1] == colours.REJECT_COLOUR
    assert heatmap.colorscale[0][1] == colours.CLASS_COLOURS[0]


def test_compare_figure_has_two_maps_per_row_and_one_shared_colour_bar(grid):
    fig = plots.confidence_maps_figure({"a": grid, "b": grid, "c": grid}, sigma=1.0,
                                       x_train=np.zeros((4, 2)), y_train=np.array([0, 1, 0, 1]))
    heatmaps = [trace for trace in fig.data if trace.type == "heatmap"]
    assert len(heatmaps) == 3 and {h.coloraxis for h in heatmaps} == {"coloraxis"}
    assert all(h.colorbar.len is None and h.colorscale is None for h in heatmaps)  # only the axis has a bar
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    assert fig.layout.coloraxis.colorbar.orientation == "h"
    assert [a.text for a in fig.layout.annotations] == ["a", "b", "c"]
    assert fig.layout.xaxis3.domain == fig.layout.xaxis.domain  # "c" starts the second row
    for i in ("", "2", "3"):
        assert fig.layout[f"yaxis{i}"].scaleanchor == f"x{i}"
    legend = [trace.name for trace in fig.data if trace.type == "scatter" and trace.showlegend is not False]
    assert legend == ["class 0", "class 1", "3σ boundary"]  # once, not per map


def test_compare_subplot_titles_clear_the_row_above_at_1024_px(grid):
    fig = plots.compare_confidence_figure({f"method {i}": grid for i in range(4)}, sigma=1.0)
    assert fig.layout.yaxis3.domain[1] < fig.layout.yaxis.domain[0]
    plot_height = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    gap_px = (fig.layout.yaxis.domain[0] - fig.layout.yaxis3.domain[1]) * plot_height
    assert gap_px >= 55  # x tick labels of row 1 (~20 px) + the title of row 2 (~20 px)
    column_px = (1024 - fig.layout.margin.l - fig.layout.margin.r) / 2
    assert max(len(a.text) for a in fig.layout.annotations) * 0.6 * fig.layout.annotations[0].font.size < column_px


def test_heatmaps_send_float32_typed_arrays():
    fig = plots.confidence_figure(synthetic_grid(200))
    assert fig.data[0].z.dtype == np.float32 and fig.data[0].x is None  # x0/dx, no coordinate array
    encoded = json.loads(fig.to_json())["data"][0]["z"]
    assert encoded["dtype"] == "f4" and "bdata" in encoded
    assert len(fig.to_json()) < 300_000  # ~275 kB of random data; float64 ~550 kB, Python lists ~800 kB


def test_ray_and_limit_figures_plot_one_line_per_model():
    alphas = np.geomspace(1, 1e12, 13)
    ray = plots.ray_confidence_figure(alphas, {"plain": np.linspace(0.6, 1, 13), "rbf": np.full(13, 0.5)})
    assert [t.name for t in ray.data] == ["plain", "rbf"] and ray.layout.xaxis.type == "log"
    np.testing.assert_array_equal(ray.data[1].y, np.full(13, 0.5))
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    limit = plots.limit_confidence_figure(angles, {"plain": np.ones(8)})
    np.testing.assert_allclose(limit.data[0].x, np.degrees(angles))
    assert limit.layout.legend.yref == "container"


@pytest.mark.parametrize("k", [2, 3, 5])
def test_circles_go_around_the_given_means_at_three_sigma(k):
    from toyood.data import gaussian_means
    means = gaussian_means(k)
    trace = plots.circles_trace(1.5, means)
    x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
    breaks = np.flatnonzero(np.isnan(x))
    assert len(breaks) == k
    for mean, piece in zip(means, np.split(np.arange(len(x)), breaks + 1)):
        piece = piece[~np.isnan(x[piece])]
        np.testing.assert_allclose(np.hypot(x[piece] - mean[0], y[piece] - mean[1]), 4.5, rtol=1e-5)
