import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from toyood.metrics import mean_max_confidence, ood_metrics


def test_perfect_separation():
    m = ood_metrics([0.9, 0.95, 1.0], [0.1, 0.2])
    assert m["auroc"] == 1.0 and m["fpr95"] == 0.0 and m["tnr95"] == 1.0 and m["dtacc"] == 1.0


def test_identical_scores_are_chance():
    m = ood_metrics([0.5] * 10, [0.5] * 10)
    assert m["auroc"] == 0.5 and m["fpr95"] == 1.0 and m["dtacc"] == 0.5


def test_against_sklearn_and_brute_force():
    rng = np.random.default_rng(0)
    s_in, s_out = rng.normal(1, 1, 700), rng.normal(0, 1, 500)
    m = ood_metrics(s_in, s_out)
    labels = np.r_[np.ones(700), np.zeros(500)]
    assert m["auroc"] == pytest.approx(roc_auc_score(labels, np.r_[s_in, s_out]))
    # brute force over every threshold
    thresholds = np.sort(np.r_[s_in, s_out, np.inf])
    tpr = np.array([(s_in >= t).mean() for t in thresholds])
    tnr = np.array([(s_out < t).mean() for t in thresholds])
    assert m["dtacc"] == pytest.approx(np.max(0.5 * (tpr + tnr)))
    assert m["tnr95"] == pytest.approx(tnr[tpr >= 0.95].max())
    assert m["fpr95"] == pytest.approx(np.mean(s_out >= np.percentile(s_in, 5)))


def test_hand_computed_case():
    # in: 1..20, out: 0.5 and 15.5 → 5th percentile of in = 1.95; one OOD score above it
    m = ood_metrics(np.arange(1, 21), [0.5, 15.5])
    assert m["fpr95"] == 0.5
    assert m["auroc"] == pytest.approx((20 + 5) / 40)


@pytest.mark.parametrize("s_in,s_out", [([], [1.0]), ([1.0], []), ([np.nan], [1.0])])
def test_bad_scores_raise(s_in, s_out):
    with pytest.raises(ValueError):
        ood_metrics(s_in, s_out)


def test_mmc():
    assert mean_max_confidence([0.5, 1.0]) == 0.75
