"""The proof of Hein et al. 2019, Thm 3.1, along one ray α·x (α ≥ 0), computed exactly.

A (leaky-)ReLU net is affine on each of its linear regions (Section 2), so along the ray every hidden
pre-activation is affine in α between breakpoints where some neuron changes sign. ``ray_pieces``
finds those breakpoints layer by layer (one division per neuron and piece) and returns the outputs
on each piece as exact affine functions rate·α + offset (float64). The last piece is unbounded and
its activation pattern is the bias-free net's pattern at x/‖x‖ (Lemma 3.1, as in
``toyood.farfield``); on it the gap between the top two logits grows linearly in α, so the softmax
saturates (Thm 3.1). RBF networks (Thm 3.2) have no pieces: their logits along the ray are evaluated
numerically, tend to 0 and the confidence to 1/K. DisMax's features are piecewise affine (its
body); its logits −s‖f − p_j‖ are evaluated from the exact features. ``ray_profile`` bundles all
of this for one model and point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .models import (MLP, RBFNet, DisMaxHead, eval_logit_scale, float64_copy, n_outputs, piecewise_affine_layers,
                     reject_index)

TOL = 1e-12  # relative: zero crossings this close to a piece's end do not cut it
BISECTIONS = 200  # enough to reach adjacent float64 values
FAR_GRID_ALPHA = 1e12  # the numeric threshold search of RBF and DisMax nets stops here


@dataclass(frozen=True)
class RayPieces:
    """The ray α·x cut into pieces [start_i, end_i) of constant activation pattern (Lemma 3.1).

    ``pattern`` (P×N bool): hidden pre-activation > 0 on the piece, layer by layer (as
    ``toyood.farfield``). On piece i the outputs (logits, or DisMax features when not ``output``)
    are exactly ``rate[i]·α + offset[i]``. ``end[-1]`` is inf when the ray was followed to infinity;
    ``far_pattern`` is the bias-free net's pattern at x/‖x‖, which the last piece must equal.
    """

    x: np.ndarray
    start: np.ndarray
    end: np.ndarray
    pattern: np.ndarray
    rate: np.ndarray
    offset: np.ndarray
    far_pattern: np.ndarray
    output: bool = True

    def __len__(self) -> int:
        return len(self.start)

    @property
    def unbounded(self) -> bool:
        """Whether the last piece runs to infinity (the region the ray never leaves)."""
        return bool(np.isinf(self.end[-1]))

    @property
    def breakpoints(self) -> np.ndarray:
        """The α at which the ray enters each new activation region (after the first)."""
        return self.start[1:]

    @property
    def packed(self) -> np.ndarray:
        """Each piece's activation pattern as ``np.packbits`` bytes (P × ⌈N/8⌉ uint8)."""
        return np.packbits(self.pattern, axis=1)

    def last_piece_is_far_field(self) -> bool:
        """Lemma 3.1: the unbounded piece's pattern is the bias-free net's pattern at x/‖x‖."""
        return self.unbounded and bool(np.array_equal(self.pattern[-1], self.far_pattern))

    def locate(self, alphas) -> np.ndarray:
        """Index of the piece holding each α (α below the first piece: the first piece)."""
        index = np.searchsorted(self.start, np.asarray(alphas, dtype=np.float64), side="right") - 1
        return np.clip(index, 0, len(self.start) - 1)

    def outputs(self, alphas) -> np.ndarray:
        """The outputs at α·x from the exact pieces, (n, K) float64: no forward pass."""
        alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
        index = self.locate(alphas)
        return self.rate[index] * alphas[:, None] + self.offset[index]


