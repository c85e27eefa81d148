"""Region ids on a pixel grid (exact scanline fill of the convex region polygons)."""
from __future__ import annotations

import numpy as np

from .api import Regions
from .geometry import _rank_within_segments, _ring_next, _run_starts


def rasterize(regions: Regions, extent: tuple[float, float, float, float] | None = None,
              width: int = 800, height: int = 800) -> np.ndarray:
    """Region id (−1: none) at every pixel centre of a ``height``×``width`` grid over ``extent``
    (xmin, xmax, ymin, ymax; default the box); row 0 is the bottom row. Exact scanline fill of the
    convex polygons: a pixel on a shared edge goes to one of its regions."""
    xmin, xmax, ymin, ymax = regions.box if extent is None else extent
    dx, dy = (xmax - xmin) / width, (ymax - ymin) / height
    ids = np.full((height, width), -1, np.int64)
    start, points = regions.offsets, regions.vertices
    size = np.diff(start)
    lower, upper = np.minimum.reduceat(points, start[:-1], axis=0), np.maximum.reduceat(points, start[:-1], axis=0)
    visible = (upper[:, 0] >= xmin) & (lower[:, 0] <= xmax) & (upper[:, 1] >= ymin) & (lower[:, 1] <= ymax)
    poly = np.repeat(np.arange(len(size)), size)
    follow = _ring_next(start)
    edge = np.flatnonzero(visible[poly])
    p, q = points[edge], points[follow[edge]]
    row_of = lambda y: np.clip(np.ceil((y - ymin) / dy - 0.5), 0, height).astype(np.int64)  # noqa: E731
    first_row, end_row = row_of(np.minimum(p[:, 1], q[:, 1])), row_of(np.maximum(p[:, 1], q[:, 1]))
    which, rank = _rank_within_segments(end_row - first_row)
    row = first_row[which] + rank
    y = ymin + (row + 0.5) * dy
    p, q = p[which], q[which]
    x = p[:, 0] + (y - p[:, 1]) * (q[:, 0] - p[:, 0]) / (q[:, 1] - p[:, 1])
    owner = poly[edge][which]
    order = np.lexsort((row, owner))
    owner, row, x = owner[order], row[order], x[order]
    first = _run_starts(owner, row)[:-1]
    x_left, x_right = np.minimum.reduceat(x, first), np.maximum.reduceat(x, first)
    col_of = lambda v: np.clip(np.ceil((v - xmin) / dx - 0.5), 0, width).astype(np.int64)  # noqa: E731
    c0, c1 = col_of(x_left), col_of(x_right)
    span, rank = _rank_within_segments(np.maximum(c1 - c0, 0))
    col = c0[span] + rank
    ids[row[first][span], col] = owner[first][span]
    return ids
