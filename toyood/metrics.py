"""OOD-detection metrics. Convention: higher score = more in-distribution; in-distribution = positive.

- ``auroc``: sklearn ``roc_auc_score`` with in-distribution as the positive class (Hein et al.).
- ``fpr95`` (Hein et al.'s convention): share of OOD samples whose score is ≥ the 5th percentile of
  the in-distribution scores, i.e. the false-positive rate at 95% in-distribution recall.
- ``tnr95`` (Lee et al.): true-negative rate at the first ROC threshold with TPR ≥ 95%.
- ``dtacc`` (Lee et al.): max over thresholds of 0.5·(TPR + TNR).
- ``aupr_in`` / ``aupr_out``: average precision with in- / out-distribution as the positive class.
"""
from __future__ import annotations

import numpy as np


def ood_metrics(scores_in, scores_out) -> dict[str, float]:
    """Detection metrics for scores of in-distribution and OOD samples (higher = in-distribution)."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve  # 0.7 s: only when used

    scores_in = np.asarray(scores_in, dtype=np.float64).ravel()
    scores_out = np.asarray(scores_out, dtype=np.float64).ravel()
    if len(scores_in) == 0 or len(scores_out) == 0:
        raise ValueError("ood_metrics needs at least one in-distribution and one OOD score")
    if not (np.isfinite(scores_in).all() and np.isfinite(scores_out).all()):
        raise ValueError("ood_metrics got NaN or infinite scores")
    labels = np.concatenate([np.ones(len(scores_in)), np.zeros(len(scores_out))])
    scores = np.concatenate([scores_in, scores_out])
    fpr, tpr, _ = roc_curve(labels, scores)
    threshold = np.percentile(scores_in, 5)
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "fpr95": float(np.mean(scores_out >= threshold)),
        "tnr95": float(1.0 - fpr[np.searchsorted(tpr, 0.95, side="left")]),
        "dtacc": float(np.max(0.5 * (tpr + 1.0 - fpr))),
        "aupr_in": float(average_precision_score(labels, scores)),
        "aupr_out": float(average_precision_score(1 - labels, -scores)),
    }


def mean_max_confidence(confidence) -> float:
    """MMC: the mean over samples of the largest (real-class) probability."""
    return float(np.mean(np.asarray(confidence, dtype=np.float64)))
