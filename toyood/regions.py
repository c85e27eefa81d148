"""Exact linear (activation) regions of a (leaky-)ReLU MLP with 2-D input inside a box.

A net is ``layers = [(W, b), ...]`` in float64, PyTorch layout (W: out×in); all but the last layer
are hidden layers followed by leaky ReLU with ``negative_slope`` (0 = ReLU), the last one gives the
K logits. On every activation region Q the logits are affine, f(x) = V_Q x + a_Q (Hein et al. 2019).

Algorithm (float64, no sampling). Start from the box as one cell. For each hidden layer:

1. evaluate the layer's pre-activations z at every vertex of the current subdivision (z is affine
   on every cell, continuous across cells, so one value per vertex). The second layer is never held
   in full (``_TiledValues``): per tile of nearby vertices the first-layer neurons whose lines miss
   the tile form one affine map, only its signs are kept, and values are computed where asked;
2. a neuron cuts a cell iff z has a strictly positive and a strictly negative corner there; its zero
   set in the cell is a chord between two boundary points (a corner where z = 0, or the crossing on
   an edge, interpolated from the edge's end values so both neighbours get the same point);
3. chords of one cell that interleave on its boundary cross; the crossing is interpolated along
   one chord from the other neuron's values at its ends;
4. the faces of each cut cell (boundary + chords) come from a half-edge structure, traced directly
   (along the boundary, into a chord, at a crossing onto the other chord turning left) where every
   crossing is of two chords; elsewhere the half-edges around each vertex are sorted by angle.

Values at the new vertices are carried as convex combinations of old vertices, so the next layer's
pre-activations there cost only the few neurons that bend between those old vertices (``_extend``).
Each region's affine map is fitted exactly from its logits at its three best-spread vertices.

Ties and degenerate incidences:

- a pre-activation within ``REL_TOL`` (1e-13) of its scale |W_j|₁·max|input| + |b_j| counts as 0: a
  zero line through a vertex (box corners included) goes through that vertex, making no sliver;
- crossing points on one edge, or along one chord, closer than ``GEOM_TOL`` (1e-12) × box size are
  one vertex (concurrent lines, e.g. all-zero biases or duplicated neurons); chords with the same end
  points (duplicated, rescaled or negated neurons) are one chord; a chord along a cell edge is no cut;
- a neuron that is 0 (within tolerance) on a whole cell — dead neurons, zero rows, a line along a
  box edge — does not cut it and its bit there is 0; parallel lines never meet and need no case;
- only faces of positive area are kept, so the regions tile the box (areas sum to its area up to
  rounding); a region is missed only if its area is 0 or it is thinner than the tolerances.

Polygons may carry collinear vertices: the points where neighbouring regions' boundaries meet.

Two hidden layers (the app's nets) go by default to the compiled cutter of ``regions_jit``
(numba; same regions, patterns, areas and exact maps, 3-4× faster; ``engine`` in
``enumerate_regions``). Its polygons carry only their own corners, so neighbours' boundaries are not
noded: an exact overlay (GEOS) of them wants a snapping grid (``grid_size``) of ~1e-12 × box size.

The box. Every tolerance above is relative to the box, so a bigger box resolves less: vertices
closer than about 1e-12 of the box size become one and a region that thin is lost, and crossings
interpolated between far-apart ends carry errors of about 1e-16 of the box size. The nets here have
weights of order 1 (PyTorch initialisation, the trained toy nets): their lines and bends lie within
tens of units of the origin, where nearly all their vertices are, the closest ones 1e-9 (2×500) to
1e-2 (2×8) apart. So the box is confined to coordinates |x|, |y| ≤ ``MAX_COORDINATE`` (1e4): there
counts still only grow with the box (they have stopped growing well before it, every vertex being
inside), while from about 1e5 on, coincidences are declared where there are none and counts fall.
Sides must be ≥ 2·``MIN_HALF_WIDTH`` (1e-3): smaller boxes hold one or a few regions of such nets
while their areas and the affine fits from their vertices lose digits (at 1e-300 areas underflow).
Beyond the box the plane is described exactly by the far field (``farfield.direction_arcs``), which
is what ``Regions.unbounded_total`` counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .budget import Budget
from .errors import ConfigError
from .farfield import DirectionArcs, direction_arcs

Layers = list[tuple[np.ndarray, np.ndarray]]
REL_TOL = 1e-13
GEOM_TOL = 1e-12
ANGLE_TOL = 1e-12
MIN_HALF_WIDTH = 1e-3
MAX_COORDINATE = 1e4
BYTES_PER_REGION = 1100  # measured peak per region (K = 2) besides the terms in estimate_regions_cost


class GeometryError(ValueError):
    """The cut could not be completed consistently in float64 (a tolerance or precision limit)."""


@dataclass(frozen=True)
class Regions:
    """All activation regions of a net inside ``box`` = (xmin, xmax, ymin, ymax).

    Region r is the convex polygon ``vertices[offsets[r]:offsets[r+1]]`` (counter-clockwise) with
    activation pattern ``patterns[r]`` (np.packbits of the pre-activation > 0 bits of all
    ``n_neurons`` hidden neurons, layer by layer) and logits ``linear[r] @ x + bias[r]``.
    ``unbounded[r]``: the region (in the whole plane) has a nonzero recession direction;
    ``recession[r]`` = (first angle, arc length) of its recession directions (NaN when bounded; length
    0 for strip-like regions, e.g. between parallel bends where a single first-layer neuron is
    active); ``limit_class[r]`` = argmax of linear[r] @ u at the middle u of that arc (−1: bounded or
    tied); ``limit_unique[r]``: that class wins strictly on the whole closed arc (confidence → 1 along
    all of it). ``arcs``: the circle of directions at infinity; ``far_strips``: how many unbounded
    regions of the whole plane are strip-like (``_far_strips``).
    """

    box: tuple[float, float, float, float]
    vertices: np.ndarray
    offsets: np.ndarray
    patterns: np.ndarray
    n_neurons: int
    linear: np.ndarray
    bias: np.ndarray
    areas: np.ndarray
    unbounded: np.ndarray
    recession: np.ndarray
    limit_class: np.ndarray
    limit_unique: np.ndarray
    arcs: DirectionArcs
    far_strips: int = 0

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def unbounded_total(self) -> int:
        """Unbounded regions of the whole plane, whatever the box: one per maximal arc of constant
        pattern at infinity, plus the strip-like ones (recession arc of length 0)."""
        pattern = self.arcs.pattern
        changes = (pattern != np.roll(pattern, 1, axis=0)).any(axis=1).sum()
        return int(max(changes, 1) + self.far_strips)

    def polygon(self, r: int) -> np.ndarray:
        return self.vertices[self.offsets[r]:self.offsets[r + 1]]

    def pattern_bits(self) -> np.ndarray:
        """R×N bool activation patterns."""
        return np.unpackbits(self.patterns, axis=1, count=self.n_neurons).astype(bool)

    def confidence(self, points: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Max softmax probability at ``points`` (n×2) from the affine maps of their ``region`` ids."""
        logits = np.einsum("nkd,nd->nk", self.linear[region], points) + self.bias[region]
        logits -= logits.max(axis=1, keepdims=True)
        return 1.0 / np.exp(logits).sum(axis=1)


