"""``python -m toyood gan``: joint GAN + classifier training on the toy (Lee et al. 2018, eq. 2) and
how much of the 3σ boundary the generated samples cover (Vernekar et al. 2019, Sec. 5.2)."""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from . import CliError, add_threads_flag, finite_float, print_json, seed_value
from ..budget import check_gan_job
from ..device import DEVICES, use_threads
from ..errors import ConfigError, TrainingDiverged
from ..evaluate import gan_metrics
from ..gan import (CLASSIFIERS, COLLAPSE_RECALL, DEFAULT_BETA, DEFAULT_ENTROPY, GENERATORS, STARTS, GanConfig,
                   GanRun, train_gan)
from ..progress import StderrProgress
from ..output_folder import atomic_directory, check_output_path
from ..runfiles import write_run_files
from .toy import class_count

DEFAULTS = GanConfig()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classifier", choices=CLASSIFIERS, default=DEFAULTS.classifier,
                        help="confidence: Lee's confidence loss, G pushed toward uniform predictions; reject: "
                             "Vernekar's reject class, generated samples labelled reject and G pushed toward it")
    parser.add_argument("--start", choices=STARTS, default=DEFAULTS.start,
                        help="joint: G, D and classifier from scratch (Vernekar, default); pretrained: classifier "
                             "first trained with boundary samples and then fixed (Lee's toy setting)")
    parser.add_argument("--iterations", type=int, default=DEFAULTS.iterations,
                        help=f"GAN iterations of 100 real + 100 generated rows (default {DEFAULTS.iterations}; "
                             "Vernekar ~20000)")
    parser.add_argument("--generator", choices=GENERATORS, default=DEFAULTS.generator,
                        help="lee: G pulled to the data by D and to where the classifier says OOD by the KL term "
                             "(Lee et al. eq. 2, default); plain: an ordinary GAN without the KL term, the baseline")
    parser.add_argument("--beta", type=finite_float, default=None,
                        help="β of the KL term in the G and classifier steps (default "
                             + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_BETA.items())
                             + "; the reject classifier loses a class once G lands on it when β ≥ 1/K)")
    parser.add_argument("--entropy", type=finite_float, default=None,
                        help="weight of eq. 2's −H(P_G) in G's loss, against collapse (default "
                             + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_ENTROPY.items()) + ")")
    parser.add_argument("--snapshot-every", type=int, default=DEFAULTS.snapshot_every,
                        help=f"iterations between snapshots (default {DEFAULTS.snapshot_every})")
    parser.add_argument("--sigma", type=finite_float, default=DEFAULTS.sigma, help="std of each Gaussian (default 1)")
    parser.add_argument("--classes", type=class_count, default=DEFAULTS.classes, metavar="K",
                        help="K Gaussian classes (default 2 at (±10, 0); K > 2: means on the circle of radius 10)")
    parser.add_argument("--n-far", type=int, default=DEFAULTS.n_far, help="far test-OOD points for the metrics")
    parser.add_argument("--seed", type=seed_value, default=DEFAULTS.seed)
    parser.add_argument("--device", choices=DEVICES, default=DEFAULTS.device)
    add_threads_flag(parser)
    parser.add_argument("--out", metavar="DIR",
                        help="write the classifier run (config.json, model.pt, ood_train.npy, metrics.json), "
                             "gan_config.json, generator.pt and snapshots.npz here (atomically)")
    parser.add_argument("--force", action="store_true", help="allow --out to replace an existing run")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object (last line)")


def config_from_args(args: argparse.Namespace) -> GanConfig:
    try:
        return GanConfig(classifier=args.classifier, start=args.start, iterations=args.iterations, beta=args.beta,
                         generator=args.generator, entropy=args.entropy, snapshot_every=args.snapshot_every,
                         sigma=args.sigma, classes=args.classes, n_far=args.n_far, seed=args.seed,
                         device=args.device)
    except ConfigError as error:
        raise CliError(str(error))


def save(run: GanRun, metrics: dict, directory: str, overwrite: bool) -> None:
    """The classifier's run files plus the GAN's, in one atomic write."""
    try:
        with atomic_directory(directory, overwrite) as staging:
            write_run_files(run.classifier, staging, metrics)
            (staging / "gan_config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
            torch.save(run.generator_net.state_dict(), staging / "generator.pt")
            np.savez_compressed(staging / "snapshots.npz", iterations=[s.iteration for s in run.snapshots],
                                samples=np.stack([s.samples for s in run.snapshots]),
                                confidence=np.stack([s.confidence for s in run.snapshots]),
                                recall=np.array([s.recall for s in run.snapshots]),
                                grid_xs=run.grid_xs, grid_ys=run.grid_ys)
    except (OSError, ConfigError) as error:
        raise CliError(f"cannot write to {directory}: {error}")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    try:
        check_gan_job(config, threads=use_threads(args.threads))
        if args.out is not None:
            check_output_path(args.out, args.force)
    except ConfigError as error:
        raise CliError(str(error))
    try:
        if args.json:
            trained = train_gan(config)
        else:
            with StderrProgress() as progress:
                trained = train_gan(config, progress)
    except (ConfigError, TrainingDiverged) as error:
        raise CliError(str(error))
    metrics = gan_metrics(trained)
    if args.out is not None:
        save(trained, metrics, args.out, args.force)
    if args.json:
        print_json(metrics)
    else:
        curve = " ".join(f"{c:.2f}" for c in metrics["coverage_curve"])
        scalars = {k: v for k, v in metrics.items() if not isinstance(v, list)}
        width = max(map(len, scalars))
        for key, value in scalars.items():
            print(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
        print(f"coverage curve ({len(metrics['coverage_curve'])} snapshots): {curve}")
        print("test recall per class: " + " ".join(f"{r:.2f}" for r in metrics["class_recall"]))
        if metrics["collapsed"]:
            print(f"COLLAPSED: a class's test recall is below {COLLAPSE_RECALL:g}, the classifier lost it "
                  f"(β = {metrics['beta']:g}; see toyood.gan's docstring)")
    return 0
