import numpy as np
import pytest
import torch

from toyood.farfield import (TWO_PI, alpha_to_confidence, asymptotic_probabilities, asymptotic_summary,
                             direction_arcs, first_alpha_reaching, model_direction_arcs, ray_probabilities)
from toyood.methods import DisMax, Plain, RBF, RejectClass
from references import far_shares, mlp_with_dead_sector
from toyood.models import MLP, RBFNet, piecewise_affine_layers


def random_mlp(hidden, head="linear", slope=0.0, seed=0):
    torch.manual_seed(seed)
    return MLP(hidden, 2, head, slope).eval()


def test_arcs_tile_the_circle_in_order():
    arcs = model_direction_arcs(random_mlp((50, 50)))
    assert arcs.start[0] == 0 and arcs.end[-1] == TWO_PI
    np.testing.assert_array_equal(arcs.end[:-1], arcs.start[1:])
    assert np.all(arcs.length > 0)


@pytest.mark.parametrize("hidden,head,slope", [((50, 50), "linear", 0.0), ((30, 30, 30), "reject", 0.0),
                                                ((40,), "linear", 0.1), ((40, 40), "reject", 0.2)])
def test_limit_class_matches_float64_far_evaluation(hidden, head, slope):
    model = random_mlp(hidden, head, slope)
    arcs = model_direction_arcs(model)
    middle = 0.5 * (arcs.start + arcs.end)
    usable = arcs.length > 1e-6
    far = ray_probabilities(model, np.stack([np.cos(middle), np.sin(middle)], 1)[usable], np.array([1e9]))[:, 0]
    limit = arcs.limit_class[usable]
    assert np.all(far.argmax(1)[limit >= 0] == limit[limit >= 0])
    assert np.all(far.max(1)[limit >= 0] > 0.999999)


def test_pattern_matches_the_far_activation_pattern():
    model = random_mlp((20, 20))
    layers, _ = piecewise_affine_layers(model)
    arcs = model_direction_arcs(model)
    theta = 0.5 * (arcs.start + arcs.end)
    h = 1e9 * np.stack([np.cos(theta), np.sin(theta)], 1)
    bits = []
    for w, b in layers[:-1]:
        z = h @ w.T + b
        bits.append(z > 0)
        h = np.maximum(z, 0)
    np.testing.assert_array_equal(arcs.pattern, np.concatenate(bits, 1))


def test_closed_form_two_half_planes():
    # hidden (relu(x), relu(-x)), logits = hidden: class 0 for x > 0, class 1 for x < 0
    layers = [(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.zeros(2)), (np.eye(2), np.zeros(2))]
    arcs = direction_arcs(layers)
    east = arcs.limit_class[arcs.locate(np.array([0.1, TWO_PI - 0.1]))]
    west = arcs.limit_class[arcs.locate(np.array([np.pi - 0.1, np.pi + 0.1]))]
    assert east.tolist() == [0, 0] and west.tolist() == [1, 1]
    assert np.isclose(arcs.length[arcs.limit_class == 0].sum(), np.pi)


def test_dead_network_has_a_finite_limit_everywhere():
    layers = [(np.zeros((3, 2)), np.ones(3)), (np.ones((2, 3)), np.array([0.0, 1.0]))]
    arcs = direction_arcs(layers)
    assert np.all(arcs.limit_class == -1)


@pytest.mark.parametrize("head,seed", [("reject", 3), ("reject", 2), ("linear", 1)])
def test_every_share_matches_a_brute_force_far_evaluation(head, seed):
    """overconfident / rejected / bounded against softmax(f(1e9·u)) in float64 on 7,200 directions,
    reject = output 2 (literal). The dead sector gives bounded ≈ 0.26, so no share is 0 or 1 by
    construction. Measured |exact − brute force| ≤ 1e-4; tolerance: the sampling bound ≤ 7e-4."""
    model = mlp_with_dead_sector((40, 40), 2, head, seed=seed)
    summary = asymptotic_summary(model, RejectClass() if head == "reject" else Plain())
    reference, tolerance = far_shares(model, 2 if head == "reject" else None)
    assert 0.1 < reference["bounded"] < 0.5 and 0.1 < reference["overconfident"] < 0.9
    assert (reference["rejected"] > 0.01) == (head == "reject")
    for share in ("overconfident", "rejected", "bounded"):
        assert summary[share] == pytest.approx(reference[share], abs=tolerance), share


