"""Evaluate a trained toy model: probabilities in chunks, grids over any box, and the run's metrics.

Every number here starts from the model's eval-mode logits (``eval_logits`` or, on a grid,
``tiled_grid_logits``), which carry the run's temperature (``toyood.models``: logits / T); the
probabilities are their softmax and the detection scores come from ``toyood.scores``."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import data as toydata
from .attack import SHARE as ATTACK_SHARE, far_adversarial_metrics
from .farfield import asymptotic_summary, median_alpha_to_confidence
from .methods import Method, entropy
from .metrics import mean_max_confidence, ood_metrics
from .models import MLP, float64_copy, n_outputs
from .predict import grid_points
from .gan import GanRun, disc_share, is_collapsed
from .gan import class_recall as gan_class_recall
from .scores import check_score, default_score, score_values
from .toy import ToyRun, far_test_points

OVERCONFIDENT = 0.99  # "overconfident": predicted a real class with at least this probability


@dataclass(frozen=True)
class GridEvaluation:
    """Model outputs on a regular grid: arrays are (ny, nx[, C]), row i at ys[i]. ``logits`` are the
    eval logits (already / T) for ``toyood.scores`` maps (``score_map``); entropy is in nats, 0..log C."""

    xs: np.ndarray
    ys: np.ndarray
    probs: np.ndarray
    confidence: np.ndarray
    predicted: np.ndarray
    entropy: np.ndarray
    logits: np.ndarray | None = None


def eval_logits(model: nn.Module, x, dtype: torch.dtype = torch.float32, chunk: int = 65536) -> torch.Tensor:
    """model(x) in eval mode (logits / T), in chunks, on the model's device; returns a CPU tensor (n, C)."""
    parameter = next(model.parameters())
    if dtype != parameter.dtype:
        raise ValueError(f"model is {parameter.dtype}, inputs requested as {dtype}")
    model.eval()
    x = torch.as_tensor(np.asarray(x), dtype=dtype)
    with torch.inference_mode():
        parts = [model(part.to(parameter.device)).cpu() for part in x.split(chunk)]
    return torch.cat(parts) if parts else torch.zeros((0, n_outputs(model)), dtype=dtype)


def evaluate_grid(model: nn.Module, method: Method, extent: tuple[float, float, float, float] | float,
                  resolution: int = 200) -> GridEvaluation:
    """Probabilities, confidence (max real-class probability), predicted class (incl. reject),
    entropy and logits on a grid. ``extent`` is (xmin, xmax, ymin, ymax) or a half-width around the
    origin. Piecewise-affine MLPs with ≥ 2 hidden layers use ``tiled_grid_logits``; beyond
    |x| = 1e6 everything runs in float64 (float32 would lose the offsets)."""
    if np.isscalar(extent):
        extent = (-float(extent), float(extent), -float(extent), float(extent))
    xs, ys, points = grid_points(extent, resolution)
    dtype = torch.float64 if np.abs(points).max() > 1e6 else torch.float32
    evaluated = float64_copy(model) if dtype == torch.float64 else model.eval()
    if isinstance(model, MLP) and model.piecewise_affine and len(model.hidden_layers) >= 2:
        with torch.inference_mode():
            logits = tiled_grid_logits(evaluated, xs, ys, dtype).cpu().reshape(len(xs) * len(ys), -1)
    else:
        logits = eval_logits(evaluated, points, dtype)
    probs = torch.softmax(logits, -1)
    shape = (len(ys), len(xs))
    return GridEvaluation(xs, ys, probs.numpy().reshape(*shape, -1), method.confidence(probs).numpy().reshape(shape),
                          probs.argmax(-1).numpy().reshape(shape), entropy(probs).numpy().reshape(shape),
                          logits.numpy().reshape(*shape, -1))


def score_map(grid: GridEvaluation, model: nn.Module, method: Method, score: str) -> np.ndarray:
    """The detection score ``score`` (``toyood.scores.SCORES``; higher = in-distribution) on the grid
    (ny, nx). For the entropy map draw −value: 0 = certain … log C = undecided."""
    logits = torch.from_numpy(grid.logits.reshape(-1, grid.logits.shape[-1]))
    values = _scores(score, logits, model, method)
    return values.numpy().reshape(grid.confidence.shape)


def _scores(score: str, logits: torch.Tensor, model: nn.Module, method: Method) -> torch.Tensor:
    n_real = logits.shape[-1] - (method.reject_index(logits.shape[-1]) is not None)
    return score_values(score, logits, n_real, getattr(model, "temperature", 1.0), method.head)


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
    return image[:ny, :nx] / model.temperature  # the eval logits (toyood.models: logits / T)


def _crossing_index(crossing: torch.Tensor, width: int, padding: int) -> torch.Tensor:
    """Per tile (row), the indices of its crossing neurons, padded with ``padding`` to ``width``."""
    rank = torch.cumsum(crossing.long(), 1) - 1
    index = torch.full((len(crossing), max(width, 1)), padding, dtype=torch.long, device=crossing.device)
    rows, cols = torch.nonzero(crossing, as_tuple=True)
    index[rows, rank[rows, cols]] = cols
    return index


