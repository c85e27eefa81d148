"""Evaluate a trained toy model: probabilities in chunks, grids over any box, and the run's metrics."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import data as toydata
from .farfield import asymptotic_summary, median_alpha_to_confidence
from .methods import Method, entropy
from .metrics import mean_max_confidence, ood_metrics
from .models import MLP, float64_copy
from .predict import grid_points, probabilities
from .gan import GanRun
from .toy import ToyRun, far_test_points

OVERCONFIDENT = 0.99  # "overconfident": predicted a real class with at least this probability


@dataclass(frozen=True)
class GridEvaluation:
    """Model outputs on a regular grid: arrays are (ny, nx[, C]), row i at ys[i]."""

    xs: np.ndarray
    ys: np.ndarray
    probs: np.ndarray
    confidence: np.ndarray
    predicted: np.ndarray
    entropy: np.ndarray


def evaluate_grid(model: nn.Module, method: Method, extent: tuple[float, float, float, float] | float,
                  resolution: int = 200) -> GridEvaluation:
    """Probabilities, confidence (max real-class probability), predicted class (incl. reject) and
    entropy on a grid. ``extent`` is (xmin, xmax, ymin, ymax) or a half-width around the origin.
    MLPs with ≥ 2 hidden layers use ``tiled_grid_logits``; beyond |x| = 1e6 everything runs in
    float64 (float32 would lose the offsets)."""
    if np.isscalar(extent):
        extent = (-float(extent), float(extent), -float(extent), float(extent))
    xs, ys, points = grid_points(extent, resolution)
    dtype = torch.float64 if np.abs(points).max() > 1e6 else torch.float32
    evaluated = float64_copy(model) if dtype == torch.float64 else model.eval()
    if isinstance(model, MLP) and len(model.hidden_layers) >= 2:
        with torch.inference_mode():
            probs = torch.softmax(tiled_grid_logits(evaluated, xs, ys, dtype), -1).cpu().numpy()
        probs = probs.reshape(len(xs) * len(ys), -1)
    else:
        probs = probabilities(evaluated, points.astype(np.float64 if dtype == torch.float64 else np.float32),
                              dtype=dtype)
    shape = (len(ys), len(xs))
    tensor = torch.from_numpy(probs)
    return GridEvaluation(xs, ys, probs.reshape(*shape, -1), method.confidence(tensor).numpy().reshape(shape),
                          probs.argmax(-1).reshape(shape), entropy(tensor).numpy().reshape(shape))


def tiled_grid_logits(model: MLP, xs: np.ndarray, ys: np.ndarray, dtype: torch.dtype = torch.float32,
                      tile: int = 12, tiles_per_chunk: int = 32) -> torch.Tensor:
    """Logits of a 2-D-input MLP on the grid xs × ys → (len(ys), len(xs), C), without the dense
    layer-2 product.

    The grid is cut into tile×tile pixel tiles. A first-layer neuron whose pre-activation keeps one
    sign on a tile (checked at the tile's corners: it is affine) acts affinely there, so its share
    of layer 2 collapses to one 3-column map per tile, W2·(s ⊙ [a, b, c]) with s = 1 or the leaky
    slope. Only neurons whose line crosses the tile go through the activation per pixel. On a
    500×500 grid of a 2×500 net ~20 of 500 neurons cross an average tile: ~15× fewer multiply-adds
    than the dense product, the same values up to rounding.
    """
    first, second = model.hidden_layers[0], model.hidden_layers[1]
    device = first.weight.device
    as_tensor = lambda v: torch.as_tensor(v, dtype=dtype, device=device)  # noqa: E731
    w1, c = first.weight.to(dtype), first.bias.to(dtype)
    w2, b2 = second.weight.to(dtype), second.bias.to(dtype)
    a, b = w1[:, 0], w1[:, 1]
    n1, slope = len(c), model.negative_slope
    ny, nx = len(ys), len(xs)
    ty, tx = -(-ny // tile), -(-nx // tile)
    # pixel coordinates per tile row/column, padded by repeating the last pixel
    tile_x = as_tensor(xs[np.minimum(np.arange(tx * tile), nx - 1)]).reshape(tx, tile)
    tile_y = as_tensor(ys[np.minimum(np.arange(ty * tile), ny - 1)]).reshape(ty, tile)
    ax = torch.stack([a * tile_x.min(1).values[:, None], a * tile_x.max(1).values[:, None]])
    by = torch.stack([b * tile_y.min(1).values[:, None], b * tile_y.max(1).values[:, None]])
    low = (by.min(0).values[:, None] + ax.min(0).values[None] + c).reshape(ty * tx, n1)
    high = (by.max(0).values[:, None] + ax.max(0).values[None] + c).reshape(ty * tx, n1)
    on, off = low >= 0, high <= 0
    crossing = ~(on | off)
    keep = on.to(dtype) + slope * off.to(dtype)
    coefficients = keep[:, :, None] * torch.stack([a, b, c], 1)[None]  # tiles × n1 × 3
    maps = (w2 @ coefficients.permute(1, 0, 2).reshape(n1, -1)).reshape(len(w2), -1, 3).permute(1, 0, 2)
    # per-tile pixel coordinates (tiles × P)
    px = tile_x[None, :, None, :].expand(ty, tx, tile, tile).reshape(ty * tx, -1)
    py = tile_y[:, None, :, None].expand(ty, tx, tile, tile).reshape(ty * tx, -1)
    # padded crossing-neuron indices, tiles sorted by their count so chunks pad little
    counts = crossing.sum(1)
    order = torch.argsort(counts)
    padded_a, padded_b, padded_c = (torch.cat([v, v.new_zeros(1)]) for v in (a, b, c))
    padded_w2t = torch.cat([w2.t(), w2.new_zeros(1, len(w2))])
    out = None
    for chunk in order.split(tiles_per_chunk):
        index = _crossing_index(crossing[chunk], int(counts[chunk].max()), n1)
        cx, cy = px[chunk], py[chunk]
        coordinates = torch.stack([cx, cy, torch.ones_like(cx)], -1)  # nt × P × 3
        z = torch.baddbmm(b2, coordinates, maps[chunk].transpose(1, 2))
        pre = padded_a[index][:, None] * cx[..., None] + padded_b[index][:, None] * cy[..., None] + padded_c[index][:, None]
        z = torch.baddbmm(z, torch.nn.functional.leaky_relu(pre, slope), padded_w2t[index])
        h = torch.nn.functional.leaky_relu(z, slope, inplace=True)
        for layer in model.hidden_layers[2:]:
            h = torch.nn.functional.leaky_relu(layer(h), slope)
        logits = model.head(h.reshape(-1, h.shape[-1])).reshape(len(chunk), h.shape[1], -1)
        if out is None:
            out = logits.new_empty(ty * tx, tile * tile, logits.shape[-1])
        out[chunk] = logits
    image = out.reshape(ty, tx, tile, tile, -1).permute(0, 2, 1, 3, 4).reshape(ty * tile, tx * tile, -1)
    return image[:ny, :nx]


def _crossing_index(crossing: torch.Tensor, width: int, padding: int) -> torch.Tensor:
    """Per tile (row), the indices of its crossing neurons, padded with ``padding`` to ``width``."""
    rank = torch.cumsum(crossing.long(), 1) - 1
    index = torch.full((len(crossing), max(width, 1)), padding, dtype=torch.long, device=crossing.device)
    rows, cols = torch.nonzero(crossing, as_tuple=True)
    index[rows, rank[rows, cols]] = cols
    return index


def toy_metrics(run: ToyRun, alpha_points: int = 200) -> dict:
    """All numbers of a toy run (the CLI's JSON and the app's table).

    Far test OOD: ``run.config.n_far`` points uniform in [-50,50]² outside the 3σ discs. Detection
    scores per ``run.config.method`` (max real-class probability; −entropy for DisMax); AUROC and
    FPR@95 in Hein et al.'s convention, TNR@95 and DTACC in Lee et al.'s (see ``toyood.metrics``).
    """
    start = time.perf_counter()
    config, model = run.config, run.model
    method = config.method_object()
    far = far_test_points(config, run.data)
    p_test = torch.from_numpy(probabilities(model, run.data.x_test))
    p_far = torch.from_numpy(probabilities(model, far))
    reject = method.reject_index(p_far.shape[-1])
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
        "far_ood_overconfident": float((real_far & (method.confidence(p_far) >= OVERCONFIDENT)).double().mean()),
        "far_ood_rejected": float((~real_far).double().mean()),
        "asymptotic_overconfident": asymptotic["overconfident"],
        "asymptotic_rejected": asymptotic["rejected"],
        "asymptotic_bounded": asymptotic["bounded"],
        "asymptotic_mmc": asymptotic["mmc"],
        "median_alpha_999": median_alpha_to_confidence(model, method, far[:alpha_points], 0.999),
        "train_seconds": float(run.train_seconds),
    }
    metrics["eval_seconds"] = time.perf_counter() - start
    return metrics


def gan_metrics(run: GanRun) -> dict:
    """The classifier's toy metrics (``toy_metrics``: far_ood_overconfident, far_ood_rejected, ...)
    plus the final coverage and ring distance and their curves over the snapshots."""
    metrics = toy_metrics(run.classifier)
    metrics.update(
        classifier=run.config.classifier,
        start=run.config.start,
        iterations=run.config.iterations,
        coverage=run.snapshots[-1].coverage,
        ring_distance=run.snapshots[-1].ring_distance,
        snapshot_iterations=[s.iteration for s in run.snapshots],
        coverage_curve=[s.coverage for s in run.snapshots],
        ring_distance_curve=[s.ring_distance for s in run.snapshots],
    )
    return metrics
