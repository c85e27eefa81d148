"""K > 2 classes through the whole library: data, training, metrics, far-field shares."""
import numpy as np
import pytest
import torch

from toyood.evaluate import toy_metrics
from toyood.farfield import asymptotic_summary
from toyood.models import float64_copy
from toyood.toy import ToyConfig, train_toy

SMALL = dict(hidden=(24, 24), epochs=3, n_per_class=100, n_far=500)


def brute_force_shares(model, method, n_directions=7200, alpha=1e9):
    """Shares of directions whose float64 output far out is a real class at ~1 / the reject class."""
    angles = (np.arange(n_directions) + 0.5) * 2 * np.pi / n_directions
    u = torch.from_numpy(alpha * np.stack([np.cos(angles), np.sin(angles)], 1))
    with torch.no_grad():
        probs = torch.softmax(float64_copy(model)(u), -1)
    top, winner = probs.max(-1)
    reject = method.reject_index(probs.shape[-1])
    is_reject = winner == reject if reject is not None else torch.zeros_like(winner, dtype=torch.bool)
    saturated = top > 1 - 1e-6
    return float((saturated & ~is_reject).double().mean()), float((saturated & is_reject).double().mean())


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("method", ["plain", "reject"])
def test_far_field_shares_match_brute_force_for_k_classes(k, method):
    run = train_toy(ToyConfig(method=method, classes=k, seed=k, **SMALL))
    assert run.model(torch.zeros(1, 2)).shape[-1] == k + (method == "reject")
    summary = asymptotic_summary(run.model, run.config.method_object())
    overconfident, rejected = brute_force_shares(run.model, run.config.method_object())
    tolerance = 2 * summary["arcs"] / 7200 + 1e-3  # directions near an arc's end may not be saturated yet
    assert summary["overconfident"] == pytest.approx(overconfident, abs=tolerance)
    assert summary["rejected"] == pytest.approx(rejected, abs=tolerance)


@pytest.mark.parametrize("dataset,k", [("gaussians", 3), ("spiral", 3), ("rings", 2)])
def test_metrics_for_other_data_sets(dataset, k):
    settings = {**SMALL, "hidden": (100, 100), "epochs": 40, "n_per_class": 200}
    plain = toy_metrics(train_toy(ToyConfig(method="plain", dataset=dataset, classes=k, **settings)), alpha_points=20)
    assert plain["test_accuracy"] > 1.25 / k and plain["far_ood_rejected"] == 0
    reject = toy_metrics(train_toy(ToyConfig(method="reject", dataset=dataset, classes=k, **SMALL)), alpha_points=20)
    assert 0 <= reject["far_ood_overconfident"] <= 1 and 0 <= reject["far_ood_rejected"] <= 1


def test_rbf_tends_to_one_over_k():
    run = train_toy(ToyConfig(method="rbf", classes=4, **SMALL))
    with torch.no_grad():
        far = torch.softmax(float64_copy(run.model)(torch.tensor([[1e4, -3e4]], dtype=torch.float64)), -1)
    np.testing.assert_allclose(far.numpy(), 0.25, atol=1e-9)
