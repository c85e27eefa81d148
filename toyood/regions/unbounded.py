"""Which regions are unbounded in the whole plane, their recession arcs and limit classes (the class
whose confidence → 1 along them, Hein et al. 2019, Thm 3.1), and the strip-like unbounded regions
beyond the box."""
from __future__ import annotations

import numpy as np

from ..farfield import DirectionArcs
from .geometry import ANGLE_TOL, _act


def _recession(layers, negative_slope, patterns, vertices, start, box, gtol) -> tuple[np.ndarray, np.ndarray]:
    """Exact unboundedness of every region: its recession cone {u : s_j ∇z_j · u ≥ 0 for all hidden
    neurons j} (gradients and signs s_j under the region's pattern) is nonzero iff the constraint
    normals leave an angular gap ≥ π. Only regions touching the box edge can be unbounded."""
    n_regions = len(start) - 1
    xmin, xmax, ymin, ymax = box
    x, y = vertices[:, 0], vertices[:, 1]
    on_edge = (x - xmin <= gtol) | (xmax - x <= gtol) | (y - ymin <= gtol) | (ymax - y <= gtol)
    candidates = np.flatnonzero(np.logical_or.reduceat(on_edge, start[:-1]))
    recession = np.full((n_regions, 2), np.nan)
    unbounded = np.zeros(n_regions, bool)
    widths = [w.shape[0] for w, _ in layers[:-1]]
    if not widths:
        unbounded[:] = True
        recession[:] = (0.0, 2 * np.pi)
        return unbounded, recession
    bits = np.unpackbits(patterns[candidates], axis=1, count=sum(widths)).astype(bool)
    angles, offset = [], 0
    gx, gy = np.tile([1.0, 0.0], (len(candidates), 1)), np.tile([0.0, 1.0], (len(candidates), 1))  # ∂input/∂x, ∂y
    for (weight, _), width in zip(layers[:-1], widths):
        bound = np.abs(weight).sum(axis=1) * max(np.abs(gx).max(initial=0.0), np.abs(gy).max(initial=0.0))
        gx, gy = gx @ weight.T, gy @ weight.T
        active = bits[:, offset:offset + width]
        sign = np.where(active, 1.0, -1.0)
        theta = np.arctan2(sign * gy, sign * gx)  # the constraint normal s_j ∇z_j
        theta[np.hypot(gx, gy) <= 1e-9 * bound] = np.nan  # dead: no constraint
        angles.append(theta)
        slope = np.where(active, 1.0, negative_slope)
        gx *= slope
        gy *= slope
        offset += width
    theta = np.sort(np.concatenate(angles, axis=1), axis=1)  # NaN (dead) last
    n_live = np.isfinite(theta).sum(1)
    free = n_live == 0
    last = theta[np.arange(len(theta)), np.maximum(n_live - 1, 0)]
    theta = np.where(np.isfinite(theta), theta, last[:, None])
    gaps = np.diff(np.concatenate([theta, theta[:, :1] + 2 * np.pi], axis=1), axis=1)
    widest = gaps.argmax(1)
    gap = gaps[np.arange(len(gaps)), widest]
    is_unbounded = (gap >= np.pi - ANGLE_TOL) | free
    first = np.mod(theta[np.arange(len(theta)), widest] - np.pi / 2, 2 * np.pi)
    arc = np.where(free, 2 * np.pi, np.maximum(gap - np.pi, 0.0))
    first = np.where(free, 0.0, first)
    unbounded[candidates] = is_unbounded
    recession[candidates[is_unbounded]] = np.stack([first, arc], 1)[is_unbounded]
    return unbounded, recession


def _limit_classes(linear, recession, unbounded) -> tuple[np.ndarray, np.ndarray]:
    """argmax_k V u at the middle of each unbounded region's recession arc, and whether it wins
    strictly on the whole arc. Margins are judged against the net's largest slope, not the region's
    own: where every path is off, a map fitted from vertices has slopes of pure rounding (1e-18)."""
    limit_class = np.full(len(linear), -1)
    unique = np.zeros(len(linear), bool)
    rows = np.flatnonzero(unbounded)
    if len(rows) == 0 or linear.shape[1] < 2:
        return limit_class, unique
    first, arc = recession[rows, 0], recession[rows, 1]
    scale = np.abs(linear[rows]).max() + 1e-300
    margins = []
    for angle in (first + arc / 2, first, first + arc):
        values = np.einsum("rkd,rd->rk", linear[rows], np.stack([np.cos(angle), np.sin(angle)], 1))
        margins.append(values)
    middle = margins[0]
    winner = middle.argmax(1)
    tied = np.sort(middle, 1)[:, -2] >= middle.max(1) - 1e-12 * scale
    limit_class[rows] = np.where(tied, -1, winner)
    lead = []
    for values in margins:
        others = values.copy()
        others[np.arange(len(rows)), winner] = -np.inf
        lead.append(values[np.arange(len(rows)), winner] - others.max(1) > 1e-12 * scale)
    unique[rows] = ~tied & np.logical_and.reduce(lead) & (arc < 2 * np.pi)
    return limit_class, unique