def as_box(box: float | tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) from a half-width or a 4-tuple; raises ConfigError (a ValueError) if
    empty or outside the range the cutter resolves (see the module docstring)."""
    if np.ndim(box) == 0:
        half = float(box)
        box = (-half, half, -half, half)
    xmin, xmax, ymin, ymax = (float(v) for v in box)
    if not (xmin < xmax and ymin < ymax and np.all(np.isfinite(box))):
        raise ConfigError(f"box must have xmin < xmax and ymin < ymax, got {box}")
    if min(xmax - xmin, ymax - ymin) < 2 * MIN_HALF_WIDTH or max(map(abs, (xmin, xmax, ymin, ymax))) > MAX_COORDINATE:
        raise ConfigError(f"box must have sides of at least {2 * MIN_HALF_WIDTH:g} and coordinates within "
                          f"±{MAX_COORDINATE:g} (float64 resolution), got ({', '.join(f'{v:g}' for v in box)})")
    return xmin, xmax, ymin, ymax


def estimate_regions_cost(widths, n_classes: int = 2) -> tuple[int, float]:
    """(regions, peak bytes) of ``enumerate_regions`` for hidden ``widths`` and ``n_classes`` outputs,
    before any work: N hidden neurons cut the plane like N lines, into at most N(N+1)/2 + 1 regions
    (random and trained nets come close, in a box holding their vertices); each costs about
    ``BYTES_PER_REGION`` plus its pattern and affine map, and every layer from the third on is held
    at all vertices of the layers before it."""
    widths = [int(w) for w in widths]
    n = sum(widths)
    regions = n * (n + 1) // 2 + 1
    per_region = BYTES_PER_REGION + 60 * n_classes + n / 4
    before = np.cumsum([0] + widths)
    dense = sum(24 * (before[i] ** 2 / 2 + 1) * widths[i] for i in range(2, len(widths)))
    sizes = [2, *widths, n_classes]
    weights = 24 * sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    return regions, float(regions * per_region + dense + weights)


def check_regions_budget(widths, n_classes: int = 2, budget: Budget | None = None) -> None:
    """Raise ``BudgetExceeded`` (a ValueError) if ``estimate_regions_cost`` is over ``budget``'s memory
    (default: ``Budget.from_environment()``, $TOYOOD_MAX_MEMORY_GB)."""
    regions, memory = estimate_regions_cost(widths, n_classes)
    what = f"enumerating about {regions:,} regions of {'×'.join(map(str, widths)) or 'no hidden layers'}"
    (budget or Budget.from_environment()).check(what, memory)


def activation_patterns(layers: Layers, points: np.ndarray, negative_slope: float = 0.0) -> np.ndarray:
    """n×N bool pre-activation > 0 bits of all hidden neurons at ``points`` (direct forward pass)."""
    h = np.asarray(points, dtype=np.float64)
    bits = []
    for weight, bias in layers[:-1]:
        z = h @ weight.T + bias
        bits.append(z > 0)
        h = _act(z, negative_slope)
    return np.concatenate(bits, axis=1)


def forward(layers: Layers, points: np.ndarray, negative_slope: float = 0.0) -> np.ndarray:
    """Logits at ``points`` (n×2), float64."""
    h = np.asarray(points, dtype=np.float64)
    for weight, bias in layers[:-1]:
        h = _act(h @ weight.T + bias, negative_slope)
    weight, bias = layers[-1]
    return h @ weight.T + bias


def enumerate_regions(layers: Layers, box: float | tuple = 50.0, negative_slope: float = 0.0,
                      progress=None, budget: Budget | None = None, engine: str = "auto") -> Regions:
    """Every activation region of the MLP ``layers`` inside ``box`` (see the module docstring).

    ``progress(fraction, text)`` is called per layer and phase; an exception it raises (such as
    ``errors.Cancelled``) propagates, which is how a caller stops the job. ``budget`` bounds the
    estimated memory before any work starts (``check_regions_budget``). ``engine``: "numpy" (any
    net), "compiled" (``regions_jit``: two hidden layers, needs numba) or "auto" (compiled where
    it applies). Errors are ValueErrors with a one-line message: ``ConfigError`` (box, layers,
    engine), ``BudgetExceeded``, ``GeometryError``."""
    layers = _check_layers(layers)
    box = as_box(box)
    hidden = layers[:-1]
    compiled = resolve_engine(engine, len(hidden), negative_slope) == "compiled"
    check_regions_budget([weight.shape[0] for weight, _ in hidden], layers[-1][0].shape[0], budget)
    report = _Report(progress, len(hidden))
    xmin, xmax, ymin, ymax = box
    gtol = GEOM_TOL * (max(abs(v) for v in box) + max(xmax - xmin, ymax - ymin))
    if compiled:
        vertices, start, patterns, linear, offset_map, areas = _cut_compiled(layers, box, negative_slope, report)
    else:
        vertices, start, patterns, linear, offset_map, areas = _cut_numpy(layers, box, negative_slope, gtol, report)
    report(0.9, "unbounded regions")
    _check_tiling(vertices, areas, box)
    unbounded, recession = _recession(layers, negative_slope, patterns, vertices, start, box, gtol)
    limit_class, limit_unique = _limit_classes(linear, recession, unbounded)
    report(0.97, "the far field")
    arcs = direction_arcs(layers, negative_slope)
    regions = Regions(box, vertices, start.astype(np.int64), patterns, sum(w.shape[0] for w, _ in hidden), linear,
                      offset_map, areas, unbounded, recession, limit_class, limit_unique, arcs,
                      _far_strips(hidden, negative_slope, arcs))
    report(1.0, f"{len(regions):,} regions")
    return regions


ENGINES = ("auto", "numpy", "compiled")


def resolve_engine(engine: str, n_hidden: int, negative_slope: float = 0.0) -> str:
    """The cutter ``enumerate_regions`` runs ("numpy" or "compiled") for ``engine`` (one of
    ``ENGINES``) on a net with ``n_hidden`` hidden layers; ConfigError if it cannot."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "compiled" and n_hidden != 2:
        raise ConfigError(f"the compiled cutter handles two hidden layers, this net has {n_hidden}; "
                          "use engine='numpy' or 'auto'")
    applies = n_hidden == 2
    if engine == "numpy" or not applies:
        return "numpy"
    if _regions_jit() is None:
        if engine == "compiled":
            raise ConfigError("the compiled cutter needs numba (pip install numba); use engine='numpy' or 'auto'")
        return "numpy"
    return "compiled"


def _regions_jit():
    """The ``regions_jit`` module, or None without numba (imported on first use: numba takes 0.3 s)."""
    try:
        from . import regions_jit
    except ImportError:
        return None
    return regions_jit


def _cut_compiled(layers, box, negative_slope, report):
    """(vertices, offsets, patterns, linear, bias, areas) from ``regions_jit.cut``. The second
    layer's input bound is max |act(z₁)| at the box's corners: each |act(z₁)| is convex."""
    (w1, b1), (w2, b2) = layers[:2]
    xy = np.array([[box[0], box[2]], [box[1], box[2]], [box[1], box[3]], [box[0], box[3]]])
    tol1 = _zero_tolerance(w1, b1, np.abs(xy).max())
    tol2 = _zero_tolerance(w2, b2, float(np.abs(_act(xy @ w1.T + b1, negative_slope)).max(initial=0.0)))
    step = lambda fraction: report(0.9 * fraction, "both layers at once (compiled cutter)")  # noqa: E731
    step(0.0)
    try:
        return _regions_jit().cut(layers, box, tol1, tol2, negative_slope, step)
    except ValueError as error:  # raised inside the compiled code; its traceback says nothing more
        raise GeometryError(str(error)) from None


def _cut_numpy(layers, box, negative_slope, gtol, report):
    """(vertices, offsets, patterns, linear, bias, areas): the numpy cutter, layer by layer."""
    hidden = layers[:-1]
    xmin, xmax, ymin, ymax = box
    xy = np.array([[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax]])
    ring, start = np.arange(4), np.array([0, 4])
    areas = _shoelace(xy, start)
    values = _DenseValues(xy @ layers[0][0].T + layers[0][1])
    input_max = np.abs(xy).max()
    layer_bits: list[np.ndarray] = []
    for depth, (weight, bias) in enumerate(hidden):
        step = report.layer(depth)
        split = _split_cells(xy, ring, start, values, _zero_tolerance(weight, bias, input_max), gtol,
                             layers[0] if depth == 0 else None, step)
        layer_bits = [bits[split.parent] for bits in layer_bits] + [split.bits]
        areas = np.concatenate([areas[split.parent[:len(split.parent) - len(split.area)]], split.area])
        xy, ring, start = np.concatenate([xy, split.new_xy]), split.ring, split.start
        values, next_max = _next_values(layers, depth, values, split, xy, negative_slope, report.layer(depth + 1))
        input_max = input_max if next_max is None else next_max
    report(0.9, "affine maps")
    patterns = _concat_bits(layer_bits, [weight.shape[0] for weight, _ in hidden], len(start) - 1)
    vertices = xy[ring]
    _check_tiling(vertices, areas, box)
    linear, offset_map = _fit_affine(vertices, ring, start, values.z)
    return vertices, start, patterns, linear, offset_map, areas


