"""``toyood.farfield.limit_entropy``: the limit entropy per direction (Vernekar et al.'s corollary),
checked against a plain float64 numpy forward pass at α = 1e9 written here (no torch forward, no arcs)."""
import numpy as np
import pytest
import torch

from references import FAR, mlp_with_dead_sector
from toyood.farfield import asymptotic_summary, limit_entropy
from toyood.methods import Plain
from toyood.models import MLP, RBFNet, set_temperature

N = 7200
ANGLES = (np.arange(N) + 0.5) * 2 * np.pi / N
ACTS = {"relu": lambda z, s: np.maximum(z, 0), "leaky": lambda z, s: np.where(z > 0, z, s * z),
        "tanh": lambda z, s: np.tanh(z), "sigmoid": lambda z, s: 0.5 * (1 + np.tanh(z / 2))}


def numpy_logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """The eval logits / T of a toyood MLP or RBF net, in float64 numpy from its parameters."""
    param = lambda t: t.detach().double().numpy()  # noqa: E731
    if isinstance(model, RBFNet):
        squared = ((x[:, None, :] - param(model.centres)[None]) ** 2).sum(-1)
        return np.exp(-np.exp(param(model.log_gamma)) * squared) @ param(model.weights).T / model.temperature
    h = x
    for layer in model.hidden_layers:
        h = ACTS[model.activation](h @ param(layer.weight).T + param(layer.bias), model.negative_slope)
    return (h @ param(model.head.weight).T + param(model.head.bias)) / model.temperature


def far_entropy(model: torch.nn.Module, alpha: float = FAR) -> np.ndarray:
    """Entropy (nats) of softmax(logits(α·u)) per direction of ``ANGLES``, log-sum-exp in float64."""
    z = numpy_logits(model, alpha * np.stack([np.cos(ANGLES), np.sin(ANGLES)], 1))
    z = z - z.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -(np.exp(log_p) * log_p).sum(1)


def relu_mlp(hidden=(30, 30), head="linear", slope=0.0, classes=3, seed=0) -> MLP:
    torch.manual_seed(seed)
    return MLP(hidden, classes, head, slope).eval()


@pytest.mark.parametrize("head,slope", [("linear", 0.0), ("reject", 0.0), ("linear", 0.1)])
def test_piecewise_affine_limit_entropy_is_zero_and_matches_far_forward_pass(head, slope):
    model = relu_mlp(head=head, slope=slope)
    limit, far = limit_entropy(model, ANGLES), far_entropy(model)
    assert np.all(limit == 0.0)  # every arc has a unique top slope for a random net
    assert np.mean(np.abs(limit - far) > 1e-6) < 0.005  # only directions within ~1e-8 rad of an arc's end


def test_dead_sector_ties_give_the_finite_entropy_of_the_constant_logits():
    model = mlp_with_dead_sector(hidden=(24, 24), n_classes=3)
    limit, far = limit_entropy(model, ANGLES), far_entropy(model)
    dead = np.sin(ANGLES) < -np.abs(np.cos(ANGLES)) - 1e-6
    assert np.all(limit[dead] > 0.0)
    np.testing.assert_allclose(limit[dead], far[dead], atol=1e-9)
    np.testing.assert_allclose(limit[dead], limit[dead][0], atol=1e-12)  # one constant: every unit dead


def test_rbf_limit_entropy_is_log_k():
    torch.manual_seed(0)
    model = RBFNet(torch.randn(12, 2) * 20, n_classes=4).eval()
    np.testing.assert_allclose(far_entropy(model), np.log(4), atol=1e-12)
    np.testing.assert_allclose(limit_entropy(model, ANGLES), np.log(4), atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("temperature", [1.0, 10.0])
def test_bounded_net_limit_entropy_is_a_positive_constant_per_direction(activation, temperature):
    torch.manual_seed(1)
    model = set_temperature(MLP((16, 16), 3, activation=activation).eval(), temperature)
    limit, far = limit_entropy(model, ANGLES), far_entropy(model)
    slopes = np.stack([np.cos(ANGLES), np.sin(ANGLES)], 1) @ model.hidden_layers[0].weight.detach().double().numpy().T
    clear = np.abs(slopes).min(1) > 1e-6  # away from a zero of W₁u, where the first layer has saturated by 1e9
    assert np.all(limit > 0.0) and np.all(limit < np.log(3))
    np.testing.assert_allclose(limit[clear], far[clear], atol=1e-9)
    assert len(np.unique(np.round(limit, 9))) > 1  # a constant per direction, not one number


def test_temperature_keeps_relu_limit_at_zero_and_raises_a_bounded_one():
    relu = set_temperature(relu_mlp(), 50.0)
    assert np.all(limit_entropy(relu, ANGLES) == 0.0)
    torch.manual_seed(1)
    tanh = MLP((16, 16), 3, activation="tanh").eval()
    cold = limit_entropy(tanh, ANGLES)
    hot = limit_entropy(set_temperature(tanh, 10.0), ANGLES)
    assert np.all(hot >= cold - 1e-12) and hot.mean() > cold.mean()


def test_summary_entropy_is_the_mean_of_the_per_direction_limit():
    model = mlp_with_dead_sector(hidden=(24, 24), n_classes=3)
    summary = asymptotic_summary(model, Plain())
    assert summary["entropy"] == pytest.approx(far_entropy(model).mean(), abs=2e-3)  # a quarter tied: ≈ H/4


def test_limit_entropy_is_deterministic_and_refuses_bad_angles():
    model = relu_mlp((10,))
    np.testing.assert_array_equal(limit_entropy(model, ANGLES[:50]), limit_entropy(model, ANGLES[:50]))
    with pytest.raises(ValueError, match="angles must be a 1-D array of finite numbers"):
        limit_entropy(model, np.array([0.0, np.nan]))


def test_limit_entropy_figure_draws_each_curve_on_a_scale_named_certain_to_undecided():
    from toyood.plots.toy import limit_entropy_figure
    curves = {"relu": np.zeros(8), "rbf": np.full(8, np.log(2))}
    fig = limit_entropy_figure(ANGLES[::900], curves, n_classes=2, reject=True)
    np.testing.assert_allclose(fig.layout.yaxis.tickvals, [0, np.log(2), np.log(3)])
    labels = fig.layout.yaxis.ticktext
    assert "certain" in labels[0] and "undecided" in labels[1] and "K+1" in labels[2]
    assert [list(trace.y) for trace in fig.data] == [list(c) for c in curves.values()]
    np.testing.assert_allclose(fig.data[0].x, np.degrees(ANGLES[::900]))
