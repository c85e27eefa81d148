"""Other activations (Vernekar et al. Sec. 5.1): tanh and sigmoid nets train and evaluate as a numpy
forward pass says, their far-away limit is a finite softmax (brute force at α = 1e6..1e9), and the
piecewise-affine tools refuse them with a reason."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.special import expit

from toyood.batched import group_indices, train_many
from toyood.errors import ConfigError
from toyood.evaluate import evaluate_grid
from toyood.farfield import asymptotic_probabilities, asymptotic_summary
from toyood.methods import Plain
from toyood.models import MLP, piecewise_affine_layers
from toyood.ray import ray_profile
from toyood.runfiles import config_from_json
from toyood.toy import ToyConfig, train_toy

TINY = dict(hidden=(16, 16), epochs=3, n_per_class=100, n_far=200, device="cpu")
NUMPY_ACT = {"tanh": np.tanh, "sigmoid": expit, "relu": lambda z: np.maximum(z, 0)}


def numpy_logits(model: MLP, x: np.ndarray) -> np.ndarray:
    h = np.asarray(x, dtype=np.float64)
    for layer in model.hidden_layers:
        weight, bias = layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()
        h = NUMPY_ACT[model.activation](h @ weight.T + bias)
    return h @ model.head.weight.detach().double().numpy().T + model.head.bias.detach().double().numpy()


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module", params=["tanh", "sigmoid"])
def bounded(request):
    torch.manual_seed(0)
    return MLP((12, 12), 3, activation=request.param).eval()


def test_forward_and_grid_match_numpy(bounded):
    grid = evaluate_grid(bounded, Plain(), 40.0, 9)
    gx, gy = np.meshgrid(grid.xs, grid.ys)
    expected = softmax(numpy_logits(bounded, np.stack([gx.ravel(), gy.ravel()], 1)))
    np.testing.assert_allclose(grid.probs.reshape(-1, 3), expected, rtol=1e-4, atol=1e-6)


def test_far_limit_matches_brute_force_at_huge_alpha(bounded):
    """Directions kept 1e-3 rad away from every zero of W₁u, where α = 1e6 already saturates."""
    weight = bounded.hidden_layers[0].weight.detach().double().numpy()
    zeros = np.mod(np.arctan2(-weight[:, 0], weight[:, 1])[:, None] + np.array([0, np.pi]), 2 * np.pi).ravel()
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    gap = np.abs(np.angle(np.exp(1j * (angles[:, None] - zeros[None])))).min(1)
    angles = angles[gap > 1e-3]
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    limit = asymptotic_probabilities(bounded, angles)
    for alpha in (1e6, 1e7, 1e9):
        np.testing.assert_allclose(limit, softmax(numpy_logits(bounded, alpha * directions)), atol=1e-9)
    assert limit.max() < 1 - 1e-6  # finite logits: never one-hot


def test_summary_has_no_one_hot_directions_but_a_limit_confidence(bounded):
    summary = asymptotic_summary(bounded, Plain())
    assert summary["overconfident"] == 0.0 and summary["bounded"] == 1.0 and summary["arcs"] is None
    assert 1 / 3 < summary["mmc"] < 1 and 0 < summary["entropy"] < np.log(3)


def test_piecewise_affine_tools_refuse_with_a_reason(bounded):
    with pytest.raises(ValueError, match=f"a {bounded.activation} net is not piecewise affine"):
        piecewise_affine_layers(bounded)
    with pytest.raises(ValueError, match="not piecewise affine"):
        ray_profile(bounded, np.array([10.0, 5.0]))


def test_config_activation_rules_and_old_runs():
    assert ToyConfig().activation == "relu"
    assert ToyConfig(negative_slope=0.1).activation == "leaky"  # a slope alone, as old saved runs have it
    assert config_from_json({"method": "plain", "negative_slope": 0.2}, None).activation == "leaky"
    for settings, message in [({"activation": "gelu"}, "activation must be one of"),
                              ({"activation": "leaky"}, "leaky needs a negative_slope"),
                              ({"activation": "tanh", "negative_slope": 0.1}, "applies to leaky nets only"),
                              ({"activation": "tanh", "method": "rbf"}, "no hidden activation")]:
        with pytest.raises(ConfigError, match=message):
            ToyConfig(**settings)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_bounded_nets_train_alone_and_batched_alike(one_thread, activation):
    configs = [ToyConfig(method=m, activation=activation, **TINY) for m in ("plain", "reject")]
    assert group_indices(configs) == [[0, 1]]
    runs = train_many(configs, mode="stacked")
    for config, run in zip(configs, runs):
        alone = train_toy(config)
        assert run.model.activation == activation
        for a, b in zip(alone.model.parameters(), run.model.parameters()):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    assert group_indices([configs[0], ToyConfig(**TINY)]) == [[0], [1]]  # relu and tanh train apart


def test_cli_trains_tanh_and_regions_say_why_not(tmp_path):
    out = tmp_path / "tanh"
    done = subprocess.run([sys.executable, "-m", "toyood", "toy", "--activation", "tanh", "--hidden", "8,8",
                           "--epochs", "2", "--n-far", "200", "--out", str(out), "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["activation"] == "tanh" and metrics["asymptotic_overconfident"] == 0.0
    regions = subprocess.run([sys.executable, "-m", "toyood", "regions", "--model", str(out)],
                             capture_output=True, text=True)
    assert regions.returncode == 2 and "Traceback" not in regions.stderr
    assert "a tanh net is not piecewise affine" in regions.stderr.strip().splitlines()[-1]
