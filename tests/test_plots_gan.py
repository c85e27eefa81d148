import dataclasses
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from toyood import data as toydata
from toyood.gan import GanConfig, GanRun, GanSnapshot, coverage, ring_distance, view_extent
from toyood.predict import grid_points
from toyood.plots import colours
from toyood.plots.gan import coverage_figure, gan_animation
from toyood.toy import ToyRun


def hand_made_run(n_snapshots: int = 41, classifier: str = "confidence") -> GanRun:
    """A GanRun with the default snapshot sizes (200 samples, 40×40 grid), no training."""
    config = GanConfig(classifier=classifier)
    rng = np.random.default_rng(0)
    xs, ys, points = grid_points(view_extent(config.sigma), config.grid_resolution)
    distance = toydata.distance_to_nearest_mean(points).reshape(len(ys), len(xs))
    snapshots = []
    for i in range(n_snapshots):
        samples = (rng.normal(0, 3, (config.snapshot_samples, 2)) * (1 - i / n_snapshots)).astype(np.float32)
        confidence = (0.5 + 0.5 * np.exp(-distance / (1 + i))).astype(np.float32)
        snapshots.append(GanSnapshot(25 * i, samples, confidence, coverage(samples, 1.0),
                                     ring_distance(samples, 1.0)))
    data = toydata.make_toy_data(config.sigma, config.n_per_class, config.seed)
    classifier_run = ToyRun(config.toy_config(), torch.nn.Identity(), data, snapshots[-1].samples)
    return GanRun(config, None, None, classifier_run, snapshots, xs, ys, 1.0)


def test_animation_has_one_frame_per_snapshot_with_slider_and_play_pause():
    run = hand_made_run()
    fig = gan_animation(run)
    assert isinstance(fig, go.Figure)
    assert len(fig.frames) == len(run.snapshots)
    assert [step.label for step in fig.layout.sliders[0].steps] == [str(s.iteration) for s in run.snapshots]
    labels = [button.label for button in fig.layout.updatemenus[0].buttons]
    assert any("Play" in label for label in labels) and any("Pause" in label for label in labels)
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["redraw"] is True  # heatmaps need a redraw
    xmin, xmax, ymin, ymax = view_extent(1.0)
    assert tuple(fig.layout.xaxis.range) == (xmin, xmax) and tuple(fig.layout.yaxis.range) == (ymin, ymax)
    assert fig.layout.xaxis.autorange is False


def test_frames_update_the_heatmap_and_the_samples_and_show_coverage():
    run = hand_made_run(5)
    fig = gan_animation(run)
    heatmap, samples = fig.data[fig.frames[0].traces[0]], fig.data[fig.frames[0].traces[1]]
    assert isinstance(heatmap, go.Heatmap) and samples.name.startswith("generated")
    assert any(trace.name == "3σ boundary" for trace in fig.data)
    last = fig.frames[-1]
    assert np.array_equal(np.asarray(last.data[0].z), np.rint(100 * run.snapshots[-1].confidence))
    np.testing.assert_allclose(last.data[1].x, run.snapshots[-1].samples[:, 0], atol=0.051)
    assert f"{run.snapshots[-1].coverage:.0%}" in last.layout.title.text


def test_animation_can_open_on_the_last_snapshot():
    run = hand_made_run(6)
    fig = gan_animation(run, initial_frame=-1)
    assert fig.layout.sliders[0].active == 5
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), np.rint(100 * run.snapshots[-1].confidence))
    assert fig.layout.title.text == fig.frames[-1].layout.title.text


def test_default_sized_animation_is_small_enough_for_a_browser():
    size = len(gan_animation(hand_made_run()).to_json())
    assert size < 400_000, size


@pytest.mark.parametrize("classifier", ["confidence", "reject"])
def test_confidence_uses_the_one_scale_over_0_to_100_percent(classifier):
    heatmap = gan_animation(hand_made_run(2, classifier)).data[0]
    assert (heatmap.zmin, heatmap.zmax) == (0, 100)
    assert np.asarray(heatmap.z).dtype == np.uint8
    expected = colours.confidence_colorscale(2)
    assert [(round(v, 6), c) for v, c in heatmap.colorscale] == [(round(v, 6), c) for v, c in expected]
    labels = dict(zip(heatmap.colorbar.tickvals, heatmap.colorbar.ticktext))
    assert "rejected" in labels[0] and "undecided" in labels[50]


