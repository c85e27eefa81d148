import numpy as np
import pytest
import torch

from toyood.farfield import asymptotic_probabilities, model_direction_arcs
from toyood.models import MLP, RBFNet, float64_copy, piecewise_affine_layers
from toyood.ray import (dismax_ray_logits, first_alpha_confident, limit_growth, model_ray_pieces, ray_pieces,
                        ray_profile, rbf_ray_logits, region_crossings)
from toyood.toy import ToyConfig, train_toy

POINTS = [(15.0, 5.0), (-3.0, 20.0), (0.5, -0.2), (-40.0, -1.0)]


def random_mlp(hidden, n_classes=2, head="linear", slope=0.0, seed=0):
    torch.manual_seed(seed)
    return MLP(hidden, n_classes, head, slope).eval()


@pytest.fixture(scope="module")
def trained(one_thread):
    return train_toy(ToyConfig(hidden=(16, 16), epochs=2, n_per_class=100)).model


@pytest.fixture(scope="module", params=["trained", "k3", "reject", "leaky", "deep"])
def model(request, one_thread):
    if request.param == "trained":
        return request.getfixturevalue("trained")
    return {"k3": lambda: random_mlp((20, 20), 3),
            "reject": lambda: random_mlp((20, 20), 3, "reject", seed=1),
            "leaky": lambda: random_mlp((24, 24), 3, slope=0.1, seed=2),
            "deep": lambda: random_mlp((12, 12, 12), 2, seed=3)}[request.param]()


def forward(model, x, alphas):
    """Float64 forward passes at α·x: the activation patterns (hidden pre-activation > 0) and the outputs."""
    double = float64_copy(model)
    h = torch.from_numpy(np.asarray(alphas, dtype=np.float64)[:, None] * np.asarray(x, dtype=np.float64)[None])
    patterns = []
    with torch.inference_mode():
        for layer in double.hidden_layers:
            z = layer(h)
            patterns.append(z > 0)
            h = torch.nn.functional.leaky_relu(z, double.negative_slope)
        out = h if double.head_kind == "dismax" else double.head(h)
    return torch.cat(patterns, 1).numpy(), out.numpy()


def around_breakpoints(pieces):
    """α just before and just after each breakpoint (closer than a third of the neighbouring pieces)."""
    b = pieces.breakpoints
    room = np.minimum(np.diff(np.r_[pieces.start[0], b]), np.diff(np.r_[b, 2 * b[-1] + 1]) if len(b) else 1.0)
    delta = np.minimum(1e-9 * np.maximum(b, 1.0), room / 3)
    return b - delta, b + delta


@pytest.mark.parametrize("x", POINTS)
def test_patterns_change_exactly_at_the_breakpoints(model, x):
    pieces = model_ray_pieces(model, x)
    assert len(pieces) > 1 and np.all(np.diff(pieces.start) > 0)
    np.testing.assert_array_equal(pieces.end[:-1], pieces.start[1:])
    before, after = around_breakpoints(pieces)
    patterns_before, _ = forward(model, x, before)
    patterns_after, _ = forward(model, x, after)
    np.testing.assert_array_equal(patterns_before, pieces.pattern[:-1])
    np.testing.assert_array_equal(patterns_after, pieces.pattern[1:])
    assert np.all((pieces.pattern[1:] != pieces.pattern[:-1]).any(1)), "every breakpoint changes the pattern"


@pytest.mark.parametrize("x", POINTS)
def test_a_dense_scan_finds_no_pattern_the_pieces_miss(model, x):
    pieces = model_ray_pieces(model, x)
    top = 10.37 * max(pieces.start[-1], 1.0)  # no grid point lands on a breakpoint
    alphas = np.unique(np.r_[np.linspace(0, top, 20001)[1:], np.geomspace(1e-4, 1e9, 4000)])
    patterns, _ = forward(model, x, alphas)
    index = pieces.locate(alphas)
    np.testing.assert_array_equal(patterns, pieces.pattern[index])


@pytest.mark.parametrize("x", POINTS)
def test_logits_on_the_pieces_match_float64_forward_passes(model, x):
    pieces = model_ray_pieces(model, x)
    before, after = around_breakpoints(pieces)
    alphas = np.r_[before, after, pieces.breakpoints, np.linspace(0, 3 * pieces.start[-1] + 3, 3001), 1e3, 1e6]
    _, logits = forward(model, x, alphas)
    exact = pieces.outputs(alphas)
    scale = np.abs(logits).max(1, keepdims=True) + 1.0
    assert np.all(np.abs(exact - logits) <= 1e-9 * scale)


