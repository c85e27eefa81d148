"""``python -m toyood regions``: exact linear regions of a ReLU MLP in a box, counted and exported.

Every flag, the box's range, the export path and the memory budget are checked before any work."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from . import CliError, finite_float, int_list, print_json, seed_value
from ..models import MAX_NEGATIVE_SLOPE
from ..progress import StderrProgress
from ..regions import ENGINES, Regions, as_box, check_regions_budget, enumerate_regions, resolve_engine


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="store_true",
                        help="an untrained net with PyTorch's default initialisation (nn.Linear, torch.manual_seed)")
    parser.add_argument("--model", metavar="DIR", help="a run saved by: python -m toyood toy --out DIR")
    parser.add_argument("--hidden", type=int_list, default=(500, 500), help="hidden widths for --init, e.g. 500,500")
    parser.add_argument("--classes", type=int, default=2, help="outputs K for --init (default 2)")
    parser.add_argument("--leaky", type=finite_float, default=0.0, metavar="SLOPE", help="leaky-ReLU slope for --init")
    parser.add_argument("--seed", type=seed_value, default=0, help="torch.manual_seed for --init, in [0, 2^31) (default 0)")
    parser.add_argument("--box", type=finite_float, default=50.0,
                        help="half-width of the box [-B, B]², from 0.001 to 10000 (default 50)")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="the cutter: compiled (numba; two hidden layers, 3-4x faster), numpy (any depth), "
                             "or auto: compiled where it applies (default)")
    parser.add_argument("--export", metavar="FILE.npz",
                        help="write vertices, offsets, patterns, unbounded, limit_class and the net's weights "
                             "(.npz is added when missing)")
    parser.add_argument("--force", action="store_true", help="replace an existing --export file")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object (last line)")


def init_layers(hidden: tuple[int, ...], n_classes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """float64 (W, b) of nn.Linear layers 2 → hidden… → K created in order after torch.manual_seed(seed)."""
    torch.manual_seed(seed)
    sizes = [2, *hidden, n_classes]
    linears = [torch.nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
    return [(lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()) for lin in linears]


def _check_flags(args: argparse.Namespace) -> Path | None:
    """Every check that needs no net; returns the export path that will be written."""
    if args.init == (args.model is not None):
        raise CliError("give exactly one of --init (untrained net) or --model DIR (saved run)")
    try:
        as_box(args.box)
    except ValueError as error:
        raise CliError(f"--box {args.box:g}: {error}")
    if args.init:
        if args.classes < 1:
            raise CliError(f"--classes must be at least 1, got {args.classes}")
        if not 0 <= args.leaky <= MAX_NEGATIVE_SLOPE:
            raise CliError(f"--leaky must be in [0, {MAX_NEGATIVE_SLOPE:g}], got {args.leaky:g}")
        _check_budget(args.hidden, args.classes)
    return _export_path(args.export, args.force)


def _check_budget(widths, n_classes: int) -> None:
    try:
        check_regions_budget(widths, n_classes)
    except ValueError as error:
        raise CliError(str(error))


def _export_path(text: str | None, force: bool) -> Path | None:
    """The file --export will write (np.savez adds .npz), checked: a folder that exists, no file
    there unless --force."""
    if text is None:
        return None
    if not text.strip():
        raise CliError("--export needs a file name, got an empty one")
    path = Path(text if text.endswith(".npz") else text + ".npz")
    if not path.parent.is_dir():
        raise CliError(f"--export {text}: no such folder: {path.parent}")
    if path.is_dir():
        raise CliError(f"--export {text}: {path} is a folder")
    if path.exists() and not force:
        raise CliError(f"--export {text}: {path} exists; add --force to replace it")
    return path
def _net(args: argparse.Namespace) -> tuple[list, float, str]:
    if args.init:
        hidden = ",".join(map(str, args.hidden))
        return init_layers(args.hidden, args.classes, args.seed), args.leaky, f"untrained 2→{hidden}→{args.classes}, seed {args.seed}"
    from ..models import piecewise_affine_layers
    from ..runfiles import load_run
    directory = Path(args.model)
    if not directory.is_dir():
        raise CliError(f"--model: no such directory: {directory}")
    try:
        model = load_run(directory).model
        layers, slope = piecewise_affine_layers(model)
    except (FileNotFoundError, ValueError) as error:
        raise CliError(f"--model {directory}: {error}")
    if getattr(model, "head_kind", "linear") == "dismax":
        raise CliError(f"--model {directory}: DisMax logits are not piecewise affine; regions need a linear or reject head")
    _check_budget([weight.shape[0] for weight, _ in layers[:-1]], layers[-1][0].shape[0])
    return layers, slope, f"saved run {directory}"


def summary(regions: Regions, seconds: float) -> dict:
    box = regions.box
    box_area = (box[1] - box[0]) * (box[3] - box[2])
    unique = regions.limit_unique & regions.unbounded
    return {"regions": len(regions), "unbounded_in_box": int(regions.unbounded.sum()),
            "unbounded_total": regions.unbounded_total, "unbounded_in_box_confident": int(unique.sum()),
            "neurons": regions.n_neurons, "vertices": len(regions.vertices), "box": list(box),
            "seconds": round(seconds, 4), "area_rel_error": float(abs(regions.areas.sum() / box_area - 1))}


def export(path: Path, regions: Regions, layers, force: bool) -> None:
    """Write the arrays atomically: to a temporary file in the same folder, then renamed over ``path``."""
    arrays = {"vertices": regions.vertices, "offsets": regions.offsets, "patterns": regions.patterns,
              "unbounded": regions.unbounded, "limit_class": regions.limit_class.astype(np.int64),
              "box": np.array(regions.box)}
    for i, (weight, bias) in enumerate(layers):
        arrays[f"weight_{i}"], arrays[f"bias_{i}"] = weight, bias
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as file:
            temporary = file.name
            np.savez_compressed(file, **arrays)
        if path.exists() and not force:
            raise CliError(f"--export {path}: appeared while enumerating; add --force to replace it")
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise CliError(f"--export {path}: {error.strerror or error}")
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    export_to = _check_flags(args)
    layers, slope, description = _net(args)
    try:
        engine = resolve_engine(args.engine, len(layers) - 1, slope)
    except ValueError as error:
        raise CliError(f"--engine {args.engine}: {error}")
    started = time.perf_counter()
    try:
        if sys.stderr.isatty():
            with StderrProgress() as progress:
                regions = enumerate_regions(layers, args.box, slope, progress=progress, engine=engine)
        else:
            regions = enumerate_regions(layers, args.box, slope, engine=engine)
    except ValueError as error:
        raise CliError(str(error))
    except MemoryError:
        raise CliError("out of memory while enumerating the regions: use a smaller net or box")
    seconds = time.perf_counter() - started
    numbers = {**summary(regions, seconds), "engine": engine}
    if export_to is not None:
        export(export_to, regions, layers, args.force)
    print(f"{description}, box [-{args.box:g}, {args.box:g}]²")
    print(f"{numbers['regions']:,} linear regions in {seconds:.2f} s ({engine} cutter; area relative error "
          f"{numbers['area_rel_error']:.1e})")
    print(f"unbounded: {numbers['unbounded_in_box']} enter the box "
          f"({numbers['unbounded_in_box_confident']} with a unique limit class → confidence 1), "
          f"{numbers['unbounded_total']} in the whole plane")
    if export_to is not None:
        print(f"exported to {export_to}")
    if args.json:
        print_json(numbers)
    return 0
