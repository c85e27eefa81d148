"""The numpy cutter: the exact regions of a net of any depth, layer by layer (``_cut_numpy``).

Algorithm (float64, no sampling). Start from the box as one cell. For each hidden layer:

Values at the new vertices are carried as convex combinations of old vertices, so the next layer's
pre-activations there cost only the few neurons that bend between those old vertices (``_extend``).
Each region's affine map is fitted exactly from its logits at its three best-spread vertices.

Ties and degenerate incidences:

Polygons may carry collinear vertices: the points where neighbouring regions' boundaries meet.

The steps live beside this driver: pre-activations at the vertices in ``values``, where the zero
lines meet each cell (events, edge crossings, chords and their crossings) in ``chords``, the faces
and their patterns in ``faces``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .chords import (
    _Bends, _Chords, _EdgeVertices, _Ends, _Inner, _Pairs, _boundary_rings, _chord_crossings, _chord_ends,
    _chords, _cutting_pairs, _edge_crossings)
from .faces import _Faces, _face_bits, _faces
from .geometry import _act, _check_tiling, _rank_within_segments, _select, _shoelace, _transposed, _zero_tolerance
from .values import _DenseValues, _TiledValues, _next_layer


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
