"""``python -m toyood toy``: train one method on the toy and print its metrics."""
from __future__ import annotations

import argparse

from . import CliError, StderrProgress, int_list, print_json
from ..evaluate import toy_metrics
from ..methods import CEDA_OBJECTIVES, METHODS
from ..train import DEVICES, OOD_CHOICES, PRESETS, ConfigError, ToyConfig, TrainingDiverged, save_run, train_toy


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=list(METHODS), default="plain", help="training method (default plain)")
    parser.add_argument("--ood", choices=list(OOD_CHOICES), default=None,
                        help="OOD training samples: boundary (annulus 3σ..3σ+1, Lee/Vernekar) or general "
                             "(uniform in [-50,50]² outside 3σ); default boundary for methods that need them")
    parser.add_argument("--sigma", type=float, default=1.0, help="std of each Gaussian (paper 1; notebooks 2)")
    parser.add_argument("--hidden", type=int_list, default=(500, 500), help="hidden widths, e.g. 500,500")
    parser.add_argument("--leaky", type=float, default=0.0, metavar="SLOPE", help="leaky-ReLU slope (0 = ReLU)")
    parser.add_argument("--preset", choices=list(PRESETS), default="interactive",
                        help="vernekar: Adam 1e-3, batch 32+32, 200 epochs (reference); interactive: fast")
    parser.add_argument("--epochs", type=int, help="epochs over the in-distribution training set")
    parser.add_argument("--batch-size", type=int, help="in-distribution rows per step (as many OOD rows)")
    parser.add_argument("--lr", type=float, help="Adam learning rate")
    parser.add_argument("--weight", type=float, default=1.0, help="β (confidence) or λ (ceda/acet), default 1")
    parser.add_argument("--ceda-objective", choices=list(CEDA_OBJECTIVES), default="max_conf",
                        help="CEDA/ACET L_out: max_conf = log max p (Hein eq. 2, authors' code; default) or "
                             "uniform = CE to uniform labels (the code's alternative)")
    parser.add_argument("--acet-eps", type=float, default=2.0, help="ACET ℓ∞ radius (2-D default 2)")
    parser.add_argument("--acet-steps", type=int, help="ACET PGD steps (preset: 10 vernekar, 5 interactive)")
    parser.add_argument("--acet-step-size", type=float, default=0.5, help="ACET PGD step size (default 0.5)")
    parser.add_argument("--n-per-class", type=int, default=1000, help="samples per class, split 50/50 train/test")
    parser.add_argument("--n-far", type=int, default=10000, help="far test-OOD points for the metrics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=list(DEVICES), default="auto")
    parser.add_argument("--out", metavar="DIR", help="write config.json, metrics.json and model.pt here")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object (last line)")


def config_from_args(args: argparse.Namespace) -> ToyConfig:
    try:
        return ToyConfig(method=args.method, ood=args.ood, sigma=args.sigma, hidden=args.hidden,
                         negative_slope=args.leaky, preset=args.preset, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                         n_per_class=args.n_per_class, ood_weight=args.weight, ceda_objective=args.ceda_objective, acet_eps=args.acet_eps,
                         acet_steps=args.acet_steps, acet_step_size=args.acet_step_size, n_far=args.n_far)
    except ConfigError as error:
        raise CliError(str(error))


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    try:
        if args.json:
            trained = train_toy(config)
        else:
            with StderrProgress() as progress:
                trained = train_toy(config, progress)
    except (ConfigError, TrainingDiverged) as error:
        raise CliError(str(error))
    metrics = toy_metrics(trained)
    if args.out:
        try:
            save_run(trained, args.out, metrics)
        except OSError as error:
            raise CliError(f"cannot write to {args.out}: {error}")
    if args.json:
        print_json(metrics)
    else:
        width = max(map(len, metrics))
        for key, value in metrics.items():
            print(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    return 0