def toy_metrics(run: ToyRun, alpha_points: int = 200, score: str | None = None,
                attack_points: int = 1000, attack_share: float = ATTACK_SHARE) -> dict:
    """All numbers of a toy run (the CLI's JSON and the app's table), at the run's temperature T.

    Far test OOD: ``run.config.n_far`` points uniform in [-50,50]² outside the 3σ discs. Detection
    by ``score`` (``toyood.scores``; default the method's own: max real-class probability, DisMax's
    entropy): AUROC and FPR@95 in Hein et al.'s convention, TNR@95 and DTACC in Lee et al.'s (see
    ``toyood.metrics``). The score is an evaluation setting, not part of ``ToyConfig``: changing it
    needs no training. ``far_adv_*``: the first ``attack_points`` far points moved by
    ``toyood.attack`` within ℓ∞ radius ``attack_share``·‖x‖ (0 points: skipped).
    ``median_radius_99``: the median over the far points' directions u of the smallest r ≥ 1 with
    confidence(r·u) ≥ 0.99 (how far out one must go; it grows with T, unlike the limit).
    """
    start = time.perf_counter()
    config, model = run.config, run.model
    method = config.method_object()
    score = check_score(score or default_score(config.method), method.head)
    far = far_test_points(config, run.data)
    z_test, z_far = eval_logits(model, run.data.x_test), eval_logits(model, far)
    p_test, p_far = torch.softmax(z_test, -1), torch.softmax(z_far, -1)
    detection = ood_metrics(_scores(score, z_test, model, method).numpy(), _scores(score, z_far, model, method).numpy())
    asymptotic = asymptotic_summary(model, method)
    metrics = {
        "method": config.method,
        "ood": config.ood,
        "activation": config.activation,
        "temperature": config.temperature,
        "score": score,
        "test_accuracy": float((p_test.argmax(-1).numpy() == run.data.y_test).mean()),
        "in_mmc": mean_max_confidence(method.confidence(p_test)),
        "far_ood_mmc": mean_max_confidence(method.confidence(p_far)),
        "far_ood_auroc": detection["auroc"],
        "far_ood_fpr95": detection["fpr95"],
        "far_ood_tnr95": detection["tnr95"],
        "far_ood_dtacc": detection["dtacc"],
        "far_ood_overconfident": overconfident_share(method, p_far),
        "far_ood_rejected": rejected_share(method, p_far),
        "far_ood_entropy": float(entropy(p_far).double().mean()),
        "asymptotic_overconfident": asymptotic["overconfident"],
        "asymptotic_rejected": asymptotic["rejected"],
        "asymptotic_bounded": asymptotic["bounded"],
        "asymptotic_mmc": asymptotic["mmc"],
        "asymptotic_entropy": asymptotic["entropy"],
        "asymptotic_confident_99": asymptotic["confident_99"],
        "median_radius_99": median_alpha_to_confidence(model, method, _directions(far[:alpha_points]), OVERCONFIDENT),
        "median_alpha_999": median_alpha_to_confidence(model, method, far[:alpha_points], 0.999),
    }
    if attack_points:
        metrics.update(far_adversarial_metrics(model, method, far[:attack_points], seed=config.seed,
                                               threshold=OVERCONFIDENT, share=attack_share))
    metrics["train_seconds"] = float(run.train_seconds)
    metrics["eval_seconds"] = time.perf_counter() - start
    return metrics


def _directions(points: np.ndarray) -> np.ndarray:
    """Each point scaled to unit length (a point at the origin stays there)."""
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1.0)


def overconfident_share(method: Method, probs: torch.Tensor) -> float:
    """Share of rows predicted as a real class with confidence ≥ ``OVERCONFIDENT``."""
    return float((_real(method, probs) & (method.confidence(probs) >= OVERCONFIDENT)).double().mean())


def rejected_share(method: Method, probs: torch.Tensor) -> float:
    """Share of rows predicted as the reject class."""
    return float((~_real(method, probs)).double().mean())


def _real(method: Method, probs: torch.Tensor) -> torch.Tensor:
    reject = method.reject_index(probs.shape[-1])
    predicted = probs.argmax(-1)
    return predicted != reject if reject is not None else torch.ones_like(predicted, dtype=torch.bool)


def gan_metrics(run: GanRun) -> dict:
    """The classifier's toy metrics (``toy_metrics``: far_ood_overconfident, far_ood_rejected, ...)
    plus the final coverage and ring distance and their curves over the snapshots, the final test
    recall per class, ``disc_share`` (share of the final samples inside a 3σ disc: on the data) and
    ``collapsed``: some class's recall is below ``gan.COLLAPSE_RECALL`` (0.5),
    i.e. the classifier lost that class (``gan.is_collapsed``)."""
    metrics = toy_metrics(run.classifier)
    recall = gan_class_recall(run.classifier.model, run.classifier.data)
    metrics.update(
        classifier=run.config.classifier,
        start=run.config.start,
        generator=run.config.generator,
        beta=run.config.beta,
        entropy=run.config.entropy,
        iterations=run.config.iterations,
        class_recall=list(recall),
        collapsed=is_collapsed(recall),
        coverage=run.snapshots[-1].coverage,
        ring_distance=run.snapshots[-1].ring_distance,
        disc_share=disc_share(run.snapshots[-1].samples, run.classifier.config.sigma, run.classifier.data.centres),
        snapshot_iterations=[s.iteration for s in run.snapshots],
        coverage_curve=[s.coverage for s in run.snapshots],
        ring_distance_curve=[s.ring_distance for s in run.snapshots],
        class_recall_curve=[list(s.recall) for s in run.snapshots],
    )
    return metrics
