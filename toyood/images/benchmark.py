"""Hein et al.'s (2019) image benchmark for toyood's methods: Table 1 (OOD detection) and Table 2 (α-scaling).

Per in-distribution dataset, each method of ``toyood.methods`` is trained by ``toyood.train.fit``
(OOD training rows: Hein's noise from ``toyood.images.noise``) and evaluated on
- the test split of the other datasets (Hein's pairs, ``OOD_SETS``; missing ones are skipped);
- noise: as many noise images as test images, the permuted half made from test images;
- adversarial noise: the first ``n_adversarial`` noise images moved by ℓ∞ PGD (ε = 0.3,
  ``toyood.methods.pgd_maximise``, more steps than ACET's training) to maximise the method's OOD
  score — for max-probability scores exactly Hein's log-max-confidence attack, as signed-gradient
  steps and the best-iterate choice do not change under a monotone map; −entropy for DisMax;
- adversarial samples: test images moved by PGD maximising the cross-entropy of their label
  (ε = 0.3 for 28×28 data, 0.1 for 32×32).
PGD step sizes keep the paper's path length: step = ε·5/steps for adversarial noise (paper: 200
steps of 0.0075) and ε·2/steps for adversarial samples (paper: 80 steps of 0.0075 / 0.0025).

Metrics: test error (the reject class counts as a wrong answer); MMC = mean of the method's
confidence (largest real-class probability); AUROC and FPR@95 (Hein's convention), TNR@95 and DTACC
(Lee's) of the method's score with the in-distribution test images as positives (``toyood.metrics``).
Table 2: for uniform noise x, the smallest α ≥ 1 with confidence(αx) ≥ 0.999 (median over trials;
None when the median exceeds 10⁶, Hein's "> 10⁶"), and the share of clip(αx, 0, 1) with confidence
> 0.95 over the trials whose α was found.
"""
from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..device import resolve_device
from ..errors import ConfigError
from ..farfield import first_alpha_reaching
from ..methods import CEDA_OBJECTIVES, METHODS, Method, pgd_maximise
from ..metrics import mean_max_confidence, ood_metrics
from ..predict import probabilities
from ..progress import Progress, with_eta
from ..train import fit
from .datasets import DATASET_NAMES, N_CLASSES, SHAPES, TITLES, DatasetUnavailable, augmentation, load_split
from .models import build_image_model, default_architecture
from .noise import NoiseSampler, hein_noise

IMAGE_METHODS = tuple(name for name, method in METHODS.items() if method.head != "rbf")
OOD_SETS = {  # Hein et al.'s pairs (LSUN classroom and ImageNet- are not supported), extended to FMNIST
    "mnist": ("fmnist", "emnist", "cifar10-gray"),
    "fmnist": ("mnist", "emnist", "cifar10-gray"),
    "svhn": ("cifar10", "cifar100"),
    "cifar10": ("svhn", "cifar100"),
    "cifar100": ("svhn", "cifar10"),
}
GENERATED_SETS = ("noise", "adv_noise", "adv_samples")
SET_TITLES = {**TITLES, "fmnist": "FMNIST", "emnist": "EMNIST", "cifar10-gray": "grayCIFAR-10",
              "noise": "Noise", "adv_noise": "Adv. noise", "adv_samples": "Adv. samples"}
ACET_EPS = 0.3  # Hein's training radius, all datasets
ADV_NOISE_PATH, ADV_SAMPLES_PATH = 5.0, 2.0  # PGD path length in units of ε (paper: 200·0.0075, 80·0.0075)
ALPHA_THRESHOLD, ALPHA_MAX, PROJECTED_THRESHOLD = 0.999, 1e6, 0.95
SAMPLES_SHOWN = 8
CHUNK = 250


@dataclass(frozen=True)
class Preset:
    """Data and compute of a run; a size of None means the whole split."""

    n_train: int | None
    n_test: int | None
    epochs: int
    acet_steps: int  # PGD steps of ACET's training attack (step size ε / steps, as in the authors' code)
    adv_noise_steps: int
    adv_samples_steps: int
    n_adversarial: int | None  # noise images and test images attacked at evaluation
    alpha_trials: int
    lr_decay: bool  # learning rate ÷10 at 50%, 75% and 90% of the epochs