@pytest.mark.parametrize("x", POINTS)
def test_last_piece_has_the_far_field_pattern_and_winner(model, x):
    pieces = model_ray_pieces(model, x)
    arcs = model_direction_arcs(model)
    arc = arcs.locate(np.arctan2(x[1], x[0]))[()]
    assert pieces.unbounded and pieces.last_piece_is_far_field()
    np.testing.assert_array_equal(pieces.pattern[-1], arcs.pattern[arc])
    winner, rate = limit_growth(pieces)
    assert winner == arcs.limit_class[arc] and rate > 0
    far, _ = forward(model, x, np.array([1e9]))
    np.testing.assert_array_equal(far[0], pieces.pattern[-1])


@pytest.mark.parametrize("x", POINTS[:2])
def test_the_top_two_gap_grows_at_the_reported_rate(model, x):
    pieces = model_ray_pieces(model, x)
    _, rate = limit_growth(pieces)
    low, high = 2 * pieces.start[-1] + 1e4, 2 * pieces.start[-1] + 2e4
    _, logits = forward(model, x, np.array([low, high]))
    ordered = np.sort(logits, 1)
    gap = ordered[:, -1] - ordered[:, -2]
    assert (gap[1] - gap[0]) / (high - low) == pytest.approx(rate, rel=1e-9)


def reference_confidence(model, x, alphas):
    _, logits = forward(model, x, alphas)
    probs = torch.softmax(torch.from_numpy(logits), -1).numpy()
    real = probs[:, :-1] if model.head_kind == "reject" else probs
    return real.max(1)


@pytest.mark.parametrize("threshold", [0.9, 0.999])
@pytest.mark.parametrize("x", POINTS[:3])
def test_first_alpha_confident_matches_a_dense_scan(model, x, threshold):
    pieces = model_ray_pieces(model, x)
    reject = model.head.out_features - 1 if model.head_kind == "reject" else None
    alpha = first_alpha_confident(pieces, threshold, reject)
    assert np.isfinite(alpha)
    scan = np.unique(np.r_[np.linspace(0, alpha, 20001), np.geomspace(1e-6, alpha, 5000)])[:-1]
    assert np.all(reference_confidence(model, x, scan) < threshold), "no earlier α reaches the threshold"
    assert reference_confidence(model, x, np.array([alpha * (1 + 1e-9)]))[0] >= threshold * (1 - 1e-12)
    assert reference_confidence(model, x, np.array([alpha * (1 - 1e-7)]))[0] < threshold
    assert first_alpha_confident(pieces, threshold, reject, alpha_min=alpha / 2) == alpha
    if reference_confidence(model, x, np.array([alpha * 2]))[0] >= threshold:
        assert first_alpha_confident(pieces, threshold, reject, alpha_min=alpha * 2) == alpha * 2


def tied_layers():
    """One hidden layer; both outputs read the same neuron: the logits stay equal along every ray."""
    hidden = (np.array([[1.0, 0.5], [-1.0, 2.0]]), np.array([-1.0, 0.5]))
    output = (np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.0, 0.0]))
    return [hidden, output]


def test_tied_logits_never_become_confident():
    pieces = ray_pieces(tied_layers(), 0.0, (3.0, 1.0))
    assert limit_growth(pieces) == (-1, 0.0)
    assert first_alpha_confident(pieces, 0.6) == np.inf
    assert pieces.breakpoints == pytest.approx([1.0 / 3.5, 0.5 / 1.0])


