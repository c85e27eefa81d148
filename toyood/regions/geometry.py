"""Tolerances, the error for float64 limits, and the small array helpers both cutters and the
analyses share: activations, zero tolerances, shoelace areas and ragged rings (polygons laid end to
end, ``ring``/``start``). What the tolerances mean: ``cutter``'s docstring.
"""
from __future__ import annotations

import numpy as np


Layers = list[tuple[np.ndarray, np.ndarray]]
REL_TOL = 1e-13
GEOM_TOL = 1e-12
ANGLE_TOL = 1e-12
MIN_HALF_WIDTH = 1e-3
MAX_COORDINATE = 1e4


class GeometryError(ValueError):
    """The cut could not be completed consistently in float64 (a tolerance or precision limit)."""


def _check_tiling(vertices, areas, box) -> None:
    """The regions must tile the box: finite vertices and areas summing to the box's."""
    xmin, xmax, ymin, ymax = box
    box_area = (xmax - xmin) * (ymax - ymin)
    if not (np.isfinite(vertices).all() and abs(areas.sum() / box_area - 1) < 1e-6):
        raise GeometryError("the regions do not tile the box in float64: the net's features are too fine for "
                            "this box; use a smaller box")


def _zero_tolerance(weight, bias, input_max) -> np.ndarray:
    """Per neuron: a pre-activation this close to 0 (REL_TOL of its largest possible size) is 0."""
    return REL_TOL * (np.abs(weight).sum(axis=1) * input_max + np.abs(bias))


def _transposed(weight: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(weight.T)


def _act(z: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.maximum(z, 0.0) if negative_slope == 0 else np.where(z > 0, z, negative_slope * z)


def _rank_within_segments(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of ``count`` elements laid end to end: each element's segment and rank in it."""
    segment = np.repeat(np.arange(len(count)), count)
    return segment, np.arange(len(segment)) - np.repeat(np.cumsum(count) - count, count)


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """Where each run of equal consecutive rows of ``keys`` starts, followed by the total length."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(1, np.int64)
    change = np.zeros(n - 1, bool)
    for key in keys:
        change |= key[1:] != key[:-1]
    return np.r_[0, np.flatnonzero(change) + 1, n]


def _ring_next(start: np.ndarray) -> np.ndarray:
    """Index of the next element around each ring (rings laid end to end from ``start``, which ends
    with the total length)."""
    following = np.arange(1, start[-1] + 1)
    following[start[1:] - 1] = start[:-1]
    return following


def _take_rings(ring: np.ndarray, start: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The polygons of a ragged ring array in the given order."""
    size = np.diff(start)[order]
    polygon, rank = _rank_within_segments(size)
    return ring[start[order][polygon] + rank], np.r_[0, np.cumsum(size)]


def _select(ring: np.ndarray, start: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kept polygons of a ragged ring array."""
    size = np.diff(start)
    return ring[np.repeat(keep, size)], np.r_[0, np.cumsum(size[keep])]


def _shoelace(vertices: np.ndarray, start: np.ndarray) -> np.ndarray:
    following = _ring_next(start)
    relative = vertices - np.repeat(vertices[start[:-1]], np.diff(start), axis=0)
    x, y = relative[:, 0], relative[:, 1]
    cross = x * y[following] - x[following] * y
    return 0.5 * np.add.reduceat(cross, start[:-1]) if len(start) > 1 else np.zeros(0)
