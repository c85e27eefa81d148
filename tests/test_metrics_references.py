"""``toyood.metrics`` beyond test_metrics.py, from the mutation run's survivors: AUPR in / out
against sklearn, float64 arithmetic on float32 inputs, and the input errors' messages."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from toyood.metrics import mean_max_confidence, ood_metrics


def test_aupr_in_and_out_match_sklearn_with_either_class_positive():
    rng = np.random.default_rng(1)
    s_in, s_out = rng.normal(1, 1, 300), rng.normal(0, 1.5, 100)
    m = ood_metrics(s_in, s_out)
    in_labels = np.r_[np.ones(300), np.zeros(100)]
    out_labels = np.r_[np.zeros(300), np.ones(100)]  # OOD positive, lower score = more OOD
    assert m["aupr_in"] == pytest.approx(average_precision_score(in_labels, np.r_[s_in, s_out]), abs=1e-12)
    assert m["aupr_out"] == pytest.approx(average_precision_score(out_labels, -np.r_[s_in, s_out]), abs=1e-12)
    assert abs(m["aupr_in"] - m["aupr_out"]) > 0.05  # the two differ here, so a swap shows


def test_float32_scores_are_compared_in_float64():
    """The 5th percentile of 11 in-distribution scores is the midpoint of the two lowest, 1 and the
    next float32 above 1: 1 + 2⁻²⁴ in float64 (above the OOD score 1.0), 1.0 if rounded to float32."""
    s_in = np.array([1.0, 1.0 + 2.0**-23] + [2.0] * 9, dtype=np.float32)
    assert ood_metrics(s_in, np.array([1.0], dtype=np.float32))["fpr95"] == 0.0


def test_mmc_of_float32_confidences_is_the_float64_mean():
    confidence = np.full(3, np.float32(0.1))
    assert mean_max_confidence(confidence) == float(np.float64(np.float32(0.1)))
    values = np.float32([1.0, 2.0**-24, 2.0**-24])  # float32 sums lose the small terms
    assert mean_max_confidence(values) == pytest.approx((1 + 2.0**-23) / 3, rel=1e-15)


@pytest.mark.parametrize("s_in,s_out,message", [
    ([], [1.0], "needs at least one in-distribution and one OOD score"),
    ([1.0], [], "needs at least one in-distribution and one OOD score"),
    ([np.nan], [1.0], "got NaN or infinite scores"),
    ([1.0], [np.inf], "got NaN or infinite scores"),
    ([1.0, 2.0], [0.5, -np.inf], "got NaN or infinite scores"),
])
def test_bad_scores_are_refused_with_their_reason(s_in, s_out, message):
    with pytest.raises(ValueError, match=f"^ood_metrics {message}$"):  # the whole message
        ood_metrics(s_in, s_out)
