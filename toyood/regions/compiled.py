"""Compiled cutter (numba) for the common case: two hidden (leaky-)ReLU layers, 2-D input.

``cut(layers, box)`` returns the same regions as the numpy cutter (``cutter``; the
same activation patterns, areas and affine maps; polygons without the collinear junction vertices
of neighbours, in another order), 3-4× faster (``benchmarks/bench_regions.py``). ``enumerate_regions``
calls it when it applies and adds the unboundedness and far-field fields itself.

Algorithm (float64, one thread, depth first, nothing shared between cells):

Layer 1. A cell carries the first-layer lines that still cut it (a corner value > tol and one
< −tol); it is split by the first of them, the lines taken in a fixed random order (which makes
the work O(n₁²) expected, as in randomized incremental construction), and every other pending line
is re-classified on both halves: it still cuts the half, or is decided (on iff some corner > tol
and none < −tol). Each cell also carries the second layer's pre-activations as an affine map,
z₂(x) = AX·x + AY·y + C, built from b₂ + σ·W₂(W₁x + b₁) (σ: the leaky slope, 0 for ReLU) by one
rank-1 update (1 − σ)·W₂[:, k] ⊗ (W₁[k], b₁[k]) per first-layer neuron decided on: a cell's map is
its parent's plus the neurons decided on between them, so every map is a sum of at most n₁ terms
besides the root's (no long chains of rounding).

Layer 2. On each final layer-1 cell z₂ is affine: its values at the cell's corners say which
second-layer neurons cut it, and the cell is split by those lines the same way. Each final piece
gets its packed pattern, area (shoelace), polygon and logits map V x + a (W₃ times z₂ with the
off neurons scaled by σ).

Tolerances are ``geometry``'s: a pre-activation within REL_TOL·(|W_j|₁·max|input| + |b_j|) of 0 is 0
(max|input|: the largest |corner| of the box for layer 1, the largest first-layer activation at a
box corner for layer 2, which bounds it on the whole box since each |act(z₁)| is convex). A corner
within ±tol of a line goes to both halves and makes no sliver; a neuron within ±tol on a whole cell
does not cut it and its bit there is 0 (dead neurons, zero rows, lines along a box edge).

numba compiles every function below on first use (~10 s) and keeps the machine code on disk
(``cache=True``: ``__pycache__`` beside this file, ``$NUMBA_CACHE_DIR`` when set, numba's user cache
when this folder is read-only); ``api.warm_compile`` does it ahead of a user's first call.
"""
from __future__ import annotations

import numba as nb
import numpy as np

JIT = dict(cache=True, nogil=True)


@nb.njit(**JIT)
def _cut_polygon(px, py, n, a, b, c, tol, qx, qy, rx, ry):
    """Split the convex polygon (px, py)[:n] by a·x + b·y + c = 0 into its part where the value is
    ≥ −tol (into qx, qy) and its part where it is ≤ tol (rx, ry): corners within ±tol go to both,
    an edge from > tol to < −tol (or back) adds its interpolated crossing to both. Returns (nq, nr)."""
    nq = 0
    nr = 0
    crossings = 0
    v0 = a * px[0] + b * py[0] + c
    for i in range(n):
        i2 = i + 1 if i + 1 < n else 0
        v1 = a * px[i2] + b * py[i2] + c
        if v0 >= -tol:
            qx[nq] = px[i]
            qy[nq] = py[i]
            nq += 1
        if v0 <= tol:
            rx[nr] = px[i]
            ry[nr] = py[i]
            nr += 1
        if (v0 > tol and v1 < -tol) or (v0 < -tol and v1 > tol):
            crossings += 1
            if crossings > 2:  # a convex polygon crosses a line twice at most: keeps every buffer in bounds
                raise ValueError("a cell is not convex within the tolerance; use engine='numpy'")
            t = v0 / (v0 - v1)
            x = px[i] + t * (px[i2] - px[i])
            y = py[i] + t * (py[i2] - py[i])
            qx[nq] = x
            qy[nq] = y
            nq += 1
            rx[nr] = x
            ry[nr] = y
            nr += 1
        v0 = v1
    return nq, nr


