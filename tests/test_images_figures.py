"""Figures a lecturer shows (``toyood.plots.images``): one histogram panel per method and set, and the
noise / adversarial-noise grid with each method's confidence on every image."""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from toyood.images.benchmark import GENERATED_SETS, SET_METRICS, BenchConfig, BenchResult, MethodResult
from toyood.images.report import METHOD_TITLES
from toyood.plots.images import method_histograms_figure, noise_confidence_grid_figure

METHODS = ("plain", "ceda", "acet")


@pytest.fixture
def result() -> BenchResult:
    rng = np.random.default_rng(7)
    sets = ("fmnist", *GENERATED_SETS)
    methods = {m: MethodResult(m, 0.05, 0.9, {s: {k: 0.5 for k in SET_METRICS} for s in sets}, 3.0, 0.4, 1.0, 1.0, [],
                               {s: rng.uniform(size=30).astype(np.float32) for s in ("in", *sets)},
                               {k: rng.uniform(size=(5, 1, 28, 28)).astype(np.float32)
                                for k in ("noise", "adv_noise", "test", "adv_samples")})
               for m in METHODS}
    return BenchResult(BenchConfig(methods=METHODS, preset="demo"), methods, {}, 100, 30)


def test_histograms_have_one_single_colour_panel_per_method_and_set(result):
    fig = method_histograms_figure(result)
    sets = ["in", "fmnist", *GENERATED_SETS]
    assert len(fig.data) == len(sets) * len(METHODS)
    for i, trace in enumerate(fig.data):
        set_name, method = sets[i // len(METHODS)], METHODS[i % len(METHODS)]
        np.testing.assert_array_equal(trace.x, result.methods[method].confidences[set_name])
        assert trace.name == METHOD_TITLES[method]
    colours = [trace.marker.color for trace in fig.data[:len(METHODS)]]
    assert len(set(colours)) == len(METHODS)
    titles = [a.text for a in fig.layout.annotations]
    mmc = float(np.mean(result.methods["acet"].confidences["adv_noise"], dtype=np.float64))
    assert f"ACET (Hein et al.) · Adv. noise · MMC {mmc:.3f}" in titles


def test_noise_grid_labels_every_tile_with_that_methods_confidence(result):
    fig = noise_confidence_grid_figure(result)
    labels = [a.text for a in fig.layout.annotations]
    expected = [f"{v:.2f}" for kind in ("noise", "adv_noise") for m in METHODS
                for v in result.methods[m].confidences[kind][:5]]
    assert labels[:len(expected)] == expected
    assert labels[len(expected):] == ["<b>Uniform noise</b>", "<b>Adversarial noise (moved towards high confidence)</b>"]
    assert list(fig.layout.yaxis.ticktext) == [METHOD_TITLES[m] for m in METHODS] * 2
    assert fig.data[0].source.startswith("data:image/png;base64,")
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(fig.data[0].source.split(",", 1)[1]))).convert("RGB"))
    assert picture.shape == (8 * 28 + 7 * 2, 5 * 28 + 4 * 2, 3)  # a title row, 3 methods, a title row, 3 methods
    # every method's noise row shows the shared noise; ACET's adversarial row (the last) its own moved images
    for row in (1, 3):
        top = row * (28 + 2)
        np.testing.assert_array_equal(picture[top:top + 28, :28, 0],
                                      (result.methods["plain"].samples["noise"][0, 0] * 255).round().astype(np.uint8))
    top = 7 * (28 + 2)
    np.testing.assert_array_equal(picture[top:top + 28, 28 + 2:2 * 28 + 2, 0],
                                  (result.methods["acet"].samples["adv_noise"][1, 0] * 255).round().astype(np.uint8))
    assert (picture[:28] == 255).all() and (picture[4 * 30:4 * 30 + 28] == 255).all()  # the title rows stay white
