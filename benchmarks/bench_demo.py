"""The ``demo`` preset's wall time (plain + CEDA + ACET on the real MNIST subset) and Table 1's pattern,
beside the ``quick`` preset it replaces as the one-minute run.

Prints the load average before and after (a loaded machine stretches every time: compare the
estimate's ratio, not the seconds), the estimate of ``toyood.images.estimate`` for both presets, the
measured wall time of the demo run (data loading, training, evaluation: what ``toyood bench --preset
demo`` does after its imports) and the pattern checks: CEDA's and ACET's MMC on noise ≥ 0.3 below
plain's, ACET's MMC on adversarial noise below CEDA's and plain's, test errors within 2 points of
plain's. ``--with-quick`` also runs the quick preset, as the measured baseline.

    .venv/bin/python benchmarks/bench_demo.py --seeds 0,1,2 --threads 2
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from toyood.device import use_threads
from toyood.images.benchmark import BenchConfig, BenchResult, run_benchmark
from toyood.images.estimate import bench_job_estimate

METHODS = ("plain", "ceda", "acet")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-10k"


def pattern(result: BenchResult) -> dict[str, bool]:
    """Table 1's pattern on one run (see the module docstring)."""
    r = result.methods
    noise = {m: r[m].sets["noise"]["mmc"] for m in METHODS}
    adv = {m: r[m].sets["adv_noise"]["mmc"] for m in METHODS}
    return {"noise MMC cut ≥ 0.3": min(noise["plain"] - noise["ceda"], noise["plain"] - noise["acet"]) >= 0.3,
            "CEDA, ACET within 0.01 of 1/K on noise": max(noise["ceda"], noise["acet"]) <= 0.1 + 0.01,
            "ACET lowest on adv. noise": adv["acet"] < min(adv["ceda"], adv["plain"]),
            "test errors within 2 points": max(abs(r[m].test_error - r["plain"].test_error) for m in METHODS) <= 0.02}


def timed(config: BenchConfig) -> tuple[float, BenchResult]:
    start = time.perf_counter()
    result = run_benchmark(config)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DATA))
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default $TOYOOD_THREADS or all cores)")
    parser.add_argument("--with-quick", action="store_true", help="also run the quick preset (the baseline)")
    parser.add_argument("--epochs", type=int, default=None, help="override the demo's epochs (a variant to compare)")
    args = parser.parse_args()
    threads = use_threads(args.threads, default=os.cpu_count() or 1)
    presets = ("demo", "quick") if args.with_quick else ("demo",)
    print(f"{threads} torch thread(s); load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for preset in ("demo", "quick"):
        config = BenchConfig(methods=METHODS, preset=preset, data_dir=args.data_dir, device="cpu")
        print(f"  estimate {preset:<6} {bench_job_estimate(config, threads)[1]:6.0f} s")
    for seed in map(int, args.seeds.split(",")):
        for preset in presets:
            config = BenchConfig(methods=METHODS, preset=preset, data_dir=args.data_dir, device="cpu", seed=seed,
                                 epochs=args.epochs if preset == "demo" else None)
            wall, result = timed(config)
            errors = " / ".join(f"{result.methods[m].test_error:.1%}" for m in METHODS)
            noise = " / ".join(f"{result.methods[m].sets['noise']['mmc']:.3f}" for m in METHODS)
            adv = " / ".join(f"{result.methods[m].sets['adv_noise']['mmc']:.3f}" for m in METHODS)
            checks = ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in pattern(result).items())
            print(f"  {preset:<6} seed {seed}: {wall:6.1f} s wall (load {os.getloadavg()[0]:.1f}); test error {errors}; "
                  f"MMC noise {noise}; adv. noise {adv} (plain / CEDA / ACET); {checks}")


if __name__ == "__main__":
    main()