@nb.njit(**JIT)
def _classify(px, py, n, a, b, c, tol):
    """3 if a·x + b·y + c cuts the polygon (> tol and < −tol at some corners), 1 if it is positive
    (> tol somewhere, never < −tol), 0 otherwise (≤ tol everywhere)."""
    above = False
    below = False
    for i in range(n):
        v = a * px[i] + b * py[i] + c
        above |= v > tol
        below |= v < -tol
    if above and below:
        return 3
    return 1 if above else 0


@nb.njit(**JIT)
def _sort_line(px, py, n, a, b, c, tol, pending, count, line):
    """A pending line a·x + b·y + c on one half of a split cell: if it still cuts the half it is
    appended to ``pending`` (returns count + 1, False), else (count, whether it is on there)."""
    cls = _classify(px, py, n, a, b, c, tol)
    if cls == 3:
        pending[count] = line
        return count + 1, False
    return count, cls == 1


@nb.njit(**JIT)
def _copy_row(QX, QY, s, px, py, n):
    """Slot s of the polygon stacks QX, QY := (px, py)[:n]."""
    for q in range(n):
        QX[s, q] = px[q]
        QY[s, q] = py[q]


@nb.njit(**JIT)
def _shoelace(px, py, n):
    """Area of the counter-clockwise polygon (px, py)[:n], as a fan from its first corner."""
    s = 0.0
    x0, y0 = px[0], py[0]
    for i in range(1, n - 1):
        s += (px[i] - x0) * (py[i + 1] - y0) - (px[i + 1] - x0) * (py[i] - y0)
    return 0.5 * s


@nb.njit(**JIT)
def _switch_on(AX, AY, CC, s, w, a, b, c):
    """Layer-2 map of slot s += w ⊗ (a, b, c): one first-layer neuron on (rank-1 update)."""
    for i in range(w.shape[0]):
        AX[s, i] += w[i] * a
        AY[s, i] += w[i] * b
        CC[s, i] += w[i] * c


@nb.njit(**JIT)
def _split_cell(s, net, stack, scratch):
    """Split the layer-1 cell in slot s by its first pending line j: the side where j ≤ 0 stays in
    slot s, the side where j ≥ 0 goes to slot s + 1 with neuron j on; every other pending line is
    re-classified on both. Returns the new top of the stack, s + 1."""
    W1, b1, tol1, W2T = net[0], net[1], net[2], net[3]
    PX, PY, NV, PEND, NP, BITS, AX, AY, CC = stack
    tx, ty = scratch
    t = s + 1
    j = PEND[s, 0]
    nq, nr = _cut_polygon(PX[s], PY[s], NV[s], W1[j, 0], W1[j, 1], b1[j], tol1[j], PX[t], PY[t], tx, ty)
    _copy_row(PX, PY, s, tx, ty, nr)
    NV[s], NV[t] = nr, nq
    BITS[t, :] = BITS[s, :]
    BITS[t, j] = True
    AX[t, :], AY[t, :], CC[t, :] = AX[s, :], AY[s, :], CC[s, :]
    _switch_on(AX, AY, CC, t, W2T[j], W1[j, 0], W1[j, 1], b1[j])
    ns = 0
    nt = 0
    for idx in range(1, NP[s]):
        k = PEND[s, idx]
        a, b, c, tol = W1[k, 0], W1[k, 1], b1[k], tol1[k]
        nt, on = _sort_line(PX[t], PY[t], nq, a, b, c, tol, PEND[t], nt, k)
        if on:
            BITS[t, k] = True
            _switch_on(AX, AY, CC, t, W2T[k], a, b, c)
        ns, on = _sort_line(PX[s], PY[s], nr, a, b, c, tol, PEND[s], ns, k)
        if on:
            BITS[s, k] = True
            _switch_on(AX, AY, CC, s, W2T[k], a, b, c)
    NP[s], NP[t] = ns, nt
    return t


@nb.njit(**JIT)
def _layer2_signs(px, py, nv, ax, ay, cc, tol2, above, below):
    """above[i] / below[i]: z₂ᵢ = ax·x + ay·y + cc is > tol2 / < −tol2 at some corner of the cell
    (corners four at a time, so each pass over the neurons serves four of them)."""
    n2 = cc.shape[0]
    for i in range(n2):
        above[i] = False
        below[i] = False
    for k in range(0, nv, 4):
        x0, y0 = px[k], py[k]
        x1, y1 = (px[k + 1], py[k + 1]) if k + 1 < nv else (x0, y0)
        x2, y2 = (px[k + 2], py[k + 2]) if k + 2 < nv else (x0, y0)
        x3, y3 = (px[k + 3], py[k + 3]) if k + 3 < nv else (x0, y0)
        for i in range(n2):
            a, b, c, tol = ax[i], ay[i], cc[i], tol2[i]
            v0 = a * x0 + b * y0 + c
            v1 = a * x1 + b * y1 + c
            v2 = a * x2 + b * y2 + c
            v3 = a * x3 + b * y3 + c
            above[i] |= max(max(v0, v1), max(v2, v3)) > tol
            below[i] |= min(min(v0, v1), min(v2, v3)) < -tol


