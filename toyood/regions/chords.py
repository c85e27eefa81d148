"""Where the zero lines of one layer meet the cells of the numpy cutter (steps 2-3 of ``cutter``'s
algorithm): which neurons cut which cells, their events on each cell's boundary, the shared edge
crossings, the boundary rings, the distinct chords and the crossings of chords inside a cell."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .geometry import _rank_within_segments, _ring_next, _run_starts


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
