"""Benchmark: exact linear regions of a random 2→h→h→2 ReLU net (PyTorch default init) in [−50, 50]².

Side by side, in one process, on one thread:

- ``enumerate_regions`` (this checkout) with its compiled cutter (``engine="compiled"``, numba; what
  "auto" picks for two hidden layers) and with its numpy cutter (``engine="numpy"``), run alternately,
  with the time of each of their phases;
- the same function at an older git revision (``--old REV``, default the first regions commit; a
  revision with ``toyood/regions.py`` and ``regions_jit.py`` or with the ``toyood/regions/`` package);
- a plain vectorised numpy cutter (``baseline_regions``): per layer, every cell gets its exact affine
  pre-activation maps, and is split by all of its crossing lines, one after the other (the k-th line
  of every cell in round k), over ragged polygon arrays; no vertex sharing, no half-edge structure.

All must give the same region count and tile the box. Then a scaling curve over widths.

    OMP_NUM_THREADS=1 python benchmarks/bench_regions.py            # width 500 (~500,000 regions)
    OMP_NUM_THREADS=1 python benchmarks/bench_regions.py --quick    # width 200

Each timing is the median of ``--repeat`` runs (wall clock) with the median process CPU time beside it
and the load average of the machine at the start: on a shared machine both vary, so the two cutters
are run alternately, and every ratio is between runs of the same process.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import toyood.regions as regions_package
from toyood.regions import api, chords, cutter, faces, geometry, unbounded, values
from toyood.regions import enumerate_regions

ROOT = Path(__file__).resolve().parents[1]
FIRST_REGIONS_COMMIT = "5024ff6"
PHASES = ("_cut_compiled", "_split_cells", "_cutting_pairs", "_chord_ends", "_edge_crossings", "_boundary_rings", "_chords",
          "_chord_crossings", "_faces", "_face_bits", "_assemble", "_next_values", "_TiledValues", "_extend",
          "_concat_bits", "_fit_affine", "_recession", "_far_strips", "direction_arcs", "_shoelace")
METHODS = (("_TiledValues", "at"),)  # counted as "_TiledValues.at", apart from the phase that calls it


def default_init_layers(widths, seed: int = 0, n_classes: int = 2):
    """float64 (W, b) of nn.Linear layers 2→widths…→K with PyTorch's default initialisation."""
    torch.manual_seed(seed)
    sizes = [2, *widths, n_classes]
    linears = [torch.nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
    return [(lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()) for lin in linears]


def baseline_regions(layers, half_width: float) -> tuple[int, float]:
    """(number of regions, total area): every cell split by all of its crossing lines, layer by layer.

    Per layer, each cell gets its exact affine map of the layer's pre-activations (from the
    activation pattern at its centroid); the (cell, neuron) pairs whose corner values change sign are
    its crossing lines; in round k every piece is split by the k-th crossing line of its cell."""
    points = half_width * np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    start = np.array([0, 4])
    for depth in range(len(layers) - 1):
        linear, offset = _cell_maps(layers[:depth + 1], points, start)
        limit = 1e-13 * (np.abs(linear).sum(axis=2) * half_width + np.abs(offset))
        cell_neuron = _crossing_lines(points, start, linear, offset, limit)
        first = np.searchsorted(cell_neuron[:, 0], np.arange(len(start) - 1))
        count = np.searchsorted(cell_neuron[:, 0], np.arange(len(start) - 1), side="right") - first
        cell = np.arange(len(start) - 1)
        for k in range(count.max(initial=0)):
            owner = np.repeat(cell, np.diff(start))
            has = count[owner] > k
            neuron = cell_neuron[np.minimum(first[owner] + k, len(cell_neuron) - 1), 1]
            value = np.where(has, (points * linear[owner, neuron]).sum(1) + offset[owner, neuron], 0.0)
            bound = np.where(has, limit[owner, neuron], 1.0)
            sign = (value > bound).astype(np.int8) - (value < -bound)
            mixed = (np.maximum.reduceat(sign, start[:-1]) > 0) & (np.minimum.reduceat(sign, start[:-1]) < 0)
            if mixed.any():
                points, start, cell = _split(points, start, cell, value, sign, mixed)
    return len(start) - 1, float(_areas(points, start).sum())


def _crossing_lines(points, start, linear, offset, limit, chunk: int = 20000) -> np.ndarray:
    """(cell, neuron) rows, sorted, of the neurons with both signs at the corners of a cell."""
    rows = []
    for lo in range(0, len(start) - 1, chunk):
        hi = min(lo + chunk, len(start) - 1)
        size = np.diff(start[lo:hi + 1])
        owner = np.repeat(np.arange(lo, hi), size)
        corners = points[start[lo]:start[hi]]
        value = np.einsum("vd,vnd->vn", corners, linear[owner]) + offset[owner]
        above = np.maximum.reduceat(value - limit[owner], start[lo:hi] - start[lo]) > 0
        below = np.minimum.reduceat(value + limit[owner], start[lo:hi] - start[lo]) < 0
        cell, neuron = np.nonzero(above & below)
        rows.append(np.stack([cell + lo, neuron], 1))
    return np.concatenate(rows)


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


REGIONS_MODULES = (regions_package, api, cutter, values, chords, faces, unbounded, geometry)


def git_show(revision: str, path: str) -> str | None:
    """The text of ``path`` at ``revision``, or None where it does not exist there."""
    shown = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else None


def written(folder: Path, name: str, text: str) -> Path:
    """``folder/name`` holding ``text``, rewritten only if it differs (numba's cache keys on mtime)."""
    path = folder / name
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def regions_module_at(revision: str):
    """``enumerate_regions``' module at a git revision, imported beside this checkout's package (so it
    uses today's far-field module) from real files in a temporary folder (so numba can cache them):
    ``toyood/regions.py`` with ``toyood/regions_jit.py`` where it has one, or the package's ``api``."""
    tag = re.sub(r"\W", "_", revision)
    name, folder = f"toyood._regions_{tag}", Path(tempfile.gettempdir()) / f"toyood-bench-regions-{tag}"
    folder.mkdir(exist_ok=True)
    listing = subprocess.run(["git", "ls-tree", "--name-only", revision, "toyood/regions/"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    if listing:
        for path in listing:
            written(folder, Path(path).name, git_show(revision, path))
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
        return importlib.import_module(f"{name}.api")
    jit_source = git_show(revision, "toyood/regions_jit.py")
    if jit_source is not None:  # the old module imports it as ``from . import regions_jit``
        jit_file = written(folder, "regions_jit.py", jit_source)
        spec = importlib.util.spec_from_file_location("toyood.regions_jit", jit_file)
        jit = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = jit
        spec.loader.exec_module(jit)
        setattr(sys.modules["toyood"], "regions_jit", jit)
    spec = importlib.util.spec_from_file_location(name, written(folder, "regions.py",
                                                                git_show(revision, "toyood/regions.py")))
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "toyood"
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def enumerate_regions_at(revision: str):
    """``enumerate_regions`` at a git revision (``regions_module_at``)."""
    return regions_module_at(revision).enumerate_regions


def timed(function, *args, repeat: int = 1):
    """(result, median wall s, median CPU s, load average before the first run) of ``repeat`` runs."""
    return timed_side_by_side([function], *args, repeat=repeat)[0]


def timed_side_by_side(functions, *args, repeat: int = 1):
    """``timed`` for several functions run alternately (one run of each per round), so that a change
    of load on a shared machine hits them alike."""
    load = os.getloadavg()[0]
    runs = [[] for _ in functions]
    results = [None] * len(functions)
    for _ in range(repeat):
        for i, function in enumerate(functions):
            wall, cpu = time.perf_counter(), time.process_time()
            results[i] = function(*args)
            runs[i].append((time.perf_counter() - wall, time.process_time() - cpu))
    return [(result, *np.median(np.array(times), axis=0), load) for result, times in zip(results, runs)]


def phase_times(calls, layers, box: float, repeat: int) -> list[dict[str, float]]:
    """Median CPU seconds of each phase of every call (modules, keyword arguments) of
    ``modules[0].enumerate_regions``, the calls run alternately (one run of each per round): the
    functions in ``PHASES`` (and the methods in ``METHODS``) that the modules hold, each counted once
    (not again inside another phase); the two drivers of a layer, ``_split_cells`` and
    ``_next_values``, count only their own time besides the phases they call."""
    runs = [{} for _ in calls]
    patched = {id(modules): _patch_phases(modules) for modules, _ in calls}
    try:
        for _ in range(repeat):
            for (modules, kwargs), times in zip(calls, runs):
                totals = patched[id(modules)][0]
                totals.clear()
                modules[0].enumerate_regions(layers, box, **kwargs)
                for name, seconds in totals.items():
                    times.setdefault(name, []).append(seconds)
    finally:
        for _, restore in patched.values():
            restore()
    return [{name: float(np.median(seconds)) for name, seconds in times.items()} for times in runs]


def _patch_phases(modules):
    """Wrap the phases in ``modules`` (every module that calls or defines one: each calls its own
    name for it) to add their CPU seconds to a dict; returns it and an undo."""
    containers = ("_split_cells", "_next_values")
    totals, active = {}, []

    def wrap(name, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            started = time.process_time()
            active.append(name)
            try:
                return function(*args, **kwargs)
            finally:
                active.pop()
                if all(outer in containers for outer in active) or name.endswith(".at"):
                    seconds = time.process_time() - started
                    totals[name] = totals.get(name, 0.0) + seconds
                    if active:
                        totals[active[-1]] = totals.get(active[-1], 0.0) - seconds
        return wrapper

    originals = {(module, name): getattr(module, name) for module in modules for name in PHASES
                 if hasattr(module, name)}
    methods = {(getattr(module, cls), cls, name): getattr(getattr(module, cls), name) for module in modules
               for cls, name in METHODS if hasattr(module, cls)}
    wrappers = {name: wrap(name, function) for (_, name), function in originals.items()}
    for module, name in originals:
        setattr(module, name, wrappers[name])
    for (owner, cls, name), function in methods.items():
        setattr(owner, name, wrap(f"{cls}.{name}", function))

    def restore():
        for (module, name), function in originals.items():
            setattr(module, name, function)
        for (owner, _, name), function in methods.items():
            setattr(owner, name, function)
    return totals, restore


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="width 200 and a short scaling curve")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (the median is reported)")
    parser.add_argument("--box", type=float, default=50.0)
    parser.add_argument("--old", default=FIRST_REGIONS_COMMIT, help="git revision of the old enumerate_regions")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    width = 200 if args.quick else 500
    widths = (50, 100, 250) if args.quick else (50, 100, 250, 500, 1000)
    layers = default_init_layers((width, width))
    old_enumerate = enumerate_regions_at(args.old)
    compiled, numpy_cutter = (functools.partial(enumerate_regions, engine=e) for e in ("compiled", "numpy"))
    started = time.perf_counter()
    compiled(default_init_layers((20, 20)), args.box)
    print(f"first compiled call: {time.perf_counter() - started:.2f} s (numba import and JIT, or its on-disk cache)")
    for function in (numpy_cutter, old_enumerate, baseline_regions):  # warm-up
        function(default_init_layers((20, 20)), args.box)

    print(f"2→{width}→{width}→2, PyTorch default init seed 0, box [−{args.box:g}, {args.box:g}]², "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, torch threads 1; medians")
    (regions, ours, ours_cpu, ours_load), (plain, plain_s, plain_cpu, plain_load) = timed_side_by_side(
        [compiled, numpy_cutter], layers, args.box, repeat=args.repeat)
    old, old_s, old_cpu, old_load = timed(old_enumerate, layers, args.box, repeat=max(1, args.repeat // 2))
    (count, area), base, base_cpu, base_load = timed(baseline_regions, layers, args.box)
    box_area = (2 * args.box) ** 2
    rows = [("now, compiled cutter", len(regions), ours, ours_cpu, ours_load, regions.areas.sum()),
            ("now, numpy cutter", len(plain), plain_s, plain_cpu, plain_load, plain.areas.sum()),
            (f"enumerate_regions ({args.old})", len(old), old_s, old_cpu, old_load, old.areas.sum()),
            ("vectorised baseline", count, base, base_cpu, base_load, area)]
    for name, n, wall, cpu, load, total in rows:
        print(f"  {name:<28} {n:>9,} regions  {wall:7.2f} s (cpu {cpu:6.2f} s, load {load:4.2f})  "
              f"{base / wall:5.1f}× baseline  area rel. error {abs(total / box_area - 1):.1e}")
    same = count == len(regions) == len(plain) == len(old) and same_patterns(regions, plain)
    print(f"  compiled vs numpy: {plain_s / ours:.2f}× (cpu {plain_cpu / ours_cpu:.2f}×); "
          f"compiled vs {args.old}: {old_s / ours:.1f}×; same counts (and patterns): {same}")
    if not args.quick:
        print_trained(args)
    print_leaky(layers, args)
    print_phases(*phase_times([(REGIONS_MODULES, {"engine": "compiled"}), (REGIONS_MODULES, {"engine": "numpy"})],
                              layers, args.box, args.repeat))

    print("scaling (2 hidden layers of width w):")
    print(f"  {'w':>5} {'regions':>10} {'compiled s':>11} {'numpy s':>8} {'baseline s':>11} {'load':>5}")
    for w in widths:
        net = default_init_layers((w, w))
        (result, seconds, _, load), (_, numpy_s, _, _) = timed_side_by_side(
            [compiled, numpy_cutter], net, args.box, repeat=args.repeat)
        base_s = "skipped" if w > 500 else f"{timed(baseline_regions, net, args.box)[1]:.2f}"
        print(f"  {w:>5} {len(result):>10,} {seconds:>11.2f} {numpy_s:>8.2f} {base_s:>11} {load:5.2f}")
    return 0


def same_patterns(one, other) -> bool:
    """Whether two enumerations hold the same set of activation patterns."""
    return sorted(map(bytes, one.patterns)) == sorted(map(bytes, other.patterns))


def print_trained(args) -> None:
    """The same for the net the regions page shows by default: the Playground's default model
    (plain, 2×500, interactive preset, seed 0), trained here."""
    from toyood_app.state import AppState
    from toyood.models import piecewise_affine_layers
    from toyood.toy import train_toy

    config = next(iter(AppState().toy_configs().values()))
    layers, slope = piecewise_affine_layers(train_toy(config).model)
    (regions, ours, ours_cpu, load), (plain, plain_s, _, _) = timed_side_by_side(
        [functools.partial(enumerate_regions, engine=e) for e in ("compiled", "numpy")],
        layers, args.box, slope, repeat=args.repeat)
    (count, _), base, _, _ = timed(baseline_regions, layers, args.box)
    print(f"the Playground's default net ({config.method}, 2×500, trained): {len(regions):,} regions, "
          f"compiled {ours:.2f} s (cpu {ours_cpu:.2f} s, load {load:.2f}), numpy {plain_s:.2f} s "
          f"({plain_s / ours:.1f}×), baseline {base:.2f} s ({base / ours:.1f}×); "
          f"same counts (and patterns): {count == len(regions) == len(plain) and same_patterns(regions, plain)}")


def print_leaky(layers, args, slope: float = 0.1) -> None:
    """Both cutters on the same net with leaky ReLUs (every region's map then depends on every neuron)."""
    (regions, ours, _, load), (plain, plain_s, _, _) = timed_side_by_side(
        [functools.partial(enumerate_regions, engine=e) for e in ("compiled", "numpy")],
        layers, args.box, slope, repeat=args.repeat)
    print(f"the same net, leaky ReLU {slope:g}: {len(regions):,} regions, compiled {ours:.2f} s (load {load:.2f}), "
          f"numpy {plain_s:.2f} s ({plain_s / ours:.1f}×); same patterns: {same_patterns(regions, plain)}")


def print_phases(compiled: dict[str, float], plain: dict[str, float]) -> None:
    """The phases' median CPU seconds with either cutter, largest first."""
    print(f"phases of enumerate_regions (median CPU s, the two run alternately; load {os.getloadavg()[0]:.2f}):")
    print(f"  {'phase':<18} {'compiled':>9} {'numpy':>7}")
    for name in sorted(set(compiled) | set(plain), key=lambda n: -max(compiled.get(n, 0.0), plain.get(n, 0.0))):
        print(f"  {name:<18} {compiled.get(name, 0.0):9.3f} {plain.get(name, 0.0):7.3f}")
    print(f"  {'sum':<18} {sum(compiled.values()):9.3f} {sum(plain.values()):7.3f} "
          f"(numpy / compiled {sum(plain.values()) / sum(compiled.values()):.2f}×)")


if __name__ == "__main__":
    sys.exit(main())
