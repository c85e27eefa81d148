"""``python -m toyood bench``: Hein et al.'s image benchmark (Table 1 and Table 2) for the chosen methods.

    python -m toyood bench --dataset mnist --methods plain,ceda,acet --preset quick --data-dir DIR --json --out DIR
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import CliError, print_json
from ..images.benchmark import IMAGE_METHODS, OOD_SETS, PRESETS, BenchConfig, format_table, run_benchmark, save_result
from ..images.datasets import DATASET_NAMES, DatasetUnavailable, available_datasets
from ..plots.images import adversarial_samples_figure, confidence_histograms_figure, noise_grid_figure
from ..device import DEVICES
from ..errors import ConfigError, TrainingDiverged
from ..progress import StderrProgress


def name_list(text: str) -> tuple[str, ...]:
    """Parse 'plain,ceda,acet' into ('plain', 'ceda', 'acet')."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="mnist",
                        help=f"in-distribution dataset: {', '.join(OOD_SETS)} (default mnist)")
    parser.add_argument("--methods", type=name_list, default=("plain", "ceda", "acet"),
                        help=f"comma-separated, among {', '.join(IMAGE_METHODS)} (default plain,ceda,acet)")
    parser.add_argument("--preset", choices=list(PRESETS), default="quick",
                        help="quick: about 3 min per method on 2 CPU cores (subsets, 2 epochs, short attacks); "
                             "paper: Hein et al.'s settings (full data, 100 epochs, 40-step ACET, 200/80-step attacks)")
    parser.add_argument("--ood-sets", type=name_list, default=None,
                        help=f"OOD datasets among {', '.join(DATASET_NAMES)}; default Hein's pairs that are present")
    parser.add_argument("--data-dir", metavar="DIR", help="where the dataset files are (also $TOYOOD_DATA; "
                                                          "then ~/.cache/toyood); torchvision's layouts work")
    parser.add_argument("--download", action="store_true", help="fetch missing datasets (official URLs, MD5-checked)")
    parser.add_argument("--list", action="store_true", help="list which datasets are found (and where) and exit")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--n-train", type=int, help="override the preset's training subset size")
    parser.add_argument("--n-test", type=int, help="override the preset's test subset size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=list(DEVICES), default="auto")
    parser.add_argument("--out", metavar="DIR", help="write results.json, table.txt, confidences.npz, "
                                                     "model_<method>.pt and figures (HTML) here")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object (last line)")


def list_datasets(data_dir: str | None) -> int:
    for name, entry in available_datasets(data_dir).items():
        print(f"{name:<13} {entry.location}" if entry.present else f"{name:<13} missing: {entry.reason}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return list_datasets(args.data_dir)
    try:
        config = BenchConfig(dataset=args.dataset, methods=args.methods, preset=args.preset, data_dir=args.data_dir,
                             ood_sets=args.ood_sets, seed=args.seed, device=args.device, download=args.download,
                             epochs=args.epochs, n_train=args.n_train, n_test=args.n_test)
    except ConfigError as error:
        raise CliError(str(error))
    try:
        with StderrProgress() as progress:
            result = run_benchmark(config, progress)
    except (ConfigError, TrainingDiverged, DatasetUnavailable) as error:
        raise CliError(str(error))
    if args.out:
        try:
            save_result(result, args.out)
            save_figures(result, args.out)
        except OSError as error:
            raise CliError(f"cannot write to {args.out}: {error}")
    if args.json:
        print_json(result.to_dict())
    else:
        print(format_table(result))
        if result.skipped:
            print(f"(python -m toyood bench --list{' --data-dir ' + args.data_dir if args.data_dir else ''} "
                  "shows where the missing datasets were looked for)")
    return 0


def save_figures(result, directory: str) -> None:
    """The benchmark's figures as stand-alone HTML files (plotly.js from its CDN)."""
    for name, figure in (("histograms", confidence_histograms_figure(result)), ("noise", noise_grid_figure(result)),
                         ("adversarial_samples", adversarial_samples_figure(result))):
        figure.write_html(Path(directory) / f"{name}.html", include_plotlyjs="cdn")
