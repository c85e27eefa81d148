"""Exact linear (activation) regions of a (leaky-)ReLU MLP with 2-D input inside a box.

A net is ``layers = [(W, b), ...]`` in float64, PyTorch layout (W: out×in); all but the last layer
are hidden layers followed by leaky ReLU with ``negative_slope`` (0 = ReLU), the last one gives the
K logits. On every activation region Q the logits are affine, f(x) = V_Q x + a_Q (Hein et al. 2019).

Algorithm (float64, no sampling). Start from the box as one cell. For each hidden layer:

1. evaluate the layer's pre-activations z at every vertex of the current subdivision (z is affine
   on every cell, continuous across cells, so one value per vertex);
2. a neuron cuts a cell iff z has a strictly positive and a strictly negative corner there; its zero
   set in the cell is a chord between two boundary points (a corner where z = 0, or the crossing on
   an edge, interpolated from the edge's end values so both neighbours get the same point);
3. chords of one cell that interleave on its boundary cross; the crossing is interpolated along
   one chord from the other neuron's values at its ends;
4. the faces of each cut cell (boundary + chords) come from a half-edge structure: around each
   vertex sort the half-edges by angle, ``next`` = the clockwise neighbour of the twin.

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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .farfield import DirectionArcs, direction_arcs

Layers = list[tuple[np.ndarray, np.ndarray]]
REL_TOL = 1e-13
GEOM_TOL = 1e-12
ANGLE_TOL = 1e-12


@dataclass(frozen=True)
class Regions:
    """All activation regions of a net inside ``box`` = (xmin, xmax, ymin, ymax).

    Region r is the convex polygon ``vertices[offsets[r]:offsets[r+1]]`` (counter-clockwise) with
    activation pattern ``patterns[r]`` (np.packbits of the pre-activation > 0 bits of all
    ``n_neurons`` hidden neurons, layer by layer) and logits ``linear[r] @ x + bias[r]``.
    ``unbounded[r]``: the region (in the whole plane) has a nonzero recession direction;
    ``recession[r]`` = (first angle, arc length) of its recession directions (NaN when bounded; length
    0 for strip-like regions of degenerate nets); ``limit_class[r]`` = argmax of linear[r] @ u at the
    middle u of that arc (−1: bounded or tied); ``limit_unique[r]``: that class wins strictly on the
    whole closed arc (confidence → 1 along all of it). ``arcs``: the circle of directions at infinity.
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

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def unbounded_total(self) -> int:
        """Unbounded regions of the whole plane: one per maximal arc of constant pattern at infinity,
        plus strip-like ones (recession arc of length 0, degenerate nets only) seen in the box."""
        strips = self.unbounded & (self.recession[:, 1] <= ANGLE_TOL)
        pattern = self.arcs.pattern
        changes = (pattern != np.roll(pattern, 1, axis=0)).any(axis=1).sum()
        return int(max(changes, 1) + strips.sum())

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
    """(xmin, xmax, ymin, ymax) from a half-width or a 4-tuple; raises ValueError if empty."""
    if np.ndim(box) == 0:
        half = float(box)
        box = (-half, half, -half, half)
    xmin, xmax, ymin, ymax = (float(v) for v in box)
    if not (xmin < xmax and ymin < ymax and np.all(np.isfinite(box))):
        raise ValueError(f"box must have xmin < xmax and ymin < ymax, got {box}")
    return xmin, xmax, ymin, ymax


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