_PAPER = Preset(None, None, 100, 40, 200, 80, None, 10_000, True)
PRESETS: dict[str, dict[str, Preset]] = {  # preset -> architecture -> settings
    # ~3 min per method on 2 CPU cores (ACET the slowest): subsets, 2 epochs, short attacks.
    "quick": {"lenet": Preset(4000, 1000, 2, 5, 40, 20, 200, 200, False),
              "resnet": Preset(1500, 500, 2, 3, 20, 10, 100, 100, False)},
    # Hein et al.'s settings: full splits, 100 epochs, 40-step ACET, 200/80-step evaluation attacks.
    "paper": {"lenet": _PAPER, "resnet": _PAPER},
}
OPTIMIZERS = {  # Hein et al.: Adam 1e-3 for MNIST, SGD (momentum 0.9) 0.1 otherwise; weight decay 5e-4
    "lenet": dict(optimizer="adam", lr=1e-3),
    "resnet": dict(optimizer="sgd", lr=0.1),
}
BATCH_SIZE, WEIGHT_DECAY, MOMENTUM, MILESTONES = 128, 5e-4, 0.9, (0.5, 0.75, 0.9)


@dataclass(frozen=True)
class BenchConfig:
    """Everything that determines a benchmark run (hashable: the app's cache key).

    ``ood_sets`` None takes Hein's pairs for the dataset, skipping those whose files are missing;
    sets named explicitly must be present. ``epochs``, ``n_train`` and ``n_test`` override the preset.
    """

    dataset: str = "mnist"
    methods: tuple[str, ...] = ("plain", "ceda", "acet")
    preset: str = "quick"
    data_dir: str | None = None
    ood_sets: tuple[str, ...] | None = None
    seed: int = 0
    device: str = "auto"
    download: bool = False
    epochs: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    ood_weight: float = 1.0  # β (confidence loss) or λ (CEDA/ACET): Hein's and Lee's 1
    ceda_objective: str = "max_conf"  # CEDA/ACET L_out: 'max_conf' (Hein eq. 2) or 'uniform'

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))
        if self.ood_sets is not None:
            object.__setattr__(self, "ood_sets", tuple(self.ood_sets))
        problems = []
        if self.dataset not in OOD_SETS:
            problems.append(f"dataset must be one of {', '.join(OOD_SETS)} (got {self.dataset!r})")
        unknown = [m for m in self.methods if m not in IMAGE_METHODS]
        if unknown or not self.methods or len(set(self.methods)) != len(self.methods):
            problems.append(f"methods must be distinct names among {', '.join(IMAGE_METHODS)} "
                            f"(got {', '.join(self.methods) or 'none'})")
        if self.preset not in PRESETS:
            problems.append(f"preset must be one of {', '.join(PRESETS)} (got {self.preset!r})")
        for name in self.ood_sets or ():
            if name not in DATASET_NAMES:
                problems.append(f"unknown OOD set {name!r}; choose among {', '.join(DATASET_NAMES)}")
            elif self.dataset in OOD_SETS and SHAPES[name] != SHAPES[self.dataset]:
                problems.append(f"{name} images are {'×'.join(map(str, SHAPES[name]))}, {self.dataset}'s are "
                                f"{'×'.join(map(str, SHAPES[self.dataset]))}: they cannot be compared")
            elif name == self.dataset:
                problems.append(f"{name} is the in-distribution dataset; it cannot also be an OOD set")
        if not 0 <= self.seed < 2**31:
            problems.append(f"seed must be in [0, 2^31) (got {self.seed})")
        if self.epochs is not None and not 1 <= self.epochs <= 1000:
            problems.append(f"epochs must be between 1 and 1000 (got {self.epochs})")
        for name in ("n_train", "n_test"):
            value = getattr(self, name)
            if value is not None and value < 10:
                problems.append(f"{name} must be at least 10 (got {value})")
        if not (0 < self.ood_weight < 1e6):
            problems.append(f"ood_weight must be positive and below 10^6 (got {self.ood_weight})")
        if self.ceda_objective not in CEDA_OBJECTIVES:
            problems.append(f"ceda_objective must be one of {', '.join(CEDA_OBJECTIVES)} (got {self.ceda_objective!r})")
        if problems:
            raise ConfigError("; ".join(problems))

    # The settings ``Method.from_options`` reads for ACET: Hein's image attack, ε = 0.3 with
    # step ε / steps, inputs clipped to [0, 1].
    acet_eps = ACET_EPS
    input_lower, input_upper = 0.0, 1.0

    @property
    def acet_steps(self) -> int:
        return self.preset_values().acet_steps

    @property
    def acet_step_size(self) -> float:
        return ACET_EPS / self.acet_steps

    @property
    def architecture(self) -> str:
        return default_architecture(SHAPES[self.dataset])

    def preset_values(self) -> Preset:
        """The preset for this dataset's architecture with this config's overrides applied."""
        overrides = {k: v for k, v in (("epochs", self.epochs), ("n_train", self.n_train),
                                      ("n_test", self.n_test)) if v is not None}
        return replace(PRESETS[self.preset][self.architecture], **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BenchData:
    """The (subsets of the) splits a run uses, as float32 tensors on the CPU."""

    dataset: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    ood: dict[str, torch.Tensor]
    skipped: dict[str, str]  # OOD set -> why it is missing


@dataclass
class MethodResult:
    """One trained method's numbers, plus what the figures need (confidences, sample images)."""

    method: str
    test_error: float
    in_mmc: float
    sets: dict[str, dict[str, float]]  # OOD set -> mmc, auroc, fpr95, tnr95, dtacc, aupr_in, aupr_out
    median_alpha: float | None
    alpha_overconfident: float | None
    train_seconds: float
    eval_seconds: float
    epoch_losses: list[float]
    confidences: dict[str, np.ndarray] = field(repr=False)  # "in" and every OOD set
    samples: dict[str, np.ndarray] = field(repr=False)  # noise, adv_noise, test, adv_samples (first few)
    model: nn.Module | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        keys = ("method", "test_error", "in_mmc", "sets", "median_alpha", "alpha_overconfident",
                "train_seconds", "eval_seconds", "epoch_losses")
        return {key: getattr(self, key) for key in keys}


@dataclass
class BenchResult:
    config: BenchConfig
    methods: dict[str, MethodResult]
    skipped: dict[str, str]
    n_train: int
    n_test: int

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "preset_values": asdict(self.config.preset_values()),
                "n_train": self.n_train, "n_test": self.n_test, "skipped": self.skipped,
                "methods": {name: result.to_dict() for name, result in self.methods.items()}}


