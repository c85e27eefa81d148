"""Tables of a benchmark result: Table 1 (MMC, AUROC, FPR@95, ... per evaluation set and method)
and Table 2 (α-scaling) of Hein et al. (2019), as records for a data frame and as plain text."""
from __future__ import annotations

from .benchmark import ALPHA_MAX, GENERATED_SETS, BenchResult
from .datasets import TITLES

SET_TITLES = {**TITLES, "fmnist": "FMNIST", "emnist": "EMNIST", "cifar10-gray": "grayCIFAR-10",
              "noise": "Noise", "adv_noise": "Adv. noise", "adv_samples": "Adv. samples"}
TABLE_METRICS = {"mmc": "MMC", "auroc": "AUROC", "fpr95": "FPR@95", "tnr95": "TNR@95", "dtacc": "DTACC"}


def evaluation_sets(result: BenchResult) -> list[str]:
    """The OOD sets of a result in table order: datasets, then noise, adversarial noise and samples."""
    first = next(iter(result.methods.values()))
    return [name for name in first.sets if name not in GENERATED_SETS] + list(GENERATED_SETS)


def table_records(result: BenchResult) -> list[dict]:
    """Table 1 as records (set title, method, MMC, AUROC, ...): the in-distribution test set first
    (its MMC and the test error), then every OOD set."""
    records = []
    for method, r in result.methods.items():
        records.append({"set": f"{SET_TITLES[result.config.dataset]} (in-dist.)", "method": method,
                        "MMC": r.in_mmc, "test error": r.test_error})
        for name in evaluation_sets(result):
            records.append({"set": SET_TITLES[name], "method": method,
                            **{title: r.sets[name][key] for key, title in TABLE_METRICS.items()}})
    return records


def _number(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def format_table(result: BenchResult) -> str:
    """Table 1 (MMC, AUROC, FPR@95 per method; test error in the header) and Table 2 as text."""
    config, methods = result.config, result.methods
    cell, label = 24, 20
    lines = [f"Trained on {SET_TITLES[config.dataset]} · preset {config.preset}: {result.n_train} train / "
             f"{result.n_test} test images, {config.preset_values().epochs} epochs, seed {config.seed}",
             f"{'':<{label}}" + "".join(f"{f'{m} (TE {r.test_error:.2%})':<{cell}}" for m, r in methods.items()),
             f"{'':<{label}}" + f"{'MMC   AUROC  FPR@95':<{cell}}" * len(methods),
             f"{SET_TITLES[config.dataset]:<{label}}" + "".join(f"{f'{r.in_mmc:.3f}    –      –':<{cell}}"
                                                           for r in methods.values())]
    for name in evaluation_sets(result):
        row = "".join(f"{'  '.join(_number(r.sets[name][k], '.3f') for k in ('mmc', 'auroc', 'fpr95')):<{cell}}"
                      for r in methods.values())
        lines.append(f"{SET_TITLES[name]:<{label}}{row}")
    alpha = lambda r: f"{r.median_alpha:.3g}" if r.median_alpha is not None else f"> {ALPHA_MAX:.0e}"
    share = lambda r: _number(r.alpha_overconfident, ".1%")
    lines.append(f"{'Median α (0.999)':<{label}}" + "".join(f"{alpha(r):<{cell}}" for r in methods.values()))
    lines.append(f"{'% overconf. (0.95)':<{label}}" + "".join(f"{share(r):<{cell}}" for r in methods.values()))
    if result.skipped:
        lines.append("Not evaluated (files missing or unreadable): " + ", ".join(SET_TITLES[s] for s in result.skipped))
    return "\n".join(lines)
