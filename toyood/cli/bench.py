"""``toyood bench``: Hein et al.'s image benchmark (Table 1 and Table 2) for the chosen methods.

    toyood bench --dataset mnist --methods plain,ceda,acet --preset quick --data-dir DIR --json --out DIR
    torchrun --nproc_per_node 4 -m toyood bench ...   # the same run on four processes (DDP)

Under ``torchrun`` every process runs this command; process 0 reports progress and writes the output.

Checkpoints: with ``--out DIR`` every method's training state is saved after each epoch in
``DIR/checkpoints`` (or ``--checkpoint-dir``); the same command after a crash or a kill resumes from
them with the numbers of an uninterrupted run (``toyood.images.checkpoints``). The finished run's
folder replaces ``DIR`` and its checkpoints with it; a ``--checkpoint-dir`` of your own is kept.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from . import CliError, add_threads_flag, print_json, seed_value
from ..device import DEVICES, max_threads, use_threads
from ..errors import ConfigError, RunFileError, TrainingDiverged
from ..images.checkpoints import Checkpoints
from ..images.estimate import check_bench_job
from ..images.benchmark import IMAGE_METHODS, OOD_SETS, PRESETS, BenchConfig, BenchResult, run_benchmark
from ..images.datasets import DATASET_NAMES, DatasetFileError, DatasetUnavailable, available_datasets
from ..images.distributed import Workers, start_workers, stop_workers
from ..images.report import format_table, paper_record
from ..images.stored import STORED_DIR, stored_runs
from ..images.results import write_result_files
from ..plots.images import adversarial_samples_figure, confidence_histograms_figure, noise_grid_figure
from ..progress import StderrProgress
from ..output_folder import atomic_directory, check_output_path

CHECKPOINTS = "checkpoints"  # the folder inside --out that holds an unfinished run's checkpoints


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
                        help="demo: plain+CEDA+ACET in about a minute on 2 CPU cores (4,000 images, one epoch); "
                             "quick: about 1-3 min per method (subsets, 2 epochs, short attacks); standard: about an "
                             "hour per dataset for all six methods (10,000 images, 10 epochs, lr decay); "
                             "paper: Hein et al.'s settings (full data, 100 epochs, 40-step ACET, 200/80-step "
                             "attacks; for a GPU or torchrun)")
    parser.add_argument("--ood-sets", type=name_list, default=None,
                        help=f"OOD datasets among {', '.join(DATASET_NAMES)}; default Hein's pairs that are present")
    parser.add_argument("--data-dir", metavar="DIR", help="where the dataset files are (also $TOYOOD_DATA; "
                                                          "then ~/.cache/toyood); torchvision's layouts work")
    parser.add_argument("--download", action="store_true",
                        help="fetch missing datasets (official URLs, size- and time-limited, MD5-checked)")
    parser.add_argument("--list", action="store_true", help="list which datasets are found (and where) and exit")
    parser.add_argument("--stored", action="store_true",
                        help="list the finished runs stored in the repository's results/ folder (with --json: their "
                             "results) and exit; scripts/store_results.py regenerates them")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--n-train", type=int, help="override the preset's training subset size")
    parser.add_argument("--n-test", type=int, help="override the preset's test subset size")
    parser.add_argument("--seed", type=seed_value, default=0)
    parser.add_argument("--device", choices=list(DEVICES), default="auto")
    add_threads_flag(parser, default_text="the cores shared among the processes")
    parser.add_argument("--out", metavar="DIR", help="write results.json, table.txt, confidences.npz, samples.npz, "
                                                     "model_<method>.pt and figures (HTML) here, atomically")
    parser.add_argument("--force", action="store_true", help="allow --out to replace an existing folder")
    parser.add_argument("--checkpoint-dir", metavar="DIR",
                        help=f"save each method's training state after every epoch here (default: --out's "
                             f"{CHECKPOINTS}/ folder) and resume from it; kept after the run")
    parser.add_argument("--resume", action="store_true",
                        help="require a checkpoint to resume from (without it, one found is resumed anyway)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object (last line)")


def list_datasets(data_dir: str | None) -> int:
    for name, entry in available_datasets(data_dir).items():
        print(f"{name:<13} {entry.location}" if entry.present else f"{name:<13} missing: {entry.reason}")
    return 0


def list_stored(as_json: bool) -> int:
    """The stored runs (``toyood.images.stored``), one line each, or their results as one JSON object."""
    try:
        runs = stored_runs()
    except RunFileError as error:
        raise CliError(str(error))
    if as_json:
        print_json({run.name: {"provenance": run.provenance, **run.result.to_dict(),
                               "paper": paper_record(run.result)} for run in runs})
    else:
        print("\n".join(run.label() for run in runs) if runs else f"no stored runs in {STORED_DIR}")
    return 0


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The run's config, with the flags checked before any work: the config's values, --threads, --out,
    the checkpoint folder and the memory and time budget (``toyood.images.estimate``)."""
    try:
        config = BenchConfig(dataset=args.dataset, methods=args.methods, preset=args.preset, data_dir=args.data_dir,
                             ood_sets=args.ood_sets, seed=args.seed, device=args.device, download=args.download,
                             epochs=args.epochs, n_train=args.n_train, n_test=args.n_test)
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
        threads = use_threads(args.threads, default=max(1, max_threads() // local_processes))
        if args.out is not None:
            check_output_path(args.out, args.force or unfinished(args.out))
        check_checkpoint_dir(args)
        check_bench_job(config, threads=threads)  # BudgetExceeded: the estimate and the limit
    except ConfigError as error:
        raise CliError(str(error))
    return config


def unfinished(out: str) -> bool:
    """Whether ``out`` holds nothing but the checkpoints of a run that has not finished."""
    path = Path(out.strip() or ".")
    return bool(out.strip()) and path.is_dir() and [p.name for p in path.iterdir()] == [CHECKPOINTS]


def checkpoint_dir(args: argparse.Namespace) -> Path | None:
    """--checkpoint-dir; else ``--out``'s ``checkpoints/`` folder, or a hidden sibling of ``--out``
    while it holds a previous run that --force replaces (which stays intact until the new run is saved)."""
    if args.checkpoint_dir is not None:
        return Path(args.checkpoint_dir)
    if args.out is None:
        return None
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not unfinished(args.out):
        return out.parent / f".{out.name}.{CHECKPOINTS}"
    return out / CHECKPOINTS


def check_checkpoint_dir(args: argparse.Namespace) -> None:
    if args.checkpoint_dir is not None and not args.checkpoint_dir.strip():
        raise ConfigError("the checkpoint folder is empty: give a folder name, e.g. runs/ckpt")
    folder = checkpoint_dir(args)
    if folder is None and args.resume:
        raise ConfigError("--resume needs the run's --out or --checkpoint-dir folder")
    if folder is not None and folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder: it cannot hold checkpoints")


def open_checkpoints(args: argparse.Namespace, config: BenchConfig, workers: Workers) -> Checkpoints | None:
    """This process's checkpoints, every file read and checked before any work."""
    folder = checkpoint_dir(args)
    if folder is None:
        return None
    checkpoints = Checkpoints(folder, config, workers)
    try:
        found = checkpoints.check()
    except RunFileError as error:
        raise CliError(str(error))
    if args.resume and not found:
        raise CliError(f"--resume: there is no checkpoint in {folder}")
    if found and workers.main:
        print(f"resuming from the checkpoints in {folder}", file=sys.stderr)
    return checkpoints


def run(args: argparse.Namespace) -> int:
    if args.list:
        return list_datasets(args.data_dir)
    if args.stored:
        return list_stored(args.json)
    config = config_from_args(args)
    try:
        workers = start_workers(config.device)
    except ConfigError as error:
        raise CliError(str(error))
    try:
        checkpoints = open_checkpoints(args, config, workers)
        result = benchmark(config, workers, progress=workers.main and not args.json, download=args.download,
                           checkpoints=checkpoints)
        if workers.main:
            report(result, args)
    finally:
        stop_workers()
    return 0


def benchmark(config: BenchConfig, workers: Workers, progress: bool, download: bool,
              checkpoints: Checkpoints | None = None) -> BenchResult:
    """``run_benchmark`` with its errors as one-line ``CliError``s."""
    try:
        with StderrProgress() as line:
            return run_benchmark(config, line if progress else None, workers, checkpoints)
    except DatasetUnavailable as error:
        hint = "" if download or isinstance(error, DatasetFileError) else " (--download fetches missing datasets)"
        raise CliError(f"{error}{hint}")
    except (ConfigError, TrainingDiverged, RunFileError) as error:
        raise CliError(str(error))


def report(result: BenchResult, args: argparse.Namespace) -> None:
    """The output of process 0: the folder, then the JSON object or the tables."""
    if args.out is not None:
        folder = checkpoint_dir(args)
        save(result, args.out, args.force or unfinished(args.out))
        if args.checkpoint_dir is None and folder.is_dir():  # the hidden sibling of a replaced run
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print_json({**result.to_dict(), "paper": paper_record(result)})
    else:
        print(format_table(result))
        if result.skipped:
            print(f"(toyood bench --list{' --data-dir ' + args.data_dir if args.data_dir else ''} "
                  "shows where the missing datasets were looked for)")


def save(result: BenchResult, out: str, overwrite: bool) -> None:
    """The result's files and figures, written atomically into ``out``."""
    try:
        with atomic_directory(out, overwrite) as staging:
            write_result_files(result, staging)
            save_figures(result, staging)
    except (OSError, ConfigError, RunFileError) as error:
        raise CliError(f"cannot write the results to {out}: {error}")
    print(f"results written to {out}", file=sys.stderr)


def save_figures(result: BenchResult, directory: Path) -> None:
    """The benchmark's figures as stand-alone HTML files (plotly.js from its CDN)."""
    for name, figure in (("histograms", confidence_histograms_figure(result)), ("noise", noise_grid_figure(result)),
                         ("adversarial_samples", adversarial_samples_figure(result))):
        figure.write_html(Path(directory) / f"{name}.html", include_plotlyjs="cdn")