def enumerate_regions(layers: Layers, box: float | tuple = 50.0, negative_slope: float = 0.0) -> Regions:
    """Every activation region of the MLP ``layers`` inside ``box`` (see the module docstring)."""
    layers = _check_layers(layers)
    box = as_box(box)
    xmin, xmax, ymin, ymax = box
    scale = max(abs(v) for v in box) + max(xmax - xmin, ymax - ymin)
    gtol = GEOM_TOL * scale
    xy = np.array([[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax]])
    ring, start = np.arange(4), np.array([0, 4])
    z = xy @ layers[0][0].T + layers[0][1]
    input_max = np.abs(xy).max()
    layer_bits: list[np.ndarray] = []
    for depth in range(len(layers) - 1):
        weight, bias = layers[depth]
        next_weight, next_bias = layers[depth + 1]
        tol = REL_TOL * (np.abs(weight).sum(axis=1) * input_max + np.abs(bias))
        split = _split_cells(xy, ring, start, z, tol, gtol, layers[0] if depth == 0 else None)
        layer_bits = [bits[split.parent] for bits in layer_bits] + [split.bits]
        n_old = len(xy)
        values = np.empty((n_old + len(split.new_xy), next_weight.shape[0]))
        # new vertices are convex combinations of old ones inside a cell where z is affine: no larger |z|
        input_max = _next_layer(z, None, next_weight, next_bias, negative_slope, values[:n_old])
        if depth == 0:
            _next_layer(split.new_xy, layers[0], next_weight, next_bias, negative_slope, values[n_old:])
        else:
            values[n_old:] = _extend(values[:n_old], z, split, next_weight, negative_slope)
        z = values
        xy = np.concatenate([xy, split.new_xy])
        ring, start = split.ring, split.start
    patterns = _concat_bits(layer_bits, [weight.shape[0] for weight, _ in layers[:-1]], len(start) - 1)
    vertices = xy[ring]
    linear, offset_map = _fit_affine(xy, ring, start, z)
    unbounded, recession = _recession(layers, negative_slope, patterns, vertices, start, box, gtol)
    limit_class, limit_unique = _limit_classes(linear, recession, unbounded)
    return Regions(box, vertices, start.astype(np.int64), patterns, sum(w.shape[0] for w, _ in layers[:-1]),
                   linear, offset_map, _shoelace(vertices, start), unbounded, recession, limit_class,
                   limit_unique, direction_arcs(layers, negative_slope))


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


