"""The compiled region cutter (toyood.regions.compiled) against the numpy one, and how it is chosen."""
import numpy as np
import pytest

from toyood.regions import api as regions_module
from toyood.errors import ConfigError
from toyood.regions import GeometryError, enumerate_regions

from test_regions import default_init, random_net

pytest.importorskip("numba")
from toyood.regions import compiled as regions_jit  # noqa: E402


def degenerate_first_layer():
    """Duplicated, scaled, negated and dead first-layer neurons."""
    (w, b), _ = random_net([2, 6, 2], seed=5)
    w = np.vstack([w, w[:2], 3.0 * w[2:3], -w[3:4], np.zeros((3, 2))])
    b = np.concatenate([b, b[:2], 3.0 * b[2:3], -b[3:4], [0.5, 0.0, -0.5]])
    rng = np.random.default_rng(0)
    return [(w, b), (rng.normal(size=(5, 13)), rng.normal(size=5)), (rng.normal(size=(2, 5)), np.zeros(2))]


def degenerate_second_layer():
    """A duplicated and a dead second-layer neuron."""
    (w1, b1), (w2, b2), _ = random_net([2, 8, 4, 2], seed=6)
    w2, b2 = np.vstack([w2, w2[:1], np.zeros((1, 8))]), np.concatenate([b2, b2[:1], [0.0]])
    return [(w1, b1), (w2, b2), (np.random.default_rng(1).normal(size=(2, 6)), np.zeros(2))]


def concurrent_lines():
    """Every first-layer line through the origin, the second layer's through first-layer vertices."""
    angles = np.pi * np.arange(9) / 9 + 0.1
    w1 = np.stack([np.cos(angles), np.sin(angles)], 1)
    w2 = np.vstack([np.eye(9)[:3] - np.eye(9)[3:6], np.ones((1, 9))])
    return [(w1, np.zeros(9)), (w2, np.array([0.0, 0.0, 0.0, -1.0])), (np.ones((3, 4)), np.zeros(3))]


