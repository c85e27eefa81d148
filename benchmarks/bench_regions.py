"""Benchmark: exact linear regions of a random 2→h→h→2 ReLU net (PyTorch default init) in [−50, 50]².

Runs a straightforward baseline — a vectorised numpy cutter that goes layer by layer, neuron by
neuron, over ragged polygon arrays, with each cell's exact affine pre-activation maps — side by side
with ``toyood.regions.enumerate_regions`` and checks both give the same region count and total area.
Then a scaling curve over widths and the time/size of the region-map figure.

    python benchmarks/bench_regions.py            # full: width 500 (~500,000 regions), curve to 1000
    python benchmarks/bench_regions.py --quick    # width 200, curve to 250

Timings on a shared machine vary; each timing is the best of ``--repeat`` runs (wall clock), with
the process CPU time of that run beside it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toyood.plots.regions import region_map_figure  # noqa: E402
from toyood.regions import enumerate_regions  # noqa: E402


def default_init_layers(widths, seed: int = 0, n_classes: int = 2):
    """float64 (W, b) of nn.Linear layers 2→widths…→K with PyTorch's default initialisation."""
    torch.manual_seed(seed)
    sizes = [2, *widths, n_classes]
    linears = [torch.nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
    return [(lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()) for lin in linears]


def baseline_regions(layers, half_width: float) -> tuple[int, float]:
    """(number of regions, total area) by cutting every polygon by one neuron at a time.

    Per layer, each current polygon gets its cell's exact affine map of the layer's pre-activations
    (from the activation pattern at its centroid); then for each neuron the polygons whose corner
    values change sign are split in two. No vertex sharing, no batching of cuts per cell."""
    corners = half_width * np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    points, start = corners, np.array([0, 4])
    tol = 1e-13
    for depth, (weight, bias) in enumerate(layers[:-1]):
        linear, offset = _cell_maps(layers[:depth + 1], points, start)
        scale = np.abs(linear).sum(axis=2) * 2 * half_width + np.abs(offset)
        cell = np.arange(len(start) - 1)
        for neuron in range(weight.shape[0]):
            size = np.diff(start)
            owner = np.repeat(cell, size)
            value = (points * linear[owner, neuron]).sum(1) + offset[owner, neuron]
            limit = tol * scale[owner, neuron]
            sign = (value > limit).astype(np.int8) - (value < -limit)
            mixed = (np.maximum.reduceat(sign, start[:-1]) > 0) & (np.minimum.reduceat(sign, start[:-1]) < 0)
            if mixed.any():
                points, start, cell = _split(points, start, cell, value, sign, mixed)
    return len(start) - 1, float(_areas(points, start).sum())


def _cell_maps(layers, points, start):
    """Per polygon: the last layer's pre-activations as an affine map (linear R×N×2, offset R×N)."""
    centre = np.add.reduceat(points, start[:-1], axis=0) / np.diff(start)[:, None]
    linear = np.broadcast_to(np.eye(2), (len(centre), 2, 2))
    offset = np.zeros((len(centre), 2))
    h = centre
    for i, (weight, bias) in enumerate(layers):
        n_in = linear.shape[1]
        flat = linear.transpose(1, 0, 2).reshape(n_in, -1)
        linear = (weight @ flat).reshape(len(weight), len(centre), 2).transpose(1, 0, 2)
        offset = offset @ weight.T + bias
        if i < len(layers) - 1:
            z = h @ weight.T + bias
            active = (z > 0).astype(np.float64)
            linear, offset, h = linear * active[..., None], offset * active, np.maximum(z, 0)
    return np.ascontiguousarray(linear), offset


def _split(points, start, cell, value, sign, mixed):
    """Replace each mixed polygon by its parts with sign ≥ 0 and ≤ 0 (corners + 2 crossing points)."""
    size = np.diff(start)
    poly = np.repeat(np.arange(len(size)), size)
    follow = np.arange(len(points)) + 1
    follow[start[1:] - 1] = start[:-1]
    in_cut = mixed[poly]
    crossing = in_cut & (sign * sign[follow] < 0)
    t = value[crossing] / (value[crossing] - value[follow[crossing]])
    cross_xy = points[crossing] + t[:, None] * (points[follow[crossing]] - points[crossing])
    rank = np.arange(len(points)) - np.repeat(start[:-1], size)
    entries = []  # (poly, side, order, xy)
    for side, keep in ((0, sign >= 0), (1, sign <= 0)):
        chosen = in_cut & keep
        entries.append((poly[chosen], np.full(chosen.sum(), side), 2 * rank[chosen], points[chosen]))
        entries.append((poly[crossing], np.full(crossing.sum(), side), 2 * rank[crossing] + 1, cross_xy))
    e_poly, e_side, e_order, e_xy = (np.concatenate(parts) for parts in zip(*entries))
    order = np.lexsort((e_order, e_side, e_poly))
    e_poly, e_side, e_xy = e_poly[order], e_side[order], e_xy[order]
    piece_first = np.r_[True, (e_poly[1:] != e_poly[:-1]) | (e_side[1:] != e_side[:-1])]
    piece_start = np.r_[np.flatnonzero(piece_first), len(e_poly)]
    kept = ~mixed
    kept_points = points[kept[poly]]
    kept_start = np.r_[0, np.cumsum(size[kept])]
    new_points = np.concatenate([kept_points, e_xy])
    new_start = np.r_[kept_start[:-1], len(kept_points) + piece_start]
    new_cell = np.r_[cell[kept], cell[e_poly[piece_start[:-1]]]]
    return new_points, new_start, new_cell


def _areas(points, start):
    follow = np.arange(len(points)) + 1
    follow[start[1:] - 1] = start[:-1]
    rel = points - np.repeat(points[start[:-1]], np.diff(start), axis=0)
    cross = rel[:, 0] * rel[follow, 1] - rel[follow, 0] * rel[:, 1]
    return 0.5 * np.add.reduceat(cross, start[:-1])


def timed(function, *args, repeat: int = 1):
    best = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*args)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best[1]:
            best = (result, wall, cpu)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="width 200 and a short scaling curve")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing (best is reported)")
    parser.add_argument("--box", type=float, default=50.0)
    args = parser.parse_args(argv)
    width = 200 if args.quick else 500
    widths = (50, 100, 250) if args.quick else (50, 100, 250, 500, 1000)
    layers = default_init_layers((width, width))
    enumerate_regions(default_init_layers((20, 20)), args.box)  # warm-up (imports, BLAS threads)

    print(f"2→{width}→{width}→2, PyTorch default init seed 0, box [−{args.box:g}, {args.box:g}]²")
    regions, ours, ours_cpu = timed(enumerate_regions, layers, args.box, repeat=args.repeat)
    (count, area), base, base_cpu = timed(baseline_regions, layers, args.box, repeat=1)
    box_area = (2 * args.box) ** 2
    print(f"  enumerate_regions: {len(regions):>9,} regions  {ours:7.2f} s (cpu {ours_cpu:.2f} s)  "
          f"area rel. error {abs(regions.areas.sum() / box_area - 1):.1e}")
    print(f"  baseline cutter:   {count:>9,} regions  {base:7.2f} s (cpu {base_cpu:.2f} s)  "
          f"area rel. error {abs(area / box_area - 1):.1e}")
    print(f"  speed-up {base / ours:.1f}×; same count: {count == len(regions)}")

    print("scaling (2 hidden layers of width w):")
    print(f"  {'w':>5} {'regions':>10} {'ours s':>8} {'baseline s':>11}")
    for w in widths:
        net = default_init_layers((w, w))
        result, seconds, _ = timed(enumerate_regions, net, args.box, repeat=args.repeat)
        base_s = "skipped" if w > 500 else f"{timed(baseline_regions, net, args.box)[1]:.2f}"
        print(f"  {w:>5} {len(result):>10,} {seconds:>8.2f} {base_s:>11}")

    figure, seconds, _ = timed(region_map_figure, regions, repeat=args.repeat)
    size = len(figure.to_json())
    print(f"region-map figure ({len(regions):,} regions): {seconds:.2f} s, {size / 1e6:.2f} MB JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
