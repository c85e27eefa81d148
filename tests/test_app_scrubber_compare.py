"""The Playground's training scrubber with several methods compared (issue 23): one slider moves every
net to the same snapshot, and each map shows its net at that moment with its numbers. Checked against
nets trained here for the shorter time by the library and a float64 numpy forward pass of their
weights, never against the timeline functions the page calls."""
import dataclasses
import json
import re

import numpy as np
import pytest

from test_app import assert_clean, open_link
from test_app_claims import heatmap_values, numpy_probs, shown_share
from toyood.toy import far_test_points, train_toy
from toyood_app.labels import run_label
from toyood_app.link import parse_query

QUERY = {"method": "plain,reject", "hidden": "16,16", "epochs": "9", "timeline": "3"}


def map_specs(app) -> dict[str, dict]:
    """The compared maps' chart specs by their title (the run's label)."""
    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs if spec["layout"].get("title", {}).get("text")}


def moment_captions(app) -> dict[str, str]:
    """The one-line numbers over each compared map, by run label."""
    found = (re.match(r"\*\*(.+?)\*\* at (epoch .*)", caption.value) for caption in app.caption)
    return {match.group(1): match.group(2) for match in found if match}


def early_runs(epochs: int) -> dict[str, object]:
    """Each compared method trained for ``epochs`` epochs: the same first epochs as the full training."""
    state = parse_query(QUERY)[0]
    return {method: train_toy(dataclasses.replace(state.toy_config(method), epochs=epochs)) for method in state.methods}


def numbers(caption: str) -> dict[str, float]:
    return {name: shown_share(value) for name, value in re.findall(r"(far OOD ≥ 0\.99|test accuracy): \*\*([\d.]+%)\*\*",
                                                                     caption)}


@pytest.fixture(scope="module")
def app():
    app = open_link("playground", **QUERY)
    assert_clean(app)
    return app


def test_one_slider_scrubs_every_compared_net_to_the_same_epoch(app):
    sliders = [s for s in app.select_slider if s.label == "Snapshot"]
    assert len(sliders) == 1 and sliders[0].value == 3 and sliders[0].options[3] == "epoch 3 of 9"
    state = parse_query(QUERY)[0]
    labels = {run_label(state.toy_config(m)) for m in state.methods}
    assert labels <= set(map_specs(app)) and labels == set(moment_captions(app))
    assert all(caption.startswith("epoch 3 of 9 · ") for caption in moment_captions(app).values())


def test_each_compared_map_is_its_net_at_that_epoch_with_its_own_numbers(app):
    state, captions, specs = parse_query(QUERY)[0], moment_captions(app), map_specs(app)
    for method, early in early_runs(3).items():
        label = run_label(state.toy_config(method))
        k = early.config.classes
        trace = next(t for t in specs[label]["data"] if t["type"] == "heatmap")
        z, xs, ys = heatmap_values(trace)
        grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        confidence = numpy_probs(early, grid)[:, :k].max(-1).reshape(z.shape)  # the real classes' largest
        assert np.abs(z - confidence).max() < 1e-4, f"{method}: the map is epoch 3's"
        shown = numbers(captions[label])
        far = far_test_points(early.config, early.data)
        assert shown["far OOD ≥ 0.99"] == pytest.approx(np.mean(numpy_probs(early, far)[:, :k].max(-1) >= 0.99),
                                                        abs=0.006), method
        accuracy = np.mean(numpy_probs(early, early.data.x_test).argmax(-1) == early.data.y_test)  # rejected: wrong
        assert shown["test accuracy"] == pytest.approx(accuracy, abs=0.006), method
        assert captions[label].startswith("epoch 3 of 9")


def test_counting_gives_each_compared_net_its_exact_region_count_at_that_epoch():
    app = open_link("playground", **QUERY)
    app.button(key="timeline-count").click().run()
    assert_clean(app)
    captions = moment_captions(app)
    for method, early in early_runs(3).items():
        regions = int(re.search(r"regions in \[−50, 50\]²: \*\*([\d,]+)\*\*", captions[run_label(early.config)])
                      .group(1).replace(",", ""))
        layers = [(layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy())
                  for layer in early.model.hidden_layers]
        side = np.linspace(-50, 50, 1200)
        points = np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)
        first = points @ layers[0][0].T + layers[0][1]
        second = np.maximum(first, 0) @ layers[1][0].T + layers[1][1]
        sampled = len(np.unique(np.packbits(np.concatenate([first > 0, second > 0], 1), axis=1), axis=0))
        assert 0.8 * regions <= sampled <= regions, f"{method}: a dense sample finds most regions, never more"


def test_moving_the_slider_moves_every_compared_map_and_the_link(app):  # last: it moves the shared app
    before = {label: heatmap_values(next(t for t in spec["data"] if t["type"] == "heatmap"))[0]
              for label, spec in map_specs(app).items()}
    app.select_slider(key="w:timeline:scrub").set_value(0).run()
    assert_clean(app)
    assert all(caption.startswith("epoch 0 of 9 · 0 steps") for caption in moment_captions(app).values())
    after = {label: heatmap_values(next(t for t in spec["data"] if t["type"] == "heatmap"))[0]
             for label, spec in map_specs(app).items()}
    assert set(after) == set(before) and all(np.abs(after[k] - before[k]).max() > 0.01 for k in before), \
        "every map moved to the untrained net"
    assert app.query_params.get("timeline") in ("0", ["0"])
    app.select_slider(key="w:timeline:scrub").set_value(2).run()  # from the untrained net (0) on: still scrubbing
    assert_clean(app)
    captions = moment_captions(app)
    assert len(captions) == 2 and all(caption.startswith("epoch 2 of 9 · ") for caption in captions.values())
