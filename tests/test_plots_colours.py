"""The one palette and confidence scale (toyood.plots.colours) and the chart export config."""
import re

import numpy as np
import plotly.colors as pc
import pytest

from toyood.plots import colours, gan, regions, toy
from toyood.plots.export import export_config


def rgb(text: str) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"[\d.]+", text)[:3]])


def luminance(colour: np.ndarray) -> float:
    return float(np.asarray(colour, float) @ [0.2126, 0.7152, 0.0722] / 255)


def test_one_class_palette_for_every_figure_module():
    for module in (toy, gan, regions):
        palette = getattr(module, "CLASS_COLOURS", colours.CLASS_COLOURS)
        assert palette is colours.CLASS_COLOURS, module.__name__
    assert colours.class_colours(2, reject=True) == [*colours.CLASS_COLOURS[:2], colours.REJECT_COLOUR]


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_rejected_and_undecided_look_different(n_classes):
    rejected, undecided, certain = colours.confidence_rgb([0.0, 1 / n_classes, 1.0], n_classes).astype(float)
    assert np.linalg.norm(rejected - undecided) > 120
    assert np.linalg.norm(undecided - certain) > 120
    assert rejected[0] == rejected[1] == rejected[2]  # the grey band: achromatic, like the reject class
    assert colours.confidence_rgb([0.0])[0].tolist() == list(colours._hex_rgb(colours.REJECT_COLOUR))


def test_sequential_part_gets_lighter_towards_certain():
    values = np.linspace(0.5, 1.0, 51)
    light = [luminance(c) for c in colours.confidence_rgb(values, 2)]
    assert all(b >= a - 1e-9 for a, b in zip(light, light[1:]))
    assert light[-1] - light[0] > 0.7


@pytest.mark.parametrize("zmin,zmax", [(0.0, 1.0), (0.5, 1.0), (0.2, 0.9)])
def test_colour_scale_gives_the_same_colour_for_the_same_confidence_on_any_range(zmin, zmax):
    scale = colours.confidence_colorscale(2, zmin, zmax)
    assert scale[0][0] == 0.0 and scale[-1][0] == 1.0
    values = np.linspace(zmin, zmax, 23)
    sampled = pc.sample_colorscale(scale, list((values - zmin) / (zmax - zmin)))
    expected = colours.confidence_rgb(values, 2).astype(float)
    np.testing.assert_allclose([rgb(s) for s in sampled], expected, atol=2.5)


def test_colour_bar_names_the_three_meanings_and_stays_small():
    bar = colours.confidence_colorbar(2)
    labels = dict(zip(bar["tickvals"], bar["ticktext"]))
    assert "rejected" in labels[0.0] and "undecided" in labels[0.5] and "certain" in labels[1.0]
    assert bar["orientation"] == "h" and bar["lenmode"] == "pixels" and bar["len"] <= 320
    assert bar["thickness"] <= 15


def test_bad_confidence_range():
    with pytest.raises(ValueError):
        colours.confidence_colorscale(2, 0.8, 0.5)


def test_export_config_saves_a_2x_png_or_an_svg_with_a_safe_name():
    config = export_config("confidence map: plain/β=1")
    options = config["toImageButtonOptions"]
    assert options["format"] == "png" and options["scale"] == 2
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", options["filename"]) and options["filename"].startswith("confidence-map")
    assert config["displaylogo"] is False
    assert export_config("x", "svg")["toImageButtonOptions"]["format"] == "svg"
    with pytest.raises(ValueError):
        export_config("x", "jpeg")

@pytest.mark.parametrize("n_classes, label", [(3, "0.33 = 1/K"), (7, "0.14 = 1/K"), (10, "0.1 = 1/K")])
def test_one_over_k_is_labelled_with_two_digits(n_classes, label):
    values, labels = colours.confidence_ticks(n_classes)
    assert labels[values.index(1.0 / n_classes)].startswith(label + "<br>")