# ---------------------------------------------------------------------------------------------
# Data

def _subset(x: torch.Tensor, y: torch.Tensor | None, n: int | None, generator: torch.Generator):
    if n is None or n >= len(x):
        return x, y
    pick = torch.randperm(len(x), generator=generator)[:n]
    return x[pick], (y[pick] if y is not None else None)


def load_bench_data(config: BenchConfig) -> BenchData:
    """The run's splits: seeded random subsets of the preset's sizes; OOD sets as large as the test set.

    Raises ``DatasetUnavailable`` when the in-distribution dataset (or an OOD set named explicitly)
    is missing; Hein's default OOD sets that are missing are listed in ``skipped``.
    """
    preset = config.preset_values()
    generator = torch.Generator().manual_seed(config.seed)
    x_train, y_train = load_split(config.dataset, "train", config.data_dir, config.download)
    x_test, y_test = load_split(config.dataset, "test", config.data_dir, config.download)
    x_train, y_train = _subset(x_train, y_train, preset.n_train, generator)
    x_test, y_test = _subset(x_test, y_test, preset.n_test, generator)
    ood, skipped = {}, {}
    for name in config.ood_sets or OOD_SETS[config.dataset]:
        try:
            x, _ = load_split(name, "test", config.data_dir, config.download)
        except DatasetUnavailable as error:
            if config.ood_sets is not None:
                raise
            skipped[name] = str(error)
            continue
        ood[name] = _subset(x, None, len(x_test), generator)[0]
    return BenchData(config.dataset, x_train, y_train, x_test, y_test, N_CLASSES[config.dataset], ood, skipped)


# ---------------------------------------------------------------------------------------------
# Training

def image_method(name: str, config: BenchConfig) -> Method:
    """The method with its own settings built from ``config`` (``Method.from_options``)."""
    return METHODS[name].from_options(config)