def test_map_is_square_and_the_controls_sit_below_the_colour_bar():
    fig = gan_animation(hand_made_run(3))
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.constrain == "domain"
    bar = fig.data[0].colorbar
    assert bar.orientation == "h" and bar.yanchor == "top"
    buttons, slider = fig.layout.updatemenus[0], fig.layout.sliders[0]
    assert buttons.pad.t > bar.ypad + 60 and slider.pad.t > buttons.pad.t  # bar, then buttons, then slider
    assert fig.layout.margin.b > slider.pad.t
    circles = [trace for trace in fig.data if trace.legendgroup == "3σ boundary"]
    assert len(circles) == 2 and circles[0].showlegend is False  # a white halo under the dashed line


def test_coverage_figure_has_one_line_per_run():
    fig = coverage_figure({"a": hand_made_run(3), "b": hand_made_run(4)})
    assert [len(trace.x) for trace in fig.data] == [3, 4]
    assert tuple(fig.layout.yaxis.range) == (0, 1)


def with_recalls(run: GanRun, recalls: list[tuple[float, ...]]) -> GanRun:
    """``run`` with the given test recall per class on its snapshots, in order."""
    run.snapshots = [dataclasses.replace(s, recall=r) for s, r in zip(run.snapshots, recalls)]
    return run


def recall_line(recall: tuple[float, ...]) -> str:
    """The recall as the title is expected to write it, formatted here by hand."""
    return "test recall per class " + " / ".join(f"{round(100 * r)}%" for r in recall)


def test_recall_is_shown_neutrally_and_only_the_final_classifier_can_lose_a_class():
    """Iteration 0 of a joint run: the untrained classifier calls everything one class (100 % / 0 %);
    a middle frame dips below the collapse line; the final classifier keeps both: no verdict anywhere."""
    recalls = [(1.0, 0.0), (0.3, 0.95), (0.97, 0.98)]
    fig = gan_animation(with_recalls(hand_made_run(3), recalls))
    titles = [frame.layout.title.text for frame in fig.frames]
    for title, recall in zip(titles, recalls):
        assert recall_line(recall) in title
    assert not any("lost" in title for title in [*titles, fig.layout.title.text])


@pytest.mark.parametrize("initial_frame", [0, -1])
def test_a_class_lost_is_said_of_the_last_frame_only_when_the_final_classifier_lost_it(initial_frame):
    recalls = [(1.0, 0.0), (0.9, 0.8), (0.4, 1.0)]  # final: class 0 below COLLAPSE_RECALL (0.5)
    fig = gan_animation(with_recalls(hand_made_run(3), recalls), initial_frame=initial_frame)
    said = ["a class lost" in frame.layout.title.text for frame in fig.frames]
    assert said == [False, False, True]
    assert "40% / 100%" in fig.frames[-1].layout.title.text
    assert ("a class lost" in fig.layout.title.text) == (initial_frame == -1)


def test_a_recall_at_the_collapse_line_is_no_lost_class():
    fig = gan_animation(with_recalls(hand_made_run(2), [(1.0, 0.0), (0.5, 1.0)]))
    assert "lost" not in fig.frames[-1].layout.title.text


def test_animation_has_no_legend_and_its_title_lines_fit_a_third_of_a_1024px_screen():
    """No legend box above the map (the page's caption says what the marks are); each title line at
    most 60 characters (a 320 px figure fits about 60 of the 11 px lines)."""
    recalls = [(1.0, 0.0), (0.4, 1.0)]
    fig = gan_animation(with_recalls(hand_made_run(2), recalls))
    assert fig.layout.showlegend is False
    for frame in fig.frames:
        lines = [re.sub("<[^>]+>", "", line) for line in frame.layout.title.text.split("<br>")]
        assert len(lines) == 3 and all(len(line) <= 60 for line in lines), lines
