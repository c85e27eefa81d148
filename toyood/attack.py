"""Adversarial far points on the toy: the 2-D analogue of Hein et al. 2019's adversarial noise (Sec. 5).

From each far test point x, projected gradient ascent (``methods.pgd_maximise``: random start,
signed-gradient steps, projection, best iterate kept) moves x within the ℓ∞ ball of radius
ε = ``share``·‖x‖₂ towards the highest confidence. The objective is log max_{k<K} p_k(u) (the log of
the largest real-class probability at the model's temperature), whose maximiser is the confidence's
and whose gradient does not vanish where p_max is close to 1. ACET (Hein et al. eq. 4-5) trains
on exactly this kind of move (with its own fixed radius ``acet_eps``), so it should resist it better
than CEDA, which only sees the unmoved noise.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .methods import Method, pgd_maximise

SHARE = 0.5  # ε as a share of ‖x‖₂ (Hein's ε = 0.3 is 30 % of the pixel range)
STEPS = 20  # PGD steps
STEP_FRACTION = 0.25  # step size as a share of ε (2.5·ε/steps for 10 steps, Madry et al.'s rule)
ATTACK_SEED_OFFSET = 7919  # the attack's generator seed is the run's seed + this


def adversarial_far_points(model: nn.Module, method: Method, points: np.ndarray, share: float = SHARE,
                           steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """``points`` (n×2) moved within ‖u − x‖∞ ≤ share·‖x‖₂ to the highest confidence (float32
    PGD in eval mode; deterministic for a seed; a point PGD does not improve stays). Returns (n×2)."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    if not 0 < share <= 1:
        raise ValueError(f"the attack's radius share must be in (0, 1] (got {share})")
    if not 1 <= steps <= 1000:
        raise ValueError(f"the attack's steps must be between 1 and 1000 (got {steps})")
    if len(points) == 0:
        return points
    parameter = next(model.parameters())
    x = torch.from_numpy(points).to(parameter.device, parameter.dtype)
    eps = share * torch.linalg.vector_norm(x, dim=1, keepdim=True)
    generator = torch.Generator(device=x.device).manual_seed(seed + ATTACK_SEED_OFFSET)
    was_training = model.training
    model.eval()
    try:
        moved = pgd_maximise(lambda u: log_confidence(model, method, u), x, eps, steps,
                             STEP_FRACTION * eps, generator=generator)
        with torch.no_grad():  # never worse than the point itself (PGD starts at a random point)
            worse = log_confidence(model, method, moved) < log_confidence(model, method, x)
        moved[worse] = x[worse]
    finally:
        model.train(was_training)
    return moved.cpu().numpy()


def log_confidence(model: nn.Module, method: Method, u: torch.Tensor) -> torch.Tensor:
    """log max_{k<K} softmax(model(u))_k per row: the attack's objective."""
    log_probs = torch.log_softmax(model(u), -1)
    n_real = log_probs.shape[-1] - (method.reject_index(log_probs.shape[-1]) is not None)
    return log_probs[:, :n_real].max(-1).values


def far_adversarial_metrics(model: nn.Module, method: Method, points: np.ndarray, seed: int = 0,
                            threshold: float = 0.99, share: float = SHARE, steps: int = STEPS) -> dict:
    """``far_adv_overconfident`` (share of moved points predicted as a real class with confidence
    ≥ ``threshold``), ``far_adv_mmc`` (their mean confidence) and the attack's settings."""
    moved = adversarial_far_points(model, method, points, share, steps, seed)
    parameter = next(model.parameters())
    with torch.inference_mode():
        probs = torch.softmax(model.eval()(torch.from_numpy(moved).to(parameter.device, parameter.dtype)), -1).cpu()
    confidence = method.confidence(probs)
    reject = method.reject_index(probs.shape[-1])
    real = probs.argmax(-1) != reject if reject is not None else torch.ones(len(probs), dtype=torch.bool)
    return {"far_adv_overconfident": float((real & (confidence >= threshold)).double().mean()),
            "far_adv_mmc": float(confidence.double().mean()), "far_adv_eps_share": share,
            "far_adv_steps": steps, "far_adv_points": len(moved)}