def _check_ray(x, width: int, alpha_min: float, alpha_max: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.shape != (width,):
        raise ValueError(f"x must hold {width} coordinates (one per input), got {x.size}")
    if not np.isfinite(x).all():
        raise ValueError(f"x must be finite, got {x.tolist()}")
    if not np.any(x):
        raise ValueError("x = 0: the ray α·x is the single point 0 and has no direction; choose x ≠ 0")
    if not 0.0 <= alpha_min < alpha_max:
        raise ValueError(f"the ray needs 0 ≤ alpha_min < alpha_max, got {alpha_min}, {alpha_max}")
    return x


def _below_end(values: np.ndarray, end: np.ndarray) -> np.ndarray:
    finite = np.isfinite(end)
    margin = TOL * np.maximum(1.0, np.abs(np.where(finite, end, 0.0)))
    return ~finite | (values < np.where(finite, end, 0.0) - margin)


def _split_at_zeros(start, end, rate, offset):
    """Cut every piece [start, end) where one of its affine pre-activations rate·α + offset (P×m)
    crosses zero: one division per neuron. Returns the new starts, ends and each one's parent."""
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = -offset / rate
    above = zero > (start + TOL * np.maximum(1.0, np.abs(start)))[:, None]
    inside = (rate != 0) & above & _below_end(zero, end[:, None])
    piece = np.nonzero(inside)[0]
    parent = np.concatenate([np.arange(len(start)), piece])
    bounds = np.concatenate([start, zero[inside]])
    order = np.lexsort((bounds, parent))
    parent, bounds = parent[order], bounds[order]
    same = parent[1:] == parent[:-1]
    close = bounds[1:] - bounds[:-1] <= TOL * np.maximum(1.0, np.abs(bounds[1:]))
    keep = np.r_[True, ~(same & close)]  # two neurons crossing at the same α: one cut
    parent, bounds = parent[keep], bounds[keep]
    new_end = np.r_[bounds[1:], 0.0]
    last = np.r_[parent[1:] != parent[:-1], True]
    new_end[last] = end[parent[last]]
    return bounds, new_end, parent


def _positive(start, end, rate, offset) -> np.ndarray:
    """Pre-activation > 0 inside each piece (no crossing inside): at its midpoint, or on an
    unbounded piece by the sign of the rate (of the offset when the rate is 0)."""
    finite = np.isfinite(end)
    middle = np.where(finite, 0.5 * (start + np.where(finite, end, 0.0)), 0.0)
    value = rate * middle[:, None] + offset
    far = np.where(rate != 0, rate, offset)
    return np.where(finite[:, None], value, far) > 0


def homogeneous_pattern(hidden: list[tuple[np.ndarray, np.ndarray]], slope: float, direction) -> np.ndarray:
    """The activation pattern (N bool) of the bias-free net at ``direction``: the pattern far out
    along it (Lemma 3.1; ``toyood.farfield.direction_arcs`` gives the same per arc)."""
    h = np.asarray(direction, dtype=np.float64).reshape(-1)
    h = h / np.linalg.norm(h)
    parts = []
    for weight, _ in hidden:
        pre = weight @ h
        parts.append(pre > 0)
        h = np.where(parts[-1], 1.0, slope) * pre
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def ray_pieces(layers: list[tuple[np.ndarray, np.ndarray]], slope: float, x, alpha_max: float = np.inf,
               alpha_min: float = 0.0, output: bool = True) -> RayPieces:
    """The exact pieces of the ray α·x, α in [alpha_min, alpha_max), of an MLP given as float64
    (W, b) layers (``piecewise_affine_layers``) with leaky slope ``slope``.

    Layer by layer, the next pre-activations are affine in α on each piece; each neuron's zero
    crossing is one division; the pieces are split there. With ``output`` the last layer is the
    affine output (logits); otherwise every layer is hidden (DisMax features). x = 0 raises.
    """
    hidden = layers[:-1] if output else layers
    x = _check_ray(x, layers[0][0].shape[1], float(alpha_min), float(alpha_max))
    start, end = np.array([float(alpha_min)]), np.array([float(alpha_max)])
    rate, offset = x[None, :], np.zeros((1, len(x)))
    pattern = np.zeros((1, 0), dtype=bool)
    for weight, bias in hidden:
        pre_rate, pre_offset = rate @ weight.T, offset @ weight.T + bias
        start, end, parent = _split_at_zeros(start, end, pre_rate, pre_offset)
        pre_rate, pre_offset = pre_rate[parent], pre_offset[parent]
        active = _positive(start, end, pre_rate, pre_offset)
        gain = np.where(active, 1.0, slope)
        rate, offset = gain * pre_rate, gain * pre_offset
        pattern = np.concatenate([pattern[parent], active], 1)
    if output:
        weight, bias = layers[-1]
        rate, offset = rate @ weight.T, offset @ weight.T + bias
    return RayPieces(x, start, end, pattern, rate, offset, homogeneous_pattern(hidden, slope, x), output)


def model_ray_pieces(model: nn.Module, x, alpha_max: float = np.inf) -> RayPieces:
    """``ray_pieces`` of a toyood MLP: its logits, or its DisMax features."""
    layers, slope = piecewise_affine_layers(model)
    return ray_pieces(layers, slope, x, alpha_max, output=not isinstance(model.head, DisMaxHead))


def region_crossings(pieces: RayPieces) -> list[dict]:
    """One row per activation region the ray passes through, in order: the α at which it enters
    and leaves, its packed pattern (hex of ``np.packbits``), its active neurons, and whether it is
    the last, unbounded region (Lemma 3.1)."""
    rows = []
    for i, (start, end, packed) in enumerate(zip(pieces.start, pieces.end, pieces.packed)):
        rows.append({"region": i, "enters at α": float(start), "leaves at α": float(end),
                     "pattern": packed.tobytes().hex(), "active neurons": int(pieces.pattern[i].sum()),
                     "unbounded": bool(i == len(pieces) - 1 and pieces.unbounded)})
    return rows


def output_crossings(pieces: RayPieces) -> np.ndarray:
    """The α inside pieces where two outputs are equal (sorted): with the breakpoints, the only
    places where the ranking of the logits, and so the top-two gap's slope, can change."""
    i, j = np.triu_indices(pieces.rate.shape[1], 1)
    rate, offset = pieces.rate[:, i] - pieces.rate[:, j], pieces.offset[:, i] - pieces.offset[:, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = -offset / rate
    inside = (rate != 0) & (zero > pieces.start[:, None]) & _below_end(zero, pieces.end[:, None])
    return np.sort(zero[inside])


def top_two_gap(outputs: np.ndarray) -> np.ndarray:
    """The largest minus the second-largest output in each row (the margin the softmax sees)."""
    ordered = np.sort(np.asarray(outputs, dtype=np.float64), axis=-1)
    return ordered[..., -1] - ordered[..., -2]


def limit_growth(pieces: RayPieces) -> tuple[int, float]:
    """On the unbounded piece: the output whose logit grows fastest (−1 when the top rates tie)
    and the rate at which the top-two gap grows, f_k − f_r = α·(rate_k − rate_r) + const (Thm 3.1)."""
    if not (pieces.output and pieces.unbounded):
        raise ValueError("the growth of the logits needs the logits on the unbounded last piece")
    rate = pieces.rate[-1]
    if len(rate) < 2:
        return 0, 0.0
    ordered = np.sort(rate)
    gap = float(ordered[-1] - ordered[-2])
    tied = gap <= 1e-12 * max(float(np.abs(rate).max()), 1e-300)
    return (-1, 0.0) if tied else (int(rate.argmax()), gap)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def confidence(probs: np.ndarray, reject: int | None = None) -> np.ndarray:
    """The largest real-class probability (``Method.confidence``): the reject output excluded."""
    probs = np.asarray(probs)
    real = [k for k in range(probs.shape[-1]) if k != reject]
    return probs[..., real].max(-1)


def limit_probabilities(pieces: RayPieces) -> np.ndarray:
    """lim_{α→∞} softmax(f(α·x)) from the unbounded piece: one-hot on the fastest-growing logit
    (Thm 3.1); with tied top rates, the softmax of the offsets over the tied outputs."""
    winner, _ = limit_growth(pieces)
    rate, offset = pieces.rate[-1], pieces.offset[-1]
    probs = np.zeros(len(rate))
    if winner >= 0:
        probs[winner] = 1.0
        return probs
    top = rate >= rate.max() - 1e-12 * max(float(np.abs(rate).max()), 1e-300)
    probs[top] = softmax(offset[top])
    return probs


def _logsumexp(values: np.ndarray) -> float:
    top = values.max()
    return float(top + np.log(np.exp(values - top).sum()))


def _bisect(predicate, low: float, high: float) -> float:
    """The smallest α in (low, high] with ``predicate`` (false at low, true at high, monotone)."""
    for _ in range(BISECTIONS):
        middle = 0.5 * (low + high)
        if not low < middle < high:
            break
        low, high = (low, middle) if predicate(middle) else (middle, high)
    return high


def _first_in_piece(rate: np.ndarray, offset: np.ndarray, k: int, low: float, high: float,
                    log_tau: float) -> float:
    """Smallest α in [low, high) with softmax_k ≥ t, i.e. g(α) = log Σ_{r≠k} e^{f_r − f_k} ≤ log τ,
    τ = (1 − t)/t; inf when none. g is convex in α on a piece (a log-sum-exp of affine functions),
    so its sublevel set is an interval: one division for two outputs, else a bracket and bisection."""
    others = np.arange(len(rate)) != k
    slopes, intercepts = rate[others] - rate[k], offset[others] - offset[k]
    g = lambda a: _logsumexp(slopes * a + intercepts)  # noqa: E731
    if g(low) <= log_tau:
        return low
    if len(slopes) == 1:
        if slopes[0] >= 0:
            return np.inf
        alpha = (log_tau - intercepts[0]) / slopes[0]
        return float(alpha) if alpha < high else np.inf
    rising = lambda a: float(np.dot(slopes, softmax(slopes * a + intercepts))) >= 0  # noqa: E731
    reached = _bracket(g, rising, low, high, log_tau)
    return np.inf if reached is None else _bisect(lambda a: g(a) <= log_tau, low, reached)


def _bracket(g, rising, low: float, high: float, log_tau: float) -> float | None:
    """A point in (low, high) where the convex g is ≤ log τ, or None: march towards the minimum
    (doubling steps on an unbounded piece), then bisect for the minimum on the derivative's sign."""
    if rising(low):
        return None
    step, point = max(abs(low), 1.0) * 1e-3, low
    while True:
        ahead = min(point + step, high) if np.isfinite(high) else point + step
        if not np.isfinite(ahead) or ahead >= 1e300:
            return None
        if g(ahead) <= log_tau:
            return ahead
        if rising(ahead) or ahead >= high:
            break
        point, step = ahead, 2.0 * step
    minimum = _bisect(rising, point, ahead)
    return minimum if g(minimum) <= log_tau else None


def first_alpha_confident(pieces: RayPieces, threshold: float = 0.999, reject: int | None = None,
                          alpha_min: float | None = None) -> float:
    """The smallest α ≥ ``alpha_min`` (default: the ray's start) with confidence(α·x) ≥ threshold,
    solved on each exact affine piece (Thm 3.1's α); inf when never reached."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if not pieces.output:
        raise ValueError("the exact threshold needs affine logits (a linear or reject head)")
    alpha_min = float(pieces.start[0] if alpha_min is None else alpha_min)
    log_tau = float(np.log((1.0 - threshold) / threshold))
    real = [k for k in range(pieces.rate.shape[1]) if k != reject]
    for i in range(int(pieces.locate(alpha_min)), len(pieces)):
        low, high = max(pieces.start[i], alpha_min), pieces.end[i]
        found = min(_first_in_piece(pieces.rate[i], pieces.offset[i], k, low, high, log_tau) for k in real)
        if np.isfinite(found):
            return float(found)
    return np.inf


def rbf_ray_logits(model: RBFNet, x, alphas) -> np.ndarray:
    """The RBF net's logits at α·x in float64 (n, K): Σ_l α_kl exp(−γ‖αx − c_l‖²) → 0 (Thm 3.2)."""
    x = _check_ray(x, model.centres.shape[1], 0.0, np.inf)
    alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    with torch.inference_mode():
        return float64_copy(model)(torch.from_numpy(alphas[:, None] * x[None])).numpy()


def dismax_ray_logits(model: MLP, pieces: RayPieces, alphas) -> np.ndarray:
    """DisMax eval logits −(s/T)‖f(α·x) − p_j‖ (eval scale s, temperature T) from the exact features."""
    features = pieces.outputs(alphas)
    prototypes = model.head.prototypes.detach().double().cpu().numpy()
    distances = np.linalg.norm(features[:, None, :] - prototypes[None], axis=-1)
    return -eval_logit_scale(model) * distances


@dataclass(frozen=True)
class RayProfile:
    """Everything the proof's panels show for one model and point x, on a grid of α in [0, alpha_view].

    ``kind``: "affine" (linear or reject head: exact pieces, Thm 3.1), "dismax" (exact feature
    pieces, distance logits) or "rbf" (no pieces, Thm 3.2). ``alphas`` holds a linear and a
    geometric grid plus every breakpoint and logit crossing in view, so straight lines between
    consecutive values are exact for the affine kind. ``alpha_threshold``: the first α with
    confidence ≥ ``threshold`` (exact for "affine", grid and bisection otherwise; inf: never).
    ``limit_probabilities``: lim_{α→∞} softmax(f(α·x)).
    """

    kind: str
    x: np.ndarray
    alphas: np.ndarray
    logits: np.ndarray
    confidence: np.ndarray
    gap: np.ndarray
    pieces: RayPieces | None
    reject: int | None
    threshold: float
    alpha_threshold: float
    limit_probabilities: np.ndarray
    alpha_view: float

    @property
    def n_classes(self) -> int:
        """The number of real classes K (the reject output not counted)."""
        return self.logits.shape[1] - (self.reject is not None)

    @property
    def breakpoints(self) -> np.ndarray:
        """The α at which the ray enters a new linear region (none for an RBF net)."""
        return np.zeros(0) if self.pieces is None else self.pieces.breakpoints

    @property
    def last_start(self) -> float | None:
        """The α from which the ray stays in its last, unbounded region (None for an RBF net)."""
        return None if self.pieces is None else float(self.pieces.start[-1])

    @property
    def limit_confidence(self) -> float:
        """lim_{α→∞} of the confidence along the ray."""
        return float(confidence(self.limit_probabilities, self.reject))

    def growth(self) -> tuple[int, float]:
        """``limit_growth`` of the affine kind: the winning output and the top-two gap's rate."""
        if self.kind != "affine":
            raise ValueError(f"a {self.kind} net's logits do not grow linearly along the ray")
        return limit_growth(self.pieces)


def _alpha_grid(alpha_view: float, samples: int, pieces: RayPieces | None) -> np.ndarray:
    """A linear and a geometric grid over (0, alpha_view], with the exact vertices in view."""
    first = pieces.breakpoints[0] if pieces is not None and len(pieces) > 1 else alpha_view
    low = max(min(first / 10.0, alpha_view * 1e-2), alpha_view * 1e-6)
    parts = [np.linspace(0.0, alpha_view, samples), np.geomspace(low, alpha_view, samples)]
    if pieces is not None:
        parts += [pieces.breakpoints, output_crossings(pieces) if pieces.output else np.zeros(0)]
    alphas = np.unique(np.concatenate(parts))
    return alphas[(alphas >= 0.0) & (alphas <= alpha_view)]


def _grid_first_alpha(confidence_at, threshold: float, alpha_max: float = FAR_GRID_ALPHA) -> float:
    """The first α on a fine log grid up to ``alpha_max`` with confidence ≥ threshold, refined by
    bisection (a numeric search for nets without affine logits); inf when none."""
    alphas = np.concatenate([[0.0], np.geomspace(1e-6, alpha_max, 2000)])
    reached = confidence_at(alphas) >= threshold
    if not reached.any():
        return np.inf
    first = int(reached.argmax())
    if first == 0:
        return 0.0
    return _bisect(lambda a: bool(confidence_at(np.array([a]))[0] >= threshold), alphas[first - 1], alphas[first])


def _rbf_view(model: RBFNet, x: np.ndarray) -> float:
    """Far enough along the ray that every Gaussian bump has decayed (exp(−9/2) of its peak)."""
    centres = model.centres.detach().double().cpu().numpy()
    width = 3.0 / np.sqrt(2.0 * float(model.log_gamma.detach().exp()))
    return 1.5 * (np.linalg.norm(centres, axis=1).max() + width) / np.linalg.norm(x)


def _logits_function(model: nn.Module, x):
    """The model's kind, pieces (or None) and a function α ↦ logits (n, C) along α·x."""
    if isinstance(model, RBFNet):
        return "rbf", None, lambda alphas: rbf_ray_logits(model, x, alphas)
    if not isinstance(model, MLP):
        raise ValueError(f"no ray analysis for {type(model).__name__}")
    pieces = model_ray_pieces(model, x)
    if isinstance(model.head, DisMaxHead):
        return "dismax", pieces, lambda alphas: dismax_ray_logits(model, pieces, alphas)
    return "affine", pieces, pieces.outputs


def _limit(kind: str, model: nn.Module, pieces: RayPieces | None, logits_at) -> np.ndarray:
    if kind == "affine":
        return limit_probabilities(pieces)
    if kind == "rbf":
        return np.full(n_outputs(model), 1.0 / n_outputs(model))
    growth = pieces.rate[-1]  # DisMax: −s‖αg + c − p_j‖ = −sα‖g‖ + s⟨ĝ, p_j − c⟩ + o(1)
    if not np.linalg.norm(growth) > 0:
        return softmax(logits_at(np.array([pieces.start[-1] + 1.0]))[0])
    prototypes = model.head.prototypes.detach().double().cpu().numpy()
    return softmax(eval_logit_scale(model) * (prototypes - pieces.offset[-1]) @ (growth / np.linalg.norm(growth)))


def ray_profile(model: nn.Module, x, threshold: float = 0.999, alpha_view: float | None = None,
                samples: int = 600) -> RayProfile:
    """The ray α·x of a toyood MLP (linear, reject or DisMax head) or RBF net, for the proof's
    panels: pieces, logits, top-two gap and confidence on a grid over [0, alpha_view] (default:
    past the last breakpoint and the threshold α), the threshold α and the limit as α → ∞."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    kind, pieces, logits_at = _logits_function(model, x)
    reject = reject_index(model)
    if kind == "affine":
        alpha_threshold = first_alpha_confident(pieces, threshold, reject)
    else:
        alpha_threshold = _grid_first_alpha(lambda a: confidence(softmax(logits_at(a)), reject), threshold)
    if alpha_view is None:
        if kind == "rbf":
            alpha_view = _rbf_view(model, np.asarray(x, dtype=np.float64).reshape(-1))
        else:
            base = max(1.0, float(pieces.start[-1]))
            alpha_view = 1.5 * max(base, min(alpha_threshold, 10.0 * base))
    if not np.isfinite(alpha_view) or alpha_view <= 0:
        raise ValueError(f"alpha_view must be a positive number, got {alpha_view}")
    alphas = _alpha_grid(float(alpha_view), samples, pieces)
    logits = logits_at(alphas)
    return RayProfile(kind, np.asarray(x, dtype=np.float64).reshape(-1), alphas, logits,
                      confidence(softmax(logits), reject), top_two_gap(logits), pieces, reject, threshold,
                      float(alpha_threshold), _limit(kind, model, pieces, logits_at), float(alpha_view))