@pytest.mark.parametrize("head", ["reject", "linear"])
def test_mmc_is_the_mean_far_confidence_over_the_same_directions(head):
    """``mmc`` against the max real-class probability at α = 1e9, float64, on the summary's 36,000
    directions (θ_i = (i + ½)·2π/36000); the dead sector's finite limits enter it. Measured
    difference 0.0 on both nets; 1e-9 leaves room for a direction next to an arc end."""
    model = mlp_with_dead_sector((40, 40), 2, head, seed=3)
    angles = (np.arange(36_000) + 0.5) * TWO_PI / 36_000
    far = ray_probabilities(model, np.stack([np.cos(angles), np.sin(angles)], 1), np.array([1e9]))[:, 0]
    reference = far[:, :2].max(1).mean()  # outputs 0 and 1 are the classes; 2 is the reject class
    summary = asymptotic_summary(model, RejectClass() if head == "reject" else Plain())
    assert 0.3 < reference < 0.95 and summary["mmc"] == pytest.approx(reference, abs=1e-9)


def test_first_alpha_reaching_closed_form_with_the_default_settings():
    """conf(α) = sα / (1 + sα) reaches 0.999 at α* = 999 / s: 1.0 when α* < 1 (already confident),
    α* itself (from above, to 1e-9) inside [1, 1e12], inf beyond 1e12."""
    scale = np.array([1e4, 1.0, 1e-3, 1e-13])

    def confidence_at(index, alphas):
        return scale[index] * alphas / (1 + scale[index] * alphas)
    found = first_alpha_reaching(confidence_at, len(scale))
    assert found[0] == 1.0 and found[3] == np.inf
    np.testing.assert_allclose(found[1:3], [999.0, 999_000.0], rtol=1e-9)
    assert np.all(found[1:3] >= [999.0 * (1 - 1e-12), 999_000.0 * (1 - 1e-12)])


def test_rbf_limit_is_uniform_and_reached_at_radius_1000():
    torch.manual_seed(0)
    model = RBFNet(torch.randn(10, 2) * 10, 2, gamma=0.5)
    angles = np.linspace(0, TWO_PI, 360, endpoint=False)
    np.testing.assert_array_equal(asymptotic_probabilities(model, angles), 0.5)
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    assert ray_probabilities(model, directions, np.array([1000.0])).max() <= 0.5 + 0.01
    assert asymptotic_summary(model, RBF())["overconfident"] == 0.0


def test_dismax_limit_formula_matches_far_evaluation():
    model = random_mlp((30, 30), "dismax", seed=1)
    with torch.no_grad():
        model.head.prototypes.normal_(0, 1)
    angles = np.linspace(0.05, TWO_PI, 50, endpoint=False)
    limit = asymptotic_probabilities(model, angles)
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    far = ray_probabilities(model, directions, np.array([1e7]))[:, 0]
    np.testing.assert_allclose(limit, far, atol=1e-5)
    assert asymptotic_summary(model, DisMax())["rejected"] == 0.0


def test_alpha_to_confidence_matches_a_brute_force_scan():
    model = random_mlp((16, 16), seed=2)
    points = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    found = alpha_to_confidence(model, Plain(), points, threshold=0.999, alpha_max=1e6)
    alphas = np.geomspace(1, 1e6, 20000)
    confidence = ray_probabilities(model, points, alphas).max(-1)
    for i in range(len(points)):
        above = np.nonzero(confidence[i] >= 0.999)[0]
        if len(above) == 0:
            assert found[i] == np.inf
        else:
            assert found[i] == pytest.approx(alphas[above[0]], rel=2e-3)
