"""OOD scores (``toyood.scores``): each against its formula in numpy/scipy, detection metrics by a
chosen score against sklearn, and the entropy's far-away limit (Vernekar's corollary)."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import roc_auc_score

from toyood.evaluate import evaluate_grid, score_map, toy_metrics
from toyood.methods import Plain
from toyood.models import MLP, RBFNet, set_temperature
from toyood.scores import SCORES, check_score, default_score, score_values
from toyood.farfield import asymptotic_summary
from toyood.toy import ToyConfig, far_test_points, train_toy

LOGITS = np.random.default_rng(0).normal(scale=30, size=(40, 4))


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("n_real", [4, 3])
@pytest.mark.parametrize("temperature", [1.0, 0.1, 20.0])
def test_each_score_matches_its_formula(n_real, temperature):
    scaled = LOGITS / temperature  # the eval logits the functions receive
    z = torch.from_numpy(scaled)
    value = lambda name: score_values(name, z, n_real, temperature).numpy()  # noqa: E731
    np.testing.assert_allclose(value("max_prob"), softmax(scaled)[:, :n_real].max(-1), rtol=1e-12)
    np.testing.assert_allclose(value("entropy"), -scipy_entropy(softmax(scaled), axis=-1), atol=1e-12)
    np.testing.assert_allclose(value("max_logit"), LOGITS[:, :n_real].max(-1), rtol=1e-12)
    np.testing.assert_allclose(value("energy"), temperature * logsumexp(LOGITS[:, :n_real] / temperature, axis=-1),
                               rtol=1e-12)


def test_entropy_is_exact_where_a_probability_underflows():
    z = torch.tensor([[0.0, -800.0]], dtype=torch.float64)  # p_2 = e^-800 underflows to 0
    assert score_values("entropy", z, 2).item() == pytest.approx(-801 * np.exp(-800.0), abs=1e-300)


def test_dismax_score_is_refused_for_other_heads_and_defaults_follow_the_method():
    with pytest.raises(ValueError, match="needs a DisMax net"):
        check_score("dismax_entropy", "linear")
    with pytest.raises(ValueError, match="score must be one of"):
        check_score("odin")
    assert default_score("dismax") == "dismax_entropy" and default_score("reject") == "max_prob"
    assert set(SCORES) == {"max_prob", "entropy", "max_logit", "energy", "dismax_entropy"}


@pytest.fixture(scope="module")
def run():
    return train_toy(ToyConfig(hidden=(16, 16), epochs=3, n_per_class=100, n_far=300, device="cpu", temperature=2.0))


def raw_logits(model, x):
    model.train()  # training mode: no temperature
    with torch.no_grad():
        z = model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    model.eval()
    return z


@pytest.mark.parametrize("score", ["max_prob", "entropy", "max_logit", "energy"])
def test_auroc_and_fpr95_by_score_match_sklearn(run, score):
    metrics = toy_metrics(run, alpha_points=10, score=score, attack_points=0)
    far = far_test_points(run.config, run.data)
    z_in, z_out = raw_logits(run.model, run.data.x_test) / 2.0, raw_logits(run.model, far) / 2.0
    formula = {"max_prob": lambda z: softmax(z).max(-1), "entropy": lambda z: -scipy_entropy(softmax(z), axis=-1),
               "max_logit": lambda z: 2.0 * z.max(-1), "energy": lambda z: 2.0 * logsumexp(z, axis=-1)}[score]
    s_in, s_out = formula(z_in), formula(z_out)
    labels = np.r_[np.ones(len(s_in)), np.zeros(len(s_out))]
    assert metrics["score"] == score
    assert metrics["far_ood_auroc"] == pytest.approx(roc_auc_score(labels, np.r_[s_in, s_out]), abs=2e-3)
    assert metrics["far_ood_fpr95"] == pytest.approx(np.mean(s_out >= np.percentile(s_in, 5)), abs=1e-2)


def test_entropy_map_is_zero_to_log_c_and_matches_numpy(run):
    grid = evaluate_grid(run.model, Plain(), 60.0, 11)
    gx, gy = np.meshgrid(grid.xs, grid.ys)
    expected = scipy_entropy(softmax(raw_logits(run.model, np.stack([gx.ravel(), gy.ravel()], 1)) / 2.0), axis=-1)
    np.testing.assert_allclose(-score_map(grid, run.model, Plain(), "entropy").ravel(), expected, atol=1e-5)
    np.testing.assert_allclose(grid.entropy.ravel(), expected, atol=1e-5)
    assert grid.entropy.min() >= 0 and grid.entropy.max() <= np.log(2) + 1e-9


def test_far_entropy_limit_is_zero_for_relu_and_log_k_for_rbf():
    """Brute force at α = 1e9: the entropy along one-hot directions of a ReLU net is 0."""
    torch.manual_seed(3)
    relu = MLP((10, 10), 3)
    summary = asymptotic_summary(relu, Plain())
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    with torch.inference_mode():
        z = relu.double().eval()(torch.from_numpy(1e9 * np.stack([np.cos(angles), np.sin(angles)], 1))).numpy()
    brute = scipy_entropy(softmax(z), axis=-1)
    assert summary["entropy"] == pytest.approx(brute.mean(), abs=0.02)
    assert np.mean(brute < 1e-9) == pytest.approx(summary["overconfident"], abs=0.02)
    rbf = set_temperature(RBFNet(torch.randn(4, 2), n_classes=3), 3.0)
    assert asymptotic_summary(rbf, Plain())["entropy"] == pytest.approx(np.log(3), abs=1e-12)


def test_cli_refuses_a_score_that_does_not_fit_the_method():
    done = subprocess.run([sys.executable, "-m", "toyood", "toy", "--score", "dismax_entropy", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "needs a DisMax net" in done.stderr.strip().splitlines()[-1]
