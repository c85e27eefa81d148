"""Regenerate the stored benchmark runs in results/ (``toyood.images.stored``): every image method on
each dataset found, with one preset, saved without weights together with the exact command, the
revision, the device, the wall time and the data used.

    .venv/bin/python scripts/store_results.py                      # demo preset, MNIST and Fashion-MNIST
    .venv/bin/python scripts/store_results.py --preset standard    # about an hour per dataset on 2 cores

Run it from the repository root; ``--data-dir`` defaults to ../shared/data/mnist-10k (Fashion-MNIST is
found in Debian's /usr/share/datasets/fashion-mnist). A dataset that is not found is skipped with a line
saying why. Each run replaces the stored folder of the same dataset, preset and seed.
"""
from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from pathlib import Path

from toyood.device import use_threads
from toyood.errors import ConfigError
from toyood.images.benchmark import IMAGE_METHODS, PRESETS, BenchConfig, run_benchmark
from toyood.images.datasets import DatasetUnavailable
from toyood.images.report import format_table
from toyood.images.stored import STORED_DIR, data_used, device_description, revision, save_stored
from toyood.progress import StderrProgress

DEFAULT_DATA = "../shared/data/mnist-10k"


def bench_command(config: BenchConfig, threads: int) -> str:
    """The ``toyood bench`` command that computes the same numbers as this stored run (the thread
    count changes float reductions, so it is part of the command)."""
    parts = ["toyood", "bench", "--dataset", config.dataset, "--methods", ",".join(config.methods),
             "--preset", config.preset, "--seed", str(config.seed), "--device", config.device,
             "--threads", str(threads)]
    if config.data_dir:
        parts += ["--data-dir", config.data_dir]
    return shlex.join(parts)


def store(config: BenchConfig, out: Path, threads: int) -> None:
    start = time.perf_counter()
    with StderrProgress() as line:
        result = run_benchmark(config, line)
    wall = time.perf_counter() - start
    evaluated = [config.dataset, *next(iter(result.methods.values())).sets]
    provenance = {"command": bench_command(config, threads), "generated_by": shlex.join(["python", *sys.argv]),
                  "revision": revision(), "device": device_description(config.device), "threads": threads,
                  "load_average_1min": round(os.getloadavg()[0], 2), "wall_seconds": round(wall, 1),
                  "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "data": data_used(config, evaluated)}
    folder = save_stored(result, provenance, out)
    print(format_table(result))
    print(f"stored in {folder} ({wall:.0f} s)\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist,fmnist", help="comma-separated (default mnist,fmnist)")
    parser.add_argument("--methods", default=",".join(IMAGE_METHODS), help="comma-separated (default: all six)")
    parser.add_argument("--preset", default="demo", choices=list(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=STORED_DIR, help=f"default {STORED_DIR}")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default $TOYOOD_THREADS or all cores)")
    args = parser.parse_args()
    threads = use_threads(args.threads, default=os.cpu_count() or 1)
    for dataset in args.datasets.split(","):
        try:
            config = BenchConfig(dataset=dataset, methods=tuple(args.methods.split(",")), preset=args.preset,
                                 data_dir=args.data_dir, seed=args.seed, device="cpu")
            store(config, args.out, threads)
        except DatasetUnavailable as error:
            print(f"skipped {dataset}: {error}", file=sys.stderr)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