def test_a_ray_segment_keeps_only_its_breakpoints(trained):
    layers, slope = piecewise_affine_layers(trained)
    whole = ray_pieces(layers, slope, POINTS[0])
    middle = whole.breakpoints[len(whole.breakpoints) // 2]
    part = ray_pieces(layers, slope, POINTS[0], alpha_max=middle * 3, alpha_min=middle / 2)
    inside = whole.breakpoints[(whole.breakpoints > middle / 2) & (whole.breakpoints < middle * 3)]
    np.testing.assert_allclose(part.breakpoints, inside, rtol=1e-12)
    assert part.start[0] == middle / 2 and part.end[-1] == middle * 3 and not part.unbounded


def test_region_crossings_list_every_region_in_order(trained):
    pieces = model_ray_pieces(trained, POINTS[0])
    rows = region_crossings(pieces)
    assert [r["enters at α"] for r in rows] == list(pieces.start)
    assert [r["unbounded"] for r in rows] == [False] * (len(rows) - 1) + [True]
    assert rows[-1]["leaves at α"] == np.inf
    for row, bits in zip(rows, pieces.pattern):
        unpacked = np.unpackbits(np.frombuffer(bytes.fromhex(row["pattern"]), np.uint8), count=len(bits))
        np.testing.assert_array_equal(unpacked.astype(bool), bits)
        assert row["active neurons"] == bits.sum()


@pytest.mark.parametrize("bad", [(0.0, 0.0), (np.nan, 1.0), (1.0, 2.0, 3.0)])
def test_a_bad_point_is_a_clear_value_error(trained, bad):
    layers, slope = piecewise_affine_layers(trained)
    with pytest.raises(ValueError, match="x = 0|finite|coordinates"):
        ray_pieces(layers, slope, bad)
    with pytest.raises(ValueError, match="x = 0|finite|coordinates"):
        ray_profile(trained, bad)


def test_zero_names_the_problem(trained):
    with pytest.raises(ValueError, match=r"x = 0.*no direction"):
        model_ray_pieces(trained, np.zeros(2))


@pytest.fixture(scope="module")
def rbf(one_thread):
    torch.manual_seed(0)
    return RBFNet(torch.randn(20, 2) * 10, 3, gamma=0.1).eval()


def test_rbf_logits_tend_to_zero_and_confidence_to_one_over_k(rbf):
    profile = ray_profile(rbf, POINTS[0])
    assert profile.kind == "rbf" and profile.pieces is None and len(profile.breakpoints) == 0
    assert np.abs(profile.logits[-1]).max() < 1e-6 * np.abs(profile.logits).max()
    assert profile.confidence[-1] == pytest.approx(1 / 3, abs=1e-6)
    assert profile.limit_confidence == pytest.approx(1 / 3)
    assert profile.alpha_threshold == np.inf
    with pytest.raises(ValueError, match="x = 0"):
        rbf_ray_logits(rbf, (0.0, 0.0), np.ones(1))


def test_rbf_logits_match_the_model(rbf):
    alphas = np.array([0.0, 0.5, 1.0, 2.0, 100.0])
    with torch.inference_mode():
        direct = rbf.double()(torch.from_numpy(alphas[:, None] * np.array(POINTS[1])[None])).numpy()
    rbf.float()
    np.testing.assert_allclose(rbf_ray_logits(rbf, POINTS[1], alphas), direct, rtol=1e-12, atol=1e-300)


@pytest.fixture(scope="module")
def dismax(one_thread):
    model = random_mlp((16, 16), 3, "dismax", seed=4)
    with torch.no_grad():
        model.head.prototypes.normal_()
    return model


@pytest.mark.parametrize("x", POINTS[:2])
def test_dismax_features_are_piecewise_affine_and_logits_exact(dismax, x):
    pieces = model_ray_pieces(dismax, x)
    assert not pieces.output and pieces.last_piece_is_far_field()
    alphas = np.r_[np.linspace(0, 3 * pieces.start[-1] + 3, 2001), 1e4]
    _, features = forward(dismax, x, alphas)
    np.testing.assert_allclose(pieces.outputs(alphas), features, rtol=1e-9, atol=1e-9)
    with torch.inference_mode():
        logits = float64_copy(dismax)(torch.from_numpy(alphas[:, None] * np.array(x)[None])).numpy()
    np.testing.assert_allclose(dismax_ray_logits(dismax, pieces, alphas), logits, rtol=1e-9, atol=1e-9)


def test_dismax_limit_is_finite_and_matches_far_field(dismax):
    profile = ray_profile(dismax, POINTS[0])
    angle = np.arctan2(POINTS[0][1], POINTS[0][0])
    np.testing.assert_allclose(profile.limit_probabilities, asymptotic_probabilities(dismax, angle)[0], atol=1e-9)
    assert profile.limit_confidence < 1 - 1e-3
    with pytest.raises(ValueError, match="affine logits"):
        first_alpha_confident(profile.pieces, 0.9)


def test_profile_grid_holds_every_breakpoint_in_view_and_the_exact_threshold(model):
    profile = ray_profile(model, POINTS[0], threshold=0.99)
    in_view = profile.breakpoints[profile.breakpoints <= profile.alpha_view]
    assert np.isin(in_view, profile.alphas).all()
    assert profile.alphas[0] == 0 and profile.alphas[-1] == profile.alpha_view
    assert profile.alpha_view > profile.last_start
    assert profile.alpha_threshold == first_alpha_confident(profile.pieces, 0.99, profile.reject)
    np.testing.assert_allclose(profile.logits, profile.pieces.outputs(profile.alphas))
    assert profile.limit_confidence in (0.0, 1.0)
