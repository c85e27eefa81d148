"""A layer's pre-activations at every vertex of the numpy cutter's subdivision (step 1 of
``cutter``'s algorithm): held in full (``_DenseValues``) or, for the second layer, per tile of
nearby vertices (``_TiledValues``)."""
from __future__ import annotations

import numpy as np

from .geometry import _act, _run_starts, _transposed


def _next_layer(inputs, first_layer, weight, bias, negative_slope, out, chunk: int = 8192) -> float:
    """out = act(z) @ weight.T + bias in row chunks, z = inputs or, with ``first_layer`` = (W, b),
    z = inputs @ W.T + b; returns max |act(z)|. Chunks keep the large temporaries small."""
    weight_t = _transposed(weight)
    largest = 0.0
    for lo in range(0, len(inputs), chunk):
        z = inputs[lo:lo + chunk]
        if first_layer is not None:
            z = z[:, :1] * first_layer[0][:, 0] + z[:, 1:] * first_layer[0][:, 1] + first_layer[1]
        h = _act(z, negative_slope)
        largest = max(largest, h.max(initial=0.0), -h.min(initial=0.0))
        np.matmul(h, weight_t, out=out[lo:lo + chunk])
        out[lo:lo + chunk] += bias
    return largest


class _DenseValues:
    """A layer's pre-activations ``z`` (V×N) held at every vertex."""

    def __init__(self, z: np.ndarray):
        self.z = z

    def signs(self, tol, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """Packed bits z > tol and z < −tol per vertex, as V×W 64-bit words."""
        n_vert, n_neurons = self.z.shape
        n_bytes = (n_neurons + 7) // 8
        above, below = (np.zeros((n_vert, -(-n_bytes // 8) * 8), np.uint8) for _ in range(2))
        sign = np.empty((chunk, n_neurons), bool)
        for lo in range(0, n_vert, chunk):
            k = min(chunk, n_vert - lo)
            above[lo:lo + k, :n_bytes] = np.packbits(np.greater(self.z[lo:lo + k], tol, out=sign[:k]), axis=1)
            below[lo:lo + k, :n_bytes] = np.packbits(np.less(self.z[lo:lo + k], -tol, out=sign[:k]), axis=1)
        return above.view(np.uint64), below.view(np.uint64)

    def at(self, vertex, neuron) -> np.ndarray:
        return self.z[vertex, neuron]

    def next_layer(self, weight, bias, negative_slope) -> tuple[np.ndarray, float]:
        out = np.empty((len(self.z), weight.shape[0]))
        return out, _next_layer(self.z, None, weight, bias, negative_slope, out)


class _TiledValues:
    """The second layer's pre-activations z = W act(W₁ x + b₁) + b at ``points``, never held in full.

    On a tile (a rectangle around ``tile_size`` nearby points) a first-layer neuron whose line misses
    it is exactly affine there (or 0), so all of those together are one affine map per tile, and only
    the few lines that cross the tile are evaluated point by point. One pass over the tiles gives the
    signs (beyond ±``tol``) and the next layer's values; ``at`` evaluates given (vertex, neuron) pairs.
    """

    def __init__(self, points, first_layer, layer, negative_slope, tol, next_layer, step, largest: bool = True,
                 tile_size: int = 128):
        (w1, b1), (weight, bias) = first_layer, layer
        self.first_layer, self.slope = first_layer, negative_slope
        self.order, self.starts = _tiles(points, tile_size)
        self.ordered = points[self.order]
        starts = self.starts[:-1]
        low, high = np.minimum.reduceat(self.ordered, starts), np.maximum.reduceat(self.ordered, starts)
        reach = ((high - low) / 2) @ np.abs(w1).T
        margin = 1e-9 * (np.abs(w1).sum(axis=1) * np.abs(points).max(initial=0.0) + np.abs(b1))
        at_centre = ((low + high) / 2) @ w1.T + b1
        positive, negative = at_centre - reach > margin, at_centre + reach < -margin
        slope_of = np.where(positive, 1.0, np.where(negative, negative_slope, 0.0))  # 0: the line crosses
        self.weight_t = _transposed(weight)
        self.affine = np.stack([(slope_of * column) @ self.weight_t for column in (w1[:, 0], w1[:, 1], b1)], 1)
        self.affine[:, 2] += bias
        self.crossing = ~(positive | negative)
        self.extended = np.concatenate([self.ordered, np.ones((len(points), 1))], axis=1)
        self.first_t = np.concatenate([w1, b1[:, None]], axis=1).T
        self.position = np.empty(len(points), np.int64)
        self.position[self.order] = np.arange(len(points))
        self._first_pass(tol, next_layer, step, largest)

    def _tile(self, t: int, neurons=slice(None)) -> np.ndarray:
        """z at the points of tile ``t`` (in tile order) for the chosen neurons: [act of the crossing
        lines, x, y, 1] @ [their weights; the tile's affine map], one product."""
        lines = np.flatnonzero(self.crossing[t])
        x = self.extended[self.starts[t]:self.starts[t + 1]]
        h = _act(x @ self.first_t[:, lines], self.slope)
        return np.concatenate([h, x], axis=1) @ np.concatenate([self.weight_t[lines], self.affine[t]])[:, neurons]

    def _first_pass(self, tol, next_layer, step, largest: bool) -> None:
        """Signs, the next layer's values and (if ``largest``) the largest |activation|, tile by tile."""
        n_vert, n_neurons = len(self.order), self.weight_t.shape[1]
        n_bytes = (n_neurons + 7) // 8
        above, below = (np.zeros((n_vert, -(-n_bytes // 8) * 8), np.uint8) for _ in range(2))
        next_weight_t, next_bias = _transposed(next_layer[0]), next_layer[1]
        self.next_values, self.largest = np.empty((n_vert, len(next_bias))), 0.0
        n_tiles = len(self.starts) - 1
        for t in range(n_tiles):
            if t % 256 == 0:
                step(0.25 * t / n_tiles, f"values at {n_vert:,} vertices")
            rows = self.order[self.starts[t]:self.starts[t + 1]]
            z = self._tile(t)
            above[rows, :n_bytes] = np.packbits(z > tol, axis=1)
            below[rows, :n_bytes] = np.packbits(z < -tol, axis=1)
            h = np.maximum(z, 0.0, out=z) if self.slope == 0 else _act(z, self.slope)
            if largest:
                self.largest = max(self.largest, h.max(initial=0.0), -h.min(initial=0.0))
            self.next_values[rows] = h @ next_weight_t + next_bias
        self.words = above.view(np.uint64), below.view(np.uint64)

    def signs(self, tol) -> tuple[np.ndarray, np.ndarray]:
        """The packed sign words of the first pass (``tol`` is the one given at construction)."""
        return self.words

    def at(self, vertex, neuron) -> np.ndarray:
        """z at the given (vertex, neuron) pairs: per tile, the block of its points × the neurons asked
        there, laid end to end in one buffer and read back by offsets (no sorting: the asked (tile,
        neuron) keys are marked in a tiles × neurons table)."""
        n_neurons = self.weight_t.shape[1]
        position = self.position[vertex]
        tile = np.searchsorted(self.starts, position, side="right") - 1
        asked = np.zeros((len(self.starts) - 1) * n_neurons, bool)
        asked[tile * n_neurons + neuron] = True
        keys = np.flatnonzero(asked)  # by tile, then neuron
        rank = np.cumsum(asked) - 1
        key_tile, key_neuron = np.divmod(keys, n_neurons)
        runs = _run_starts(key_tile)
        run_tile, columns = key_tile[runs[:-1]], np.diff(runs)
        run_of = np.zeros(len(self.starts) - 1, np.int64)
        run_of[run_tile] = np.arange(len(run_tile))
        points = np.diff(self.starts)[run_tile]
        block_start = np.r_[0, np.cumsum(points * columns)]
        flat = np.empty(block_start[-1])
        for k, t in enumerate(run_tile.tolist()):
            flat[block_start[k]:block_start[k + 1]] = self._tile(t, key_neuron[runs[k]:runs[k + 1]]).ravel()
        run = run_of[tile]
        row, column = position - self.starts[tile], rank[tile * n_neurons + neuron] - runs[run]
        return flat[block_start[run] + row * columns[run] + column]

    def next_layer(self, weight, bias, negative_slope) -> tuple[np.ndarray, float]:
        """The next layer's values of the first pass (``weight``, ``bias`` are the ones given then)."""
        return self.next_values, self.largest


def _tiles(points, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An order of ``points`` in which every run of ``size`` (from ``starts``) is compact: vertical
    slabs of equal counts, each cut into runs along y."""
    n = len(points)
    n_slabs = max(1, int(np.ceil(np.sqrt(n / size))))
    slab_size = -(-n // n_slabs)
    slab = np.empty(n, np.int64)
    slab[np.argsort(points[:, 0], kind="stable")] = np.arange(n) // slab_size
    order = np.lexsort((points[:, 1], slab))
    tile = slab[order] * (-(-slab_size // size)) + (np.arange(n) - slab[order] * slab_size) // size
    return order, _run_starts(tile)