@nb.njit(**JIT)
def _cell_template(bits1, above, below, cut, allbits, template):
    """Packed pattern of a layer-1 cell with every cutting layer-2 neuron off (np.packbits order);
    fills ``cut`` with the cutting neurons and returns how many. ``allbits``: 0/1 scratch of
    8 × len(template) bytes, zero beyond n₁ + n₂."""
    n1 = bits1.shape[0]
    n_cut = 0
    for p in range(n1):
        allbits[p] = bits1[p]
    for i in range(above.shape[0]):
        allbits[n1 + i] = above[i] and not below[i]
        if above[i] and below[i]:
            cut[n_cut] = i
            n_cut += 1
    for byte in range(template.shape[0]):
        value = 0
        for bit in range(8):
            value = (value << 1) | allbits[8 * byte + bit]
        template[byte] = value
    return n_cut


@nb.njit(**JIT)
def _cell_logits(allbits, n1, ax, ay, cc, W3, b3, slope, V0, a0):
    """Logits map (V0, a0) on a layer-1 cell with its cutting layer-2 neurons off (scaled by slope)."""
    for k in range(W3.shape[0]):
        s0, s1, s2 = 0.0, 0.0, b3[k]
        for i in range(W3.shape[1]):
            w = W3[k, i] * (1.0 if allbits[n1 + i] else slope)
            s0 += w * ax[i]
            s1 += w * ay[i]
            s2 += w * cc[i]
        V0[k, 0], V0[k, 1], a0[k] = s0, s1, s2


@nb.njit(**JIT)
def _emit(px, py, n, on, cell, out):
    """Record one region: the cell's template plus its cutting neurons that are ``on``, its area,
    polygon and logits map (``W3on`` = (1 − σ)·W₃ adds what each of those neurons switches on). Past
    the capacity of ``out`` only the counts grow."""
    cut, n_cut, n1, template, ax, ay, cc, W3on, V0, a0 = cell
    patterns, areas, offsets, vertices, linear, bias, count = out
    r = count[0]
    v = count[1]
    count[0] += 1
    count[1] += n
    if r >= patterns.shape[0] or v + n > vertices.shape[0]:
        return
    patterns[r, :] = template
    for m in range(n_cut):
        if on[m]:
            p = n1 + cut[m]
            patterns[r, p >> 3] |= 128 >> (p & 7)
    areas[r] = _shoelace(px, py, n)
    offsets[r + 1] = v + n
    for q in range(n):
        vertices[v + q, 0] = px[q]
        vertices[v + q, 1] = py[q]
    for k in range(W3on.shape[0]):
        s0, s1, s2 = V0[k, 0], V0[k, 1], a0[k]
        for m in range(n_cut):
            if on[m]:
                i = cut[m]
                s0 += W3on[k, i] * ax[i]
                s1 += W3on[k, i] * ay[i]
                s2 += W3on[k, i] * cc[i]
        linear[r, k, 0], linear[r, k, 1], bias[r, k] = s0, s1, s2


