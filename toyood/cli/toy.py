"""``toyood toy``: train one method on the toy and print its metrics — or several methods and/or seeds
at once (``--method plain,reject``, ``--seeds 0,1,2``), by ``toyood.experiment.train_toy_configs``."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from . import CliError, add_threads_flag, finite_float, int_list, print_json, seed_value
from .. import jsonutil
from ..budget import Budget, check_toy_job, toy_job_estimate
from ..data import DATASETS, FIXED_CLASSES, MAX_CLASSES
from ..device import DEVICES, use_threads
from ..errors import ConfigError, RunFileError, TrainingDiverged
from ..evaluate import toy_metrics
from ..experiment import train_toy_configs
from ..gan import train_toy_with_source
from ..methods import CEDA_OBJECTIVES, METHODS
from ..progress import StderrProgress
from ..output_folder import atomic_directory, check_output_path
from ..runfiles import save_run, write_run_files
from ..models import ACTIVATIONS, MAX_NEGATIVE_SLOPE, TEMPERATURE_RANGE
from ..attack import SHARE as ATTACK_SHARE
from ..scores import SCORES, check_score
from ..timeline import snapshot_epochs, timeline_entries, train_with_timeline
from ..toy import EXTRA_OOD_COPIES, MAX_EXTRA_OOD, OOD_CHOICES, PRESETS, ToyConfig, parse_points

# flag → the config field it sets, for the flags only some methods read
METHOD_FLAGS = {"--weight": "ood_weight", "--ceda-objective": "ceda_objective", "--acet-eps": "acet_eps",
                "--acet-steps": "acet_steps", "--acet-step-size": "acet_step_size"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", type=method_list, default=("plain",), metavar="METHOD[,METHOD...]",
                        help=f"training method, or a comma list trained at once ({', '.join(METHODS)}; "
                             "default plain)")
    parser.add_argument("--ood", choices=list(OOD_CHOICES), default=None,
                        help="OOD training samples: boundary (annulus 3σ..3σ+1, Lee/Vernekar), general "
                             "(uniform in [-50,50]² outside 3σ) or gan (a GAN's boundary samples, trained first); "
                             "default boundary for methods that need them")
    parser.add_argument("--data", choices=[*DATASETS, "file"], default=None,
                        help="the 2-D data set: gaussians (default; K means on a circle of radius 10, the paper's "
                             "(±10, 0) for K = 2), moons, rings, spiral (K arms), xor, or file (your own CSV: "
                             "--data-file)")
    parser.add_argument("--classes", type=class_count, default=None, metavar="K",
                        help=f"number of classes, 2..{MAX_CLASSES} (default 2; moons and xor have 2; "
                             "own data: the file's labels 0..K-1)")
    parser.add_argument("--data-file", metavar="PATH",
                        help="a CSV of x, y, label rows (header optional, labels 0..K-1), scaled so that the "
                             "largest |coordinate| is 15; implies --data file")
    parser.add_argument("--ood-points", type=point_list, default=(), metavar="X:Y;X:Y",
                        help=f"OOD training points of your own, added to the boundary or general pool "
                             f"({EXTRA_OOD_COPIES} copies each, at most {MAX_EXTRA_OOD}), e.g. '40:30;-60:10'")
    parser.add_argument("--sigma", type=finite_float, default=1.0,
                        help="std of each Gaussian, the noise of the other data sets; the OOD margin is 3σ "
                             "(paper 1; notebooks 2)")
    parser.add_argument("--hidden", type=int_list, default=(500, 500), help="hidden widths, e.g. 500,500")
    parser.add_argument("--leaky", type=finite_float, default=0.0, metavar="SLOPE", help="leaky-ReLU slope (0 = ReLU)")
    add_evaluation_flags(parser)
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
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=seed_value, default=0)
    seeds.add_argument("--seeds", type=seed_list, metavar="S,S,...",
                       help="several seeds trained at once: per method the runs, their mean and std")
    parser.add_argument("--device", choices=list(DEVICES), default="auto")
    add_threads_flag(parser)
    parser.add_argument("--out", metavar="DIR", help="write config.json, model.pt, ood_train.npy, run.json and "
                                                     "metrics.json here (atomically); with several runs one "
                                                     "sub-folder each (METHOD or METHOD/seed-S) and summary.json")
    parser.add_argument("--force", action="store_true", help="allow --out to replace an existing run")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object (last line)")


def add_evaluation_flags(parser: argparse.ArgumentParser) -> None:
    """--activation, --temperature, --score and --timeline (issue 23)."""
    parser.add_argument("--activation", choices=list(ACTIVATIONS), default=None,
                        help="hidden activation: relu (default), leaky (slope --leaky, default 0.01), tanh or "
                             "sigmoid (bounded: not piecewise affine, no linear regions; Vernekar Sec. 5.1)")
    parser.add_argument("--temperature", type=finite_float, default=1.0, metavar="T",
                        help=f"every confidence and metric uses logits / T ({TEMPERATURE_RANGE[0]:g}..."
                             f"{TEMPERATURE_RANGE[1]:g}; default 1; training is unchanged; Hein et al. Sec. 3)")
    parser.add_argument("--score", choices=list(SCORES), default=None,
                        help="OOD score for AUROC/FPR@95/TNR/DTACC: max_prob, entropy, max_logit, energy, "
                             "dismax_entropy (Macêdo eq. 8, DisMax nets); default the method's own")
    parser.add_argument("--attack-share", type=finite_float, default=ATTACK_SHARE, metavar="S",
                        help=f"far_adv_*: PGD moves each far test point within an ℓ∞ ball of radius S·‖x‖ "
                             f"(0 < S <= 1; default {ATTACK_SHARE:g}) towards the highest confidence")
    parser.add_argument("--timeline", type=int, default=None, metavar="N",
                        help="keep N snapshots spread evenly over training (epoch 0 to the last) and add the "
                             "JSON list timeline: step, regions in [-50,50]², far_ood_overconfident, test_accuracy")


def class_count(text: str) -> int:
    """K: a whole number of classes in [2, MAX_CLASSES]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"K is a whole number from 2 to {MAX_CLASSES}, got {text!r}")
    if not 2 <= value <= MAX_CLASSES:
        raise argparse.ArgumentTypeError(f"K is a whole number from 2 to {MAX_CLASSES}, got {text!r}")
    return value


