"""``toyood toy``: train one method on the toy and print its metrics."""
from __future__ import annotations

import argparse
import sys

from . import CliError, add_threads_flag, finite_float, int_list, print_json, seed_value
from ..budget import check_toy_job
from ..device import DEVICES, use_threads
from ..errors import ConfigError, RunFileError, TrainingDiverged
from ..evaluate import toy_metrics
from ..gan import train_toy_with_source
from ..methods import CEDA_OBJECTIVES, METHODS
from ..progress import StderrProgress
from ..output_folder import check_output_path
from ..runfiles import save_run
from ..toy import OOD_CHOICES, PRESETS, ToyConfig

# flag → the config field it sets, for the flags only some methods read
METHOD_FLAGS = {"--weight": "ood_weight", "--ceda-objective": "ceda_objective", "--acet-eps": "acet_eps",
                "--acet-steps": "acet_steps", "--acet-step-size": "acet_step_size"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=list(METHODS), default="plain", help="training method (default plain)")
    parser.add_argument("--ood", choices=list(OOD_CHOICES), default=None,
                        help="OOD training samples: boundary (annulus 3σ..3σ+1, Lee/Vernekar), general "
                             "(uniform in [-50,50]² outside 3σ) or gan (a GAN's boundary samples, trained first); "
                             "default boundary for methods that need them")
    parser.add_argument("--sigma", type=finite_float, default=1.0, help="std of each Gaussian (paper 1; notebooks 2)")
    parser.add_argument("--hidden", type=int_list, default=(500, 500), help="hidden widths, e.g. 500,500")
    parser.add_argument("--leaky", type=finite_float, default=0.0, metavar="SLOPE", help="leaky-ReLU slope (0 = ReLU)")
    parser.add_argument("--preset", choices=list(PRESETS), default="interactive",
                        help="vernekar: Adam 1e-3, batch 32+32, 200 epochs (reference); interactive: fast")
    parser.add_argument("--epochs", type=int, help="epochs over the in-distribution training set")
    parser.add_argument("--batch-size", type=int, help="in-distribution rows per step (as many OOD rows)")
    parser.add_argument("--lr", type=finite_float, help="Adam learning rate")
    parser.add_argument("--weight", type=finite_float, default=None, help="β (confidence) or λ (ceda/acet), default 1")
    parser.add_argument("--ceda-objective", choices=list(CEDA_OBJECTIVES), default=None,
                        help="CEDA/ACET L_out: max_conf = log max p (Hein eq. 2, authors' code; default) or "
                             "uniform = CE to uniform labels (the code's alternative)")
    parser.add_argument("--acet-eps", type=finite_float, default=None, help="ACET ℓ∞ radius (2-D default 2)")
    parser.add_argument("--acet-steps", type=int, help="ACET PGD steps (preset: 10 vernekar, 5 interactive)")
    parser.add_argument("--acet-step-size", type=finite_float, default=None, help="ACET PGD step size (default 0.5)")
    parser.add_argument("--n-per-class", type=int, default=1000, help="samples per class, split 50/50 train/test")
    parser.add_argument("--n-far", type=int, default=10000, help="far test-OOD points for the metrics")
    parser.add_argument("--seed", type=seed_value, default=0)
    parser.add_argument("--device", choices=list(DEVICES), default="auto")
    add_threads_flag(parser)
    parser.add_argument("--out", metavar="DIR", help="write config.json, model.pt, ood_train.npy, run.json and "
                                                     "metrics.json here (atomically)")
    parser.add_argument("--force", action="store_true", help="allow --out to replace an existing run")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object (last line)")


def config_from_args(args: argparse.Namespace) -> ToyConfig:
    """The config of the flags; method settings not given keep ToyConfig's defaults."""
    given = {field: getattr(args, flag[2:].replace("-", "_")) for flag, field in METHOD_FLAGS.items()}
    try:
        return ToyConfig(method=args.method, ood=args.ood, sigma=args.sigma, hidden=args.hidden,
                         negative_slope=args.leaky, preset=args.preset, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                         n_per_class=args.n_per_class, n_far=args.n_far,
                         **{k: v for k, v in given.items() if v is not None})
    except ConfigError as error:
        raise CliError(str(error))


def ignored_flags(args: argparse.Namespace) -> list[str]:
    """The method flags given that the chosen method does not read."""
    used = METHODS[args.method].settings_used()
    return [flag for flag, field in METHOD_FLAGS.items()
            if getattr(args, flag[2:].replace("-", "_")) is not None and field not in used]


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    try:
        threads = use_threads(args.threads)
        check_toy_job(config, threads=threads)
        if args.out is not None:
            check_output_path(args.out, args.force)
    except ConfigError as error:
        raise CliError(str(error))
    for flag in ignored_flags(args):
        print(f"note: {flag} does not apply to method {args.method}; ignored", file=sys.stderr)
    try:
        if args.json:
            trained = train_toy_with_source(config)
        else:
            with StderrProgress() as progress:
                trained = train_toy_with_source(config, progress)
    except (ConfigError, TrainingDiverged) as error:
        raise CliError(str(error))
    metrics = toy_metrics(trained)
    if args.out is not None:
        try:
            save_run(trained, args.out, metrics, overwrite=args.force)
        except (OSError, ConfigError, RunFileError) as error:
            raise CliError(f"cannot write the run to {args.out}: {error}")
    if args.json:
        print_json(metrics)
    else:
        print_table(metrics)
    return 0


def print_table(metrics: dict) -> None:
    width = max(map(len, metrics))
    for key, value in metrics.items():
        print(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
