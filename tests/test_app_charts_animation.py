"""The GAN page's animated map in its box (``toyood_app.charts.animation_box_css``): the box is as
tall as the plot area needs at the column's width, so the figure has no empty band above its map
(issue 21: at 1024 px the map began below the first screen)."""
from __future__ import annotations

import re

import plotly.graph_objects as go
import pytest

from test_plots_gan import hand_made_run
from toyood.gan import view_extent
from toyood.plots.gan import gan_animation
from toyood_app.charts import animation_box_css

CALC = re.compile(r"\.st-key-anim-box-(\w+) \{flex: none; height: calc\(\(100cqw - (\d+)px\) \* ([\d.]+) \+ (\d+)px\)")


def box_height(css: str, width: float) -> float:
    """The box height the CSS gives a column ``width`` px wide (its container query unit 1cqw = width/100)."""
    _, sides, ratio, fixed = CALC.search(css).groups()
    return (width - int(sides)) * float(ratio) + int(fixed)


@pytest.mark.parametrize("width", [322, 465, 770])  # 1024 px with the sidebar, presenting, 1920 px
def test_the_box_gives_the_map_its_data_aspect_at_any_column_width(width):
    fig = gan_animation(hand_made_run(2))
    margin = fig.layout.margin
    xmin, xmax, ymin, ymax = view_extent(1.0)  # the page's fixed axes, σ = 1
    plot_width = width - margin.l - margin.r
    plot_height = box_height(animation_box_css(fig, "a"), width) - margin.t - margin.b
    assert plot_height / plot_width == pytest.approx((ymax - ymin) / (xmax - xmin), abs=1e-4)


def test_the_box_follows_the_figure_axes_and_margins():
    fig = go.Figure().update_layout(xaxis_range=[0, 40], yaxis_range=[-5, 5], margin=dict(l=30, r=10, t=50, b=150))
    css = animation_box_css(fig, "k")
    assert CALC.search(css).group(1) == "k" and ".st-key-anim-k {container-type: inline-size;}" in css
    assert box_height(css, 440) == pytest.approx(400 / 4 + 200)
    assert "max-height: calc(100vh - 6rem)" in css  # never taller than the window
