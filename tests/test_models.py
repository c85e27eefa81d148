import numpy as np
import pytest
import torch

from toyood.models import MLP, RBFNet, DisMaxHead, float64_copy, n_outputs, piecewise_affine_layers


@pytest.mark.parametrize("head,outputs", [("linear", 2), ("reject", 3), ("dismax", 2)])
def test_heads_have_the_right_number_of_outputs(head, outputs):
    model = MLP((8, 5), 2, head)
    assert model(torch.randn(4, 2)).shape == (4, outputs)
    assert n_outputs(model) == outputs


def test_dismax_logits_are_scaled_negative_distances():
    head = DisMaxHead(3, 2)
    with torch.no_grad():
        head.prototypes.copy_(torch.tensor([[0.0, 0, 0], [3.0, 4, 0]]))
    features = torch.tensor([[0.0, 0, 0]])
    head.train()
    np.testing.assert_allclose(head(features).detach().numpy(), [[0.0, -50.0]])
    head.eval()
    np.testing.assert_allclose(head(features).detach().numpy(), [[0.0, -5.0]])


def test_dismax_prototypes_start_at_zero():
    assert torch.count_nonzero(MLP((4,), 3, "dismax").head.prototypes) == 0


def test_leaky_slope_is_used():
    model = MLP((1,), 1, negative_slope=0.1)
    with torch.no_grad():
        model.hidden_layers[0].weight.fill_(1.0)
        model.hidden_layers[0].bias.zero_()
    assert model.body(torch.tensor([[-2.0, -3.0]])).item() == pytest.approx(-0.5)


def test_piecewise_affine_layers_reproduce_the_forward_pass():
    torch.manual_seed(0)
    model = MLP((7, 6), 2, "reject", negative_slope=0.05)
    layers, slope = piecewise_affine_layers(model)
    x = np.random.default_rng(0).normal(size=(10, 2))
    h = x
    for w, b in layers[:-1]:
        z = h @ w.T + b
        h = np.where(z > 0, z, slope * z)
    out = h @ layers[-1][0].T + layers[-1][1]
    np.testing.assert_allclose(out, float64_copy(model)(torch.from_numpy(x)).detach().numpy(), atol=1e-12)


def test_rbf_logits_vanish_far_away():
    model = RBFNet(torch.tensor([[-10.0, 0.0], [10.0, 0.0]]), 2, gamma=0.5)
    assert torch.all(model(torch.tensor([[1000.0, 1000.0]])) == 0)


@pytest.mark.parametrize("kwargs", [dict(hidden=()), dict(hidden=(0,)), dict(head="nope")])
def test_bad_architectures_raise(kwargs):
    with pytest.raises(ValueError):
        MLP(**kwargs)
