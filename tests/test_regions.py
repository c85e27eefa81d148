"""Exact linear regions (toyood.regions): geometry, patterns, affine maps, unboundedness."""
from math import comb

import numpy as np
import pytest
import shapely

from toyood.regions import activation_patterns, as_box, enumerate_regions, forward, rasterize


def random_net(sizes, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, (o, i)) / np.sqrt(i), scale * rng.uniform(-1, 1, o) / np.sqrt(i))
            for i, o in zip(sizes[:-1], sizes[1:])]


def polygons(regions):
    size = np.diff(regions.offsets)
    rings = shapely.linearrings(regions.vertices, indices=np.repeat(np.arange(len(regions)), size))
    return shapely.polygons(rings)


def locate(regions, points):
    """(point index, region index) of points strictly inside a polygon."""
    tree = shapely.STRtree(polygons(regions))
    return tree.query(shapely.points(points), predicate="within")


def region_constraints(layers, pattern, x, negative_slope):
    """Pre-activations at x of all hidden neurons computed with a *given* pattern (the region's maps)."""
    h, values, offset = x, [], 0
    for weight, bias in layers[:-1]:
        z = h @ weight.T + bias
        bits = pattern[offset:offset + len(bias)]
        values.append(z)
        h = np.where(bits, z, negative_slope * z)
        offset += len(bias)
    return np.concatenate(values, axis=-1)


def engines_for(layers, negative_slope=0.0):
    """The region engines that apply to the net: the compiled one takes two hidden layers."""
    return ["numpy", "compiled"] if len(layers) == 3 else ["numpy"]


def check_exact(layers, box, negative_slope=0.0, n_points=3000, seed=0):
    """The specification shared by every case, for every engine that applies; returns the last."""
    for engine in engines_for(layers, negative_slope):
        regions = check_exact_with(layers, box, negative_slope, n_points, seed, engine)
    return regions


def check_exact_with(layers, box, negative_slope, n_points, seed, engine):
    """Tiling, distinct patterns, located points with their own patterns, exact affine maps."""
    regions = enumerate_regions(layers, box, negative_slope, engine=engine)
    xmin, xmax, ymin, ymax = as_box(box)
    assert regions.areas.sum() == pytest.approx((xmax - xmin) * (ymax - ymin), rel=1e-9)
    assert (regions.areas > 0).all()
    assert shapely.is_valid(polygons(regions)).all()
    assert len(np.unique(regions.patterns, axis=0)) == len(regions)
    rng = np.random.default_rng(seed)
    points = rng.uniform((xmin, ymin), (xmax, ymax), (n_points, 2))
    point, region = locate(regions, points)
    assert len(np.unique(point)) >= 0.999 * n_points  # the rest lie on boundaries
    bits = regions.pattern_bits()
    np.testing.assert_array_equal(bits[region], activation_patterns(layers, points[point], negative_slope))
    expected = forward(layers, points[point], negative_slope)
    got = np.einsum("nkd,nd->nk", regions.linear[region], points[point]) + regions.bias[region]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    return regions


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_areas_sum_to_box(engine):
    """Areas sum to the box's and so does their union: no gaps, no overlaps. The compiled cutter's
    polygons carry only their own corners (a neighbour's corner on an edge is no vertex of theirs),
    which GEOS's exact overlay mishandles (it drops a region); snapped to a 1e-12 grid it is robust."""
    regions = enumerate_regions(random_net([2, 30, 30, 2]), 10.0, engine=engine)
    assert regions.areas.sum() == pytest.approx(400.0, rel=1e-9)
    assert shapely.union_all(polygons(regions), grid_size=1e-12).area == pytest.approx(400.0, rel=1e-9)


def test_patterns_distinct_and_points_located():
    check_exact(random_net([2, 12, 12, 3], seed=1), 4.0)


