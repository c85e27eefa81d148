"""Far-away behaviour (Hein et al. 2019, Thm 3.1 and 3.2) as exact numbers.

Far out along a direction u the activation pattern of a (leaky-)ReLU net equals the pattern of the
same net with all biases set to zero (the "homogeneous" net) at u: every pre-activation is
α·(homogeneous pre-activation at u) + O(1). So the logits grow like α·G_A u, where G_A is the
homogeneous net's linear map on the arc A of directions that contains u. ``direction_arcs`` splits
the circle exactly (float64 angles) into arcs of constant pattern and constant argmax of G_A u:

- a unique argmax k* on an arc ⇒ lim_{α→∞} softmax(f(αu)) = e_{k*} (confidence → 1, or → reject);
- ties (equal top growth, including no growth at all) ⇒ a finite limit below 1.

Shares of directions are arc lengths / 2π: exact for linear and reject heads. DisMax logits
−s‖f − p_j‖ tend to s·ĝ·p_j + const with ĝ the unit feature growth, a finite limit (evaluated on
36,000 directions). RBF networks tend to 1/K exactly. Where a limit is finite and not given by a
formula (ties; DisMax with no feature growth), it is evaluated in float64 at α = 1e8.

Bounded activations (tanh, sigmoid; Vernekar et al. Sec. 5.1): along αu the first layer's
pre-activations α·W₁u + b₁ run to ±∞, so its units saturate to sign(W₁u) (tanh) or [W₁u > 0]
(sigmoid); every later layer sees a constant, and the logits tend to finite values. The limit is a
softmax of finite logits: constant on each arc between the zeros of W₁u, and below 1.

Temperature: the logits are the eval logits z / T (``toyood.models``). A unique top growth stays one-hot
for any T (softmax(α·G u / T) → e_k*); RBF stays 1/K; finite limits are the softmax of (limit z) / T.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from .methods import Method, entropy
from .models import MLP, RBFNet, DisMaxHead, eval_logit_scale, float64_copy, n_outputs, piecewise_affine_layers

TWO_PI = 2.0 * np.pi
FAR_ALPHA = 1e8
DIRECTION_SAMPLES = 36_000


@dataclass(frozen=True)
class DirectionArcs:
    """Arcs [start, end) tiling [0, 2π) in order, with constant homogeneous pattern and argmax.

    ``growth`` (A×K×2): on the arc the outputs grow like α·growth @ u. ``limit_class``: argmax of
    growth @ u on the arc, −1 where tied. ``pattern`` (A×N bool): homogeneous pre-activation > 0
    of every hidden neuron, layer by layer.
    """

    start: np.ndarray
    end: np.ndarray
    growth: np.ndarray
    limit_class: np.ndarray
    pattern: np.ndarray

    @property
    def length(self) -> np.ndarray:
        return self.end - self.start

    def locate(self, angles: np.ndarray) -> np.ndarray:
        """Index of the arc holding each angle (radians, any range)."""
        angles = np.mod(angles, TWO_PI)
        return np.clip(np.searchsorted(self.start, angles, side="right") - 1, 0, len(self.start) - 1)


def _unit(angles: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angles), np.sin(angles)], -1)


def _apply(weight: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """weight @ maps[a] for every arc a, as one matrix product."""
    arcs, inputs, _ = maps.shape
    flat = maps.transpose(1, 0, 2).reshape(inputs, arcs * 2)
    return (weight @ flat).reshape(len(weight), arcs, 2).transpose(1, 0, 2)


def _split(start, end, maps, tol=1e-13):
    """Split arcs where any row of ``maps`` (A×n×2, linear in u) changes sign inside an arc."""
    first = np.mod(np.arctan2(maps[..., 0], -maps[..., 1]), TWO_PI)
    candidates = np.stack([first, np.mod(first + np.pi, TWO_PI)], -1)  # A×n×2
    live = np.linalg.norm(maps, axis=-1) > 0
    inside = (candidates > start[:, None, None] + tol) & (candidates < end[:, None, None] - tol) & live[..., None]
    arc, _, _ = np.nonzero(inside)
    cuts = candidates[inside]
    parent = np.concatenate([np.arange(len(start)), arc])
    bounds = np.concatenate([start, cuts])
    order = np.lexsort((bounds, parent))
    parent, bounds = parent[order], bounds[order]
    new_end = np.empty_like(bounds)
    new_end[:-1] = bounds[1:]
    last = np.r_[parent[1:] != parent[:-1], True]
    new_end[last] = end[parent[last]]
    keep = new_end - bounds > 0
    return bounds[keep], new_end[keep], parent[keep]


def direction_arcs(layers: list[tuple[np.ndarray, np.ndarray]], negative_slope: float = 0.0,
                   output: bool = True) -> DirectionArcs:
    """Exact arcs of directions for an MLP given as float64 (W, b) layers (PyTorch layout).

    With ``output`` the last layer is the affine output; otherwise every layer is a hidden layer
    and ``growth`` is the last hidden layer's (e.g. DisMax features), with ``limit_class`` −1.
    """
    hidden = layers[:-1] if output else layers
    start, end = np.array([0.0]), np.array([TWO_PI])
    current = np.eye(2)[None]  # A×n×2: the homogeneous activations as linear maps of u
    patterns = np.zeros((1, 0), dtype=bool)
    for weight, _ in hidden:
        pre = _apply(weight, current)
        start, end, parent = _split(start, end, pre)
        pre = pre[parent]
        middle = _unit(0.5 * (start + end))
        active = np.einsum("aoj,aj->ao", pre, middle) > 0
        current = np.where(active, 1.0, negative_slope)[..., None] * pre
        patterns = np.concatenate([patterns[parent], active], 1)
    if not output:
        return DirectionArcs(start, end, current, np.full(len(start), -1), patterns)
    growth = _apply(layers[-1][0], current)
    k = growth.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    if pairs:
        differences = np.stack([growth[:, i] - growth[:, j] for i, j in pairs], 1)
        start, end, parent = _split(start, end, differences)
        growth, patterns = growth[parent], patterns[parent]
    values = np.einsum("aoj,aj->ao", growth, _unit(0.5 * (start + end)))
    ordered = np.sort(values, axis=1)
    scale = np.abs(growth).max(axis=(1, 2)) + 1e-300
    tied = (ordered[:, -1] - ordered[:, -2] <= 1e-12 * scale) if k > 1 else np.zeros(len(start), bool)
    limit = np.where(tied, -1, values.argmax(1))
    return DirectionArcs(start, end, growth, limit, patterns)


def model_direction_arcs(model: nn.Module) -> DirectionArcs:
    """``direction_arcs`` of a toyood MLP (output logits, or DisMax features)."""
    layers, slope = piecewise_affine_layers(model)
    return direction_arcs(layers, slope, output=not isinstance(model.head, DisMaxHead))


def ray_probabilities(model: nn.Module, x: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """softmax(f(α·x)) in float64 for points ``x`` (n×2) and scales ``alphas`` → (n, len(alphas), C)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    alphas = np.asarray(alphas, dtype=np.float64)
    if len(x) == 0:
        return np.zeros((0, len(alphas), n_outputs(model)))
    points = (x[:, None, :] * alphas[None, :, None]).reshape(-1, 2)
    double = model.eval() if next(model.parameters()).dtype == torch.float64 else float64_copy(model)
    with torch.inference_mode():
        probs = torch.cat([torch.softmax(double(p), -1) for p in torch.from_numpy(points).split(65536)])
    return probs.numpy().reshape(len(x), len(alphas), -1)


