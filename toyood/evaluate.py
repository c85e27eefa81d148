"""Evaluate a trained toy model: probabilities in chunks, grids over any box, and the run's metrics."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from . import data as toydata
from .farfield import asymptotic_summary, median_alpha_to_confidence
from .methods import Method, entropy
from .metrics import mean_max_confidence, ood_metrics
from .models import float64_copy

if TYPE_CHECKING:
    from .train import ToyRun

OVERCONFIDENT = 0.99  # "overconfident": predicted a real class with at least this probability


def probabilities(model: nn.Module, x, chunk: int = 65536, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """softmax(model(x)) in eval mode, in chunks, on the model's device; returns numpy (n, C)."""
    parameter = next(model.parameters())
    model.eval()
    x = torch.as_tensor(np.asarray(x), dtype=dtype)
    if dtype != parameter.dtype:
        raise ValueError(f"model is {parameter.dtype}, inputs requested as {dtype}")
    out = []
    with torch.inference_mode():
        for part in x.split(chunk):
            out.append(torch.softmax(model(part.to(parameter.device)), -1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0))


@dataclass(frozen=True)
class GridEvaluation:
    """Model outputs on a regular grid: arrays are (ny, nx[, C]), row i at ys[i]."""

    xs: np.ndarray
    ys: np.ndarray
    probs: np.ndarray
    confidence: np.ndarray
    predicted: np.ndarray
    entropy: np.ndarray


def grid_points(extent: tuple[float, float, float, float], resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xs, ys and the (ny·nx, 2) points of a resolution×resolution grid over (xmin, xmax, ymin, ymax)."""
    xmin, xmax, ymin, ymax = extent
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"grid extent must have xmin < xmax and ymin < ymax, got {extent}")
    if not 2 <= resolution <= 4000:
        raise ValueError(f"grid resolution must be between 2 and 4000, got {resolution}")
    xs, ys = np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], 1)


def evaluate_grid(model: nn.Module, method: Method, extent: tuple[float, float, float, float] | float,
                  resolution: int = 200) -> GridEvaluation:
    """Probabilities, confidence (max real-class probability), predicted class (incl. reject) and
    entropy on a grid. ``extent`` is (xmin, xmax, ymin, ymax) or a half-width around the origin.
    Beyond |x| = 1e6 the grid is evaluated in float64 (float32 would lose the offsets)."""
    if np.isscalar(extent):
        extent = (-float(extent), float(extent), -float(extent), float(extent))
    xs, ys, points = grid_points(extent, resolution)
    if np.abs(points).max() > 1e6:
        probs = probabilities(float64_copy(model), points, dtype=torch.float64)
    else:
        probs = probabilities(model, points.astype(np.float32))
    shape = (len(ys), len(xs))
    tensor = torch.from_numpy(probs)
    return GridEvaluation(xs, ys, probs.reshape(*shape, -1), method.confidence(tensor).numpy().reshape(shape),
                          probs.argmax(-1).reshape(shape), entropy(tensor).numpy().reshape(shape))


def toy_metrics(run: "ToyRun", alpha_points: int = 200) -> dict:
    """All numbers of a toy run (the CLI's JSON and the app's table).

    Far test OOD: ``run.config.n_far`` points uniform in [-50,50]² outside the 3σ discs. Detection
    scores per ``run.config.method`` (max real-class probability; −entropy for DisMax); AUROC and
    FPR@95 in Hein et al.'s convention, TNR@95 and DTACC in Lee et al.'s (see ``toyood.metrics``).
    """
    start = time.perf_counter()
    config, model = run.config, run.model
    method = config.method_object()
    far = toydata.far_test_ood(config.n_far, config.sigma, config.seed)
    p_test = torch.from_numpy(probabilities(model, run.data.x_test))
    p_far = torch.from_numpy(probabilities(model, far))
    reject = p_far.shape[-1] - 1 if method.head == "reject" else None
    predicted_far = p_far.argmax(-1)
    real_far = predicted_far != reject if reject is not None else torch.ones_like(predicted_far, dtype=torch.bool)
    detection = ood_metrics(method.score(p_test).numpy(), method.score(p_far).numpy())
    asymptotic = asymptotic_summary(model, method)
    metrics = {
        "method": config.method,
        "ood": config.ood,
        "test_accuracy": float((p_test.argmax(-1).numpy() == run.data.y_test).mean()),
        "in_mmc": mean_max_confidence(method.confidence(p_test)),
        "far_ood_mmc": mean_max_confidence(method.confidence(p_far)),
        "far_ood_auroc": detection["auroc"],
        "far_ood_fpr95": detection["fpr95"],
        "far_ood_tnr95": detection["tnr95"],
        "far_ood_dtacc": detection["dtacc"],
        "far_ood_overconfident": float((real_far & (method.confidence(p_far) >= OVERCONFIDENT)).float().mean()),
        "far_ood_rejected": float((~real_far).float().mean()),
        "asymptotic_overconfident": asymptotic["overconfident"],
        "asymptotic_rejected": asymptotic["rejected"],
        "asymptotic_bounded": asymptotic["bounded"],
        "asymptotic_mmc": asymptotic["mmc"],
        "median_alpha_999": median_alpha_to_confidence(model, method, far[:alpha_points], 0.999),
        "train_seconds": float(run.train_seconds),
    }
    metrics["eval_seconds"] = time.perf_counter() - start
    return metrics
