"""The GAN page's default run: training seconds (with snapshots), metrics seconds, and the size of
the animation sent to the browser.

    python benchmarks/bench_gan.py [--classifier confidence] [--start joint] [--iterations 1000] [--threads 1]

One intra-op thread by default, as the app runs (``ui.py``). Prints one line per figure and the
coverage curve; the last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from toyood.evaluate import gan_metrics
from toyood.gan import CLASSIFIERS, STARTS, GanConfig, train_gan
from toyood.plots.gan import gan_animation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", choices=CLASSIFIERS, default=GanConfig.classifier)
    parser.add_argument("--start", choices=STARTS, default=GanConfig.start)
    parser.add_argument("--iterations", type=int, default=GanConfig.iterations)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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


if __name__ == "__main__":
    main()
