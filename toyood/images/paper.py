"""Hein et al.'s published numbers (CVPR 2019, "Why ReLU networks yield high-confidence predictions far
away from the training data and how to mitigate the problem"), typed in from the paper's Tables 1
and 2 for the columns beside ours (tests/test_images_paper.py checks them against the paper's text).

- ``TABLE1``: Table 1, block "Trained on MNIST": test error (the "TE" in each column header), the
  MMC on the MNIST test set and MMC / AUROC / FPR@95 per OOD row (FMNIST, EMNIST, grayCIFAR-10,
  Noise, Adv. Noise, Adv. Samples), for Plain, CEDA and ACET. The other blocks (SVHN, CIFAR-10,
  CIFAR-100) hold only their test errors here (``TEST_ERRORS``).
- ``TABLE2``: Table 2, median α at which uniform noise reaches 99.9 % confidence and the share of
  clip(αx, 0, 1) above 95 %, for Plain and ACET on all four datasets (the table has no CEDA row).

The paper trains no Fashion-MNIST model and no confidence-loss, reject-class or DisMax model:
``paper_value`` says so instead of giving a number. ``setup_difference`` is the one line of what our
run does differently from the paper's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .benchmark import BenchConfig

CITATION = "Hein et al. (CVPR 2019)"
METRICS = ("mmc", "auroc", "fpr95")
# Paper's row title -> our evaluation set name (toyood.images.benchmark); LSUN CR and ImageNet- are not supported.
ROW_SETS = {"FMNIST": "fmnist", "EMNIST": "emnist", "grayCIFAR-10": "cifar10-gray", "Noise": "noise",
            "Adv. Noise": "adv_noise", "Adv. Samples": "adv_samples"}


@dataclass(frozen=True)
class PaperNumber:
    """One printed value and where it is printed."""

    value: float  # math.inf: printed as "> 10⁶" (Table 2's median α)
    source: str  # e.g. "Table 1, Trained on MNIST, row FMNIST, ACET, AUROC"


def _table1_mnist(method: str, test_error: float, in_mmc: float, rows: dict[str, tuple[float, float, float]]):
    block = f"Table 1, Trained on MNIST, {method}"
    numbers = {("in", "test_error"): PaperNumber(test_error, f"{block} header (TE)"),
               ("in", "mmc"): PaperNumber(in_mmc, f"{block}, row MNIST, MMC")}
    for row, values in rows.items():
        for metric, value in zip(METRICS, values):
            numbers[(ROW_SETS[row], metric)] = PaperNumber(value, f"{block}, row {row}, {metric.upper()}")
    return numbers


# (set, metric) -> number; rows as printed: (MMC, AUROC, FPR@95).
TABLE1 = {"mnist": {
    "plain": _table1_mnist("Plain", 0.0051, 0.991, {
        "FMNIST": (0.654, 0.972, 0.121), "EMNIST": (0.821, 0.883, 0.374), "grayCIFAR-10": (0.492, 0.996, 0.003),
        "Noise": (0.463, 0.998, 0.000), "Adv. Noise": (1.000, 0.031, 1.000), "Adv. Samples": (0.999, 0.358, 0.992)}),
    "ceda": _table1_mnist("CEDA", 0.0074, 0.987, {
        "FMNIST": (0.373, 0.994, 0.027), "EMNIST": (0.787, 0.895, 0.358), "grayCIFAR-10": (0.105, 1.000, 0.000),
        "Noise": (0.100, 1.000, 0.000), "Adv. Noise": (0.102, 0.998, 0.002), "Adv. Samples": (0.987, 0.549, 0.953)}),
    "acet": _table1_mnist("ACET", 0.0066, 0.986, {
        "FMNIST": (0.239, 0.998, 0.003), "EMNIST": (0.752, 0.912, 0.313), "grayCIFAR-10": (0.101, 1.000, 0.000),
        "Noise": (0.100, 1.000, 0.000), "Adv. Noise": (0.162, 0.992, 0.042), "Adv. Samples": (0.854, 0.692, 0.782)}),
}}
TEST_ERRORS = {  # Table 1's column headers: dataset -> method -> test error
    "mnist": {"plain": 0.0051, "ceda": 0.0074, "acet": 0.0066},
    "svhn": {"plain": 0.0353, "ceda": 0.0350, "acet": 0.0352},
    "cifar10": {"plain": 0.0887, "ceda": 0.0887, "acet": 0.0844},
    "cifar100": {"plain": 0.3197, "ceda": 0.3274, "acet": 0.3224},
}
TABLE2 = {  # dataset -> method -> (median α, share overconfident); math.inf = "> 10⁶"
    "mnist": {"plain": (1.5, 0.987), "acet": (math.inf, 0.000)},
    "svhn": {"plain": (28.1, 0.999), "acet": (49.8, 0.502)},
    "cifar10": {"plain": (8.1, 0.999), "acet": (45.3, 0.034)},
    "cifar100": {"plain": (9.9, 0.998), "acet": (9.9, 0.000)},
}
ARCHITECTURE_TITLES = {"lenet": "LeNet", "resnet": "pre-activation ResNet"}
PAPER_SETUP = {  # what the paper trained (Sec. 5 and REFERENCE.md)
    "mnist": ("60,000", "LeNet", 100, 40),
    "svhn": ("73,257", "pre-activation ResNet", 100, 40),
    "cifar10": ("50,000", "pre-activation ResNet", 100, 40),
    "cifar100": ("50,000", "pre-activation ResNet", 100, 40),
}


def paper_value(dataset: str, method: str, set_name: str, metric: str) -> tuple[float | None, str]:
    """(value, source) of one Table 1 cell — ``set_name`` "in" with "test_error" or "mmc", or an
    OOD set with "mmc", "auroc" or "fpr95" — or Table 2's ("alpha", "median_alpha" or
    "alpha_overconfident"; a median α printed "> 10⁶" is math.inf); (None, why there is none)
    when the paper has no such number."""
    if dataset not in TEST_ERRORS:
        return None, f"the paper trains no {dataset} model"
    if set_name == "alpha":
        row = TABLE2[dataset].get(method)
        if row is None:
            return None, f"Table 2 has no {method} row"
        value = row[0] if metric == "median_alpha" else row[1]
        label = "> 10⁶" if value == math.inf else f"{value:g}"
        return value, f"Table 2, {dataset}, {method}, {metric} ({label})"
    if set_name == "in" and metric == "test_error" and method in TEST_ERRORS[dataset]:
        return TEST_ERRORS[dataset][method], f"Table 1, Trained on {dataset}, {method} header (TE)"
    numbers = TABLE1.get(dataset, {}).get(method)
    if numbers is None:
        return None, (f"the paper has no {method} model" if method not in TEST_ERRORS[dataset]
                      else f"only the test errors of the {dataset} block are typed in")
    number = numbers.get((set_name, metric))
    if number is None:
        return None, f"the paper has no {set_name} row for {dataset}"
    return number.value, number.source


def setup_difference(config: BenchConfig, n_train: int, n_full_train: int | None = None) -> str:
    """One line: what the paper trained and what this run trains (subset, epochs, architecture)."""
    preset = config.preset_values()
    ours = (f"{n_train:,} {'of ' + format(n_full_train, ',') + ' ' if n_full_train else ''}training images, "
            f"{preset.epochs} epoch{'s' * (preset.epochs != 1)}, {ARCHITECTURE_TITLES[config.architecture]}, "
            f"ACET {preset.acet_steps} PGD steps")
    if config.dataset not in PAPER_SETUP:
        return f"{CITATION} train no {config.dataset} model; this run: {ours}."
    images, architecture, epochs, steps = PAPER_SETUP[config.dataset]
    return (f"{CITATION}: {images} training images, {epochs} epochs, {architecture}, ACET {steps} PGD steps; "
            f"this run: {ours}.")
