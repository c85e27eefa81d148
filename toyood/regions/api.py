"""The entry point: ``enumerate_regions`` (engine choice, then unboundedness and the far field),
its result ``Regions``, the box and memory checks, and a direct forward pass to check against.

A net is ``layers = [(W, b), ...]`` in float64, PyTorch layout (W: out×in); all but the last layer
are hidden layers followed by leaky ReLU with ``negative_slope`` (0 = ReLU), the last one gives the
K logits. On every activation region Q the logits are affine, f(x) = V_Q x + a_Q (Hein et al. 2019).

Two hidden layers (the app's nets) go by default to the compiled cutter (``compiled``,
numba; same regions, patterns, areas and exact maps, 3-4× faster; ``engine`` in
``enumerate_regions``). Its polygons carry only their own corners, so neighbours' boundaries are not
noded: an exact overlay (GEOS) of them wants a snapping grid (``grid_size``) of ~1e-12 × box size.

The box. Every tolerance (``geometry``; what each means: ``cutter``) is relative to the box, so a bigger box resolves less: vertices
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

import time
from dataclasses import dataclass

import numpy as np

from ..budget import Budget
from ..errors import ConfigError
from ..farfield import DirectionArcs, direction_arcs
from .cutter import _cut_numpy
from .geometry import (
    GEOM_TOL, MAX_COORDINATE, MIN_HALF_WIDTH, GeometryError, Layers, _act, _check_tiling, _zero_tolerance)
from .unbounded import _far_strips, _limit_classes, _recession


BYTES_PER_REGION = 1100  # measured peak per region (K = 2) besides the terms in estimate_regions_cost


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
    """Every activation region of the MLP ``layers`` inside ``box`` (the algorithm: ``cutter``; its limits: this module's docstring).

    ``progress(fraction, text)`` is called per layer and phase; an exception it raises (such as
    ``errors.Cancelled``) propagates, which is how a caller stops the job. ``budget`` bounds the
    estimated memory before any work starts (``check_regions_budget``). ``engine``: "numpy" (any
    net), "compiled" (``compiled``: two hidden layers, needs numba) or "auto" (compiled where
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
    """The ``compiled`` module, or None without numba (imported on first use: numba takes 0.3 s)."""
    try:
        from . import compiled
    except ImportError:
        return None
    return compiled


def _cut_compiled(layers, box, negative_slope, report):
    """(vertices, offsets, patterns, linear, bias, areas) from ``compiled.cut``. The second
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



def warm_compile() -> float:
    """Compile the compiled cutter into numba's on-disk cache by cutting a tiny net as
    ``enumerate_regions`` does (the same argument types, so the same machine code); the seconds it
    took, 0.0 without numba. The cache (``cache=True``) is ``__pycache__`` beside ``compiled.py``,
    ``$NUMBA_CACHE_DIR`` when set, or numba's user cache when the source's folder is read-only.
    ``scripts/setup`` runs it, so a user's first ``toyood regions`` loads the cutter instead of
    compiling it (~10 s)."""
    started = time.perf_counter()
    if _regions_jit() is not None:
        rng = np.random.default_rng(0)
        layers = [(rng.normal(size=(4, 2)), rng.normal(size=4)), (rng.normal(size=(4, 4)), rng.normal(size=4)),
                  (rng.normal(size=(2, 4)), np.zeros(2))]
        enumerate_regions(layers, 2.0, engine="compiled")
    return time.perf_counter() - started

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