def train_method(config: BenchConfig, name: str, data: BenchData, progress: Progress | None = None):
    """Build and train one method's network on ``data``; returns (model in eval mode, ``FitResult``)."""
    preset = config.preset_values()
    device = resolve_device(config.device)
    method = image_method(name, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_image_model(tuple(data.x_train.shape[1:]), data.n_classes, method.head, config.architecture)
    model.to(device)
    x_train = data.x_train.to(device)
    steps_per_epoch = math.ceil(len(x_train) / BATCH_SIZE)
    total_steps = steps_per_epoch * preset.epochs
    augment_batch = augmentation(config.dataset)
    step = 0

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        nonlocal step  # fit calls augment once per step: a finer progress report than fit's per-epoch one
        step += 1
        if progress is not None and (step % 5 == 0 or step == total_steps):
            progress(step / total_steps, f"training {name}: step {step}/{total_steps}")
        return augment_batch(x, generator)

    result = fit(model, method, x_train, data.y_train.to(device), NoiseSampler(x_train) if method.needs_ood else None,
                 epochs=preset.epochs, batch_size=BATCH_SIZE, seed=config.seed, momentum=MOMENTUM,
                 weight_decay=WEIGHT_DECAY, milestones=MILESTONES if preset.lr_decay else (), augment=augment,
                 **OPTIMIZERS[config.architecture])
    return model, result


# ---------------------------------------------------------------------------------------------
# Evaluation

def _probs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(probabilities(model, x.cpu(), chunk=CHUNK))


def _attack(model: nn.Module, objective: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
            x: torch.Tensor, labels: torch.Tensor | None, eps: float, steps: int, step_size: float,
            generator: torch.Generator, report: Callable[[float], None]) -> torch.Tensor:
    """``pgd_maximise`` of ``objective(logits, labels)`` in chunks, clipped to [0, 1]."""
    device = next(model.parameters()).device
    moved = []
    for start in range(0, len(x), CHUNK):
        chunk = x[start:start + CHUNK].to(device)
        chunk_labels = labels[start:start + CHUNK].to(device) if labels is not None else None
        moved.append(pgd_maximise(lambda u: objective(model(u), chunk_labels), chunk, eps, steps, step_size,
                                  0.0, 1.0, generator).cpu())
        report(min(1.0, (start + CHUNK) / len(x)))
    return torch.cat(moved)


def alpha_scaling(model: nn.Module, method: Method, shape: tuple[int, ...], trials: int,
                  generator: torch.Generator, bisections: int = 12) -> tuple[float | None, float | None]:
    """Hein et al.'s Table 2 for uniform noise x: (median over ``trials`` of the smallest α ≥ 1 with
    confidence(αx) ≥ 0.999, or None beyond 10⁶; share of clip(αx, 0, 1) with confidence > 0.95 among
    the trials whose α was found, or None when none was). α by ``farfield.first_alpha_reaching``."""
    x = torch.rand((trials, *shape), generator=generator)

    def confidence(points: torch.Tensor) -> np.ndarray:
        return method.confidence(_probs(model, points.float())).numpy()

    def scaled(index: np.ndarray, alphas: np.ndarray) -> torch.Tensor:  # one α per image
        return x[index] * torch.from_numpy(alphas).float().view(-1, *[1] * len(shape))

    alpha = first_alpha_reaching(lambda index, alphas: confidence(scaled(index, alphas)), trials,
                                 ALPHA_THRESHOLD, ALPHA_MAX, grid=31, bisections=bisections)
    found = np.nonzero(np.isfinite(alpha))[0]
    if not len(found):
        return None, None
    median = float(np.sort(alpha)[(trials - 1) // 2])  # the lower median: one of the trials' values
    share = float((confidence(scaled(found, alpha[found]).clamp(0, 1)) > PROJECTED_THRESHOLD).mean())
    return (median if math.isfinite(median) else None), share


def evaluate_method(model: nn.Module, method: Method, data: BenchData, config: BenchConfig,
                    progress: Progress | None = None) -> MethodResult:
    """Every number of Table 1 and Table 2 for a trained model (see the module docstring)."""
    start = time.perf_counter()
    preset = config.preset_values()
    report = progress or (lambda fraction, text: None)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(config.seed + 1)  # the same noise for every method
    model.eval()
    p_test = _probs(model, data.x_test)
    score_in = method.score(p_test).numpy()
    confidences = {"in": method.confidence(p_test).numpy()}
    sets: dict[str, dict[str, float]] = {}

    def add_set(name: str, probs: torch.Tensor) -> None:
        confidences[name] = method.confidence(probs).numpy()
        detection = ood_metrics(score_in, method.score(probs).numpy())
        sets[name] = {"mmc": mean_max_confidence(confidences[name]), **detection}

    for name, x in data.ood.items():
        add_set(name, _probs(model, x))
    report(0.05, "evaluating on the OOD datasets and noise")
    noise = hein_noise(data.x_test.to(device), len(data.x_test), generator).cpu()
    add_set("noise", _probs(model, noise))

    eps = 0.3 if config.architecture == "lenet" else 0.1
    n_adv = min(preset.n_adversarial or len(data.x_test), len(data.x_test))
    adv_noise = _attack(model, lambda logits, _: method.score(torch.softmax(logits, -1)), noise[:n_adv], None,
                        ACET_EPS, preset.adv_noise_steps, ACET_EPS * ADV_NOISE_PATH / preset.adv_noise_steps,
                        generator, lambda f: report(0.05 + 0.5 * f,
                                                    f"adversarial noise ({preset.adv_noise_steps} PGD steps)"))
    add_set("adv_noise", _probs(model, adv_noise))
    adv_samples = _attack(model, lambda logits, y: F.cross_entropy(logits, y, reduction="none"),
                          data.x_test[:n_adv], data.y_test[:n_adv], eps, preset.adv_samples_steps,
                          eps * ADV_SAMPLES_PATH / preset.adv_samples_steps, generator,
                          lambda f: report(0.55 + 0.35 * f,
                                           f"adversarial samples ({preset.adv_samples_steps} PGD steps)"))
    add_set("adv_samples", _probs(model, adv_samples))
    report(0.9, f"α-scaling on {preset.alpha_trials} uniform noise images")
    median_alpha, overconfident = alpha_scaling(model, method, tuple(data.x_test.shape[1:]), preset.alpha_trials,
                                                torch.Generator().manual_seed(config.seed + 2))
    shown = slice(0, SAMPLES_SHOWN)
    samples = {"noise": noise[shown].numpy(), "adv_noise": adv_noise[shown].numpy(),
               "test": data.x_test[shown].numpy(), "adv_samples": adv_samples[shown].numpy()}
    report(1.0, "evaluation done")
    return MethodResult(method.name, float((p_test.argmax(-1) != data.y_test).double().mean()),
                        mean_max_confidence(confidences["in"]), sets, median_alpha, overconfident, 0.0,
                        time.perf_counter() - start, [], confidences, samples, model)


# ---------------------------------------------------------------------------------------------
# Runs

def method_costs(preset: Preset, name: str, n_train: int, n_test: int, n_ood_sets: int) -> tuple[float, float]:
    """Rough (training, evaluation) costs of a method in image forward-backward passes, for the ETA."""
    method = METHODS[name]
    per_image = 1 + method.needs_ood * (1 + (name == "acet") * preset.acet_steps)
    n_adv = min(preset.n_adversarial or n_test, n_test)
    evaluation = (n_adv * (preset.adv_noise_steps + preset.adv_samples_steps)
                  + (n_test * (2 + n_ood_sets) + preset.alpha_trials * 43) / 3)  # forward passes: ~1/3
    return n_train * preset.epochs * per_image, evaluation


def run_method(config: BenchConfig, name: str, data: BenchData, progress: Progress | None = None) -> MethodResult:
    """Train and evaluate one method; ``progress`` gets the fraction done of this method."""
    preset = config.preset_values()
    training, evaluation = method_costs(preset, name, len(data.x_train), len(data.x_test), len(data.ood))
    train_share = training / (training + evaluation)
    report = progress or (lambda fraction, text: None)
    model, fit_result = train_method(config, name, data, lambda f, text: report(train_share * f, text))
    result = evaluate_method(model, image_method(name, config), data, config,
                             lambda f, text: report(train_share + (1 - train_share) * f, f"{name}: {text}"))
    result.train_seconds, result.epoch_losses = fit_result.seconds, fit_result.epoch_losses
    return result


def run_benchmark(config: BenchConfig, progress: Progress | None = None) -> BenchResult:
    """Load the data once, then train and evaluate every method of ``config`` in turn.

    ``progress(fraction, text)`` receives the fraction of the whole run and a text ending in an ETA.
    """
    data = load_bench_data(config)
    preset = config.preset_values()
    costs = {name: sum(method_costs(preset, name, len(data.x_train), len(data.x_test), len(data.ood)))
             for name in config.methods}
    total, done = sum(costs.values()), 0.0
    eta = with_eta(progress) if progress is not None else None
    results = {}
    for name in config.methods:
        report = None
        if eta is not None:
            report = lambda f, text, done=done, cost=costs[name]: eta((done + f * cost) / total, text)
        results[name] = run_method(config, name, data, report)
        done += costs[name]
    return BenchResult(config, results, data.skipped, len(data.x_train), len(data.x_test))


class ResultStore:
    """Finished runs, one entry per method (a method's numbers do not depend on the other methods of
    its run: every seed is per method), the oldest dropped beyond ``capacity``; ``lock`` serialises runs."""

    def __init__(self, capacity: int = 24):
        self.capacity = capacity
        self.entries: dict[BenchConfig, BenchResult] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(config: BenchConfig, method: str) -> BenchConfig:
        return replace(config, methods=(method,), download=False)  # downloading does not change results

    def missing(self, config: BenchConfig) -> list[str]:
        return [m for m in config.methods if self.key(config, m) not in self.entries]

    def add(self, result: BenchResult) -> None:
        for name, method_result in result.methods.items():
            key = self.key(result.config, name)
            self.entries[key] = replace(result, config=key, methods={name: method_result})
        while len(self.entries) > self.capacity:
            self.entries.pop(next(iter(self.entries)))

    def result(self, config: BenchConfig) -> BenchResult:
        """The stored methods of ``config`` as one result (``KeyError`` if one is missing)."""
        parts = [self.entries[self.key(config, m)] for m in config.methods]
        return BenchResult(config, {m: part.methods[m] for m, part in zip(config.methods, parts)},
                           parts[0].skipped, parts[0].n_train, parts[0].n_test)


# ---------------------------------------------------------------------------------------------
# Tables and saving

def evaluation_sets(result: BenchResult) -> list[str]:
    """The OOD sets of a result in table order: datasets, then noise, adversarial noise and samples."""
    first = next(iter(result.methods.values()))
    return [name for name in first.sets if name not in GENERATED_SETS] + list(GENERATED_SETS)


TABLE_METRICS = {"mmc": "MMC", "auroc": "AUROC", "fpr95": "FPR@95", "tnr95": "TNR@95", "dtacc": "DTACC"}


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


def format_table(result: BenchResult) -> str:
    """Table 1 (MMC, AUROC, FPR@95 per method; test error in the header) and Table 2 as text."""
    config, methods = result.config, result.methods
    preset = config.preset_values()
    cell, label = 24, 20
    lines = [f"Trained on {SET_TITLES[config.dataset]} · preset {config.preset}: {result.n_train} train / "
             f"{result.n_test} test images, {preset.epochs} epochs, seed {config.seed}",
             f"{'':<{label}}" + "".join(f"{f'{m} (TE {r.test_error:.2%})':<{cell}}" for m, r in methods.items()),
             f"{'':<{label}}" + f"{'MMC   AUROC  FPR@95':<{cell}}" * len(methods),
             f"{SET_TITLES[config.dataset]:<{label}}" + "".join(f"{f'{r.in_mmc:.3f}    –      –':<{cell}}"
                                                           for r in methods.values())]
    for name in evaluation_sets(result):
        row = "".join(f"{'{mmc:.3f}  {auroc:.3f}  {fpr95:.3f}'.format(**r.sets[name]):<{cell}}"
                      for r in methods.values())
        lines.append(f"{SET_TITLES[name]:<{label}}{row}")
    alpha = lambda r: f"{r.median_alpha:.3g}" if r.median_alpha is not None else f"> {ALPHA_MAX:.0e}"
    share = lambda r: f"{r.alpha_overconfident:.1%}" if r.alpha_overconfident is not None else "–"
    lines.append(f"{'Median α (0.999)':<{label}}" + "".join(f"{alpha(r):<{cell}}" for r in methods.values()))
    lines.append(f"{'% overconf. (0.95)':<{label}}" + "".join(f"{share(r):<{cell}}" for r in methods.values()))
    if result.skipped:
        lines.append("Not evaluated (files missing or unreadable): " + ", ".join(SET_TITLES[s] for s in result.skipped))
    return "\n".join(lines)


def save_result(result: BenchResult, directory: str | Path) -> Path:
    """Write results.json, table.txt, confidences.npz and one model_<method>.pt per method."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(result.to_dict(), indent=2))
    (directory / "table.txt").write_text(format_table(result) + "\n")
    np.savez_compressed(directory / "confidences.npz", **{f"{m}/{s}": c for m, r in result.methods.items()
                                                          for s, c in r.confidences.items()})
    for name, method_result in result.methods.items():
        if method_result.model is not None:
            torch.save(method_result.model.state_dict(), directory / f"model_{name}.pt")
    return directory
