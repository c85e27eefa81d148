"""K > 2 classes through the whole library: data, training, metrics, far-field shares."""
import numpy as np
import pytest
import torch

from references import far_shares, mlp_with_dead_sector
from toyood.evaluate import toy_metrics
from toyood.farfield import asymptotic_summary
from toyood.methods import Plain, RejectClass
from toyood.models import MLP, float64_copy, reject_index
from toyood.toy import ToyConfig, train_toy

SMALL = dict(hidden=(24, 24), epochs=3, n_per_class=100, n_far=500)
SHARES = ("overconfident", "rejected", "bounded")


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_reject_class_is_output_k_for_k_classes(k):
    """The literal index K (outputs 0..K−1 are the classes), not one computed by the code."""
    assert RejectClass().reject_index(k + 1) == k
    assert reject_index(MLP((4,), k, "reject")) == k
    assert Plain().reject_index(k) is None


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("head", ["linear", "reject"])
def test_far_field_shares_match_brute_force_with_mixed_shares(k, head):
    """Every share against a float64 evaluation at α = 1e9 on 7,200 directions, reject output = K.
    A dead sector makes ``bounded`` ≈ 0.27; the reject head adds a ``rejected`` share. Measured
    |exact − brute force| ≤ 1.2e-4; the tolerance is the sampling bound (changes + 1) / 7200 ≤ 7e-4."""
    model = mlp_with_dead_sector((24, 24), k, head, seed=k)
    method = RejectClass() if head == "reject" else Plain()
    summary = asymptotic_summary(model, method)
    reference, tolerance = far_shares(model, k if head == "reject" else None)
    assert 0.1 < reference["bounded"] < 0.9 and reference["overconfident"] > 0.1
    assert (reference["rejected"] > 0.01) == (head == "reject")
    for share in SHARES:
        assert summary[share] == pytest.approx(reference[share], abs=tolerance), share


@pytest.mark.parametrize("k", [3, 5])
def test_trained_reject_model_shares_match_brute_force(k):
    run = train_toy(ToyConfig(method="reject", classes=k, seed=k, **SMALL))
    assert run.model(torch.zeros(1, 2)).shape[-1] == k + 1
    summary = asymptotic_summary(run.model, run.config.method_object())
    reference, tolerance = far_shares(run.model, k)
    for share in SHARES:
        assert summary[share] == pytest.approx(reference[share], abs=tolerance), share


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