def box_corners_and_edges():
    """Both diagonals of the ±2 box, two lines along its edges, a second layer through the centre."""
    w1 = np.array([[1.0, -1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    b1 = np.array([0.0, 0.0, -2.0, 2.0])
    return [(w1, b1), (np.array([[1.0, -1.0, 0.0, 0.0], [0.5, 0.5, -1.0, 0.0]]), np.zeros(2)), (np.eye(2), np.zeros(2))]


CASES = {
    "default init 2x50": (lambda: default_init((50, 50)), 50.0, 0.0),
    "leaky 0.1, default init 2x80": (lambda: default_init((80, 80), seed=1), 50.0, 0.1),
    "leaky 0.9, random 2x30, 4 classes": (lambda: random_net([2, 30, 30, 4], seed=6), 5.0, 0.9),
    "leaky 0.2, degenerate first layer": (degenerate_first_layer, 6.0, 0.2),
    "default init 2x120, 3 classes": (lambda: default_init((120, 120), seed=3, n_classes=3), 50.0, 0.0),
    "random 2x30 rectangle off centre": (lambda: random_net([2, 30, 30, 2], seed=2), (1.0, 7.0, -3.0, -1.5), 0.0),
    "tiny box": (lambda: random_net([2, 20, 20, 2], seed=4), 2e-3, 0.0),
    "big box": (lambda: default_init((30, 30), seed=5), 1e4, 0.0),
    "degenerate first layer": (degenerate_first_layer, 6.0, 0.0),
    "degenerate second layer": (degenerate_second_layer, 4.0, 0.0),
    "concurrent lines": (concurrent_lines, 1.0, 0.0),
    "box corners and edges": (box_corners_and_edges, 2.0, 0.0),
}


def by_pattern(regions):
    """Row order that sorts the regions by their packed pattern bytes."""
    keys = np.ascontiguousarray(regions.patterns).view(np.dtype((np.void, regions.patterns.shape[1])))[:, 0]
    return np.argsort(keys, kind="stable")


@pytest.mark.parametrize("name", list(CASES))
def test_both_engines_give_the_same_regions(name):
    make, box, slope = CASES[name]
    layers = make()
    numpy_regions = enumerate_regions(layers, box, slope, engine="numpy")
    compiled = enumerate_regions(layers, box, slope, engine="compiled")
    assert len(compiled) == len(numpy_regions)
    a, b = by_pattern(numpy_regions), by_pattern(compiled)
    np.testing.assert_array_equal(numpy_regions.patterns[a], compiled.patterns[b])
    area = np.prod(np.diff(np.reshape(regions_module.as_box(box), (2, 2)), axis=1))
    np.testing.assert_allclose(compiled.areas[b], numpy_regions.areas[a], rtol=1e-9, atol=1e-12 * area)
    scale = max(1.0, np.abs(numpy_regions.bias).max())
    np.testing.assert_allclose(compiled.linear[b], numpy_regions.linear[a], atol=1e-8 * scale)
    np.testing.assert_allclose(compiled.bias[b], numpy_regions.bias[a], atol=1e-8 * scale)
    np.testing.assert_array_equal(compiled.unbounded[b], numpy_regions.unbounded[a])
    np.testing.assert_array_equal(compiled.limit_class[b], numpy_regions.limit_class[a])
    assert (compiled.unbounded_total, compiled.far_strips) == (numpy_regions.unbounded_total, numpy_regions.far_strips)


def test_polygons_are_convex_counter_clockwise_and_inside_the_box():
    regions = enumerate_regions(default_init((40, 40), seed=7), 10.0, engine="compiled")
    for r in range(0, len(regions), 7):
        ring = regions.vertices[regions.offsets[r]:regions.offsets[r + 1]]
        edge, following = ring - np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0) - ring
        assert (edge[:, 0] * following[:, 1] - edge[:, 1] * following[:, 0] >= -1e-9).all()
        assert (np.abs(ring) <= 10.0 + 1e-12).all()


def test_same_result_every_time_and_any_line_order_gives_the_same_regions():
    layers = default_init((40, 40), seed=8)
    tol1 = regions_module._zero_tolerance(layers[0][0], layers[0][1], 10.0)
    first, again = (enumerate_regions(layers, 10.0, engine="compiled") for _ in range(2))
    for field in ("vertices", "offsets", "patterns", "linear", "bias", "areas"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    box = (-10.0, 10.0, -10.0, 10.0)
    tol2 = regions_module._zero_tolerance(layers[1][0], layers[1][1], 100.0)
    one, other = (regions_jit.cut(layers, box, tol1, tol2, seed=seed) for seed in (1, 2))
    assert sorted(map(bytes, one[2])) == sorted(map(bytes, other[2]))


def test_a_full_output_buffer_is_grown_and_the_cut_rerun():
    layers = default_init((20, 20), seed=9)
    box = (-10.0, 10.0, -10.0, 10.0)
    tol1 = regions_module._zero_tolerance(layers[0][0], layers[0][1], 10.0)
    tol2 = regions_module._zero_tolerance(layers[1][0], layers[1][1], 100.0)
    expected = regions_jit.cut(layers, box, tol1, tol2)
    regrown = regions_jit.cut(layers, box, tol1, tol2, capacity=3)
    assert len(expected[2]) > 100
    for got, want in zip(regrown, expected):
        np.testing.assert_array_equal(got, want)


def test_cut_polygon_keeps_corners_on_the_line_on_both_sides_and_refuses_a_non_convex_ring():
    px, py = np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0, 1.0])
    out = [np.empty(8) for _ in range(4)]
    nq, nr = regions_jit._cut_polygon(px, py, 4, 1.0, -1.0, 0.0, 1e-12, *out)  # the diagonal x = y
    assert (nq, nr) == (3, 3)
    assert {(x, y) for x, y in zip(out[0][:nq], out[1][:nq])} == {(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)}
    nq, nr = regions_jit._cut_polygon(px, py, 4, 1.0, 0.0, -0.5, 1e-12, *out)  # x = 0.5: two new corners
    assert (nq, nr) == (4, 4) and sorted(out[0][:nq]) == [0.5, 0.5, 1.0, 1.0]
    zigzag_x, zigzag_y = np.array([0.0, 1.0, 2.0, 3.0, 3.0, 0.0]), np.array([0.0, 1.0, 0.0, 1.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="not convex"):
        regions_jit._cut_polygon(zigzag_x, zigzag_y, 6, 0.0, 1.0, -0.5, 1e-12, *out)


def test_an_error_inside_the_compiled_code_is_a_geometry_error(monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("a cell is not convex within the tolerance; use engine='numpy'")
    monkeypatch.setattr(regions_jit, "cut", refuse)
    with pytest.raises(GeometryError, match="engine='numpy'"):
        enumerate_regions(random_net([2, 5, 5, 2]), 1.0, engine="compiled")


def test_engine_choice_is_validated():
    with pytest.raises(ConfigError, match="engine must be one of auto, numpy, compiled"):
        enumerate_regions(random_net([2, 5, 5, 2]), 1.0, engine="fast")
    for layers, slope in [(random_net([2, 5, 2]), 0.0), (random_net([2, 5, 5, 5, 2]), 0.3)]:
        with pytest.raises(ConfigError, match=f"two hidden layers, this net has {len(layers) - 1}"):
            enumerate_regions(layers, 1.0, slope, engine="compiled")
        assert len(enumerate_regions(layers, 1.0, slope, engine="auto")) >= 1


def test_auto_uses_the_compiled_cutter_where_it_applies_and_numpy_without_numba(monkeypatch):
    calls = []
    real = regions_jit.cut
    monkeypatch.setattr(regions_jit, "cut", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    layers = random_net([2, 6, 6, 2], seed=1)
    with_numba = enumerate_regions(layers, 2.0)
    assert calls == [1]
    assert regions_module.resolve_engine("auto", 2) == "compiled"
    monkeypatch.setattr(regions_module, "_regions_jit", lambda: None)
    assert regions_module.resolve_engine("auto", 2) == "numpy"
    without = enumerate_regions(layers, 2.0)
    assert calls == [1] and sorted(map(bytes, without.patterns)) == sorted(map(bytes, with_numba.patterns))
    with pytest.raises(ConfigError, match="needs numba"):
        enumerate_regions(layers, 2.0, engine="compiled")