def asymptotic_probabilities(model: nn.Module, angles: np.ndarray, arcs: DirectionArcs | None = None) -> np.ndarray:
    """lim_{α→∞} softmax(f(α·u(θ))) for each angle θ (radians) → (n, C) float64.
    ``arcs``: the model's ``model_direction_arcs``, when already computed."""
    angles = np.atleast_1d(np.asarray(angles, dtype=np.float64))
    n_out = n_outputs(model)
    if isinstance(model, RBFNet):
        return np.full((len(angles), n_out), 1.0 / n_out)
    if not isinstance(model, MLP):
        raise ValueError(f"no far-away analysis for {type(model).__name__}")
    if not model.piecewise_affine:
        return saturated_probabilities(model, _unit(angles))
    arcs = arcs if arcs is not None else model_direction_arcs(model)
    index = arcs.locate(angles)
    directions = _unit(angles)
    probs = np.zeros((len(angles), n_out))
    if isinstance(model.head, DisMaxHead):
        features = np.einsum("aoj,aj->ao", arcs.growth[index], directions)
        norm = np.linalg.norm(features, axis=1)
        grows = norm > 0
        prototypes = model.head.prototypes.detach().double().cpu().numpy()
        logits = eval_logit_scale(model) * (features[grows] / norm[grows, None]) @ prototypes.T
        probs[grows] = torch.softmax(torch.from_numpy(logits), -1).numpy()
        finite = ~grows
    else:
        limit = arcs.limit_class[index]
        probs[limit >= 0, limit[limit >= 0]] = 1.0
        finite = limit < 0
    if finite.any():
        probs[finite] = ray_probabilities(model, directions[finite], np.array([FAR_ALPHA]))[:, 0]
    return probs