class _Report:
    """Passes (fraction, text) to ``progress`` (if any): each hidden layer gets an equal share of the
    first 90%, which ``layer(depth)`` maps its own 0…1 onto."""

    def __init__(self, progress, n_layers: int):
        self.progress, self.n_layers = progress, max(n_layers, 1)

    def __call__(self, fraction: float, text: str) -> None:
        if self.progress is not None:
            self.progress(min(fraction, 1.0), f"linear regions: {text}")

    def layer(self, depth: int):
        def step(fraction: float, text: str) -> None:
            self(0.9 * (depth + fraction) / self.n_layers, f"layer {depth + 1} of {self.n_layers}, {text}")
        return step


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


def _next_values(layers, depth, values, split, xy, negative_slope, step):
    """The next layer's pre-activations at every vertex after cutting by layer ``depth``, and the
    largest |activation| feeding them. New vertices are convex combinations of old ones inside a
    cell where the layer is affine, so their activations are no larger than the old vertices'."""
    next_weight, next_bias = layers[depth + 1]
    if depth == 0 and depth + 2 < len(layers):
        input_max = float(np.abs(_act(values.z, negative_slope)).max(initial=0.0))
        tol = _zero_tolerance(next_weight, next_bias, input_max)
        return _TiledValues(xy, layers[0], layers[1], negative_slope, tol, layers[2], step, len(layers) > 3), input_max
    old, input_max = values.next_layer(next_weight, next_bias, negative_slope)
    if depth == 0:
        new = np.empty((len(split.new_xy), next_weight.shape[0]))
        _next_layer(split.new_xy, layers[0], next_weight, next_bias, negative_slope, new)
    else:
        new = _extend(old, split, next_weight, negative_slope)
    return _DenseValues(np.concatenate([old, new])), input_max


def _check_layers(layers: Layers) -> Layers:
    checked = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in layers]
    width = 2
    for i, (w, b) in enumerate(checked):
        if w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
            raise ValueError(f"layer {i}: expected W of shape (out, {width}) and b of shape (out,), "
                             f"got {w.shape} and {b.shape}")
        width = w.shape[0]
    if not checked:
        raise ValueError("need at least the output layer")
    return checked


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


