"""The toy figure builders: the traces they contain and that they show the evaluated numbers."""
import numpy as np
import plotly.graph_objects as go
import pytest

from toyood.evaluate import evaluate_grid
from toyood.plots import toy as plots
from toyood.toy import ToyConfig, train_toy


@pytest.fixture(scope="module")
def reject_run():
    return train_toy(ToyConfig(method="reject", hidden=(16, 16), epochs=2, n_per_class=200, n_ood=200, n_far=200))


@pytest.fixture(scope="module")
def grid(reject_run):
    return evaluate_grid(reject_run.model, reject_run.config.method_object(), 50.0, 40)


def test_confidence_figure_shows_the_grid_and_the_overlays(reject_run, grid):
    fig = plots.confidence_figure(grid, x_train=reject_run.data.x_train, y_train=reject_run.data.y_train,
                                  ood=reject_run.ood_train, sigma=1.0)
    assert isinstance(fig, go.Figure)
    heatmap = fig.data[0]
    assert heatmap.type == "heatmap"
    np.testing.assert_allclose(np.asarray(heatmap.z, dtype=float), grid.confidence, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(heatmap.x, grid.xs)
    assert (heatmap.zmin, heatmap.zmax) == (0.5, 1.0)
    names = [trace.name for trace in fig.data[1:]]
    assert names == ["OOD training samples", "class 0", "class 1", "3σ boundary"]
    assert fig.layout.yaxis.scaleanchor == "x"


def test_zoomed_out_map_draws_the_training_box(reject_run):
    far = evaluate_grid(reject_run.model, reject_run.config.method_object(), 1e6, 20)
    fig = plots.confidence_figure(far, sigma=1.0)
    assert "[−50, 50]² box" in [trace.name for trace in fig.data]
    assert np.all(np.isfinite(np.asarray(fig.data[0].z, dtype=float)))


def test_class_map_has_a_reject_colour(grid):
    fig = plots.class_map_figure(grid, 2, reject=True, sigma=1.0)
    heatmap = fig.data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z), grid.predicted)
    assert list(heatmap.colorbar.ticktext) == ["class 0", "class 1", "reject"]
    assert heatmap.colorscale[-1][1] == plots.REJECT_COLOUR


def test_compare_figure_shares_one_colour_scale(grid):
    fig = plots.compare_confidence_figure({"a": grid, "b": grid, "c": grid, "d": grid}, sigma=1.0)
    heatmaps = [trace for trace in fig.data if trace.type == "heatmap"]
    assert len(heatmaps) == 4 and {h.coloraxis for h in heatmaps} == {"coloraxis"}
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.5, 1.0)
    assert [a.text for a in fig.layout.annotations] == ["a", "b", "c", "d"]


def test_ray_and_limit_figures_plot_one_line_per_model():
    alphas = np.geomspace(1, 1e12, 13)
    ray = plots.ray_confidence_figure(alphas, {"plain": np.linspace(0.6, 1, 13), "rbf": np.full(13, 0.5)})
    assert [t.name for t in ray.data] == ["plain", "rbf"] and ray.layout.xaxis.type == "log"
    np.testing.assert_array_equal(ray.data[1].y, np.full(13, 0.5))
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    limit = plots.limit_confidence_figure(angles, {"plain": np.ones(8)})
    np.testing.assert_allclose(limit.data[0].x, np.degrees(angles))
