"""``python -m toyood regions``: exact linear regions of a ReLU MLP in a box, counted and exported."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from . import CliError, int_list, print_json
from ..regions import Regions, enumerate_regions


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="store_true",
                        help="an untrained net with PyTorch's default initialisation (nn.Linear, torch.manual_seed)")
    parser.add_argument("--model", metavar="DIR", help="a run saved by: python -m toyood toy --out DIR")
    parser.add_argument("--hidden", type=int_list, default=(500, 500), help="hidden widths for --init, e.g. 500,500")
    parser.add_argument("--classes", type=int, default=2, help="outputs K for --init (default 2)")
    parser.add_argument("--leaky", type=float, default=0.0, metavar="SLOPE", help="leaky-ReLU slope for --init")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed for --init (default 0)")
    parser.add_argument("--box", type=float, default=50.0, help="half-width of the box [-B, B]² (default 50)")
    parser.add_argument("--export", metavar="FILE.npz",
                        help="write vertices, offsets, patterns, unbounded, limit_class and the net's weights")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object (last line)")


def init_layers(hidden: tuple[int, ...], n_classes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """float64 (W, b) of nn.Linear layers 2 → hidden… → K created in order after torch.manual_seed(seed)."""
    torch.manual_seed(seed)
    sizes = [2, *hidden, n_classes]
    linears = [torch.nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
    return [(lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()) for lin in linears]


def _net(args: argparse.Namespace) -> tuple[list, float, str]:
    if args.init == (args.model is not None):
        raise CliError("give exactly one of --init (untrained net) or --model DIR (saved run)")
    if not (args.box > 0 and np.isfinite(args.box)):
        raise CliError(f"--box must be a positive half-width, got {args.box}")
    if args.init:
        if args.classes < 1:
            raise CliError(f"--classes must be at least 1, got {args.classes}")
        if not 0 <= args.leaky < 1:
            raise CliError(f"--leaky must be in [0, 1), got {args.leaky}")
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
    return layers, slope, f"saved run {directory}"


def summary(regions: Regions, seconds: float) -> dict:
    box = regions.box
    box_area = (box[1] - box[0]) * (box[3] - box[2])
    unique = regions.limit_unique & regions.unbounded
    return {"regions": len(regions), "unbounded_in_box": int(regions.unbounded.sum()),
            "unbounded_total": regions.unbounded_total, "unbounded_in_box_confident": int(unique.sum()),
            "neurons": regions.n_neurons, "vertices": len(regions.vertices), "box": list(box),
            "seconds": round(seconds, 4), "area_rel_error": float(abs(regions.areas.sum() / box_area - 1))}


def export(path: str, regions: Regions, layers) -> None:
    arrays = {"vertices": regions.vertices, "offsets": regions.offsets, "patterns": regions.patterns,
              "unbounded": regions.unbounded, "limit_class": regions.limit_class.astype(np.int64),
              "box": np.array(regions.box)}
    for i, (weight, bias) in enumerate(layers):
        arrays[f"weight_{i}"], arrays[f"bias_{i}"] = weight, bias
    try:
        np.savez_compressed(path, **arrays)
    except OSError as error:
        raise CliError(f"--export {path}: {error.strerror or error}")


def run(args: argparse.Namespace) -> int:
    layers, slope, description = _net(args)
    started = time.perf_counter()
    regions = enumerate_regions(layers, args.box, slope)
    seconds = time.perf_counter() - started
    numbers = summary(regions, seconds)
    if args.export:
        export(args.export, regions, layers)
    print(f"{description}, box [-{args.box:g}, {args.box:g}]²")
    print(f"{numbers['regions']:,} linear regions in {seconds:.2f} s (area relative error {numbers['area_rel_error']:.1e})")
    print(f"unbounded: {numbers['unbounded_in_box']} enter the box "
          f"({numbers['unbounded_in_box_confident']} with a unique limit class → confidence 1), "
          f"{numbers['unbounded_total']} in the whole plane")
    if args.export:
        print(f"exported to {args.export}")
    if args.json:
        print_json(numbers)
    return 0