def _transposed(weight: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(weight.T)


def _act(z: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.maximum(z, 0.0) if negative_slope == 0 else np.where(z > 0, z, negative_slope * z)


@dataclass(frozen=True)
class _Split:
    """One layer's cut of a subdivision. New vertex i is at ``new_xy[i]`` = Σ_t rep_weight[i, t] ·
    (old vertex rep_index[i, t]), inside old cell ``new_cell[i]``. Faces: ``ring``/``start`` (vertex
    ids), old cell ``parent``, packed layer ``bits``. ``cut_cell``/``cut_neuron``: the (cell, neuron)
    pairs that cut, sorted by cell."""

    new_xy: np.ndarray
    rep_index: np.ndarray
    rep_weight: np.ndarray
    new_cell: np.ndarray
    ring: np.ndarray
    start: np.ndarray
    parent: np.ndarray
    bits: np.ndarray
    cut_cell: np.ndarray
    cut_neuron: np.ndarray


def _split_cells(xy, ring, start, z, tol, gtol, first_layer) -> _Split:
    """Cut every cell (``ring``/``start``: CCW vertex ids) by the zero lines of the neurons whose
    values ``z`` (V×N, affine on each cell) change sign on it. ``first_layer``: (W, b) when z is
    globally affine (sign of cut neurons read from it), else None (sign from the chords)."""
    n_vert, n_neurons = z.shape
    size = np.diff(start)
    above = np.concatenate([np.packbits(z[lo:lo + 8192] > tol, axis=1) for lo in range(0, n_vert, 8192)])
    below = np.concatenate([np.packbits(z[lo:lo + 8192] < -tol, axis=1) for lo in range(0, n_vert, 8192)])
    any_above = np.bitwise_or.reduceat(above[ring], start[:-1], axis=0)
    any_below = np.bitwise_or.reduceat(below[ring], start[:-1], axis=0)
    cut = any_above & any_below
    uncut_bits = any_above & ~any_below
    rows = np.flatnonzero(cut.any(axis=1))
    cut_row, cut_neuron = np.nonzero(np.unpackbits(cut[rows], axis=1, count=n_neurons))
    cut_cell = rows[cut_row]
    if len(cut_cell) == 0:
        return _Split(np.zeros((0, 2)), np.zeros((0, 4), np.int64), np.zeros((0, 4)), np.zeros(0, np.int64),
                      ring, start, np.arange(len(size)), uncut_bits, cut_cell, cut_neuron)
    # --- where each cutting neuron enters (up: − → +) and leaves (down: + → −) its cell, CCW
    n_pairs = len(cut_cell)
    count = size[cut_cell]
    block = np.cumsum(count) - count
    pair = np.repeat(np.arange(n_pairs), count)
    index = np.arange(len(pair))
    k = index - block[pair]
    corner = ring[start[cut_cell][pair] + k]
    value = z[corner, cut_neuron[pair]]
    limit = tol[cut_neuron[pair]]
    sign = (value > limit).astype(np.int8) - (value < -limit)
    following = np.where(k + 1 == count[pair], block[pair], index + 1)
    preceding = np.where(k == 0, block[pair] + count[pair] - 1, index - 1)
    s_next, s_prev = sign[following], sign[preceding]
    down = ((sign == 1) & (s_next == -1)) | ((sign == 0) & (s_prev == 1) & (s_next == -1))
    up = ((sign == -1) & (s_next == 1)) | ((sign == 0) & (s_prev == -1) & (s_next == 1))
    zero_run = (sign == 0) & ((s_prev == 0) | (s_next == 0))
    clean = ((np.bincount(pair[down], minlength=n_pairs) == 1) & (np.bincount(pair[up], minlength=n_pairs) == 1)
             & (np.bincount(pair[zero_run], minlength=n_pairs) == 0))
    down_at, up_at = np.zeros(n_pairs, np.int64), np.zeros(n_pairs, np.int64)
    down_at[pair[down]] = index[down]
    up_at[pair[up]] = index[up]
    for p in np.flatnonzero(~clean):
        first_down, first_up = _chord_events(sign[block[p]:block[p] + count[p]].tolist())
        down_at[p], up_at[p] = block[p] + first_down, block[p] + first_up
    majority = np.sign(np.maximum.reduceat(value, block) + np.minimum.reduceat(value, block)) if n_pairs else value
    # --- crossing points on edges, one per (edge, neuron), merged along the edge
    events = np.concatenate([down_at, up_at])
    ev_pair = np.concatenate([np.arange(n_pairs)] * 2)
    on_edge = sign[events] != 0
    a, b = corner[events], corner[following[events]]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    neuron = cut_neuron[ev_pair]
    key = (lo * n_vert + hi)[on_edge] * n_neurons + neuron[on_edge]
    keys, first_event, crossing_of = np.unique(key, return_index=True, return_inverse=True)
    edge_events = np.flatnonzero(on_edge)
    c_lo, c_hi, c_neuron = lo[edge_events][first_event], hi[edge_events][first_event], neuron[edge_events][first_event]
    z_lo, z_hi = z[c_lo, c_neuron], z[c_hi, c_neuron]
    c_t = z_lo / (z_lo - z_hi)
    c_len = np.linalg.norm(xy[c_hi] - xy[c_lo], axis=1)
    order = np.lexsort((c_t, c_hi, c_lo))
    same_edge = (c_lo[order][1:] == c_lo[order][:-1]) & (c_hi[order][1:] == c_hi[order][:-1])
    close = same_edge & (np.diff(c_t[order]) * c_len[order][1:] <= gtol)
    nodes = n_vert + np.arange(len(keys))
    snap_lo = c_t * c_len <= gtol
    snap_hi = ~snap_lo & ((1 - c_t) * c_len <= gtol)
    rep = _merge(n_vert + len(keys),
                 np.concatenate([nodes[order][:-1][close], nodes[snap_lo], nodes[snap_hi]]),
                 np.concatenate([nodes[order][1:][close], c_lo[snap_lo], c_hi[snap_hi]]))
    new1 = np.unique(rep[nodes][rep[nodes] >= n_vert]) - n_vert  # crossings that become vertices
    vid = np.arange(n_vert + len(keys))
    vid[n_vert + new1] = n_vert + np.arange(len(new1))
    vid = vid[rep]
    n_vert1 = n_vert + len(new1)
    xy1 = np.concatenate([xy, xy[c_lo[new1]] + c_t[new1, None] * (xy[c_hi[new1]] - xy[c_lo[new1]])])
    rep1_index = np.concatenate([np.stack([np.arange(n_vert)] * 2, 1), np.stack([c_lo[new1], c_hi[new1]], 1)])
    rep1_weight = np.concatenate([np.tile([1.0, 0.0], (n_vert, 1)), np.stack([1 - c_t[new1], c_t[new1]], 1)])
    new1_cell = cut_cell[ev_pair[edge_events[first_event[new1]]]]
    ev_vertex = corner[events].copy()
    ev_vertex[edge_events] = vid[n_vert + crossing_of]
    ev_cell = cut_cell[ev_pair]
    # --- new boundary rings of the cut cells: corners and crossings in CCW order
    cut_cells = np.unique(cut_cell)
    c_count = size[cut_cells]
    b_cell = np.repeat(cut_cells, c_count)
    b_k = np.arange(c_count.sum()) - np.repeat(np.cumsum(c_count) - c_count, c_count)
    b_vertex = ring[start[b_cell] + b_k]
    t_here = np.where(a[edge_events] == lo[edge_events], c_t[crossing_of], 1 - c_t[crossing_of])
    e_cell = ev_cell[edge_events]
    e_key = k[events][edge_events] + t_here
    all_cell = np.concatenate([b_cell, e_cell])
    all_key = np.concatenate([b_k.astype(np.float64), e_key])
    all_vertex = np.concatenate([b_vertex, ev_vertex[edge_events]])
    order = np.lexsort((all_key, all_cell))
    all_cell, all_vertex = all_cell[order], all_vertex[order]
    keep = np.r_[True, (all_cell[1:] != all_cell[:-1]) | (all_vertex[1:] != all_vertex[:-1])]
    all_cell, all_vertex = all_cell[keep], all_vertex[keep]
    cell_first = np.r_[True, all_cell[1:] != all_cell[:-1]]
    first_pos = np.flatnonzero(cell_first)
    last_pos = np.r_[first_pos[1:], len(all_cell)] - 1
    wrap = all_vertex[last_pos] == all_vertex[first_pos]
    keep = np.ones(len(all_cell), bool)
    keep[last_pos[wrap]] = False
    b_cell, b_vertex = all_cell[keep], all_vertex[keep]
    b_start = np.r_[np.flatnonzero(np.r_[True, b_cell[1:] != b_cell[:-1]]), len(b_cell)]
    b_size = np.diff(b_start)
    b_pos = np.arange(len(b_cell)) - np.repeat(b_start[:-1], b_size)
    b_next = np.arange(len(b_cell)) + 1
    b_next[b_start[1:] - 1] = b_start[:-1]
    locate_key = b_cell * n_vert1 + b_vertex
    locate_order = np.argsort(locate_key)

    def ring_position(cell, vertex):
        found = locate_order[np.searchsorted(locate_key[locate_order], cell * n_vert1 + vertex)]
        return b_pos[found], b_size[np.searchsorted(b_start, found, side="right") - 1]
    # --- chords: one per distinct (cell, end points); none along an edge
    d_vertex, u_vertex = ev_vertex[:n_pairs], ev_vertex[n_pairs:]
    pos_d, cell_size = ring_position(cut_cell, d_vertex)
    pos_u, _ = ring_position(cut_cell, u_vertex)
    gap = np.abs(pos_d - pos_u)
    real = (gap != 0) & (gap != 1) & (gap != cell_size - 1)
    lo_v, hi_v = np.minimum(d_vertex, u_vertex), np.maximum(d_vertex, u_vertex)
    chord_pairs = np.flatnonzero(real)
    order = np.lexsort((hi_v[chord_pairs], lo_v[chord_pairs], cut_cell[chord_pairs]))
    chord_pairs = chord_pairs[order]
    distinct = np.r_[True, (np.diff(cut_cell[chord_pairs]) != 0) | (np.diff(lo_v[chord_pairs]) != 0)
                     | (np.diff(hi_v[chord_pairs]) != 0)]
    chord_rep = chord_pairs[distinct]
    ch_cell, ch_d, ch_u, ch_neuron = cut_cell[chord_rep], d_vertex[chord_rep], u_vertex[chord_rep], cut_neuron[chord_rep]
    ch_pd, ch_pu = pos_d[chord_rep], pos_u[chord_rep]
    # --- chord crossings inside cells: chords whose end points interleave on the boundary
    ch_a, ch_b = _pairs_within(ch_cell)
    a1, a2 = np.minimum(ch_pd[ch_a], ch_pu[ch_a]), np.maximum(ch_pd[ch_a], ch_pu[ch_a])
    b1, b2 = np.minimum(ch_pd[ch_b], ch_pu[ch_b]), np.maximum(ch_pd[ch_b], ch_pu[ch_b])
    crosses = ((a1 != b1) & (a1 != b2) & (a2 != b1) & (a2 != b2)
               & (((a1 < b1) & (b1 < a2)) != ((a1 < b2) & (b2 < a2))))
    ch_a, ch_b = ch_a[crosses], ch_b[crosses]

    def value_at(vertex, neuron_):
        return (rep1_weight[vertex] * z[rep1_index[vertex], neuron_[:, None]]).sum(axis=1)

    def along(chord, other):
        start_value = value_at(ch_d[chord], ch_neuron[other])
        end_value = value_at(ch_u[chord], ch_neuron[other])
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.clip(np.nan_to_num(start_value / (start_value - end_value), nan=0.5), 0.0, 1.0)
        return s

    s_a, s_b = along(ch_a, ch_b), along(ch_b, ch_a)
    x_cross = xy1[ch_d[ch_a]] + s_a[:, None] * (xy1[ch_u[ch_a]] - xy1[ch_d[ch_a]])
    n_cross = len(ch_a)
    n_chords = len(ch_cell)
    entry_chord = np.concatenate([ch_a, ch_b, np.arange(n_chords), np.arange(n_chords)])
    entry_s = np.concatenate([s_a, s_b, np.zeros(n_chords), np.ones(n_chords)])
    entry_node = np.concatenate([n_vert1 + np.arange(n_cross)] * 2 + [ch_d, ch_u])
    order = np.lexsort((entry_s, entry_chord))
    entry_chord, entry_s, entry_node = entry_chord[order], entry_s[order], entry_node[order]
    ch_len = np.linalg.norm(xy1[ch_u] - xy1[ch_d], axis=1)
    close = (entry_chord[1:] == entry_chord[:-1]) & (np.diff(entry_s) * ch_len[entry_chord[1:]] <= gtol)
    rep = _merge(n_vert1 + n_cross, entry_node[:-1][close], entry_node[1:][close])
    new2 = np.unique(rep[n_vert1:][rep[n_vert1:] >= n_vert1]) - n_vert1
    vid = np.arange(n_vert1 + n_cross)
    vid[n_vert1 + new2] = n_vert1 + np.arange(len(new2))
    vid = vid[rep]
    n_vert2 = n_vert1 + len(new2)
    xy2 = np.concatenate([xy1, x_cross[new2]])
    entry_vertex = vid[entry_node]
    keep = np.r_[True, (entry_chord[1:] != entry_chord[:-1]) | (entry_vertex[1:] != entry_vertex[:-1])]
    entry_chord, entry_vertex = entry_chord[keep], entry_vertex[keep]
    piece = np.flatnonzero(entry_chord[1:] == entry_chord[:-1])
    piece_cell, piece_from, piece_to = ch_cell[entry_chord[piece]], entry_vertex[piece], entry_vertex[piece + 1]
    # --- faces of the cut cells from half-edges: boundary (inner side real, outer side virtual) + chords
    all_cell = np.concatenate([b_cell, piece_cell])
    all_lo = np.concatenate([np.minimum(b_vertex, b_vertex[b_next]), np.minimum(piece_from, piece_to)])
    all_hi = np.concatenate([np.maximum(b_vertex, b_vertex[b_next]), np.maximum(piece_from, piece_to)])
    order = np.lexsort((np.arange(len(all_cell)), all_hi, all_lo, all_cell))
    repeated = np.zeros(len(all_cell), bool)
    repeated[order[1:]] = ((all_cell[order][1:] == all_cell[order][:-1]) & (all_lo[order][1:] == all_lo[order][:-1])
                           & (all_hi[order][1:] == all_hi[order][:-1]))
    unique_piece = ~repeated[len(b_cell):]
    piece_cell, piece_from, piece_to = piece_cell[unique_piece], piece_from[unique_piece], piece_to[unique_piece]
    n_b, n_p = len(b_cell), len(piece_cell)
    he_cell = np.concatenate([b_cell, b_cell, piece_cell, piece_cell])
    he_from = np.concatenate([b_vertex, b_vertex[b_next], piece_from, piece_to])
    he_to = np.concatenate([b_vertex[b_next], b_vertex, piece_to, piece_from])
    twin = np.concatenate([np.arange(n_b) + n_b, np.arange(n_b), np.arange(n_p) + 2 * n_b + n_p,
                           np.arange(n_p) + 2 * n_b])
    delta = xy2[he_to] - xy2[he_from]
    angle = np.arctan2(delta[:, 1], delta[:, 0])
    order = np.lexsort((angle, he_from, he_cell))
    new_group = np.r_[True, (he_cell[order][1:] != he_cell[order][:-1]) | (he_from[order][1:] != he_from[order][:-1])]
    group_first = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    group_last = np.r_[np.flatnonzero(new_group)[1:], len(order)]
    group_last = np.repeat(group_last, np.diff(np.r_[np.flatnonzero(new_group), len(order)])) - 1
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    real_he = np.r_[np.arange(n_b), np.arange(2 * n_b, 2 * n_b + 2 * n_p)]
    p = position[twin[real_he]]
    successor = order[np.where(p > group_first[p], p - 1, group_last[p])]
    compact = np.full(len(he_cell), -1)
    compact[real_he] = np.arange(len(real_he))
    successor = compact[successor]
    face_of, rank = _cycles(successor)
    face_order = np.lexsort((rank, face_of, he_cell[real_he]))
    f_vertex = he_from[real_he][face_order]
    f_face = face_of[face_order]
    f_start = np.r_[np.flatnonzero(np.r_[True, f_face[1:] != f_face[:-1]]), len(f_face)]
    f_cell = he_cell[real_he][face_order][f_start[:-1]]
    f_area = _shoelace(xy2[f_vertex], f_start)
    keep_face = f_area > 0
    f_vertex, f_start = _select(f_vertex, f_start, keep_face)
    f_cell = f_cell[keep_face]
    # --- this layer's bits: uncut neurons from the cell, cutting ones from the side of their chord
    interior = np.add.reduceat(xy2[f_vertex], f_start[:-1], axis=0) / np.diff(f_start)[:, None]
    f_bits = uncut_bits[f_cell]
    if first_layer is not None:
        weight, bias = first_layer
        for lo in range(0, len(f_cell), 8192):
            x = interior[lo:lo + 8192]
            positive = x[:, :1] * weight[:, 0] + x[:, 1:] * weight[:, 1] + bias > 0
            f_bits[lo:lo + 8192] |= np.packbits(positive, axis=1) & cut[f_cell[lo:lo + 8192]]
    else:
        face_first = np.searchsorted(f_cell, cut_cell)
        face_count = np.searchsorted(f_cell, cut_cell, side="right") - face_first
        pair_face = np.repeat(np.arange(n_pairs), face_count)
        face = np.arange(face_count.sum()) - np.repeat(np.cumsum(face_count) - face_count, face_count) + \
            np.repeat(face_first, face_count)
        dv, uv = xy2[d_vertex[pair_face]], xy2[u_vertex[pair_face]]
        rel = interior[face] - dv
        side = (uv[:, 0] - dv[:, 0]) * rel[:, 1] - (uv[:, 1] - dv[:, 1]) * rel[:, 0]
        positive = np.where(real[pair_face], side > 0, majority[pair_face] > 0)
        cut_bits = np.zeros((len(f_cell), n_neurons), bool)
        cut_bits.ravel()[face[positive] * n_neurons + cut_neuron[pair_face][positive]] = True
        f_bits |= np.packbits(cut_bits, axis=1)
    uncut_cells = np.flatnonzero(~np.isin(np.arange(len(size)), cut_cells))
    u_vertex_ring, u_start = _select(ring, start, ~np.isin(np.arange(len(size)), cut_cells))
    new_ring = np.concatenate([u_vertex_ring, f_vertex])
    new_start = np.r_[u_start[:-1], len(u_vertex_ring) + f_start]
    rep_index = np.concatenate([np.concatenate([rep1_index[n_vert:]] * 2, 1),
                                np.concatenate([rep1_index[ch_d[ch_a[new2]]], rep1_index[ch_u[ch_a[new2]]]], 1)])
    s_new = s_a[new2, None]
    rep_weight = np.concatenate([np.concatenate([rep1_weight[n_vert:], np.zeros((len(new1), 2))], 1),
                                 np.concatenate([(1 - s_new) * rep1_weight[ch_d[ch_a[new2]]],
                                                 s_new * rep1_weight[ch_u[ch_a[new2]]]], 1)])
    return _Split(new_xy=xy2[n_vert:], rep_index=rep_index, rep_weight=rep_weight,
                  new_cell=np.concatenate([new1_cell, ch_cell[ch_a[new2]]]), ring=new_ring, start=new_start,
                  parent=np.concatenate([uncut_cells, f_cell]), bits=np.concatenate([uncut_bits[uncut_cells], f_bits]),
                  cut_cell=cut_cell, cut_neuron=cut_neuron)


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
    if len(a) == 0:
        return np.arange(n_nodes)
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n_nodes, n_nodes))
    _, label = connected_components(graph, directed=False)
    smallest = np.full(label.max() + 1, n_nodes)
    np.minimum.at(smallest, label, np.arange(n_nodes))
    return smallest[label]