@nb.njit(**JIT)
def _split_layer2(px, py, nv, tol2, cell, inner, out):
    """Split one layer-1 cell by its cutting second-layer lines (depth first, as ``_split_cell``)
    and emit every piece. ``inner``: the per-depth scratch stacks."""
    cut, n_cut, ax, ay, cc = cell[0], cell[1], cell[4], cell[5], cell[6]
    QX, QY, QN, QP, QNP, QON, tx, ty = inner
    _copy_row(QX, QY, 0, px, py, nv)
    QN[0] = nv
    for m in range(n_cut):
        QP[0, m] = m
        QON[0, m] = 0
    QNP[0] = n_cut
    top = 0
    while top >= 0:
        s = top
        if QNP[s] == 0:
            _emit(QX[s], QY[s], QN[s], QON[s], cell, out)
            top -= 1
            continue
        t = s + 1
        m = QP[s, 0]
        i = cut[m]
        nq, nr = _cut_polygon(QX[s], QY[s], QN[s], ax[i], ay[i], cc[i], tol2[i], QX[t], QY[t], tx, ty)
        _copy_row(QX, QY, s, tx, ty, nr)
        QN[s], QN[t] = nr, nq
        QON[t, :n_cut] = QON[s, :n_cut]
        QON[t, m] = 1
        ns = 0
        nt = 0
        for idx in range(1, QNP[s]):
            mm = QP[s, idx]
            k = cut[mm]
            nt, on = _sort_line(QX[t], QY[t], nq, ax[k], ay[k], cc[k], tol2[k], QP[t], nt, mm)
            if on:
                QON[t, mm] = 1
            ns, on = _sort_line(QX[s], QY[s], nr, ax[k], ay[k], cc[k], tol2[k], QP[s], ns, mm)
            if on:
                QON[s, mm] = 1
        QNP[s], QNP[t] = ns, nt
        top = t


@nb.njit(**JIT)
def _root(net, stack, order):
    """Slot 0 := the box's cell: the lines that miss the box are decided, the others pending."""
    W1, b1, tol1, W2T = net[0], net[1], net[2], net[3]
    PX, PY, NV, PEND, NP, BITS, AX, AY, CC = stack
    for k in order:
        cls = _classify(PX[0], PY[0], 4, W1[k, 0], W1[k, 1], b1[k], tol1[k])
        if cls == 3:
            PEND[0, NP[0]] = k
            NP[0] += 1
        elif cls == 1:
            BITS[0, k] = True
            _switch_on(AX, AY, CC, 0, W2T[k], W1[k, 0], W1[k, 1], b1[k])


@nb.njit(**JIT)
def _advance(top, cells, net, layer2, stack, work, out):
    """Go on with the depth-first walk from stack slot ``top`` until ``cells`` more layer-1 cells are
    done (each split by layer 2 and emitted) or the walk is over; returns the new top (−1: over)."""
    tol2, W3, b3, W3on, slope = layer2
    PX, PY, NV, PEND, NP, BITS, AX, AY, CC = stack
    scratch, inner, above, below, cut, allbits, template, V0, a0 = work
    n1 = PEND.shape[1]
    while top >= 0 and cells > 0:
        s = top
        if NP[s] > 0:
            top = _split_cell(s, net, stack, scratch)
            continue
        _layer2_signs(PX[s], PY[s], NV[s], AX[s], AY[s], CC[s], tol2, above, below)
        n_cut = _cell_template(BITS[s], above, below, cut, allbits, template)
        _cell_logits(allbits, n1, AX[s], AY[s], CC[s], W3, b3, slope, V0, a0)
        cell = (cut, n_cut, n1, template, AX[s], AY[s], CC[s], W3on, V0, a0)
        _split_layer2(PX[s], PY[s], NV[s], tol2, cell, inner, out)
        top -= 1
        cells -= 1
    return top


def _stack(n1: int, n2: int, box):
    """The layer-1 walk's stack: one slot per depth (each split removes a pending line), each with a
    convex polygon of at most n₁ + 4 corners (each cut adds one edge), slot 0 holding the box."""
    depth, corners = n1 + 2, n1 + 8
    stack = (np.empty((depth, corners)), np.empty((depth, corners)), np.zeros(depth, np.int64),
             np.empty((depth, n1), np.int64), np.zeros(depth, np.int64), np.zeros((depth, n1), np.bool_),
             np.zeros((depth, n2)), np.zeros((depth, n2)), np.zeros((depth, n2)))
    xmin, xmax, ymin, ymax = box
    stack[0][0, :4] = xmin, xmax, xmax, xmin
    stack[1][0, :4] = ymin, ymin, ymax, ymax
    stack[2][0] = 4
    return stack


