"""The GAN page's default run: training seconds (with snapshots), metrics seconds, and the size of
the animation sent to the browser; or, with ``--table``, what each GAN setting gives over seeds.

    python benchmarks/bench_gan.py [--classifier confidence] [--start joint] [--iterations 800] [--threads 1]
    python benchmarks/bench_gan.py --table [--seeds 0,1,2,3,4] [--settings joint-reject,...]

One intra-op thread by default, as the app runs. The timing mode prints one line per figure and the
coverage curve; the table mode one line per setting and seed (test accuracy, test recall per class,
``collapsed``, coverage, ring distance, share of samples inside the 3σ discs) and the mean per
setting. The last line is JSON either way.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from toyood.evaluate import gan_metrics
from toyood.gan import CLASSIFIERS, STARTS, GanConfig, train_gan
from toyood.plots.gan import gan_animation

# name: GanConfig settings. "plain-*": the same without the KL term in G's loss (an ordinary GAN);
# "*-no-entropy": Lee's pretrained setting without eq. (2)'s −H(P_G), as the authors' code.
SETTINGS = {
    "joint-reject": dict(classifier="reject"),
    "joint-reject-beta1": dict(classifier="reject", beta=1.0),
    "joint-confidence": dict(classifier="confidence"),
    "pretrained-confidence": dict(classifier="confidence", start="pretrained"),
    "plain-joint-reject": dict(classifier="reject", generator="plain"),
    "plain-joint-confidence": dict(classifier="confidence", generator="plain"),
    "plain-pretrained-confidence": dict(classifier="confidence", start="pretrained", generator="plain"),
    "pretrained-confidence-no-entropy": dict(classifier="confidence", start="pretrained", entropy=0.0),
    "plain-pretrained-confidence-no-entropy": dict(classifier="confidence", start="pretrained", generator="plain",
                                                   entropy=0.0),
}
TABLE_KEYS = ("test_accuracy", "collapsed", "coverage", "ring_distance", "disc_share")


def timing(args: argparse.Namespace) -> None:
    config = GanConfig(classifier=args.classifier, start=args.start, iterations=args.iterations,
                       snapshot_every=max(args.iterations // 40, 1), device="cpu")
    start, cpu_start = time.perf_counter(), time.process_time()
    run = train_gan(config)
    train_seconds, train_cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    start = time.perf_counter()
    metrics = gan_metrics(run)
    metrics_seconds = time.perf_counter() - start
    start = time.perf_counter()
    animation_bytes = len(gan_animation(run).to_json())
    figure_seconds = time.perf_counter() - start

    print(f"{config.classifier}/{config.start}, {config.iterations} iterations, {len(run.snapshots)} snapshots")
    per_iteration = 1000 * train_seconds / config.iterations
    print(f"train (with snapshots)   {train_seconds:6.1f} s  ({per_iteration:.1f} ms/iteration; "
          f"{train_cpu_seconds:.1f} s of CPU: wall ≫ CPU means other processes share the cores)")
    print(f"metrics                  {metrics_seconds:6.1f} s")
    print(f"animation to_json        {figure_seconds:6.1f} s  {animation_bytes:,} bytes")
    print("coverage curve           " + " ".join(f"{c:.2f}" for c in metrics["coverage_curve"]))
    print(json.dumps({"train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds,
                      "metrics_seconds": metrics_seconds, "figure_seconds": figure_seconds,
                      "animation_bytes": animation_bytes,
                      "coverage": metrics["coverage"], "coverage_curve": metrics["coverage_curve"],
                      "far_ood_overconfident": metrics["far_ood_overconfident"],
                      "far_ood_rejected": metrics["far_ood_rejected"]}))


def table(args: argparse.Namespace) -> None:
    names = args.settings.split(",")
    unknown = [name for name in names if name not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown settings {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    for name in names:
        for seed in seeds:
            config = GanConfig(seed=seed, iterations=args.iterations, device="cpu", **SETTINGS[name])
            metrics = gan_metrics(train_gan(config))
            rows.setdefault(name, []).append({k: metrics[k] for k in (*TABLE_KEYS, "class_recall", "beta")})
            row = rows[name][-1]
            print(f"{name:<28} seed {seed}  β {row['beta']:<4g} accuracy {row['test_accuracy']:.3f}  recall "
                  + "/".join(f"{r:.2f}" for r in row["class_recall"])
                  + f"  collapsed {row['collapsed']!s:<5}  coverage {row['coverage']:.2f}  "
                  f"ring distance {row['ring_distance']:.2f}  in 3σ discs {row['disc_share']:.2f}", flush=True)
    means = {name: {k: float(np.mean([row[k] for row in runs])) for k in TABLE_KEYS} for name, runs in rows.items()}
    for name, mean in means.items():
        print(f"mean {name:<28} " + "  ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    print(json.dumps({"seeds": seeds, "iterations": args.iterations, "runs": rows, "means": means}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", choices=CLASSIFIERS, default=GanConfig.classifier)
    parser.add_argument("--start", choices=STARTS, default=GanConfig.start)
    parser.add_argument("--iterations", type=int, default=GanConfig.iterations)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", action="store_true", help="the settings × seeds table instead of the timing")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.table:
        table(args)
    else:
        timing(args)


if __name__ == "__main__":
    main()