def _transposed(weight: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(weight.T)


def _act(z: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.maximum(z, 0.0) if negative_slope == 0 else np.where(z > 0, z, negative_slope * z)


@dataclass(frozen=True)
class _Split:
    """One layer's cut of a subdivision. New vertex i is at ``new_xy[i]`` = Σ_t rep_weight[i, t] ·
    (old vertex rep_index[i, t]), inside old cell ``new_cell[i]``, whose ring has that old vertex at
    position rep_rank[i, t]. Faces: ``ring``/``start`` (vertex ids), old cell ``parent``, packed layer
    ``bits``. ``cut_cell``/``cut_neuron``: the (cell, neuron) pairs that cut, sorted by cell; the
    neuron's values at the corners of the cell are ``value[block[pair]:]``, in ring order. The first
    ``edge_vertices`` new vertices are edge crossings, whose bending neurons are ``edge_bends``.
    ``area``: the faces' areas (the uncut cells, first in ``parent``, keep theirs)."""

    new_xy: np.ndarray
    rep_index: np.ndarray
    rep_rank: np.ndarray
    rep_weight: np.ndarray
    new_cell: np.ndarray
    ring: np.ndarray
    start: np.ndarray
    parent: np.ndarray
    bits: np.ndarray
    cut_cell: np.ndarray
    cut_neuron: np.ndarray
    value: np.ndarray
    block: np.ndarray
    edge_vertices: int
    edge_bends: _Bends
    area: np.ndarray


def _split_cells(xy, ring, start, values, tol, gtol, first_layer, step=lambda fraction, text: None) -> _Split:
    """Cut every cell (``ring``/``start``: CCW vertex ids) by the zero lines of the neurons whose
    ``values`` (_DenseValues or _TiledValues: affine on each cell) change sign on it. ``first_layer``:
    (W, b) when they are globally affine (sign of cut neurons read from it), else None (sign from the
    chords). ``step(fraction, text)`` is told each phase."""
    step(0.25, f"which neurons cut {len(start) - 1:,} cells")
    pairs = _cutting_pairs(values, ring, start, tol)
    if len(pairs.cell) == 0:
        none = np.zeros(0, np.int64)
        return _Split(np.zeros((0, 2)), np.zeros((0, 4), np.int64), np.zeros((0, 4), np.int64), np.zeros((0, 4)),
                      none, ring, start, np.arange(len(start) - 1), pairs.positive, pairs.cell, pairs.neuron,
                      np.zeros(0), none, 0, _Bends(none, none, np.zeros(0), np.zeros((0, 2))), np.zeros(0))
    step(0.35, f"where {len(pairs.cell):,} cuts meet their cells' edges")
    ends = _chord_ends(values, ring, start, pairs)
    edge = _edge_crossings(xy, ends, gtol)
    boundary = _boundary_rings(ring, start, ends, edge)
    chords = _chords(pairs, edge, boundary)
    step(0.55, f"crossings of {len(chords.cell):,} chords")
    inner = _chord_crossings(chords, ends, edge, gtol)
    step(0.7, "faces")
    faces = _faces(boundary, chords, inner)
    step(0.9, f"patterns of {len(faces.cell):,} faces")
    bits = _face_bits(faces, inner.xy, pairs, ends, edge, chords, first_layer)
    return _assemble(ring, start, pairs, ends, edge, chords, inner, faces, bits)


class _Pairs(NamedTuple):
    """Which neurons cut which cells: packed cell×neuron bits ``cut`` (the neuron has both signs on
    the cell) and ``positive`` (> 0 somewhere on it, < 0 nowhere); the cutting ``cell``/``neuron``
    pairs, sorted by cell; the packed vertex×neuron signs ``above``/``below`` they come from."""

    cut: np.ndarray
    positive: np.ndarray
    cell: np.ndarray
    neuron: np.ndarray
    above: np.ndarray
    below: np.ndarray


def _cutting_pairs(values, ring, start, tol) -> _Pairs:
    """Signs of every neuron at every corner (beyond ±``tol``: nonzero), or-ed over each cell (as
    64-bit words of packed bits)."""
    above, below = values.signs(tol)
    any_above = np.bitwise_or.reduceat(above[ring], start[:-1], axis=0)
    any_below = np.bitwise_or.reduceat(below[ring], start[:-1], axis=0)
    cut = any_above & any_below
    cell, neuron = _set_bits(cut)
    n_bytes = (len(tol) + 7) // 8
    return _Pairs(cut.view(np.uint8)[:, :n_bytes], (any_above & ~any_below).view(np.uint8)[:, :n_bytes], cell,
                  neuron, above.view(np.uint8), below.view(np.uint8))


def _packed_positive(points, layer, chunk: int = 4096) -> np.ndarray:
    """Packed bits W x + b > 0 of ``layer`` = (W, b) at ``points`` (n×2), in row chunks."""
    weight, bias = layer
    extended = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    matrix = np.ascontiguousarray(np.concatenate([weight, bias[:, None]], axis=1).T)
    out = np.empty((len(points), (len(bias) + 7) // 8), np.uint8)
    values, positive = np.empty((chunk, len(bias))), np.empty((chunk, len(bias)), bool)
    for lo in range(0, len(points), chunk):
        k = min(chunk, len(points) - lo)
        np.matmul(extended[lo:lo + k], matrix, out=values[:k])
        np.greater(values[:k], 0.0, out=positive[:k])
        out[lo:lo + k] = np.packbits(positive[:k], axis=1)
    return out


def _set_bits(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, bit) of every set bit of rows of packed bits held as 64-bit words, in row-major order."""
    row, word = np.nonzero(words)
    entry, bit = np.nonzero(np.unpackbits(words[row, word].view(np.uint8).reshape(-1, 8), axis=1))
    return row[entry], word[entry] * 64 + bit


class _Ends(NamedTuple):
    """Where each cutting pair's zero line meets its cell's boundary. Event e belongs to pair e mod P
    (P pairs): for e < P where the neuron turns from + to − going counter-clockwise (``down``), else
    from − to + (``up``). The event is at corner ``corner[e]`` (position ``rank[e]`` on the cell's
    ring) or, if ``on_edge[e]``, strictly inside the edge from it to ``next_corner[e]`` (position
    ``next_rank[e]``). ``cell`` and ``neuron`` per event. Per pair: ``majority``, the sign of the
    neuron's largest |value| on the cell, and its values at the cell's corners in ring order,
    ``value[block[p]:]``."""

    corner: np.ndarray
    next_corner: np.ndarray
    rank: np.ndarray
    next_rank: np.ndarray
    on_edge: np.ndarray
    cell: np.ndarray
    neuron: np.ndarray
    majority: np.ndarray
    value: np.ndarray
    block: np.ndarray

    def at(self, pair, event) -> np.ndarray:
        """The neurons of ``pair`` at the corners of ``event`` (E×2), in the same cell."""
        return self.value[self.block[pair][:, None] + np.stack([self.rank[event], self.next_rank[event]], 1)]


def _chord_ends(values, ring, start, pairs: _Pairs) -> _Ends:
    """The two events of every cutting pair, from the neuron's signs at the cell's corners."""
    count = np.diff(start)[pairs.cell]
    pair, rank = _rank_within_segments(count)
    block = np.cumsum(count) - count
    corner = ring[start[pairs.cell][pair] + rank]
    neuron = pairs.neuron[pair]
    byte, shift = neuron >> 3, (7 - (neuron & 7)).astype(np.uint8)
    sign = (((pairs.above[corner, byte] >> shift) & 1).astype(np.int8)
            - ((pairs.below[corner, byte] >> shift) & 1).astype(np.int8))
    value = values.at(corner, neuron)
    following = _ring_next(np.r_[block, len(pair)])
    events = np.concatenate(_sign_changes(sign, following, pair, block, count))
    majority = np.sign(np.maximum.reduceat(value, block) + np.minimum.reduceat(value, block))
    twice = np.tile(np.arange(len(count)), 2)
    return _Ends(corner[events], corner[following[events]], rank[events], rank[following[events]],
                 sign[events] != 0, pairs.cell[twice], pairs.neuron[twice], majority, value, block)


def _sign_changes(sign, following, pair, block, count) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the index (into ``sign``, rings of ``count`` corners from ``block``) of its down and
    up event: the last corner of one sign before the other sign, or the zero corner between them."""
    n_pairs = len(block)
    index = np.arange(len(sign))
    preceding = np.empty_like(following)
    preceding[following] = index
    s_next, s_prev = sign[following], sign[preceding]
    down = ((sign == 1) & (s_next == -1)) | ((sign == 0) & (s_prev == 1) & (s_next == -1))
    up = ((sign == -1) & (s_next == 1)) | ((sign == 0) & (s_prev == -1) & (s_next == 1))
    zero_run = (sign == 0) & ((s_prev == 0) | (s_next == 0))
    clean = ((np.bincount(pair[down], minlength=n_pairs) == 1) & (np.bincount(pair[up], minlength=n_pairs) == 1)
             & (np.bincount(pair[zero_run], minlength=n_pairs) == 0))
    down_at, up_at = np.zeros(n_pairs, np.int64), np.zeros(n_pairs, np.int64)
    down_at[pair[down]] = index[down]
    up_at[pair[up]] = index[up]
    for p in np.flatnonzero(~clean):  # zero runs or several sign changes: degenerate, rare
        first_down, first_up = _chord_events(sign[block[p]:block[p] + count[p]].tolist())
        down_at[p], up_at[p] = block[p] + first_down, block[p] + first_up
    return down_at, up_at


class _EdgeVertices(NamedTuple):
    """The vertices after adding the edge crossings (``xy``; new vertex i comes from event
    ``source[i]``). Per event: its ``event_vertex``, that vertex's ``event_position`` on the cell's
    ring (corner rank + fraction of the edge) and its ``event_weight`` on the event's two corners.
    ``bends``: the neurons that change sign along each new vertex's edge (see ``_Bends``)."""

    xy: np.ndarray
    source: np.ndarray
    event_vertex: np.ndarray
    event_position: np.ndarray
    event_weight: np.ndarray
    bends: "_Bends"


class _Bends(NamedTuple):
    """New vertex ``vertex`` lies at fraction ``t`` of an edge along which ``neuron`` goes from
    ``values[:, 0]`` to ``values[:, 1]`` (both signs): the neurons that bend between its two corners."""

    vertex: np.ndarray
    neuron: np.ndarray
    t: np.ndarray
    values: np.ndarray


def _edge_crossings(xy, ends: _Ends, gtol) -> _EdgeVertices:
    """One vertex per (edge, neuron) crossing, interpolated from the edge's end values in the edge's
    own orientation (lower vertex id first), so the cells on both sides get the same point."""
    n_vert, n_pairs = len(xy), len(ends.majority)
    a, b = ends.corner, ends.next_corner
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    edge_events = np.flatnonzero(ends.on_edge)
    key = (lo * n_vert + hi)[edge_events] * (ends.neuron.max() + 1) + ends.neuron[edge_events]
    _, first, crossing_of = np.unique(key, return_index=True, return_inverse=True)
    source = edge_events[first]
    at_ab = ends.at(source % n_pairs, source)
    forward = a[source] == lo[source]
    z_lo, z_hi = np.where(forward, at_ab[:, 0], at_ab[:, 1]), np.where(forward, at_ab[:, 1], at_ab[:, 0])
    t = z_lo / (z_lo - z_hi)
    c_lo, c_hi = lo[source], hi[source]
    vertex_of, new = _merge_along_edges(n_vert, c_lo, c_hi, t, np.linalg.norm(xy[c_hi] - xy[c_lo], axis=1), gtol)
    event_vertex = a.copy()
    event_vertex[edge_events] = vertex = vertex_of[crossing_of]
    on_lohi = np.where(vertex == lo[edge_events], 0.0, 1.0)  # merged into an end of the edge, or:
    on_lohi[vertex >= n_vert] = t[new[vertex[vertex >= n_vert] - n_vert]]
    weight = np.tile([1.0, 0.0], (len(a), 1))
    weight[edge_events, 1] = np.where(a[edge_events] == lo[edge_events], on_lohi, 1 - on_lohi)
    weight[edge_events, 0] = 1 - weight[edge_events, 1]
    position = ends.rank.astype(np.float64)
    position[edge_events] += np.where(a[edge_events] == lo[edge_events], t[crossing_of], 1 - t[crossing_of])
    return _EdgeVertices(np.concatenate([xy, xy[c_lo[new]] + t[new, None] * (xy[c_hi[new]] - xy[c_lo[new]])]),
                         source[new], event_vertex, position, weight,
                         _edge_bends(c_lo * n_vert + c_hi, new, t, ends.neuron[source], np.stack([z_lo, z_hi], 1)))


def _edge_bends(edge, new, t, neuron, values) -> _Bends:
    """For each new edge vertex (crossing ``new[i]``) every crossing on the same edge (``edge``:
    sorted ids of the crossings' edges): only those neurons change sign between its two corners."""
    group = _run_starts(edge)
    group_of = (np.cumsum(np.r_[False, edge[1:] != edge[:-1]]))[new]
    vertex, rank = _rank_within_segments(np.diff(group)[group_of])
    crossing = group[group_of[vertex]] + rank
    return _Bends(vertex, neuron[crossing], t[new[vertex]], values[crossing])


def _merge_along_edges(n_vert, lo, hi, t, length, gtol) -> tuple[np.ndarray, np.ndarray]:
    """Vertex id of each crossing at fraction ``t`` of edge (``lo``, ``hi``): crossings closer than
    ``gtol`` along the edge are one vertex, one that close to an end is that end; and the crossings
    that give the new vertices (ids from ``n_vert`` on). The crossings come sorted by edge."""
    shared = np.flatnonzero(np.r_[False, (lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1])])  # sorted by edge
    on_shared = np.zeros(len(t), bool)
    on_shared[shared - 1] = on_shared[shared] = True
    shared = np.flatnonzero(on_shared)  # the crossings on edges with several
    order = shared[np.lexsort((t[shared], hi[shared], lo[shared]))]
    same_edge = (lo[order][1:] == lo[order][:-1]) & (hi[order][1:] == hi[order][:-1])
    close = same_edge & (np.diff(t[order]) * length[order][1:] <= gtol)
    nodes = n_vert + np.arange(len(t))
    snap_lo = t * length <= gtol
    snap_hi = ~snap_lo & ((1 - t) * length <= gtol)
    representative = _merge(n_vert + len(t),
                            np.concatenate([nodes[order][:-1][close], nodes[snap_lo], nodes[snap_hi]]),
                            np.concatenate([nodes[order][1:][close], lo[snap_lo], hi[snap_hi]]))
    vertex_of, new = _merged_ids(representative, n_vert)
    return vertex_of[n_vert:], new


class _Boundary(NamedTuple):
    """The boundary rings of the cut cells with their edge crossings, counter-clockwise: entry i is
    ``vertex[i]`` of ``cell[i]``, at ``position[i]`` on a ring of ``size`` entries; rings from
    ``start``; ``next`` entry. Event e of ``_Ends`` is entry ``event_entry[e]``."""

    cell: np.ndarray
    vertex: np.ndarray
    start: np.ndarray
    next: np.ndarray
    position: np.ndarray
    size: np.ndarray
    event_entry: np.ndarray


def _boundary_rings(ring, start, ends: _Ends, edge: _EdgeVertices) -> _Boundary:
    """Corners and edge crossings of each cut cell merged by their position along its ring: each
    crossing goes after the corner its edge starts from, crossings on one edge in their order; an
    entry equal to the one before it (a crossing merged into a corner or another crossing) is dropped
    and its events go to that one."""
    pair_cell = ends.cell[:len(ends.majority)]  # sorted
    cut_cells = pair_cell[_run_starts(pair_cell)[:-1]]
    size = np.diff(start)[cut_cells]
    corner_of, rank = _rank_within_segments(size)
    on_edge = np.flatnonzero(ends.on_edge)
    on_edge = on_edge[np.lexsort((edge.event_position[on_edge], ends.cell[on_edge]))]
    slot = (np.cumsum(size) - size)[np.searchsorted(cut_cells, ends.cell[on_edge])] + ends.rank[on_edge]
    after = np.bincount(slot, minlength=len(rank))  # crossings after each corner
    corner_at = np.arange(len(rank)) + np.cumsum(after) - after
    event_at = corner_at[slot] + 1 + _rank_within_segments(after[after > 0])[1]
    cell, vertex = np.empty(len(rank) + len(slot), np.int64), np.empty(len(rank) + len(slot), np.int64)
    cell[corner_at], vertex[corner_at] = cut_cells[corner_of], ring[start[cut_cells][corner_of] + rank]
    cell[event_at], vertex[event_at] = ends.cell[on_edge], edge.event_vertex[on_edge]
    event_entry = corner_at[(np.cumsum(size) - size)[np.searchsorted(cut_cells, ends.cell)] + ends.rank]
    event_entry[on_edge] = event_at
    keep = np.r_[True, (cell[1:] != cell[:-1]) | (vertex[1:] != vertex[:-1])]
    event_entry = (np.cumsum(keep) - 1)[event_entry]
    cell, vertex = cell[keep], vertex[keep]
    first = _run_starts(cell)
    closing = np.flatnonzero(vertex[first[1:] - 1] == vertex[first[:-1]])  # rings whose last entry = first
    keep = np.ones(len(cell), bool)
    keep[first[1:][closing] - 1] = False
    moved = np.cumsum(keep) - 1
    moved[first[1:][closing] - 1] = moved[first[closing]]
    cell, vertex = cell[keep], vertex[keep]
    ring_start = _run_starts(cell)
    size = np.diff(ring_start)
    return _Boundary(cell, vertex, ring_start, _ring_next(ring_start), _rank_within_segments(size)[1], size,
                     moved[event_entry])


def _ring_position(boundary: _Boundary, event) -> tuple[np.ndarray, np.ndarray]:
    """Position of the vertex of ``event`` on its cell's boundary ring, and that ring's size."""
    found = boundary.event_entry[event]
    return boundary.position[found], boundary.size[np.searchsorted(boundary.start, found, side="right") - 1]


class _Chords(NamedTuple):
    """The distinct chords (zero-line segments through a cell's interior): ``cell``, end vertices
    ``down``/``up``, ``neuron``, the ends' positions on the cell's ring, its ``pair``. ``real`` (per
    pair): its zero set in the cell is a chord, not a corner or an edge."""

    cell: np.ndarray
    down: np.ndarray
    up: np.ndarray
    neuron: np.ndarray
    down_position: np.ndarray
    up_position: np.ndarray
    real: np.ndarray
    pair: np.ndarray


def _chords(pairs: _Pairs, edge: _EdgeVertices, boundary: _Boundary) -> _Chords:
    """One chord per distinct (cell, end points); pairs whose ends are equal or adjacent make none."""
    n_pairs = len(pairs.cell)
    down, up = edge.event_vertex[:n_pairs], edge.event_vertex[n_pairs:]
    down_position, ring_size = _ring_position(boundary, np.arange(n_pairs))
    up_position, _ = _ring_position(boundary, np.arange(n_pairs, 2 * n_pairs))
    gap = np.abs(down_position - up_position)
    real = (gap != 0) & (gap != 1) & (gap != ring_size - 1)
    lo, hi = np.minimum(down, up), np.maximum(down, up)
    chosen = np.flatnonzero(real)
    chosen = chosen[np.lexsort((hi[chosen], lo[chosen], pairs.cell[chosen]))]
    distinct = np.r_[True, (np.diff(pairs.cell[chosen]) != 0) | (np.diff(lo[chosen]) != 0)
                     | (np.diff(hi[chosen]) != 0)]
    chosen = chosen[distinct]
    return _Chords(pairs.cell[chosen], down[chosen], up[chosen], pairs.neuron[chosen],
                   down_position[chosen], up_position[chosen], real, chosen)


class _Inner(NamedTuple):
    """The vertices after adding the chord crossings (``xy``; new vertex i is on ``chord[i]`` at
    fraction ``fraction[i]`` from its down end) and every chord's vertices in order from its down
    end: ``entry_vertex`` on chord ``entry_chord`` (sorted by chord)."""

    xy: np.ndarray
    chord: np.ndarray
    fraction: np.ndarray
    entry_chord: np.ndarray
    entry_vertex: np.ndarray


def _chord_crossings(chords: _Chords, ends: _Ends, edge: _EdgeVertices, gtol) -> _Inner:
    """Crossings of the chords inside their cells, merged along each chord when closer than ``gtol``."""
    first, second = _crossing_chords(chords)
    s_first = _fraction_along(chords, first, second, ends, edge)
    s_second = _fraction_along(chords, second, first, ends, edge)
    xy, n_old, n_cross, n_chords = edge.xy, len(edge.xy), len(first), len(chords.cell)
    chord = np.concatenate([first, second, np.arange(n_chords), np.arange(n_chords)])
    fraction = np.concatenate([s_first, s_second, np.zeros(n_chords), np.ones(n_chords)])
    node = np.concatenate([n_old + np.arange(n_cross)] * 2 + [chords.down, chords.up])
    order = np.lexsort((fraction, chord))
    chord, fraction, node = chord[order], fraction[order], node[order]
    length = np.linalg.norm(xy[chords.up] - xy[chords.down], axis=1)
    close = (chord[1:] == chord[:-1]) & (np.diff(fraction) * length[chord[1:]] <= gtol)
    vertex_of, new = _merged_ids(_merge(n_old + n_cross, node[:-1][close], node[1:][close]), n_old)
    vertex = vertex_of[node]
    keep = np.r_[True, (chord[1:] != chord[:-1]) | (vertex[1:] != vertex[:-1])]
    down, up = xy[chords.down[first[new]]], xy[chords.up[first[new]]]
    return _Inner(np.concatenate([xy, down + s_first[new, None] * (up - down)]), first[new], s_first[new],
                  chord[keep], vertex[keep])


def _crossing_chords(chords: _Chords) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of chords of one cell whose end points interleave on its ring: they cross inside."""
    a, b = _pairs_within(chords.cell)
    pd, pu = chords.down_position, chords.up_position
    a1, a2 = np.minimum(pd[a], pu[a]), np.maximum(pd[a], pu[a])
    b1, b2 = np.minimum(pd[b], pu[b]), np.maximum(pd[b], pu[b])
    crosses = ((a1 != b1) & (a1 != b2) & (a2 != b1) & (a2 != b2)
               & (((a1 < b1) & (b1 < a2)) != ((a1 < b2) & (b2 < a2))))
    return a[crosses], b[crosses]


def _fraction_along(chords: _Chords, chord, other, ends: _Ends, edge: _EdgeVertices) -> np.ndarray:
    """Where the neuron of chord ``other`` is 0 along ``chord``: the fraction from its down end,
    interpolated from that neuron's values at the two ends."""
    down, up = chords.pair[chord], chords.pair[chord] + len(ends.majority)
    start_value = (edge.event_weight[down] * ends.at(chords.pair[other], down)).sum(axis=1)
    end_value = (edge.event_weight[up] * ends.at(chords.pair[other], up)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.nan_to_num(start_value / (start_value - end_value), nan=0.5), 0.0, 1.0)


class _Faces(NamedTuple):
    """The faces of positive area of the cut cells, sorted by cell: vertex ``ring``/``start`` (CCW),
    old ``cell``, ``area``."""

    ring: np.ndarray
    start: np.ndarray
    cell: np.ndarray
    area: np.ndarray


def _faces(boundary: _Boundary, chords: _Chords, inner: _Inner) -> _Faces:
    """The faces of every cut cell. Where every chord crossing is of two chords only and every chord
    ends at its own boundary vertex (almost always), the faces are traced directly; the other cells
    sort their half-edges by angle around each vertex."""
    links = _chord_links(boundary, chords, inner)
    generic = _generic_rings(boundary, inner, links)
    parts = [_generic_faces(boundary, chords, inner, links, generic),
             _faces_by_angle(boundary, inner, links, ~generic)]
    cell = np.concatenate([part[2] for part in parts])
    start = np.r_[0, np.cumsum(np.concatenate([np.diff(part[1]) for part in parts]))]
    ring, start = _take_rings(np.concatenate([part[0] for part in parts]), start, np.argsort(cell, kind="stable"))
    cell = np.sort(cell, kind="stable")
    area = _shoelace(inner.xy[ring], start)
    keep = area > 0
    ring, start = _select(ring, start, keep)
    return _Faces(ring, start, cell[keep], area[keep])


class _Links(NamedTuple):
    """How chords meet the boundary rings: chord q runs from boundary entry ``down_entry[q]`` to
    ``up_entry[q]`` of ring ``ring[q]``; its vertices are entries ``first[q]``…``last[q]`` of
    ``inner.entry_vertex``. Per boundary entry, how many chords end there (``ends``)."""

    ring: np.ndarray
    down_entry: np.ndarray
    up_entry: np.ndarray
    first: np.ndarray
    last: np.ndarray
    ends: np.ndarray


def _chord_links(boundary: _Boundary, chords: _Chords, inner: _Inner) -> _Links:
    ring = np.searchsorted(boundary.cell[boundary.start[:-1]], chords.cell)
    down_entry = boundary.start[ring] + chords.down_position
    up_entry = boundary.start[ring] + chords.up_position
    chord_ids = np.arange(len(chords.cell))
    first = np.searchsorted(inner.entry_chord, chord_ids)
    last = np.searchsorted(inner.entry_chord, chord_ids, side="right") - 1
    ends = np.bincount(np.concatenate([down_entry, up_entry]), minlength=len(boundary.cell))
    return _Links(ring, down_entry, up_entry, first, last, ends)


def _generic_rings(boundary: _Boundary, inner: _Inner, links: _Links) -> np.ndarray:
    """Per boundary ring: at most one chord ends at each of its vertices, each chord runs from its
    own down to its own up end, and every other vertex along a chord is a new crossing vertex on
    exactly two chords (none merged into another vertex)."""
    chord, vertex = inner.entry_chord, inner.entry_vertex
    ring = links.ring[chord]
    index = np.arange(len(chord))
    interior = (index != links.first[chord]) & (index != links.last[chord])
    first_crossing = len(inner.xy) - len(inner.chord)
    count = np.bincount(vertex[interior], minlength=len(inner.xy))
    bad_entry = interior & ((vertex < first_crossing) | (count[vertex] != 2))
    bad_chord = ((links.last - links.first < 1) | (inner.entry_vertex[links.first] != boundary.vertex[links.down_entry])
                 | (inner.entry_vertex[links.last] != boundary.vertex[links.up_entry]))
    generic = np.ones(len(boundary.start) - 1, bool)
    generic[ring[bad_entry]] = False
    generic[links.ring[bad_chord]] = False
    generic[np.searchsorted(boundary.start, np.flatnonzero(links.ends > 1), side="right") - 1] = False
    return generic


def _generic_faces(boundary: _Boundary, chords: _Chords, inner: _Inner, links: _Links, generic):
    """Faces of the ``generic`` rings by following each half-edge to the next one on its face (the
    face on its left): along the boundary, into a chord that starts there, back onto the boundary at
    a chord's end, or at a crossing onto the other chord, in the direction that turns left."""
    n_b, n_e = len(boundary.cell), len(inner.entry_chord)
    chord = inner.entry_chord
    successor = np.arange(n_b + 2 * n_e)  # boundary entries, then pieces forward, then backward
    end_chord = np.full(n_b, -1)
    end_chord[links.down_entry] = np.arange(len(chords.cell))
    end_chord[links.up_entry] = np.arange(len(chords.cell))
    end_is_down = np.zeros(n_b, bool)
    end_is_down[links.down_entry] = True
    ring_of_entry = np.repeat(np.arange(len(boundary.size)), boundary.size)
    b_used = np.flatnonzero(generic[ring_of_entry])
    j = boundary.next[b_used]
    q = end_chord[j]
    successor[b_used] = np.where(q < 0, j, np.where(end_is_down[j], n_b + links.first[q], n_b + n_e + links.last[q]))
    used_entry = generic[links.ring[chord]]
    index = np.arange(n_e)
    partner = _crossing_partner(inner.entry_vertex, used_entry & (index != links.first[chord])
                                & (index != links.last[chord]))
    for forward in (True, False):
        e = np.flatnonzero(used_entry & (index != (links.last if forward else links.first)[chord]))
        arrive, q = (e + 1 if forward else e - 1), chord[e]
        f = partner[arrive]
        r = chord[f]
        size = boundary.size[links.ring[q]]
        begin, end = ((chords.up_position[q], chords.down_position[q]) if forward
                      else (chords.down_position[q], chords.up_position[q]))
        left = _ccw_between(chords.up_position[r], begin, end, size)
        onto_chord = np.where(left, n_b + f, n_b + n_e + f)
        at_end = arrive == (links.last if forward else links.first)[q]
        successor[(n_b if forward else n_b + n_e) + e] = np.where(
            at_end, (links.up_entry if forward else links.down_entry)[q], onto_chord)
    used = np.r_[generic[ring_of_entry], used_entry & (index != links.last[chord]),
                 used_entry & (index != links.first[chord])]
    origin = np.r_[boundary.vertex, inner.entry_vertex, inner.entry_vertex]
    cell = np.r_[boundary.cell, chords.cell[chord], chords.cell[chord]]
    return _cycle_faces(successor, used, origin, cell)


def _crossing_partner(vertex, interior) -> np.ndarray:
    """For every ``interior`` entry the other entry at the same vertex (each occurs exactly twice)."""
    partner = np.zeros(len(vertex), np.int64)
    chosen = np.flatnonzero(interior)
    chosen = chosen[np.argsort(vertex[chosen], kind="stable")]
    partner[chosen[0::2]], partner[chosen[1::2]] = chosen[1::2], chosen[0::2]
    return partner


def _ccw_between(x, begin, end, size) -> np.ndarray:
    """Ring position ``x`` lies strictly between ``begin`` and ``end`` going counter-clockwise."""
    return (0 < (x - begin) % size) & ((x - begin) % size < (end - begin) % size)


def _cycle_faces(successor, used, origin, cell):
    """(ring, start, cell) of the faces traced by the permutation ``successor`` over the ``used``
    half-edges (each ring lists the half-edges' ``origin`` vertices in order); the others must map
    to themselves."""
    ids = np.flatnonzero(used)
    compact = np.full(len(successor), -1)
    compact[ids] = np.arange(len(ids))
    label, rank = _cycles(compact[successor[ids]])
    heads = np.flatnonzero(label == np.arange(len(ids)))
    number = np.full(len(ids), -1)
    number[heads] = np.arange(len(heads))
    face = number[label]
    start = np.r_[0, np.cumsum(np.bincount(face, minlength=len(heads)))]
    ring = np.empty(len(ids), np.int64)
    ring[start[face] + rank] = origin[ids]
    return ring, start, cell[ids[heads]]


def _faces_by_angle(boundary: _Boundary, inner: _Inner, links: _Links, chosen):
    """Faces of the ``chosen`` rings from half-edges sorted by angle around every vertex."""
    ring_of_entry = np.repeat(np.arange(len(boundary.size)), boundary.size)
    keep = chosen[ring_of_entry]
    renumber = np.cumsum(keep) - 1
    b_cell, b_from = boundary.cell[keep], boundary.vertex[keep]
    b_to = b_from[renumber[boundary.next[keep]]]
    chord = inner.entry_chord
    piece = np.flatnonzero((chord[1:] == chord[:-1]) & chosen[links.ring[chord[1:]]])
    p_cell = boundary.cell[links.down_entry[chord[piece]]]
    p_from, p_to = inner.entry_vertex[piece], inner.entry_vertex[piece + 1]
    cell, origin, target, twin, n_real = _half_edges(b_cell, b_from, b_to, p_cell, p_from, p_to)
    successor = np.arange(len(cell))
    successor[:n_real] = _next_half_edge(cell, origin, target, twin, n_real, inner.xy)
    return _cycle_faces(successor, np.arange(len(cell)) < n_real, origin, cell)


def _half_edges(b_cell, b_from, b_to, p_cell, p_from, p_to):
    """Half-edges (``cell``, ``origin``, ``target``, ``twin``) of cut cells: the boundary edges
    (``b_``) both ways and the distinct chord pieces (``p_``) both ways. The first ``n_real`` (the
    boundary's inner sides and the pieces) bound faces; the others (outer sides) are only twins."""
    all_cell = np.concatenate([b_cell, p_cell])
    all_lo = np.concatenate([np.minimum(b_from, b_to), np.minimum(p_from, p_to)])
    all_hi = np.concatenate([np.maximum(b_from, b_to), np.maximum(p_from, p_to)])
    order = np.lexsort((np.arange(len(all_cell)), all_hi, all_lo, all_cell))
    repeated = np.zeros(len(all_cell), bool)
    repeated[order[1:]] = ((all_cell[order][1:] == all_cell[order][:-1]) & (all_lo[order][1:] == all_lo[order][:-1])
                           & (all_hi[order][1:] == all_hi[order][:-1]))
    unique = ~repeated[len(b_cell):]  # a piece along the boundary or repeated is no new edge
    p_cell, p_from, p_to = p_cell[unique], p_from[unique], p_to[unique]
    n_b, n_p = len(b_cell), len(p_cell)
    cell = np.concatenate([b_cell, p_cell, p_cell, b_cell])
    origin = np.concatenate([b_from, p_from, p_to, b_to])
    target = np.concatenate([b_to, p_to, p_from, b_from])
    twin = np.concatenate([np.arange(n_b) + n_b + 2 * n_p, np.arange(n_p) + n_b + n_p, np.arange(n_p) + n_b,
                           np.arange(n_b)])
    return cell, origin, target, twin, n_b + 2 * n_p


def _next_half_edge(cell, origin, target, twin, n_real, xy) -> np.ndarray:
    """For each of the first ``n_real`` half-edges the next one along its face: around the target
    vertex (within the cell), the half-edge leaving it just clockwise of the twin."""
    delta = xy[target] - xy[origin]
    order = np.lexsort((np.arctan2(delta[:, 1], delta[:, 0]), origin, cell))
    group = _run_starts(cell[order], origin[order])
    group_of, _ = _rank_within_segments(np.diff(group))
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    p = position[twin[:n_real]]
    first, last = group[group_of[p]], group[group_of[p] + 1] - 1
    return order[np.where(p > first, p - 1, last)]


def _face_bits(faces: _Faces, xy, pairs: _Pairs, ends: _Ends, edge: _EdgeVertices, chords: _Chords,
               first_layer) -> np.ndarray:
    """This layer's packed bits of every face: a neuron that does not cut its cell keeps the cell's
    bit; a cutting one is read at the face's vertex mean, from ``first_layer`` when given, else from
    the side of its chord (or its ``majority`` sign where its zero set is no chord)."""
    interior = np.add.reduceat(xy[faces.ring], faces.start[:-1], axis=0) / np.diff(faces.start)[:, None]
    bits = pairs.positive[faces.cell]
    if first_layer is not None:
        bits |= _packed_positive(interior, first_layer) & pairs.cut[faces.cell]
        return bits
    face, pair = _faces_by_pairs(faces.cell, pairs.cell)
    n_pairs = len(pairs.cell)
    down = xy[edge.event_vertex[:n_pairs]]
    along = xy[edge.event_vertex[n_pairs:]] - down
    relative = interior[face] - down[pair]
    side = along[pair, 0] * relative[:, 1] - along[pair, 1] * relative[:, 0]
    positive = np.flatnonzero(np.where(chords.real[pair], side > 0, ends.majority[pair] > 0))
    neuron = pairs.neuron[pair[positive]]
    key = face[positive] * bits.shape[1] + (neuron >> 3)  # non-decreasing: faces in order, then neurons
    runs = _run_starts(key)[:-1]
    bits.reshape(-1)[key[runs]] |= np.add.reduceat((128 >> (neuron & 7)).astype(np.uint8), runs, dtype=np.uint8)
    return bits


def _faces_by_pairs(face_cell, pair_cell) -> tuple[np.ndarray, np.ndarray]:
    """Every (face, pair) of one cell (both sorted by cell), face by face and within a face in pair
    order, without sorting."""
    cells = _run_starts(pair_cell)
    pair_first, n_pairs = cells[:-1], np.diff(cells)
    face_first = np.searchsorted(face_cell, pair_cell[pair_first])
    n_faces = np.searchsorted(face_cell, pair_cell[pair_first], side="right") - face_first
    cell, rank = _rank_within_segments(n_faces * n_pairs)
    f, p = np.divmod(rank, n_pairs[cell])
    return face_first[cell] + f, pair_first[cell] + p


def _assemble(ring, start, pairs: _Pairs, ends: _Ends, edge: _EdgeVertices, chords: _Chords, inner: _Inner,
              faces: _Faces, bits) -> _Split:
    """The uncut cells followed by the faces of the cut ones, and the new vertices as convex
    combinations of old ones (an edge crossing: its event's two corners; a chord crossing: the four
    corners of its chord's two ends)."""
    n_vert = len(edge.xy) - len(edge.source)
    uncut = np.ones(len(start) - 1, bool)
    uncut[pairs.cell] = False
    uncut_ring, uncut_start = _select(ring, start, uncut)
    down = chords.pair[inner.chord]
    up = down + len(ends.majority)
    s = inner.fraction[:, None]
    index, rank = np.stack([ends.corner, ends.next_corner], 1), np.stack([ends.rank, ends.next_rank], 1)
    source, weight = edge.source, edge.event_weight
    rep_index = np.concatenate([np.concatenate([index[source]] * 2, 1), np.concatenate([index[down], index[up]], 1)])
    rep_rank = np.concatenate([np.concatenate([rank[source]] * 2, 1), np.concatenate([rank[down], rank[up]], 1)])
    rep_weight = np.concatenate([np.concatenate([weight[source], np.zeros((len(source), 2))], 1),
                                 np.concatenate([(1 - s) * weight[down], s * weight[up]], 1)])
    uncut_cells = np.flatnonzero(uncut)
    return _Split(new_xy=inner.xy[n_vert:], rep_index=rep_index, rep_rank=rep_rank, rep_weight=rep_weight,
                  new_cell=np.concatenate([ends.cell[source], chords.cell[inner.chord]]),
                  ring=np.concatenate([uncut_ring, faces.ring]), start=np.r_[uncut_start[:-1], len(uncut_ring) + faces.start],
                  parent=np.concatenate([uncut_cells, faces.cell]),
                  bits=np.concatenate([pairs.positive[uncut_cells], bits]), cut_cell=pairs.cell,
                  cut_neuron=pairs.neuron, value=ends.value, block=ends.block,
                  edge_vertices=len(edge.source), edge_bends=edge.bends, area=faces.area)


def _chord_events(signs: list[int]) -> tuple[int, int]:
    """(down, up) for a cyclic sign sequence with both signs and zero runs: the last + (−) before a
    − (+) gives the event — its edge to the next corner, or the first zero corner after it."""
    m = len(signs)
    nonzero = [i for i in range(m) if signs[i] != 0]
    events = {}
    for n, i in enumerate(nonzero):
        j = nonzero[(n + 1) % len(nonzero)]
        if signs[i] != signs[j]:
            events.setdefault(signs[i], (i + 1) % m if (i + 1) % m != j else i)
    return events[1], events[-1]


def _merge(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For every node the smallest node connected to it through the pairs (a, b)."""
    representative = np.arange(n_nodes)
    if len(a) == 0:
        return representative
    nodes, pair = np.unique(np.concatenate([a, b]), return_inverse=True)  # only the nodes that merge
    graph = sparse.coo_matrix((np.ones(len(a)), (pair[:len(a)], pair[len(a):])), shape=(len(nodes),) * 2)
    _, label = connected_components(graph, directed=False)
    smallest = np.full(label.max() + 1, n_nodes)
    np.minimum.at(smallest, label, nodes)
    representative[nodes] = smallest[label]
    return representative


def _merged_ids(representative: np.ndarray, n_old: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids after merging every node into its group's ``representative`` (from ``_merge``): the
    ``n_old`` old vertices keep theirs, every other group becomes one new vertex, numbered from
    ``n_old`` on; also the nodes (counted from ``n_old``) that give those new vertices."""
    new = np.flatnonzero(representative[n_old:] == np.arange(n_old, len(representative)))
    vertex = np.arange(len(representative))
    vertex[n_old + new] = n_old + np.arange(len(new))
    return vertex[representative], new


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


def _pairs_within(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs i < j with group[i] == group[j] (``group`` sorted)."""
    runs = _run_starts(group)
    firsts, counts = runs[:-1], np.diff(runs)
    a_parts, b_parts = [], []
    for n in np.unique(counts[counts > 1]):
        i, j = np.triu_indices(n, 1)
        base = firsts[counts == n][:, None]
        a_parts.append((base + i).ravel())
        b_parts.append((base + j).ravel())
    if not a_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(a_parts), np.concatenate(b_parts)


def _cycles(successor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cycle label (smallest member) and rank along the cycle for a permutation ``successor``: the
    labels by pointer jumping (a window doubling each round, so at most log2 n + 1 rounds), then
    the ranks by walking from each label."""
    n = len(successor)
    if n and (successor.min() < 0 or successor.max() >= n or np.bincount(successor, minlength=n).max() > 1):
        raise GeometryError("the faces could not be traced (the half-edges do not form cycles): the net's "
                            "features are too fine for float64 in this box; use a smaller box")
    label, jump = np.arange(n), successor.copy()
    for _ in range(n.bit_length() + 1):
        updated = np.minimum(label, label[jump])
        jump = jump[jump]
        if np.array_equal(updated, label):
            break
        label = updated
    rank = np.zeros(n, np.int64)
    current = np.flatnonzero(label == np.arange(n))
    heads = current
    for step in range(n):
        if not len(current):
            break
        rank[current] = step
        current = successor[current]
        alive = current != heads
        current, heads = current[alive], heads[alive]
    return label, rank


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


def _extend(next_old, split: _Split, next_weight, negative_slope) -> np.ndarray:
    """Next layer's pre-activations at the new vertices: the convex combination of the old vertices'
    values, corrected for the neurons that bend between those old vertices: for an edge crossing the
    neurons crossing that edge, for a chord crossing every neuron cutting its cell."""
    idx, w = split.rep_index, split.rep_weight
    base = np.einsum("nt,ntk->nk", w, next_old[idx])
    bends, t = split.edge_bends, split.edge_bends.t
    low, high = bends.values[:, 0], bends.values[:, 1]
    edge_coefficient = (_act((1 - t) * low + t * high, negative_slope)
                        - (1 - t) * _act(low, negative_slope) - t * _act(high, negative_slope))
    chord_vertex = np.arange(split.edge_vertices, len(split.new_cell))
    first = np.searchsorted(split.cut_cell, split.new_cell[chord_vertex])
    vertex, rank = _rank_within_segments(np.searchsorted(split.cut_cell, split.new_cell[chord_vertex], side="right") - first)
    pair = first[vertex] + rank
    vertex = chord_vertex[vertex]
    values = split.value[split.block[pair][:, None] + split.rep_rank[vertex]]
    weights = w[vertex]
    coefficient = (_act(np.einsum("nt,nt->n", weights, values), negative_slope)
                   - np.einsum("nt,nt->n", weights, _act(values, negative_slope)))
    bend = sparse.csr_matrix((np.concatenate([edge_coefficient, coefficient]),
                              (np.concatenate([bends.vertex, vertex]), np.concatenate([bends.neuron, split.cut_neuron[pair]]))),
                             shape=(len(idx), next_weight.shape[1]))
    return base + bend @ _transposed(next_weight)


def _concat_bits(layer_bits: list[np.ndarray], widths: list[int], n_regions: int) -> np.ndarray:
    """Pack the concatenated per-layer bits of all regions (each layer's packed bits shifted to its
    bit offset)."""
    if len(widths) == 1:
        return layer_bits[0]
    out = np.zeros((n_regions, (sum(widths) + 7) // 8), np.uint8)
    offset = 0
    for bits, width in zip(layer_bits, widths):
        byte, shift = divmod(offset, 8)
        n_bytes = bits.shape[1]
        out[:, byte:byte + n_bytes] |= bits >> shift
        if shift:
            spill = min(n_bytes, out.shape[1] - byte - 1)
            out[:, byte + 1:byte + 1 + spill] |= bits[:, :spill] << (8 - shift)
        offset += width
    return out


def _fit_affine(vertices, ring, start, logits) -> tuple[np.ndarray, np.ndarray]:
    """Affine map of each region (polygon ``vertices[start[r]:start[r+1]]``, vertex ids ``ring``)
    from its logits at three vertices: the first one, the farthest from it, and the farthest from
    the line through those two."""
    region = np.repeat(np.arange(len(start) - 1), np.diff(start))
    rel = vertices - vertices[start[:-1]][region]
    b_index = _segment_argmax(rel[:, 0] ** 2 + rel[:, 1] ** 2, start, region)
    u = rel[b_index]
    c_index = _segment_argmax(np.abs(u[region, 0] * rel[:, 1] - u[region, 1] * rel[:, 0]), start, region)
    v, a = rel[c_index], vertices[start[:-1]]
    fa = logits[ring[start[:-1]]]
    rise_b, rise_c = logits[ring[b_index]] - fa, logits[ring[c_index]] - fa
    det = (u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])[:, None]  # Cramer's rule for [u; v] g = rise
    linear = np.stack([(v[:, 1:] * rise_b - u[:, 1:] * rise_c) / det,
                       (u[:, :1] * rise_c - v[:, :1] * rise_b) / det], axis=2)
    return linear, fa - linear[:, :, 0] * a[:, :1] - linear[:, :, 1] * a[:, 1:]


def _segment_argmax(values, start, region) -> np.ndarray:
    best = np.maximum.reduceat(values, start[:-1])
    hits = np.flatnonzero(values == best[region])
    return hits[np.r_[True, region[hits][1:] != region[hits][:-1]]]


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