def _far_strips(hidden, negative_slope, arcs: DirectionArcs) -> int:
    """How many unbounded regions of the plane are strips: recession directions a single ray u.

    Far along x + αu (α → ∞) a neuron's pre-activation is α·a + f(c) + o(1), with a its value in the
    bias-free net at u and f piecewise linear in the offset c = x·u⊥. Where a ≠ 0 its sign is fixed;
    where a = 0 (u along its line, or every input to it switched off) its sign depends on c. Only at
    the ends of the arcs can two or more a vanish; there the patterns along c, between the zeros of
    those f, are the regions that reach infinity along u: the two outermost belong to the arcs on
    either side, every one in between is a strip. Strips counted at u and −u (bands) count once."""
    angles = np.unique(arcs.start)
    direction = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    h, zeros = direction, np.zeros(len(angles), np.int64)
    for weight, _ in hidden:  # homogeneous pre-activations at every arc end, and how many vanish
        a = h @ weight.T
        zero = np.abs(a) <= 1e-9 * np.abs(weight).sum(axis=1) * np.abs(h).max(axis=1, keepdims=True)
        zeros += zero.sum(axis=1)
        h = np.where(zero, 0.0, _act(a, negative_slope))
    strips = set()
    for angle in angles[zeros >= 2]:
        strips.update(_strip_patterns(hidden, negative_slope, angle))
    return len(strips)


def _strip_patterns(hidden, negative_slope, angle) -> list[bytes]:
    """The packed patterns of the strips reaching infinity along direction ``angle`` (``_far_strips``)."""
    u, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    knots = np.array([-1.0, 1.0])  # f is linear between knots and beyond the outer ones
    h_a, h_f, layers_seen = u, across[:, None] * knots, []
    for weight, bias in hidden:
        a, f = weight @ h_a, weight @ h_f + bias[:, None]
        zero = np.abs(a) <= 1e-9 * np.abs(weight).sum(axis=1) * np.abs(h_a).max()
        new = _pwl_zeros(knots, f[zero])
        if len(new):
            merged = np.unique(np.concatenate([knots, new]))
            merged = merged[np.r_[True, np.diff(merged) > 1e-9 * (1 + np.abs(merged[1:]))]]
            f, h_f = _pwl_at(knots, f, merged), _pwl_at(knots, h_f, merged)
            layers_seen = [(a_, _pwl_at(knots, f_, merged), z_) for a_, f_, z_ in layers_seen]
            knots = merged
        layers_seen.append((a, f, zero))
        h_a = np.where(zero, 0.0, _act(a, negative_slope))
        h_f = np.where(zero[:, None], _act(f, negative_slope), np.where(a[:, None] > 0, 1.0, negative_slope) * f)
    samples = np.r_[knots[0] - 1, (knots[1:] + knots[:-1]) / 2, knots[-1] + 1]
    bits = np.concatenate([np.where(z_[:, None], _pwl_at(knots, f_, samples) > 0, (a_ > 0)[:, None])
                           for a_, f_, z_ in layers_seen]).T
    runs = bits[np.r_[True, (bits[1:] != bits[:-1]).any(axis=1)]]
    return [row.tobytes() for row in np.packbits(runs[1:-1], axis=1)]


def _pwl_at(knots, values, at) -> np.ndarray:
    """Piecewise linear rows given at ``knots`` (linear beyond the outer ones too), evaluated ``at``."""
    segment = np.clip(np.searchsorted(knots, at) - 1, 0, len(knots) - 2)
    left, right = knots[segment], knots[segment + 1]
    weight = (at - left) / (right - left)
    return values[..., segment] * (1 - weight) + values[..., segment + 1] * weight


def _pwl_zeros(knots, values) -> np.ndarray:
    """Where piecewise linear rows given at ``knots`` (linear beyond the outer ones) cross 0."""
    left, right = values[:, :-1], values[:, 1:]
    segment = np.arange(left.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = left / (left - right)  # along each segment, from its left knot
    low = np.where(segment == 0, -np.inf, 0.0)  # the outer segments extend to ±∞
    high = np.where(segment == len(segment) - 1, np.inf, 1.0)
    row, column = np.nonzero((left != right) & (t > low) & (t < high))
    return knots[column] + t[row, column] * (knots[column + 1] - knots[column])
