import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from toyood.models import MLP, RBFNet, piecewise_affine_layers
import toyood.plots.ray as ray_plots
from toyood.plots.ray import (Panel, crossed_regions, proof_panels, ray_gap_panel, ray_logits_panel,
                                  ray_path_panel)
from toyood.ray import ray_profile
from toyood.regions import enumerate_regions

X = (12.0, 9.0)


def mlp(n_classes=2, head="linear", seed=0):
    torch.manual_seed(seed)
    return MLP((16, 16), n_classes, head).eval()


@pytest.fixture(scope="module")
def profiles(one_thread):
    torch.manual_seed(0)
    rbf = RBFNet(torch.randn(12, 2) * 10, 2, gamma=0.1).eval()
    dismax = mlp(3, "dismax", seed=2)
    with torch.no_grad():
        dismax.head.prototypes.normal_()
    return {"linear": ray_profile(mlp(), X), "reject": ray_profile(mlp(3, "reject", seed=1), X),
            "dismax": ray_profile(dismax, X), "rbf": ray_profile(rbf, X)}


def our_traces(fig: go.Figure, skip: int = 0):
    return [t for t in fig.data[skip:] if isinstance(t, go.Scatter)]


@pytest.mark.parametrize("kind", ["linear", "reject", "dismax", "rbf"])
def test_every_panel_has_traces_and_one_sentence(profiles, kind):
    panels = proof_panels(profiles[kind])
    assert list(panels) == ["path", "logits", "gap", "confidence"]
    for name, panel in panels.items():
        assert isinstance(panel, Panel) and isinstance(panel.figure, go.Figure)
        assert len(panel.figure.data) >= 1, name
        caption = panel.caption
        assert caption and caption.endswith(".") and ". " not in caption, (name, caption)
        assert panel.figure.layout.title.text.startswith(f"({'abcd'[list(panels).index(name)]})")
    cites = " ".join(p.caption for p in panels.values())
    assert ("Thm 3.2" in cites) == (kind == "rbf")
    assert ("Lemma 3.1" in cites) == (kind != "rbf")


@pytest.mark.parametrize("kind", ["linear", "reject", "dismax"])
def test_breakpoints_are_marked_as_ticks_with_the_last_piece_shaded(profiles, kind):
    profile = profiles[kind]
    for panel in proof_panels(profile).values():
        fig = panel.figure
        if fig.layout.yaxis.scaleanchor:  # the map
            continue
        ticks = [t for t in fig.data if t.name and t.name.startswith("breakpoints")]
        assert len(ticks) == 1
        in_view = profile.breakpoints[profile.breakpoints <= profile.alpha_view]
        np.testing.assert_array_equal(ticks[0].x, in_view.astype(np.float32))
        shaded = [s for s in fig.layout.shapes if s.type == "rect"]
        assert len(shaded) == 1 and shaded[0].x0 == pytest.approx(profile.last_start)


def test_logits_panel_draws_every_output_exactly(profiles):
    profile = profiles["reject"]
    fig = ray_logits_panel(profile).figure
    lines = {t.name: t for t in fig.data if t.name in ("class 0", "class 1", "class 2", "reject")}
    assert len(lines) == 4 and lines["reject"].line.dash == "dash"
    np.testing.assert_array_equal(lines["class 1"].y, profile.logits[:, 1].astype(np.float32))
    assert lines["class 0"].line.color != lines["class 1"].line.color


def test_gap_panel_draws_the_last_piece_line_with_its_slope(profiles):
    profile = profiles["linear"]
    winner, rate = profile.growth()
    line = [t for t in ray_gap_panel(profile).figure.data if t.name.startswith("last region")][0]
    slope = (float(line.y[-1]) - float(line.y[0])) / (float(line.x[-1]) - float(line.x[0]))
    assert slope == pytest.approx(rate, rel=1e-4) and rate > 0
    assert f"{rate:.3g}" in line.name and f"{rate:.3g}" in ray_gap_panel(profile).caption
    gap = [t for t in ray_gap_panel(profile).figure.data if t.name == "top-two gap"][0]
    on_last = np.asarray(gap.x) >= profile.last_start * 1.01
    np.testing.assert_allclose(np.asarray(gap.y)[on_last], np.interp(np.asarray(gap.x)[on_last], line.x, line.y),
                               rtol=1e-4, atol=1e-4)


def test_path_marks_every_entry_and_the_last_piece(profiles):
    profile = profiles["linear"]
    fig = ray_path_panel(profile).figure
    entries = [t for t in fig.data if t.name == "enters a new region at α"][0]
    assert len(entries.x) == len(profile.breakpoints)
    np.testing.assert_allclose(entries.customdata, profile.breakpoints.astype(np.float32))
    last = [t for t in fig.data if t.name and t.name.startswith("last piece")][0]
    assert (last.x[0], last.y[0]) == pytest.approx((profile.last_start * X[0], profile.last_start * X[1]), rel=1e-6)
    labels = [a.text for a in fig.layout.annotations]
    assert f"α={profile.last_start:.4g}" in labels and 1 <= len(labels) <= 6
    assert fig.layout.yaxis.scaleanchor == "x"


