"""Training-loop and grid-evaluation speed, side by side with a straightforward PyTorch baseline.

    python benchmarks/bench_train.py [--epochs 200] [--method confidence]

Both loops train the same 2×500 net with the `vernekar` preset's steps and batch sizes: 200 epochs
over 1000 in-distribution points, 32 in-distribution + 32 OOD rows per step (6,400 steps).
The baseline is what one writes first: DataLoaders over TensorDatasets, default Adam, an nn.Sequential.
"""
from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toyood.evaluate import evaluate_grid
from toyood.toy import ToyConfig, ood_pool, train_toy
from toyood import data as toydata


def straightforward_loop(config: ToyConfig) -> float:
    """The baseline: DataLoader for in-distribution and OOD batches, default Adam, KL-to-uniform."""
    data = toydata.make_toy_data(config.sigma, config.n_per_class, config.seed)
    pool = torch.from_numpy(ood_pool(config))
    torch.manual_seed(config.seed)
    model = nn.Sequential(nn.Linear(2, 500), nn.ReLU(), nn.Linear(500, 500), nn.ReLU(), nn.Linear(500, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    train = DataLoader(TensorDataset(torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)),
                       batch_size=config.batch_size, shuffle=True)
    ood = DataLoader(TensorDataset(pool), batch_size=config.batch_size, shuffle=True)
    ood_batches = itertools.cycle(ood)
    start = time.perf_counter()
    for _ in range(config.epochs):
        for x, y in train:
            (x_out,) = next(ood_batches)
            logits = model(torch.cat([x, x_out]))
            log_probs = F.log_softmax(logits[len(x):], -1)
            loss = F.cross_entropy(logits[:len(x)], y) + (-math.log(2) - log_probs.mean(-1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def straightforward_grid(model: nn.Module, resolution: int) -> float:
    xs = np.linspace(-50, 50, resolution)
    gx, gy = np.meshgrid(xs, xs)
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    start = time.perf_counter()
    with torch.no_grad():
        torch.softmax(model(points), -1)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--resolution", type=int, default=500)
    parser.add_argument("--grid-only", action="store_true", help="train with the interactive preset, time the grid")
    args = parser.parse_args()
    if args.grid_only:
        config = ToyConfig(method="confidence", ood="boundary")
        run = train_toy(config)
    else:
        config = ToyConfig(method="confidence", ood="boundary", preset="vernekar", epochs=args.epochs)
        steps = config.epochs * math.ceil(config.n_per_class / config.batch_size)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {steps} steps of 32+32 rows")
        baseline = straightforward_loop(config)
        run = train_toy(config)
        print(f"training  baseline {baseline:7.2f} s   toyood {run.train_seconds:7.2f} s   "
              f"ratio {baseline / run.train_seconds:5.2f}x")
    method = config.method_object()
    evaluate_grid(run.model, method, 50.0, 64)  # warm-up
    base_grid = min(straightforward_grid(run.model, args.resolution) for _ in range(3))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        evaluate_grid(run.model, method, 50.0, args.resolution)
        times.append(time.perf_counter() - start)
    print(f"grid {args.resolution}x{args.resolution}  baseline {base_grid:6.3f} s   toyood {min(times):6.3f} s   "
          f"ratio {base_grid / min(times):5.2f}x")


if __name__ == "__main__":
    main()
