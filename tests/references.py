"""Independent references shared by several test modules (see tests/README.md).

Nothing here calls the function a test checks: the far-field shares are counted from a plain float64
forward pass at α = 1e9, not from ``toyood.farfield``'s arcs.
"""
from __future__ import annotations

import numpy as np
import torch

from toyood.models import MLP, float64_copy

FAR = 1e9
SATURATED = 1 - 1e-6


def far_categories(model: torch.nn.Module, reject: int | None, n_directions: int = 7200,
                   alpha: float = FAR) -> np.ndarray:
    """Per direction θ_i = (i + ½)·2π/n: 0 overconfident (a real class at ≈ 1), 1 rejected (the
    reject output ``reject``, a literal index, at ≈ 1), 2 bounded; from softmax(f(α·u)) in float64."""
    angles = (np.arange(n_directions) + 0.5) * 2 * np.pi / n_directions
    u = torch.from_numpy(alpha * np.stack([np.cos(angles), np.sin(angles)], 1))
    with torch.no_grad():
        probs = torch.softmax(float64_copy(model)(u), -1).numpy()
    saturated = probs.max(1) > SATURATED
    is_reject = probs.argmax(1) == reject if reject is not None else np.zeros(len(probs), bool)
    return np.where(~saturated, 2, np.where(is_reject, 1, 0))


def far_shares(model: torch.nn.Module, reject: int | None, n_directions: int = 7200) -> tuple[dict, float]:
    """Shares of overconfident / rejected / bounded directions by brute force, and the sampling
    error bound: a change of category between neighbouring samples may sit anywhere in the 1/n gap."""
    category = far_categories(model, reject, n_directions)
    shares = {name: float(np.mean(category == i)) for i, name in enumerate(("overconfident", "rejected", "bounded"))}
    changes = int(np.sum(category != np.roll(category, 1)))
    return shares, (changes + 1) / n_directions


def mlp_with_dead_sector(hidden=(24, 24), n_classes=3, head="linear", seed=0) -> MLP:
    """A random MLP whose first-layer rows (a, b) have b ≥ |a|: every first-layer unit is dead far out
    along sin θ ≤ −|cos θ| (a quarter of the circle), so there the logits stay bounded."""
    torch.manual_seed(seed)
    model = MLP(hidden, n_classes, head).eval()
    with torch.no_grad():
        weight = model.hidden_layers[0].weight
        weight[:, 1] = weight[:, 1].abs() + weight[:, 0].abs()
    return model