def test_path_over_regions_hatches_the_unbounded_region_the_ray_ends_in(profiles, one_thread):
    model = mlp()
    layers, slope = piecewise_affine_layers(model)
    regions = enumerate_regions(layers, 60.0, slope)
    profile = profiles["linear"]
    background = go.Heatmap(z=np.zeros((2, 2), np.float32), x0=-60, dx=120, y0=-60, dy=120, name="background")
    fig = ray_path_panel(profile, [background], regions=regions).figure
    assert fig.data[0].name == "background"
    last = [t for t in fig.data if t.name == "last region (unbounded)"]
    assert len(last) == 1 and last[0].fill == "toself"
    ids = {row.tobytes(): r for r, row in enumerate(regions.patterns)}
    assert regions.unbounded[ids[profile.pieces.packed[-1].tobytes()]]
    assert list(fig.layout.xaxis.range) == [-60.0, 60.0]


def regions_of(model, box: float):
    layers, slope = piecewise_affine_layers(model)
    return enumerate_regions(layers, box, slope)


def _split_at_gaps(x, y) -> list[np.ndarray]:
    points = np.stack([np.asarray(x, float), np.asarray(y, float)], 1)
    parts = [part[~np.isnan(part[:, 0])] for part in np.split(points, np.flatnonzero(np.isnan(points[:, 0])))]
    return [part for part in parts if len(part)]


def test_path_outlines_every_crossed_region_in_one_trace(profiles, one_thread):
    regions = regions_of(mlp(), 60.0)
    profile = profiles["linear"]
    ids = {row.tobytes(): r for r, row in enumerate(regions.patterns)}  # the plain lookup, row by row
    expected = [ids.get(row.tobytes()) for row in profile.pieces.packed]
    assert crossed_regions(profile, regions) == expected and None not in expected
    fig = ray_path_panel(profile, regions=regions).figure
    outlines = [t for t in fig.data if t.name == "regions crossed"]
    assert len(outlines) == 1 and outlines[0].x.dtype == np.float32
    rings = _split_at_gaps(outlines[0].x, outlines[0].y)
    assert len(rings) == len(expected) - 1
    for ring, r in zip(rings, expected[:-1]):
        polygon = regions.polygon(r)
        np.testing.assert_allclose(ring, np.vstack([polygon, polygon[:1]]), rtol=1e-6, atol=1e-5)
    last = [t for t in fig.data if t.name == "last region (unbounded)"][0]
    polygon = regions.polygon(expected[-1])
    np.testing.assert_allclose(np.stack([last.x, last.y], 1), np.vstack([polygon, polygon[:1]]), rtol=1e-6, atol=1e-5)


def test_crossed_regions_are_checked_byte_by_byte_when_keys_collide(profiles, one_thread, monkeypatch):
    regions = regions_of(mlp(), 60.0)
    profile = profiles["linear"]
    expected = crossed_regions(profile, regions)
    monkeypatch.setattr(ray_plots, "_row_keys", lambda rows: np.zeros(len(rows), np.uint64))  # every key equal
    assert crossed_regions(profile, regions) == expected
    small = regions_of(mlp(), 1.0)  # most crossed regions lie outside
    found = crossed_regions(profile, small)
    assert None in found and all(r is None or small.patterns[r].tobytes() == row.tobytes()
                                 for r, row in zip(found, profile.pieces.packed))


def test_payload_is_float32(profiles):
    for kind in ("linear", "rbf"):
        for panel in proof_panels(profiles[kind]).values():
            for trace in our_traces(panel.figure):
                for values in (trace.x, trace.y):
                    assert values is None or np.asarray(values).dtype == np.float32, (kind, trace.name)


def test_log_axis_leaves_out_zero_and_keeps_the_breakpoints(profiles):
    profile = profiles["linear"]
    for name, panel in proof_panels(profile, log_x=True).items():
        if name == "path":
            continue
        assert panel.figure.layout.xaxis.type == "log"
        for trace in panel.figure.data:
            assert np.all(np.asarray(trace.x) > 0), (name, trace.name)


def test_rbf_panels_show_the_limit_one_over_k(profiles):
    profile = profiles["rbf"]
    panels = proof_panels(profile)
    assert "1/K = 0.5" in panels["confidence"].caption
    assert not any(t.name and t.name.startswith("breakpoints") for t in panels["logits"].figure.data)
    assert any(s.y0 == 0.5 for s in panels["confidence"].figure.layout.shapes)
    path = panels["path"].figure
    assert [t.name for t in path.data if t.showlegend is not False] == ["ray α·x", "x (α = 1)"]


def test_reject_winner_caption_explains_confidence_tending_to_zero():
    torch.manual_seed(5)
    model = MLP((8,), 2, "reject").eval()
    with torch.no_grad():  # the reject logit grows fastest along every ray: it reads |x| through two ReLUs
        model.hidden_layers[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]] * 2))
        model.hidden_layers[0].bias.zero_()
        model.head.weight.zero_()
        model.head.weight[2] = 1.0
        model.head.bias.zero_()
    profile = ray_profile(model, X)
    assert profile.growth()[0] == 2 and profile.limit_confidence == 0.0
    assert "reject" in proof_panels(profile)["confidence"].caption