def entropy_nats(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy −Σ p log p in nats of each row of ``probs`` (0 log 0 = 0): 0 … log C, in float64
    (``methods.entropy``, the one the maps and metrics use)."""
    return entropy(torch.from_numpy(np.asarray(probs, dtype=np.float64))).numpy()


def limit_entropy(model: nn.Module, angles: np.ndarray, arcs: DirectionArcs | None = None) -> np.ndarray:
    """lim_{α→∞} of the entropy (nats) of softmax(f(α·u(θ)) / T) for each angle θ (radians), from
    ``asymptotic_probabilities``: exactly 0 on every arc of a ReLU net with a linear or reject head
    whose top logit slope is unique (Vernekar et al.'s corollary), finite where slopes tie (a dead
    sector), log C for RBF, a per-direction constant > 0 for tanh/sigmoid, sampled for DisMax."""
    angles = np.atleast_1d(np.asarray(angles, dtype=np.float64))
    if angles.ndim != 1 or not np.all(np.isfinite(angles)):
        raise ValueError("angles must be a 1-D array of finite numbers (radians)")
    return entropy_nats(asymptotic_probabilities(model, angles, arcs))


def saturated_probabilities(model: MLP, directions: np.ndarray) -> np.ndarray:
    """lim_{α→∞} softmax(f(α·u)) of a tanh or sigmoid MLP for unit ``directions`` (n×2), in float64:
    the first layer saturated (tanh → sign(W₁u), sigmoid → [W₁u > 0]; exactly 0 in W₁u keeps
    act(b₁)), then the rest of the net's eval forward (logits / T). Finite logits: a limit below 1."""
    double = float64_copy(model)
    first = double.hidden_layers[0]
    with torch.inference_mode():
        u = torch.from_numpy(np.asarray(directions, dtype=np.float64))
        slope = u @ first.weight.t()
        saturated = torch.sign(slope) if model.activation == "tanh" else (slope > 0).double()
        h = torch.where(slope == 0, double.act(first.bias).expand_as(slope), saturated)
        for layer in double.hidden_layers[1:]:
            h = double.act(layer(h))
        return torch.softmax(double.head(h) / double.temperature, -1).numpy()


def asymptotic_summary(model: nn.Module, method: Method) -> dict:
    """Shares of directions whose limit is: a real class with probability 1 (``overconfident``),
    the reject class with probability 1 (``rejected``), or a finite limit (``bounded``); ``mmc``, the
    mean over directions of the limit confidence (max real-class probability); ``entropy``, the mean
    limit entropy in nats (Vernekar et al.'s corollary: 0 on a ReLU net, log K for RBF); and
    ``confident_99``, the share of directions whose limit confidence is ≥ 0.99."""
    angles = (np.arange(DIRECTION_SAMPLES) + 0.5) * TWO_PI / DIRECTION_SAMPLES
    exact = isinstance(model, MLP) and model.piecewise_affine
    arcs = model_direction_arcs(model) if exact else None
    probs = asymptotic_probabilities(model, angles, arcs)
    confidence = method.confidence(torch.from_numpy(probs)).numpy()
    common = {"mmc": float(confidence.mean()), "entropy": float(np.mean(entropy_nats(probs))),
              "confident_99": float(np.mean(confidence >= 0.99))}
    if exact and not isinstance(model.head, DisMaxHead):
        share = lambda mask: float(arcs.length[mask].sum() / TWO_PI)  # noqa: E731
        reject = method.reject_index(n_outputs(model))
        reject = -2 if reject is None else reject
        rejected = share(arcs.limit_class == reject)
        overconfident = share((arcs.limit_class >= 0) & (arcs.limit_class != reject))
        return {"overconfident": overconfident, "rejected": rejected,
                "bounded": max(0.0, 1.0 - overconfident - rejected), "arcs": int(len(arcs.start)), **common}
    overconfident = float(np.mean(confidence >= 1.0 - 1e-12))
    return {"overconfident": overconfident, "rejected": 0.0, "bounded": 1.0 - overconfident, "arcs": None,
            **common}


def first_alpha_reaching(confidence_at: Callable[[np.ndarray, np.ndarray], np.ndarray], n: int,
                         threshold: float = 0.999, alpha_max: float = 1e12, grid: int = 100,
                         bisections: int = 40) -> np.ndarray:
    """Smallest α ≥ 1 with confidence(α·x_i) ≥ threshold for each of ``n`` inputs (inf when not
    reached by ``alpha_max``): the first crossing on a log grid of ``grid`` values, refined by
    bisection in log α. ``confidence_at(index, alphas)`` returns the confidence of inputs ``index``
    scaled by ``alphas`` (one α per input). The one α-search of toy points and images alike."""
    alphas = np.geomspace(1.0, alpha_max, grid)
    everyone = np.arange(n)
    confident = np.stack([confidence_at(everyone, np.full(n, a)) >= threshold for a in alphas], 1)
    reached, first = confident.any(1), confident.argmax(1)
    result = np.full(n, np.inf)
    result[reached & (first == 0)] = 1.0
    refine = np.nonzero(reached & (first > 0))[0]
    low, high = alphas[first[refine] - 1], alphas[first[refine]]
    for _ in range(bisections if len(refine) else 0):
        middle = np.sqrt(low * high)
        above = confidence_at(refine, middle) >= threshold
        high, low = np.where(above, middle, high), np.where(above, low, middle)
    result[refine] = high
    return result


def alpha_to_confidence(model: nn.Module, method: Method, points: np.ndarray, threshold: float = 0.999,
                        alpha_max: float = 1e12, grid: int = 100, bisections: int = 40) -> np.ndarray:
    """``first_alpha_reaching`` for 2-D points, evaluated in float64."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    model = float64_copy(model)  # once, not per bisection step

    def confidence_at(index: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        return _confidence_along(model, method, points[index] * alphas[:, None], np.ones(1))[:, 0]

    return first_alpha_reaching(confidence_at, len(points), threshold, alpha_max, grid, bisections)


def _confidence_along(model, method, points, alphas):
    probs = ray_probabilities(model, points, alphas)
    return method.confidence(torch.from_numpy(probs)).numpy()


def median_alpha_to_confidence(model: nn.Module, method: Method, points: np.ndarray,
                               threshold: float = 0.999) -> float | None:
    """The median over ``points`` of ``alpha_to_confidence`` (Hein et al. Table 2, in 2-D);
    None when the median is never reached."""
    median = float(np.median(alpha_to_confidence(model, method, points, threshold)))
    return median if np.isfinite(median) else None
