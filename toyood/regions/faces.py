"""The faces of every cut cell and their activation bits (step 4 of ``cutter``'s algorithm): traced
along a half-edge permutation where every crossing is of two chords, else by sorting the half-edges
around each vertex by angle."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .chords import _Boundary, _Chords, _EdgeVertices, _Ends, _Inner, _Pairs
from .geometry import GeometryError, _rank_within_segments, _run_starts, _select, _shoelace, _take_rings


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