def point_list(text: str) -> tuple[tuple[float, float], ...]:
    """--ood-points: ``toy.parse_points`` (ToyConfig then checks range, count and repeats)."""
    try:
        return parse_points(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def data_settings(args: argparse.Namespace) -> dict:
    """The ToyConfig fields of --data, --classes and --data-file (a data file implies --data file;
    moons and xor take their fixed K when --classes is not given)."""
    dataset = args.data or ("file" if args.data_file is not None else "gaussians")
    if args.data_file is not None and dataset != "file":
        raise CliError(f"--data-file is read only with --data file (got --data {dataset})")
    if dataset == "file":
        if not args.data_file or not args.data_file.strip():
            raise CliError("--data file needs --data-file PATH (a CSV of x, y, label rows)")
        return dict(dataset="file", data_file=args.data_file)
    return dict(dataset=dataset, classes=args.classes or FIXED_CLASSES.get(dataset, 2))


def check_file_classes(config: ToyConfig, args: argparse.Namespace) -> None:
    """--classes given with a data file must match the file's labels 0..K-1."""
    if config.dataset == "file" and args.classes is not None and args.classes != config.classes:
        raise CliError(f"{config.data_file}: the labels are 0..{config.classes - 1} (K = {config.classes}), "
                       f"not 0..{args.classes - 1} as --classes {args.classes} says")


def method_list(text: str) -> tuple[str, ...]:
    """Parse 'plain,reject' into method names: each known, each once, at least one."""
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected a method or a comma-separated list like plain,reject, got {text!r}")
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(f"invalid choice: {unknown[0]!r} (choose from {', '.join(METHODS)})")
    _no_repeats(names, "method")
    return names


def seed_list(text: str) -> tuple[int, ...]:
    """Parse '0,1,2' into seeds: each a valid seed, each once, at least one."""
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated seeds like 0,1,2, got {text!r}")
    seeds = tuple(seed_value(part) for part in parts)
    _no_repeats(seeds, "seed")
    return seeds


def _no_repeats(values: tuple, what: str) -> None:
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{what} {', '.join(repeated)} given more than once")


def config_from_args(args: argparse.Namespace, method: str | None = None, seed: int | None = None) -> ToyConfig:
    """The config of the flags for one method and seed (default: the first method, ``--seed``);
    method settings not given keep ToyConfig's defaults. In a list, ``--ood`` is the source of the
    methods that train on OOD samples; the others use none."""
    method = args.method[0] if method is None else method
    given = {field: getattr(args, flag[2:].replace("-", "_")) for flag, field in METHOD_FLAGS.items()}
    ood, extra = args.ood, args.ood_points
    if not METHODS[method].needs_ood and any(METHODS[m].needs_ood for m in args.method):
        ood, extra = None, ()  # in a list, the OOD points go to the methods that train on OOD samples
    try:
        config = ToyConfig(method=method, ood=ood, sigma=args.sigma, hidden=args.hidden,
                           **activation_settings(args), temperature=args.temperature,
                           preset=args.preset, epochs=args.epochs,
                           batch_size=args.batch_size, lr=args.lr, seed=args.seed if seed is None else seed,
                           device=args.device, n_per_class=args.n_per_class, n_far=args.n_far,
                           extra_ood=extra, **data_settings(args), **{k: v for k, v in given.items() if v is not None})
    except ConfigError as error:
        raise CliError(" ".join(str(error).split()))  # one line, even for a quoted newline in a CSV row
    check_file_classes(config, args)
    return config


def activation_settings(args: argparse.Namespace) -> dict:
    """The ToyConfig fields of --activation and --leaky: a slope alone means leaky; leaky without a
    slope takes PyTorch's default 0.01."""
    if not 0 <= args.leaky <= MAX_NEGATIVE_SLOPE:
        raise CliError(f"--leaky must be in [0, {MAX_NEGATIVE_SLOPE:g}], got {args.leaky:g}")
    activation = args.activation or ("leaky" if args.leaky else "relu")
    slope = args.leaky or (LEAKY_DEFAULT if activation == "leaky" else 0.0)
    return dict(activation=activation, negative_slope=slope)


LEAKY_DEFAULT = 0.01


def train_one(config: ToyConfig, timeline: int | None, progress) -> tuple:
    """One run (any OOD source), with ``timeline`` snapshots (``toyood.timeline``) or None."""
    if timeline is None:
        return train_toy_with_source(config, progress), None
    try:
        snapshot_epochs(config.epochs, timeline)
    except ValueError as error:
        raise CliError(f"--timeline {timeline}: {error}")
    return train_with_timeline(config, timeline, progress)


def check_evaluation_flags(args: argparse.Namespace) -> None:
    """--score must fit every chosen method; --attack-share is in (0, 1]; --timeline needs one run."""
    for method in args.method if args.score else ():
        try:
            check_score(args.score, METHODS[method].head)
        except ValueError as error:
            raise CliError(f"--score {args.score}: {error}")
    if not 0 < args.attack_share <= 1:
        raise CliError(f"--attack-share must be in (0, 1] (a share of each point's norm), got {args.attack_share:g}")
    if args.timeline is not None and (len(args.method) > 1 or args.seeds is not None):
        raise CliError("--timeline follows one run: give one method and --seed, not a list")


def configs_from_args(args: argparse.Namespace) -> list[ToyConfig]:
    """One config per method and seed, methods outer."""
    seeds = args.seeds if args.seeds is not None else (args.seed,)
    return [config_from_args(args, method, seed) for method in args.method for seed in seeds]


def ignored_flags(args: argparse.Namespace) -> list[str]:
    """The method flags given that no chosen method reads."""
    used = {name for method in args.method for name in METHODS[method].settings_used()}
    return [flag for flag, field in METHOD_FLAGS.items()
            if getattr(args, flag[2:].replace("-", "_")) is not None and field not in used]


def check_jobs(configs: list[ToyConfig], threads: int) -> None:
    """The budget: one job as ``check_toy_job``; several, their summed time at the largest memory."""
    if len(configs) == 1:
        check_toy_job(configs[0], threads=threads)
        return
    estimates = [toy_job_estimate(c, threads) for c in configs]
    Budget.from_environment().check(f"training {len(configs)} models on {configs[0].hidden}",
                                    max(m for m, _ in estimates), sum(s for _, s in estimates))


def run(args: argparse.Namespace) -> int:
    check_evaluation_flags(args)
    configs = configs_from_args(args)
    try:
        threads = use_threads(args.threads)
        check_jobs(configs, threads)
        if args.out is not None:
            check_output_path(args.out, args.force)
    except ConfigError as error:
        raise CliError(str(error))
    for flag in ignored_flags(args):
        names = ", ".join(args.method)
        print(f"note: {flag} does not apply to method{'s' * (len(args.method) > 1)} {names}; ignored",
              file=sys.stderr)
    if len(configs) > 1 or args.seeds is not None:
        return run_many(args, configs)
    try:
        if args.json:
            trained, snapshots = train_one(configs[0], args.timeline, None)
        else:
            with StderrProgress() as progress:
                trained, snapshots = train_one(configs[0], args.timeline, progress)
    except (ConfigError, TrainingDiverged) as error:
        raise CliError(str(error))
    metrics = with_data(toy_metrics(trained, score=args.score, attack_share=args.attack_share), trained)
    if snapshots is not None:
        metrics["timeline"] = timeline_entries(trained, snapshots)
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


def run_many(args: argparse.Namespace, configs: list[ToyConfig]) -> int:
    """Several methods and/or seeds: trained at once, one summary keyed by method."""
    try:
        if args.json:
            runs, seconds = train_toy_configs(configs, None)
        else:
            with StderrProgress() as progress:
                runs, seconds = train_toy_configs(configs, progress)
    except (ConfigError, TrainingDiverged) as error:
        raise CliError(str(error))
    metrics = [with_data(toy_metrics(run, score=args.score, attack_share=args.attack_share), run) for run in runs]
    summary = summarise(configs, metrics, by_seed=args.seeds is not None)
    summary.update(seconds)
    if args.out is not None:
        try:
            write_runs(args.out, args.force, runs, metrics, summary, by_seed=args.seeds is not None)
        except (OSError, ConfigError, RunFileError) as error:
            raise CliError(f"cannot write the runs to {args.out}: {error}")
    if args.json:
        print_json(summary)
    else:
        print_summary(summary)
    return 0


def with_data(metrics: dict, run) -> dict:
    """The metrics with the data they were measured on: the data set, K and, for own data, the file's
    SHA-256, its rows and the factor its coordinates were scaled by."""
    config, data = run.config, run.data
    described = {**metrics, "dataset": config.dataset, "classes": config.classes}
    if config.dataset == "file":
        described.update(data_digest=config.data_digest, data_rows=len(data.x_train) + len(data.x_test),
                         data_scale=data.scale)
    if config.extra_ood:
        described["ood_points"] = [list(point) for point in config.extra_ood]
    return described


def summarise(configs: list[ToyConfig], metrics: list[dict], by_seed: bool) -> dict:
    """{method: metrics}, or with ``by_seed`` {method: {"runs": {seed: metrics}, "mean", "std"}} over
    the numeric metrics (sample std; None for one seed, or when a run's value is None)."""
    if not by_seed:
        return {c.method: m for c, m in zip(configs, metrics)}
    summary: dict = {}
    for config, values in zip(configs, metrics):
        summary.setdefault(config.method, {"runs": {}})["runs"][str(config.seed)] = values
    for entry in summary.values():
        runs = list(entry["runs"].values())
        keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        columns = {k: [r.get(k) for r in runs] for k in keys}
        entry["mean"] = {k: _mean(v) for k, v in columns.items()}
        entry["std"] = {k: _std(v) for k, v in columns.items()}
    return summary


def _mean(values: list) -> float | None:
    return None if any(v is None for v in values) else math.fsum(values) / len(values)


def _std(values: list) -> float | None:
    if len(values) < 2 or any(v is None for v in values):
        return None
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def write_runs(out: str, overwrite: bool, runs: list, metrics: list[dict], summary: dict, by_seed: bool) -> None:
    """One sub-folder per run (METHOD, or METHOD/seed-S with ``by_seed``) and summary.json, all in
    one atomic write."""
    with atomic_directory(out, overwrite) as staging:
        for run, values in zip(runs, metrics):
            folder = staging / run.config.method
            if by_seed:
                folder = folder / f"seed-{run.config.seed}"
            folder.mkdir(parents=True)
            write_run_files(run, folder, values)
        (Path(staging) / "summary.json").write_text(jsonutil.dumps(summary, indent=2, sort_keys=True))


def print_table(metrics: dict) -> None:
    width = max(map(len, metrics))
    for key, value in metrics.items():
        if key != "timeline":
            print(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if "timeline" in metrics:
        print("timeline: step  regions  far_ood_overconfident  test_accuracy")
        for entry in metrics["timeline"]:
            regions = "-" if entry["regions"] is None else f"{entry['regions']:,}"
            print(f"  {entry['step']:>8}  {regions:>9}  {entry['far_ood_overconfident']:.4f}  "
                  f"{entry['test_accuracy']:.4f}")


def print_summary(summary: dict) -> None:
    """Metrics as rows, methods as columns (mean ± std across seeds when there are runs per seed)."""
    methods = [k for k, v in summary.items() if isinstance(v, dict)]
    columns = {m: summary[m]["mean"] if "runs" in summary[m] else summary[m] for m in methods}
    spread = {m: summary[m].get("std", {}) for m in methods}
    keys = [k for k in columns[methods[0]] if k not in ("method",)]
    width = max(map(len, keys))
    cells = {m: [_cell(columns[m].get(k), spread[m].get(k)) for k in keys] for m in methods}
    widths = {m: max(len(m), *(len(c) for c in cells[m])) for m in methods}
    print(" " * width + "".join(f"  {m:>{widths[m]}}" for m in methods))
    for i, key in enumerate(keys):
        print(f"{key:<{width}}" + "".join(f"  {cells[m][i]:>{widths[m]}}" for m in methods))
    for key, value in summary.items():
        if not isinstance(value, dict):
            print(f"{key}: {value:.2f} s")


def _cell(value, std) -> str:
    if value is None:
        return "-"
    if not isinstance(value, float):
        return str(value)
    return f"{value:.4f}" + (f" ± {std:.4f}" if std is not None else "")
