import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from toyood import data as toydata
from toyood.evaluate import evaluate_grid, tiled_grid_logits, toy_metrics
from toyood.predict import probabilities
from toyood.methods import RejectClass
from toyood.models import MLP
from toyood.toy import ToyConfig, train_toy

REQUIRED = {"test_accuracy", "far_ood_mmc", "far_ood_auroc", "far_ood_fpr95", "far_ood_overconfident",
            "far_ood_rejected", "asymptotic_overconfident", "asymptotic_rejected", "median_alpha_999",
            "train_seconds", "far_ood_tnr95", "far_ood_dtacc"}


def test_grid_rows_follow_ys_and_columns_follow_xs():
    torch.manual_seed(0)
    model = MLP((16,), 2, "reject").eval()
    grid = evaluate_grid(model, RejectClass(), (-5, 5, 0, 20), 7)
    i, j = 5, 2
    point = np.array([[grid.xs[j], grid.ys[i]]], dtype=np.float32)
    np.testing.assert_allclose(grid.probs[i, j], probabilities(model, point)[0], rtol=1e-5)
    assert grid.confidence[i, j] == pytest.approx(grid.probs[i, j, :2].max())
    assert grid.predicted[i, j] == grid.probs[i, j].argmax()


def test_far_grids_switch_to_float64():
    torch.manual_seed(0)
    model = MLP((16,), 2).eval()
    grid = evaluate_grid(model, RejectClass(), 1e7, 5)
    assert grid.probs.dtype == np.float64


@pytest.mark.parametrize("extent,resolution", [((1, 0, 0, 1), 10), (5.0, 1), (5.0, 10**5)])
def test_bad_grids_raise(extent, resolution):
    with pytest.raises(ValueError):
        evaluate_grid(MLP((4,), 2), RejectClass(), extent, resolution)


@pytest.fixture(scope="module")
def reject_run():
    return train_toy(ToyConfig(method="reject", ood="general", hidden=(64, 64), epochs=15, n_far=2000))


def test_metrics_have_every_key_and_match_an_independent_computation(reject_run):
    metrics = toy_metrics(reject_run)
    assert REQUIRED <= set(metrics)
    far = toydata.far_test_ood(2000, 1.0, 0)
    p_far = probabilities(reject_run.model, far)
    p_in = probabilities(reject_run.model, reject_run.data.x_test)
    rejected = p_far.argmax(1) == 2
    assert metrics["far_ood_rejected"] == pytest.approx(rejected.mean())
    assert metrics["far_ood_overconfident"] == pytest.approx(np.mean(~rejected & (p_far[:, :2].max(1) >= 0.99)))
    labels = np.r_[np.ones(len(p_in)), np.zeros(len(p_far))]
    assert metrics["far_ood_auroc"] == pytest.approx(roc_auc_score(labels, np.r_[p_in[:, :2].max(1), p_far[:, :2].max(1)]))
    assert metrics["test_accuracy"] == pytest.approx(np.mean(p_in.argmax(1) == reject_run.data.y_test))


@pytest.mark.parametrize("hidden,head,slope,shape", [((60, 70), "linear", 0.0, (37, 53)), ((40, 30, 20), "reject", 0.1, (16, 16)),
                                                     ((50, 50), "dismax", 0.0, (33, 5))])
def test_tiled_grid_equals_the_dense_forward_pass(hidden, head, slope, shape):
    torch.manual_seed(1)
    model = MLP(hidden, 2, head, slope).double().eval()
    if head == "dismax":
        with torch.no_grad():
            model.head.prototypes.normal_()
    xs, ys = np.linspace(-50, 30, shape[1]), np.linspace(-20, 45, shape[0])
    with torch.inference_mode():
        tiled = tiled_grid_logits(model, xs, ys, torch.float64, tile=8, tiles_per_chunk=5)
        gx, gy = np.meshgrid(xs, ys)
        dense = model(torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))).reshape(*shape, -1)
    np.testing.assert_allclose(tiled.numpy(), dense.numpy(), rtol=1e-9, atol=1e-9)