def test_vertices_satisfy_region_inequalities():
    layers = random_net([2, 10, 10, 2], seed=2)
    regions = enumerate_regions(layers, 5.0)
    bits = regions.pattern_bits()
    signs = np.where(bits, 1.0, -1.0)
    for r in range(len(regions)):
        values = region_constraints(layers, bits[r], regions.polygon(r), 0.0)
        assert (signs[r] * values >= -1e-9).all()


def test_every_grid_pattern_is_enumerated():
    layers = random_net([2, 16, 16, 2], seed=3)
    regions = enumerate_regions(layers, 3.0)
    grid = np.stack(np.meshgrid(np.linspace(-3, 3, 500), np.linspace(-3, 3, 500)), -1).reshape(-1, 2)
    seen = np.unique(np.packbits(activation_patterns(layers, grid), axis=1), axis=0)
    enumerated = {row.tobytes() for row in regions.patterns}
    assert all(row.tobytes() in enumerated for row in seen)
    assert len(seen) <= len(regions)


def test_generic_lines_closed_form():
    n = 12
    angles = np.pi * (np.arange(n) + 0.5) / n
    rng = np.random.default_rng(4)
    weight = np.stack([np.cos(angles), np.sin(angles)], 1)
    bias = rng.uniform(-1, 1, n)
    layers = [(weight, bias), (np.ones((2, n)), np.zeros(2))]
    regions = check_exact(layers, 20.0)
    assert len(regions) == 1 + n + comb(n, 2)
    assert regions.unbounded.sum() == 2 * n == regions.unbounded_total


def test_zero_biases_all_lines_through_origin():
    n = 9
    angles = np.pi * np.arange(n) / n + 0.1
    layers = [(np.stack([np.cos(angles), np.sin(angles)], 1), np.zeros(n)), (np.eye(2, n), np.zeros(2))]
    regions = check_exact(layers, 1.0)
    assert len(regions) == 2 * n
    assert regions.unbounded.all()


def test_duplicated_scaled_negated_and_dead_neurons():
    base = random_net([2, 6, 2], seed=5)
    (weight, bias), _ = base
    extra_w = np.vstack([weight[:2], 3.0 * weight[2:3], -weight[3:4], np.zeros((3, 2))])
    extra_b = np.concatenate([bias[:2], 3.0 * bias[2:3], -bias[3:4], [0.5, 0.0, -0.5]])
    layers = [(np.vstack([weight, extra_w]), np.concatenate([bias, extra_b])),
              (np.random.default_rng(0).normal(size=(2, 13)), np.zeros(2))]
    regions = check_exact(layers, 6.0)
    plain = enumerate_regions(base, 6.0)
    assert len(regions) == len(plain)
    bits = regions.pattern_bits()
    np.testing.assert_array_equal(bits[:, 6:8], bits[:, 0:2])
    np.testing.assert_array_equal(bits[:, 8], bits[:, 2])
    np.testing.assert_array_equal(bits[:, 9], ~bits[:, 3])
    np.testing.assert_array_equal(bits[:, 10:], np.array([[True, False, False]]).repeat(len(regions), 0))


def test_second_layer_duplicates_and_dead_rows():
    (w1, b1), (w2, b2), out = random_net([2, 8, 4, 2], seed=6)
    w2 = np.vstack([w2, w2[:1], np.zeros((1, 8))])
    b2 = np.concatenate([b2, b2[:1], [0.0]])
    out = (np.random.default_rng(1).normal(size=(2, 6)), np.zeros(2))
    regions = check_exact([(w1, b1), (w2, b2), out], 4.0)
    bits = regions.pattern_bits()
    np.testing.assert_array_equal(bits[:, 12], bits[:, 8])
    assert not bits[:, 13].any()