def _pairs_within(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs i < j with group[i] == group[j] (``group`` sorted)."""
    firsts, counts = np.unique(group, return_index=True, return_counts=True)[1:]
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
    """Cycle label (smallest member) and rank along the cycle for a permutation ``successor``."""
    label, jump = np.arange(len(successor)), successor.copy()
    while True:
        updated = np.minimum(label, label[jump])
        jump = jump[jump]
        if np.array_equal(updated, label):
            break
        label = updated
    rank = np.zeros(len(successor), np.int64)
    current = np.flatnonzero(label == np.arange(len(successor)))
    heads, step = current, 0
    while len(current):
        rank[current] = step
        step += 1
        current = successor[current]
        alive = current != heads
        current, heads = current[alive], heads[alive]
    return label, rank


def _select(ring: np.ndarray, start: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kept polygons of a ragged ring array."""
    size = np.diff(start)
    return ring[np.repeat(keep, size)], np.r_[0, np.cumsum(size[keep])]


def _shoelace(vertices: np.ndarray, start: np.ndarray) -> np.ndarray:
    following = np.arange(len(vertices)) + 1
    following[start[1:] - 1] = start[:-1]
    relative = vertices - np.repeat(vertices[start[:-1]], np.diff(start), axis=0)
    x, y = relative[:, 0], relative[:, 1]
    cross = x * y[following] - x[following] * y
    return 0.5 * np.add.reduceat(cross, start[:-1]) if len(start) > 1 else np.zeros(0)


def _extend(next_old, z, split: _Split, next_weight, negative_slope) -> np.ndarray:
    """Next layer's pre-activations at the new vertices: the convex combination of the old vertices'
    values, corrected for the neurons of the cell that bend between those old vertices."""
    idx, w = split.rep_index, split.rep_weight
    base = np.einsum("nt,ntk->nk", w, next_old[idx])
    first = np.searchsorted(split.cut_cell, split.new_cell)
    count = np.searchsorted(split.cut_cell, split.new_cell, side="right") - first
    vertex = np.repeat(np.arange(len(idx)), count)
    pair = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + np.repeat(first, count)
    neuron = split.cut_neuron[pair]
    values = z[idx[vertex], neuron[:, None]]
    weights = w[vertex]
    coefficient = _act((weights * values).sum(1), negative_slope) - (weights * _act(values, negative_slope)).sum(1)
    bend = sparse.csr_matrix((coefficient, (vertex, neuron)), shape=(len(idx), z.shape[1]))
    return base + bend @ _transposed(next_weight)


def _concat_bits(layer_bits: list[np.ndarray], widths: list[int], n_regions: int, chunk: int = 65536) -> np.ndarray:
    """Pack the concatenated per-layer bits of all regions."""
    if len(widths) == 1:
        return layer_bits[0]
    out = np.empty((n_regions, (sum(widths) + 7) // 8), np.uint8)
    for lo in range(0, n_regions, chunk):
        bits = [np.unpackbits(b[lo:lo + chunk], axis=1, count=w) for b, w in zip(layer_bits, widths)]
        out[lo:lo + chunk] = np.packbits(np.concatenate(bits, axis=1), axis=1)
    return out


def _fit_affine(xy, ring, start, logits) -> tuple[np.ndarray, np.ndarray]:
    """Affine map of each region from its logits at three vertices: the first one, the farthest
    from it, and the farthest from the line through those two."""
    size = np.diff(start)
    region = np.repeat(np.arange(len(size)), size)
    p = xy[ring]
    a = p[start[:-1]]
    d = ((p - a[region]) ** 2).sum(1)
    b_index = _segment_argmax(d, start, region)
    b = p[b_index]
    direction = b - a
    rel = p - a[region]
    height = np.abs(direction[region, 0] * rel[:, 1] - direction[region, 1] * rel[:, 0])
    c_index = _segment_argmax(height, start, region)
    c = p[c_index]
    fa, fb, fc = logits[ring[start[:-1]]], logits[ring[b_index]], logits[ring[c_index]]
    m = np.stack([b - a, c - a], 1)  # R×2×2 rows: displacement vectors
    rhs = np.stack([fb - fa, fc - fa], 1)  # R×2×K
    gradient = np.linalg.solve(m, rhs)  # R×2×K
    linear = gradient.transpose(0, 2, 1)
    return linear, fa - np.einsum("rkd,rd->rk", linear, a)


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
    bits = np.unpackbits(patterns[candidates], axis=1, count=sum(widths)).astype(bool)
    normals, gradient, offset = [], np.broadcast_to(np.eye(2), (len(candidates), 2, 2)), 0
    for (weight, _), width in zip(layers[:-1], widths):
        flat = gradient.transpose(1, 0, 2).reshape(gradient.shape[1], -1)
        gradient = (weight @ flat).reshape(width, len(candidates), 2).transpose(1, 0, 2)
        active = bits[:, offset:offset + width]
        size = np.linalg.norm(gradient, axis=2)
        bound = np.abs(weight).sum(axis=1) * np.abs(flat).max(initial=0.0)
        live = size > 1e-9 * bound
        normal = np.where(active[..., None], gradient, -gradient)
        normals.append(np.where(live[..., None], normal, np.nan))
        gradient = np.where(active, 1.0, negative_slope)[..., None] * gradient
        offset += width
    if not normals:
        unbounded[:] = True
        recession[:] = (0.0, 2 * np.pi)
        return unbounded, recession
    normal = np.concatenate(normals, axis=1)
    theta = np.sort(np.arctan2(normal[..., 1], normal[..., 0]), axis=1)  # NaN (dead) last
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
    strictly on the whole arc."""
    limit_class = np.full(len(linear), -1)
    unique = np.zeros(len(linear), bool)
    rows = np.flatnonzero(unbounded)
    if len(rows) == 0 or linear.shape[1] < 2:
        return limit_class, unique
    first, arc = recession[rows, 0], recession[rows, 1]
    scale = np.abs(linear[rows]).max(axis=(1, 2)) + 1e-300
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


def rasterize(regions: Regions, bounds: tuple[float, float, float, float] | None = None,
              width: int = 800, height: int = 800) -> np.ndarray:
    """Region id (−1: none) at every pixel centre of a ``height``×``width`` grid over ``bounds``
    (xmin, xmax, ymin, ymax; default the box); row 0 is the bottom row. Exact scanline fill of the
    convex polygons: a pixel on a shared edge goes to one of its regions."""
    xmin, xmax, ymin, ymax = regions.box if bounds is None else bounds
    dx, dy = (xmax - xmin) / width, (ymax - ymin) / height
    ids = np.full((height, width), -1, np.int64)
    start, points = regions.offsets, regions.vertices
    size = np.diff(start)
    lower, upper = np.minimum.reduceat(points, start[:-1], axis=0), np.maximum.reduceat(points, start[:-1], axis=0)
    visible = (upper[:, 0] >= xmin) & (lower[:, 0] <= xmax) & (upper[:, 1] >= ymin) & (lower[:, 1] <= ymax)
    poly = np.repeat(np.arange(len(size)), size)
    follow = np.arange(len(points)) + 1
    follow[start[1:] - 1] = start[:-1]
    edge = np.flatnonzero(visible[poly])
    p, q = points[edge], points[follow[edge]]
    row_of = lambda y: np.clip(np.ceil((y - ymin) / dy - 0.5), 0, height).astype(np.int64)  # noqa: E731
    first_row, end_row = row_of(np.minimum(p[:, 1], q[:, 1])), row_of(np.maximum(p[:, 1], q[:, 1]))
    count = end_row - first_row
    which = np.repeat(np.arange(len(edge)), count)
    row = first_row[which] + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    y = ymin + (row + 0.5) * dy
    p, q = p[which], q[which]
    x = p[:, 0] + (y - p[:, 1]) * (q[:, 0] - p[:, 0]) / (q[:, 1] - p[:, 1])
    owner = poly[edge][which]
    order = np.lexsort((row, owner))
    owner, row, x = owner[order], row[order], x[order]
    first = np.flatnonzero(np.r_[True, (owner[1:] != owner[:-1]) | (row[1:] != row[:-1])])
    x_left, x_right = np.minimum.reduceat(x, first), np.maximum.reduceat(x, first)
    col_of = lambda v: np.clip(np.ceil((v - xmin) / dx - 0.5), 0, width).astype(np.int64)  # noqa: E731
    c0, c1 = col_of(x_left), col_of(x_right)
    n = np.maximum(c1 - c0, 0)
    span = np.repeat(np.arange(len(first)), n)
    col = c0[span] + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    ids[row[first][span], col] = owner[first][span]
    return ids