def _work(n1: int, n2: int, n_classes: int):
    """Scratch arrays of ``_advance``: the layer-2 split's own stack (``_split_layer2``) and buffers."""
    n_bytes = (n1 + n2 + 7) // 8
    depth, corners = n2 + 2, n1 + n2 + 10
    inner = (np.empty((depth, corners)), np.empty((depth, corners)), np.zeros(depth, np.int64),
             np.empty((depth, n2), np.int64), np.zeros(depth, np.int64), np.zeros((depth, n2), np.uint8),
             np.empty(corners), np.empty(corners))
    return ((np.empty(n1 + 8), np.empty(n1 + 8)), inner, np.zeros(n2, np.bool_), np.zeros(n2, np.bool_),
            np.zeros(n2, np.int64), np.zeros(8 * n_bytes, np.uint8), np.zeros(n_bytes, np.uint8),
            np.zeros((n_classes, 2)), np.zeros(n_classes))


def _out(capacity: int, vertex_capacity: int, n_bytes: int, n_classes: int):
    """(patterns, areas, offsets, vertices, linear, bias, count) for up to ``capacity`` regions with
    ``vertex_capacity`` polygon corners in all; count = [regions, corners] keeps counting beyond."""
    return (np.zeros((capacity, n_bytes), np.uint8), np.empty(capacity), np.zeros(capacity + 1, np.int64),
            np.empty((vertex_capacity, 2)), np.empty((capacity, n_classes, 2)), np.empty((capacity, n_classes)),
            np.zeros(2, np.int64))


def cut(layers, box, tol1, tol2, negative_slope: float = 0.0, progress=None, seed: int = 0, steps: int = 100,
        capacity: int | None = None):
    """(vertices, offsets, patterns, linear, bias, areas) of every region of the checked float64
    ``layers`` = [(W1, b1), (W2, b2), (W3, b3)] inside ``box`` = (xmin, xmax, ymin, ymax), with the
    zero tolerances ``tol1``, ``tol2`` of the two hidden layers (``geometry._zero_tolerance``) and
    the leaky-ReLU slope ``negative_slope`` (0: ReLU).

    ``progress(fraction)`` is called about ``steps`` times (every n₁²/(2·steps) layer-1 cells: there
    are about n₁²/2) with the fraction of the box's area done; an exception it raises stops the work. ``seed`` fixes the order of the
    first-layer lines (any order gives the same regions). ``capacity``: regions the output buffers
    hold at first (default: the count for lines in general position); if more come, the cut is run
    again with buffers of the exact size."""
    (W1, b1), (W2, b2), (W3, b3) = [(np.ascontiguousarray(w), np.ascontiguousarray(b)) for w, b in layers]
    n1, n2, n_classes = len(b1), len(b2), len(b3)
    order = np.random.default_rng(seed).permutation(n1)
    slope = float(negative_slope)
    net = (W1, b1, tol1, np.ascontiguousarray((1.0 - slope) * W2.T))
    layer2 = (tol2, W3, b3, np.ascontiguousarray((1.0 - slope) * W3), slope)
    box_area = (box[1] - box[0]) * (box[3] - box[2])
    n = n1 + n2
    if capacity is None:
        capacity = n * (n + 1) // 2 + 1  # lines in general position; trained and random nets stay below
    vertex_capacity = 6 * capacity
    cells_per_step = max(16, n1 * n1 // (2 * steps))
    reported = 0.0  # a rerun reports nothing below what the first run did
    while True:
        stack, work = _stack(n1, n2, box), _work(n1, n2, n_classes)
        stack[6][0], stack[7][0], stack[8][0] = slope * (W2 @ W1[:, 0]), slope * (W2 @ W1[:, 1]), b2 + slope * (W2 @ b1)
        out = _out(capacity, vertex_capacity, (n + 7) // 8, n_classes)
        _root(net, stack, order)
        top, done, area_done = 0, 0, 0.0
        while top >= 0:
            top = _advance(top, cells_per_step, net, layer2, stack, work, out)
            count = min(int(out[6][0]), capacity)
            area_done, done = area_done + float(out[1][done:count].sum()), count
            if progress is not None:
                reported = max(reported, min(area_done / box_area, 1.0) if top >= 0 else 1.0)
                progress(reported)
        n_regions, n_vertices = (int(v) for v in out[6])
        if n_regions <= capacity and n_vertices <= vertex_capacity:
            break
        capacity, vertex_capacity = max(capacity, n_regions), max(vertex_capacity, n_vertices)
    patterns, areas, offsets, vertices, linear, bias, _ = out
    return (vertices[:n_vertices], offsets[:n_regions + 1], patterns[:n_regions], linear[:n_regions],
            bias[:n_regions], areas[:n_regions])