def test_lines_through_box_corners_and_along_edges():
    weight = np.array([[1.0, -1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    bias = np.array([0.0, 0.0, -2.0, 2.0])  # both diagonals; x = 2 and y = -2 are box edges
    layers = [(weight, bias), (np.ones((2, 4)), np.array([0.0, 1.0]))]
    regions = check_exact(layers, 2.0)
    assert len(regions) == 4
    bits = regions.pattern_bits()
    assert not bits[:, 2].any() and bits[:, 3].all()  # x − 2 < 0 inside, y + 2 > 0 inside


def test_lines_through_vertices_of_the_first_layer():
    # three lines through one point, plus a second layer whose zero lines pass through first-layer vertices
    weight = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    bias = np.array([-1.0, -1.0, -2.0, 0.0])
    w2 = np.array([[1.0, -1.0, 0.0, 0.0], [0.5, 0.5, -1.0, 0.0]])
    layers = [(weight, bias), (w2, np.zeros(2)), (np.eye(2), np.zeros(2))]
    check_exact(layers, 3.0)


def test_leaky_relu():
    check_exact(random_net([2, 10, 10, 2], seed=7), 5.0, negative_slope=0.1)


def test_three_hidden_layers():
    regions = check_exact(random_net([2, 8, 8, 8, 3], seed=8), 4.0)
    assert regions.n_neurons == 24


def test_rectangular_box_and_single_region():
    layers = [(np.array([[1.0, 0.0]]), np.array([-10.0])), (np.ones((2, 1)), np.zeros(2))]
    regions = check_exact(layers, (-1.0, 3.0, 0.0, 0.5))
    assert len(regions) == 1 and regions.unbounded.all()


def test_moderate_default_init_net():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    linears = [torch.nn.Linear(2, 60), torch.nn.Linear(60, 60), torch.nn.Linear(60, 2)]
    layers = [(lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()) for lin in linears]
    regions = check_exact(layers, 50.0, n_points=5000)
    assert len(regions) > 3000


def unbounded_by_brute_force(layers, regions, negative_slope=0.0, n_directions=20000, radius=1e7):
    """Patterns far out along many directions: the unbounded regions with interior recession cones."""
    angles = 2 * np.pi * (np.arange(n_directions) + 0.5) / n_directions
    far = radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    return {row.tobytes() for row in np.packbits(activation_patterns(layers, far, negative_slope), axis=1)}


@pytest.mark.parametrize("sizes,slope", [([2, 12, 2], 0.0), ([2, 10, 10, 3], 0.0), ([2, 8, 8, 2], 0.2)])
def test_unbounded_flags_match_far_patterns_and_arcs(sizes, slope):
    layers = random_net(sizes, seed=9, scale=3.0)
    regions = enumerate_regions(layers, 3.0, slope)
    far = unbounded_by_brute_force(layers, regions, slope)
    in_far = np.array([row.tobytes() in far for row in regions.patterns])
    np.testing.assert_array_equal(regions.unbounded, in_far)
    arcs = regions.arcs
    arc_patterns = {row.tobytes() for row in np.packbits(arcs.pattern, axis=1)}
    assert arc_patterns == far and regions.unbounded_total == len(far)
    # each unbounded region's recession arc sits inside one arc of the same pattern and limit class
    for r in np.flatnonzero(regions.unbounded):
        first, length = regions.recession[r]
        middle = first + length / 2
        arc = arcs.locate(np.array([middle]))[0]
        np.testing.assert_array_equal(arcs.pattern[arc], regions.pattern_bits()[r])
        if regions.limit_unique[r]:
            assert arcs.limit_class[arc] == regions.limit_class[r]


def test_unbounded_regions_stay_far_out_and_bounded_do_not():
    layers = random_net([2, 10, 10, 2], seed=10, scale=3.0)
    regions = enumerate_regions(layers, 3.0)
    bits = regions.pattern_bits()
    for r in range(len(regions)):
        centre = regions.polygon(r).mean(0)
        if regions.unbounded[r]:
            first, length = regions.recession[r]
            angles = first + length * np.array([0.0, 0.5, 1.0])
            rays = centre + np.array([1e2, 1e4, 1e6])[:, None, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
            values = region_constraints(layers, bits[r], rays.reshape(-1, 2), 0.0)
            assert (np.where(bits[r], 1, -1) * values >= -1e-6 * np.abs(values).max()).all()
        else:
            assert regions.limit_class[r] == -1 and np.isnan(regions.recession[r]).all()


def test_limit_class_gives_confidence_one():
    layers = random_net([2, 10, 10, 3], seed=11)
    regions = enumerate_regions(layers, 30.0)
    chosen = np.flatnonzero(regions.unbounded & regions.limit_unique)
    assert len(chosen) > 0
    for r in chosen:
        first, length = regions.recession[r]
        u = np.array([np.cos(first + length / 2), np.sin(first + length / 2)])
        logits = forward(layers, regions.polygon(r).mean(0) + 1e8 * u)
        assert logits.argmax() == regions.limit_class[r]
        assert regions.confidence(regions.polygon(r).mean(0)[None] + 1e8 * u, np.array([r]))[0] > 0.999999


def test_rasterize_matches_polygons():
    layers = random_net([2, 10, 10, 2], seed=12)
    regions = enumerate_regions(layers, 2.0)
    ids = rasterize(regions, (-1.0, 2.0, -2.0, 1.0), 90, 60)
    xs = -1.0 + (np.arange(90) + 0.5) * 3 / 90
    ys = -2.0 + (np.arange(60) + 0.5) * 3 / 60
    centres = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), -1).reshape(-1, 2)
    point, region = locate(regions, centres)
    np.testing.assert_array_equal(ids.reshape(-1)[point], region)
    assert (ids >= 0).all()


def test_bad_input():
    with pytest.raises(ValueError):
        enumerate_regions([(np.ones((3, 3)), np.zeros(3))], 1.0)
    with pytest.raises(ValueError):
        as_box((1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError):
        as_box(-2.0)


def vertex_means(regions):
    size = np.diff(regions.offsets)
    return np.add.reduceat(regions.vertices, regions.offsets[:-1], axis=0) / size[:, None]


def default_init(widths, seed=0, n_classes=2):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    sizes = [2, *widths, n_classes]
    linears = [torch.nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
    return [(lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()) for lin in linears]


@pytest.mark.parametrize("make,box,slope", [
    (lambda: default_init((120, 120)), 50.0, 0.0),
    (lambda: default_init((40, 40, 40), seed=1), 20.0, 0.0),
    (lambda: random_net([2, 30, 30, 2], seed=13), 5.0, 0.1),
    (lambda: random_net([2, 60, 3], seed=14), 3.0, 0.0),
])
def test_every_region_holds_a_point_with_its_own_pattern(make, box, slope):
    """Slivers included: the mean of each region's vertices, evaluated directly in float64, has
    exactly that region's activation pattern."""
    layers = make()
    for engine in engines_for(layers, slope):
        regions = enumerate_regions(layers, box, slope, engine=engine)
        got = np.packbits(activation_patterns(layers, vertex_means(regions), slope), axis=1)
        wrong = np.flatnonzero((got != regions.patterns).any(axis=1))
        assert len(wrong) == 0, f"{engine}: {len(wrong)} of {len(regions)} regions, areas {regions.areas[wrong][:5]}"


def test_degenerate_nets_hold_their_patterns_too():
    n = 9
    angles = np.pi * np.arange(n) / n + 0.1
    layers = [(np.stack([np.cos(angles), np.sin(angles)], 1), np.zeros(n)), (np.eye(2, n), np.zeros(2))]
    regions = enumerate_regions(layers, 1.0)
    got = np.packbits(activation_patterns(layers, vertex_means(regions)), axis=1)
    np.testing.assert_array_equal(got, regions.patterns)


BOXES = [1.0, 10.0, 100.0, 1e3, 1e4]


@pytest.mark.parametrize("seed", range(4))
def test_counts_never_fall_and_unbounded_total_is_the_box_s_business_not(seed):
    layers = default_init((8, 8), seed)
    results = [enumerate_regions(layers, box) for box in BOXES]
    counts = [len(r) for r in results]
    assert counts == sorted(counts), counts
    assert len({r.unbounded_total for r in results}) == 1
    assert results[-1].unbounded.sum() <= results[-1].unbounded_total


def test_strips_are_counted_from_the_far_field():
    # seed 0's first layer has a direction where all neurons are off: the second layer's bends are
    # parallel next to it, making half-strips; a big box sees them all
    layers = default_init((8, 8), 0)
    regions = enumerate_regions(layers, 1e4)
    in_box = regions.unbounded & (regions.recession[:, 1] <= 1e-12)
    assert regions.far_strips == in_box.sum() > 0
    assert regions.unbounded.sum() == regions.unbounded_total
    band = [(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]]), np.array([0.0, -1.0, 0.5])), (np.ones((2, 3)), np.zeros(2))]
    regions = enumerate_regions(band, 5.0)  # three vertical bands, the middle one cut in two half-strips
    assert len(regions) == regions.unbounded_total == 6 and regions.far_strips == 2


@pytest.mark.parametrize("box", [1e-300, 1e-4, 2e4, 1e12, 1e300, (0.0, 1e-4, 0.0, 1.0), (0.0, 1.0, 0.0, 1e5)])
def test_box_outside_the_resolved_range(box):
    from toyood.errors import ConfigError
    with pytest.raises(ConfigError, match="float64 resolution"):
        enumerate_regions(random_net([2, 8, 8, 2]), box)


def test_budget_is_checked_before_any_work():
    from toyood.budget import Budget
    from toyood.errors import BudgetExceeded
    from toyood.regions import check_regions_budget, estimate_regions_cost
    count, memory = estimate_regions_cost((500, 500))
    assert 400_000 < count < 600_000 and 0.3e9 < memory < 2e9
    for widths, classes in [((4096, 4096), 2), ((100_000, 100_000), 2), ((500,) * 300, 2), ((8, 8), 100_000_000)]:
        with pytest.raises(BudgetExceeded, match="over the limit"):
            check_regions_budget(widths, classes, Budget(memory_bytes=4 * 2**30))
    huge = [(np.zeros((4096, 2)), np.zeros(4096)), (np.zeros((4096, 4096)), np.zeros(4096)), (np.zeros((2, 4096)), np.zeros(2))]
    with pytest.raises(BudgetExceeded):
        enumerate_regions(huge, 1.0, budget=Budget(memory_bytes=4 * 2**30))


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_progress_is_reported_and_an_exception_from_it_cancels(engine):
    from toyood.errors import Cancelled
    calls = []
    regions = enumerate_regions(default_init((60, 60)), 10.0, progress=lambda f, text: calls.append((f, text)),
                                engine=engine)
    fractions = [f for f, _ in calls]
    assert len(calls) >= 10 and fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0
    assert all(isinstance(text, str) and text for _, text in calls) and f"{len(regions):,}" in calls[-1][1]
    assert sum(0.1 < f < 0.85 for f in fractions) >= 3, "progress is reported during the cutting, not only around it"

    seen = []

    def stop_midway(fraction, text):
        seen.append(fraction)
        if 0.2 < fraction < 0.85:
            raise Cancelled("stopped")
    with pytest.raises(Cancelled):
        enumerate_regions(default_init((60, 60)), 10.0, progress=stop_midway, engine=engine)
    assert max(seen) < 0.85


def test_face_tracing_refuses_what_is_not_a_permutation():
    from toyood.regions import GeometryError
    from toyood.regions.faces import _cycles
    label, rank = _cycles(np.array([1, 2, 0, 4, 3]))
    np.testing.assert_array_equal(label, [0, 0, 0, 3, 3])
    np.testing.assert_array_equal(rank, [0, 1, 2, 0, 1])
    with pytest.raises(GeometryError):
        _cycles(np.array([1, 2, 1, 4, 3]))
