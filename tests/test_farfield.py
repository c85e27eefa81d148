import numpy as np
import pytest
import torch

from toyood.farfield import (TWO_PI, alpha_to_confidence, asymptotic_probabilities, asymptotic_summary,
                             direction_arcs, model_direction_arcs, ray_probabilities)
from toyood.methods import DisMax, Plain, RBF, RejectClass
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


def test_shares_sum_to_one_and_reject_counts_separately():
    model = random_mlp((40, 40), "reject", seed=3)
    summary = asymptotic_summary(model, RejectClass())
    assert summary["overconfident"] + summary["rejected"] + summary["bounded"] == pytest.approx(1.0)
    arcs = model_direction_arcs(model)
    assert summary["rejected"] == pytest.approx(arcs.length[arcs.limit_class == 2].sum() / TWO_PI)


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
