"""The papers' phenomena on the toy as a table: every method × OOD source × seed for one preset.

    python benchmarks/fidelity.py --preset vernekar --seeds 0,1,2

Prints one line per run (the toy metrics that the fidelity checks look at) and the wall time.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from toyood.evaluate import toy_metrics
from toyood.toy import ToyConfig, train_toy

CASES = [("plain", None, {}), ("confidence", "boundary", {}), ("reject", "boundary", {}), ("reject", "general", {}),
         ("confidence", "general", {}), ("ceda", "general", {}), ("ceda", "general", {"ceda_objective": "uniform"}),
         ("acet", "general", {}), ("acet", "general", {"ceda_objective": "uniform"}), ("dismax", None, {}),
         ("rbf", None, {})]
KEYS = ["test_accuracy", "far_ood_overconfident", "far_ood_rejected", "far_ood_mmc", "far_ood_auroc",
        "asymptotic_overconfident", "asymptotic_rejected", "median_alpha_999", "train_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="vernekar")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default=None, help="comma-separated subset of methods")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print("method      ood       variant     seed  " + "  ".join(k[:12].rjust(12) for k in KEYS), flush=True)
    for method, ood, extra in CASES:
        if args.methods and method not in args.methods.split(","):
            continue
        for seed in seeds:
            start = time.perf_counter()
            metrics = toy_metrics(train_toy(ToyConfig(method=method, ood=ood, seed=seed, preset=args.preset,
                                                      n_far=5000, **extra)))
            cells = ["null" if metrics[k] is None else f"{metrics[k]:.3f}" for k in KEYS]
            variant = extra.get("ceda_objective", "")
            print(f"{method:<11} {str(ood):<9} {variant:<11} {seed:>4}  " + "  ".join(c.rjust(12) for c in cells)
                  + f"   ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
