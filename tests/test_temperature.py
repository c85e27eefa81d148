"""Temperature T (Hein et al. 2019, Sec. 3): every evaluation uses logits / T, training never does, and
the far-field limit stays one-hot (ReLU) or 1/K (RBF) for any T; only how far out one must go grows."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from toyood.errors import ConfigError
from toyood.evaluate import eval_logits, evaluate_grid, toy_metrics
from toyood.farfield import alpha_to_confidence, asymptotic_summary, model_direction_arcs
from toyood.methods import Plain
from toyood.models import MLP, RBFNet, piecewise_affine_layers, set_temperature
from toyood.toy import ToyConfig, train_toy, with_temperature

TINY = dict(hidden=(16, 16), epochs=3, n_per_class=100, n_far=200, device="cpu")


def numpy_logits(model: MLP, x: np.ndarray) -> np.ndarray:
    """The raw (T = 1) logits by a float64 numpy forward pass of a (leaky-)ReLU MLP."""
    h = np.asarray(x, dtype=np.float64)
    for layer in model.hidden_layers:
        z = h @ layer.weight.detach().double().numpy().T + layer.bias.detach().double().numpy()
        h = np.where(z > 0, z, model.negative_slope * z)
    return h @ model.head.weight.detach().double().numpy().T + model.head.bias.detach().double().numpy()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def relu_model():
    torch.manual_seed(0)
    return MLP((12, 12), 3)


@pytest.mark.parametrize("temperature", [0.01, 0.5, 10.0, 100.0])
def test_eval_logits_are_the_raw_logits_over_t(relu_model, temperature):
    x = np.random.default_rng(0).normal(scale=20, size=(50, 2))
    set_temperature(relu_model, temperature)
    try:
        got = eval_logits(relu_model, x.astype(np.float32)).double().numpy()
        np.testing.assert_allclose(got, numpy_logits(relu_model, x) / temperature, rtol=1e-4, atol=1e-5)
        relu_model.train()
        raw = relu_model(torch.from_numpy(x.astype(np.float32))).detach().double().numpy()
        np.testing.assert_allclose(raw, numpy_logits(relu_model, x), rtol=1e-4, atol=1e-4)  # training: no T
    finally:
        set_temperature(relu_model, 1.0)


def test_grid_and_piecewise_affine_maps_carry_t(relu_model):
    set_temperature(relu_model, 7.0)
    try:
        grid = evaluate_grid(relu_model, Plain(), 30.0, 9)
        gx, gy = np.meshgrid(grid.xs, grid.ys)
        points = np.stack([gx.ravel(), gy.ravel()], 1)
        expected = softmax(numpy_logits(relu_model, points) / 7.0).reshape(9, 9, 3)
        np.testing.assert_allclose(grid.probs, expected, rtol=1e-4, atol=1e-6)
        layers, _ = piecewise_affine_layers(relu_model)
        h = points
        for weight, bias in layers[:-1]:
            h = np.maximum(h @ weight.T + bias, 0)
        np.testing.assert_allclose(h @ layers[-1][0].T + layers[-1][1], numpy_logits(relu_model, points) / 7.0,
                                   rtol=1e-9, atol=1e-9)
    finally:
        set_temperature(relu_model, 1.0)


def test_relu_limit_stays_one_hot_for_any_t(relu_model):
    """The share of one-hot directions does not move with T; brute force at α = 1e9 (numpy, float64)
    on those directions: confidence 1 for T = 0.1, 1 and 10."""
    arcs = model_direction_arcs(relu_model)
    middle = 0.5 * (arcs.start + arcs.end)[arcs.limit_class >= 0]
    directions = np.stack([np.cos(middle), np.sin(middle)], 1)
    shares = []
    for temperature in (0.1, 1.0, 10.0):
        set_temperature(relu_model, temperature)
        try:
            shares.append(asymptotic_summary(relu_model, Plain())["overconfident"])
        finally:
            set_temperature(relu_model, 1.0)
        far = softmax(numpy_logits(relu_model, 1e9 * directions) / temperature)
        assert far.max(-1).min() > 0.999999
    assert shares[0] == shares[1] == shares[2] > 0.5


@pytest.mark.parametrize("temperature", [0.1, 10.0])
def test_rbf_limit_stays_one_over_k(temperature):
    torch.manual_seed(1)
    model = set_temperature(RBFNet(torch.randn(5, 2), n_classes=3), temperature)
    summary = asymptotic_summary(model, Plain())
    assert summary["mmc"] == pytest.approx(1 / 3, abs=1e-12)
    assert summary["entropy"] == pytest.approx(np.log(3), abs=1e-12)
    with torch.inference_mode():
        far = torch.softmax(model.eval()(torch.tensor([[1e4, 3e4]])), -1).numpy()
    np.testing.assert_allclose(far, 1 / 3, atol=1e-12)


def test_alpha_to_confidence_grows_with_t_and_matches_brute_force(relu_model):
    points = np.random.default_rng(2).uniform(-30, 30, size=(6, 2))
    alphas = np.geomspace(1, 1e6, 20001)
    found = {}
    for temperature in (1.0, 10.0):
        set_temperature(relu_model, temperature)
        try:
            found[temperature] = alpha_to_confidence(relu_model, Plain(), points, 0.99, alpha_max=1e6)
        finally:
            set_temperature(relu_model, 1.0)
        for point, alpha in zip(points, found[temperature]):
            confidence = softmax(numpy_logits(relu_model, alphas[:, None] * point) / temperature).max(-1)
            brute = alphas[np.argmax(confidence >= 0.99)] if (confidence >= 0.99).any() else np.inf
            # the first grid α reached is within one grid step of the bisected one
            assert brute == pytest.approx(alpha, rel=2e-3) or (np.isinf(brute) and np.isinf(alpha))
    assert np.all(found[10.0] >= found[1.0]) and np.median(found[10.0]) > np.median(found[1.0])


def test_metrics_report_t_and_keep_asymptotic_overconfident():
    low = toy_metrics(train_toy(ToyConfig(temperature=0.1, **TINY)), alpha_points=20, attack_points=50)
    high = toy_metrics(train_toy(ToyConfig(temperature=10.0, **TINY)), alpha_points=20, attack_points=50)
    assert (low["temperature"], high["temperature"]) == (0.1, 10.0)
    assert low["asymptotic_overconfident"] == high["asymptotic_overconfident"] >= 0.9
    assert high["far_ood_mmc"] < low["far_ood_mmc"]
    assert high["median_radius_99"] > low["median_radius_99"]
    assert high["test_accuracy"] == low["test_accuracy"]  # the same trained net: T is evaluation only


@pytest.mark.parametrize("value", [0.0, 0.001, 101.0, float("nan")])
def test_out_of_range_temperature_is_refused(value):
    with pytest.raises(ConfigError, match=r"temperature must be in \[0.01, 100\]"):
        ToyConfig(temperature=value)


def test_cli_refuses_a_bad_temperature_in_one_line():
    done = subprocess.run([sys.executable, "-m", "toyood", "toy", "--temperature", "1000", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "temperature must be in [0.01, 100]" in done.stderr.strip().splitlines()[-1]


def test_with_temperature_shares_the_weights_and_leaves_the_original_alone():
    run = train_toy(ToyConfig(**TINY))
    hot = with_temperature(run, 5.0)
    assert run.model.temperature == 1.0 and hot.model.temperature == 5.0 and hot.config.temperature == 5.0
    assert hot.model.head.weight is run.model.head.weight
    x = run.data.x_test[:20]
    np.testing.assert_allclose(eval_logits(hot.model, x).numpy(), eval_logits(run.model, x).numpy() / 5.0, rtol=1e-6)
    assert toy_metrics(hot, alpha_points=5, attack_points=0)["temperature"] == 5.0
