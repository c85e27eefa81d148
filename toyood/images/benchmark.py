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

Tables and figures of a result: ``toyood.images.report`` and ``toyood.plots.images``; saving and
loading: ``toyood.images.results``.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..device import resolve_device
from ..errors import ConfigChecker
from ..farfield import first_alpha_reaching
from ..methods import CEDA_OBJECTIVES, METHODS, Method, pgd_maximise
from ..metrics import mean_max_confidence, ood_metrics
from ..predict import probabilities
from ..progress import Progress, phase
from ..train import FitResult, fit
from .augment import augmentation
from .datasets import DATASET_NAMES, N_CLASSES, SHAPES, DatasetUnavailable, load_split
from .distributed import ShardedForward, Workers
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
ACET_EPS = 0.3  # Hein's training radius, all datasets
ADV_NOISE_PATH, ADV_SAMPLES_PATH = 5.0, 2.0  # PGD path length in units of ε (paper: 200·0.0075, 80·0.0075)
ALPHA_THRESHOLD, ALPHA_MAX, PROJECTED_THRESHOLD = 0.999, 1e6, 0.95
SAMPLES_SHOWN = 8
CHUNK = 250


@dataclass(frozen=True)
class Preset:
    """Data and compute of a run; a size of None means the whole split."""

    n_train: int | None  # training images (a seeded random subset)
    n_test: int | None  # test images, and images per OOD set
    epochs: int
    acet_steps: int  # PGD steps of ACET's training attack (step size ε / steps, as in the authors' code)
    adv_noise_steps: int  # PGD steps of the adversarial-noise evaluation
    adv_samples_steps: int  # PGD steps of the adversarial-samples evaluation
    n_adversarial: int | None  # noise images and test images attacked at evaluation
    alpha_trials: int  # uniform-noise images of Table 2
    lr_decay: bool  # learning rate ÷10 at 50%, 75% and 90% of the epochs
    batch_size: int = 128  # in-distribution images per step (Hein et al.: 128)
    ood_batch_size: int | None = None  # noise images per step; None: as many as batch_size (the paper's half)

    @property
    def ood_share(self) -> float:
        """Noise images per in-distribution image of a step."""
        return (self.ood_batch_size or self.batch_size) / self.batch_size


_PAPER = Preset(None, None, 100, 40, 200, 80, None, 10_000, True)
PRESETS: dict[str, dict[str, Preset]] = {  # preset -> architecture -> settings
    # plain + CEDA + ACET in about a minute on 2 CPU cores: one epoch of 4,000 images in steps of 32
    # (125 steps: the step count, not the images seen, decides how close CEDA/ACET's test error comes
    # to plain's), 2-step ACET, short evaluation attacks on 64 images, 20 α trials. Not tuned for resnet.
    "demo": {"lenet": Preset(4000, 500, 1, 2, 20, 10, 64, 20, False, batch_size=32),
             "resnet": Preset(1000, 300, 1, 2, 10, 5, 32, 20, False, batch_size=32)},
    # ~1-3 min per method on 2 CPU cores (ACET the slowest): subsets, 2 epochs of 32-image steps
    # (250 steps; batches of 128 gave 64 steps, after which ACET erred 1.3-2.6 points more than plain).
    "quick": {"lenet": Preset(4000, 1000, 2, 5, 40, 20, 200, 200, False, batch_size=32),
              "resnet": Preset(1500, 500, 2, 3, 20, 10, 100, 100, False, batch_size=32)},
    # The most faithful settings 2 CPU cores finish in about an hour per dataset for all six methods
    # (toyood.images.estimate, 2 threads: MNIST-10k 47 min, Fashion-MNIST 58 min): up to 10,000
    # training images (mnist-10k: all 8,000), 10 epochs of 128-image steps with the paper's lr ÷10 at
    # 50/75/90 %, 20-step ACET (step ε/20: the paper's path length, half its steps), 100/40-step
    # evaluation attacks on 250 images, 1,000 α trials. Epochs first: test-error parity needs them
    # (Fashion-MNIST's CEDA gap is +2 points at 10 epochs, +0.7/+1.3 at 30: benchmarks/error_gap.py).
    "standard": {"lenet": Preset(10_000, 2000, 10, 20, 100, 40, 250, 1000, True),
                 "resnet": Preset(10_000, 2000, 10, 5, 50, 20, 250, 500, True)},
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
    The config is also the ``options`` of ``Method.from_options``: β/λ, the CEDA objective and
    Hein's ACET attack (ε = 0.3, step ε / steps, inputs clipped to [0, 1]).
    """

    dataset: str = "mnist"  # in-distribution dataset, a key of OOD_SETS
    methods: tuple[str, ...] = ("plain", "ceda", "acet")  # among IMAGE_METHODS
    preset: str = "quick"  # a key of PRESETS
    data_dir: str | None = None  # searched first for dataset files (see toyood.images.datasets)
    ood_sets: tuple[str, ...] | None = None  # None: Hein's pairs that are present
    seed: int = 0  # model initialisation, data subsets, batch order, noise and attacks
    device: str = "auto"  # auto, cpu, cuda or mps
    download: bool = False  # fetch missing datasets from their official URLs
    epochs: int | None = None  # overrides the preset
    n_train: int | None = None  # overrides the preset
    n_test: int | None = None  # overrides the preset
    ood_weight: float = 1.0  # β (confidence loss) or λ (CEDA/ACET): the papers' 1
    ceda_objective: str = "max_conf"  # CEDA/ACET L_out: 'max_conf' (Hein eq. 2) or 'uniform'

    acet_eps = ACET_EPS  # class attributes read by Method.from_options (not settings of a run)
    input_lower, input_upper = 0.0, 1.0

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))
        if self.ood_sets is not None:
            object.__setattr__(self, "ood_sets", tuple(self.ood_sets))
        check = ConfigChecker()
        check(self.dataset in OOD_SETS, f"dataset must be one of {', '.join(OOD_SETS)} (got {self.dataset!r})")
        check(bool(self.methods) and set(self.methods) <= set(IMAGE_METHODS)
              and len(set(self.methods)) == len(self.methods),
              f"methods must be distinct names among {', '.join(IMAGE_METHODS)} (got {', '.join(self.methods) or 'none'})")
        check(self.preset in PRESETS, f"preset must be one of {', '.join(PRESETS)} (got {self.preset!r})")
        for name in self.ood_sets or ():
            self._check_ood_set(name, check)
        check(0 <= self.seed < 2**31, f"seed must be in [0, 2^31) (got {self.seed})")
        check(self.epochs is None or 1 <= self.epochs <= 1000, f"epochs must be between 1 and 1000 (got {self.epochs})")
        for name in ("n_train", "n_test"):
            value = getattr(self, name)
            check(value is None or value >= 10, f"{name} must be at least 10 (got {value})")
        check(0 < self.ood_weight < 1e6, f"ood_weight must be positive and below 10^6 (got {self.ood_weight})")
        check(self.ceda_objective in CEDA_OBJECTIVES,
              f"ceda_objective must be one of {', '.join(CEDA_OBJECTIVES)} (got {self.ceda_objective!r})")
        check.raise_if_any()

    def _check_ood_set(self, name: str, check: ConfigChecker) -> None:
        if name not in DATASET_NAMES:
            check(False, f"unknown OOD set {name!r}; choose among {', '.join(DATASET_NAMES)}")
        elif self.dataset in OOD_SETS and SHAPES[name] != SHAPES[self.dataset]:
            check(False, f"{name} images are {'×'.join(map(str, SHAPES[name]))}, {self.dataset}'s are "
                         f"{'×'.join(map(str, SHAPES[self.dataset]))}: they cannot be compared")
        else:
            check(name != self.dataset, f"{name} is the in-distribution dataset; it cannot also be an OOD set")

    @property
    def architecture(self) -> str:
        return default_architecture(SHAPES[self.dataset])

    @property
    def acet_steps(self) -> int:
        return self.preset_values().acet_steps

    @property
    def acet_step_size(self) -> float:
        return ACET_EPS / self.acet_steps

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


SET_METRICS = ("mmc", "auroc", "fpr95", "tnr95", "dtacc", "aupr_in", "aupr_out")


@dataclass
class MethodResult:
    """One trained method's numbers, plus what the figures need (confidences, sample images)."""

    method: str
    test_error: float
    in_mmc: float
    sets: dict[str, dict[str, float]]  # OOD set -> SET_METRICS
    median_alpha: float | None
    alpha_overconfident: float | None
    train_seconds: float
    eval_seconds: float
    epoch_losses: list[float]
    confidences: dict[str, np.ndarray] = field(repr=False)  # "in" and every OOD set
    samples: dict[str, np.ndarray] = field(repr=False)  # noise, adv_noise, test, adv_samples (first few)
    model: nn.Module | None = field(default=None, repr=False)  # None for a result loaded from disk

    SUMMARY = ("method", "test_error", "in_mmc", "sets", "median_alpha", "alpha_overconfident",
               "train_seconds", "eval_seconds", "epoch_losses")

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.SUMMARY}


@dataclass
class BenchResult:
    config: BenchConfig
    methods: dict[str, MethodResult]
    skipped: dict[str, str]  # default OOD set -> why it was not evaluated
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
    is missing or malformed; Hein's default OOD sets that are missing are listed in ``skipped``.
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


class _StepReporter:
    """Wraps the augmentation, which ``fit`` calls once per step, to report progress per step
    (``fit``'s own report is per epoch: two reports in the quick preset)."""

    def __init__(self, augment: Callable, total_steps: int, progress: Progress | None, label: str):
        self.augment, self.total_steps, self.progress, self.label = augment, total_steps, progress, label
        self.step = 0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        self.step += 1
        if self.progress is not None and (self.step % 5 == 0 or self.step == self.total_steps):
            self.progress(self.step / self.total_steps, f"training {self.label}: step {self.step}/{self.total_steps}")
        return self.augment(x, generator)


def build_method_model(config: BenchConfig, method: Method, data: BenchData) -> nn.Module:
    """The untrained network for ``method``, seeded by ``config.seed`` (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_image_model(tuple(data.x_train.shape[1:]), data.n_classes, method.head, config.architecture)


def train_method(config: BenchConfig, name: str, data: BenchData, progress: Progress | None = None,
                 workers: Workers | None = None, checkpoints=None) -> tuple[nn.Module, FitResult]:
    """Build and train one method's network on ``data`` (on every process of ``workers``, each
    computing its share of every batch); returns (model in eval mode, ``FitResult``).
    ``checkpoints`` (a ``toyood.images.checkpoints.Checkpoints``) resumes the method's latest saved
    epoch and saves every epoch."""
    preset = config.preset_values()
    workers = workers or single_process(config)
    method = image_method(name, config)
    model = build_method_model(config, method, data).to(workers.device)
    x_train = data.x_train.to(workers.device)
    steps_per_epoch = math.ceil(len(x_train) / preset.batch_size)
    checkpoint = checkpoints.for_method(name) if checkpoints is not None else None
    reporter = _StepReporter(augmentation(config.dataset), steps_per_epoch * preset.epochs, progress, name)
    reporter.step = steps_per_epoch * (checkpoint.epochs_done if checkpoint is not None else 0)
    result = fit(ShardedForward(model, workers), method, x_train, data.y_train.to(workers.device),
                 NoiseSampler(x_train) if method.needs_ood else None,
                 epochs=preset.epochs, batch_size=preset.batch_size, ood_batch_size=preset.ood_batch_size,
                 seed=config.seed, momentum=MOMENTUM,
                 weight_decay=WEIGHT_DECAY, milestones=MILESTONES if preset.lr_decay else (),
                 augment=reporter, checkpoint=checkpoint, **OPTIMIZERS[config.architecture])
    return model.eval(), result


def single_process(config: BenchConfig) -> Workers:
    return Workers(0, 1, resolve_device(config.device))


# ---------------------------------------------------------------------------------------------
# Evaluation

def _chunk_seed(seed: int, purpose: int, index: int) -> int:
    """The seed of one evaluation chunk: the same whichever process computes it."""
    return int(np.random.SeedSequence([seed, purpose, index]).generate_state(1)[0])


def _probs(model: nn.Module, x: torch.Tensor, workers: Workers) -> torch.Tensor:
    def chunk_probs(_, rows: slice) -> torch.Tensor:
        with workers.autocast():
            return torch.from_numpy(probabilities(model, x[rows], chunk=CHUNK))

    return workers.map_chunks(chunk_probs, len(x), CHUNK)


def _attack(model: nn.Module, objective: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
            x: torch.Tensor, labels: torch.Tensor | None, eps: float, steps: int, path: float, seed: int,
            workers: Workers, report: Callable[[float], None]) -> torch.Tensor:
    """``pgd_maximise`` of ``objective(logits, labels)`` in chunks (each with its own seed, spread
    over the processes), clipped to [0, 1], with step size ε·path/steps."""
    def attack_chunk(index: int, rows: slice) -> torch.Tensor:
        chunk = x[rows].to(workers.device)
        chunk_labels = labels[rows].to(workers.device) if labels is not None else None
        generator = torch.Generator(device=workers.device).manual_seed(_chunk_seed(seed, 1, index))
        with workers.autocast():
            moved = pgd_maximise(lambda u: objective(model(u).float(), chunk_labels), chunk, eps, steps,
                                 eps * path / steps, 0.0, 1.0, generator)
        report(min(1.0, rows.stop / len(x)))
        return moved

    return workers.map_chunks(attack_chunk, len(x), CHUNK)


def alpha_scaling(model: nn.Module, method: Method, shape: tuple[int, ...], trials: int,
                  generator: torch.Generator, bisections: int = 12,
                  workers: Workers | None = None) -> tuple[float | None, float | None]:
    """Hein et al.'s Table 2 for uniform noise x: (median over ``trials`` of the smallest α ≥ 1 with
    confidence(αx) ≥ 0.999, or None beyond 10⁶; share of clip(αx, 0, 1) with confidence > 0.95 among
    the trials whose α was found, or None when none was). α by ``farfield.first_alpha_reaching``."""
    workers = workers or Workers(0, 1, next(model.parameters()).device)
    x = torch.rand((trials, *shape), generator=generator)

    def confidence(points: torch.Tensor) -> np.ndarray:
        with workers.autocast():
            return method.confidence(torch.from_numpy(probabilities(model, points.float(), chunk=CHUNK))).numpy()

    def scaled(images: torch.Tensor, alphas: np.ndarray) -> torch.Tensor:  # one α per image
        return images * torch.from_numpy(alphas).float().view(-1, *[1] * len(shape))

    def chunk_alphas(_, rows: slice) -> torch.Tensor:
        images = x[rows]
        return torch.from_numpy(first_alpha_reaching(lambda index, alphas: confidence(scaled(images[index], alphas)),
                                                     len(images), ALPHA_THRESHOLD, ALPHA_MAX, grid=31,
                                                     bisections=bisections))

    alpha = workers.map_chunks(chunk_alphas, trials, CHUNK).numpy()
    found = np.nonzero(np.isfinite(alpha))[0]
    if not len(found):
        return None, None
    median = float(np.sort(alpha)[(trials - 1) // 2])  # the lower median: one of the trials' values
    projected = scaled(x[found], alpha[found]).clamp(0, 1)
    share = float((workers.map_chunks(lambda _, rows: torch.from_numpy(confidence(projected[rows])), len(found),
                                      CHUNK).numpy() > PROJECTED_THRESHOLD).mean())
    return (median if math.isfinite(median) else None), share


class _SetScores:
    """Confidences and detection metrics per evaluation set, against the in-distribution test scores."""

    def __init__(self, method: Method, p_test: torch.Tensor):
        self.method = method
        self.score_in = method.score(p_test).numpy()
        self.confidences = {"in": method.confidence(p_test).numpy()}
        self.sets: dict[str, dict[str, float]] = {}

    def add(self, name: str, probs: torch.Tensor) -> None:
        self.confidences[name] = self.method.confidence(probs).numpy()
        detection = ood_metrics(self.score_in, self.method.score(probs).numpy())
        self.sets[name] = {"mmc": mean_max_confidence(self.confidences[name]), **detection}


def _adversarial_sets(model: nn.Module, method: Method, data: BenchData, config: BenchConfig, noise: torch.Tensor,
                      workers: Workers, report: Progress) -> tuple[torch.Tensor, torch.Tensor]:
    """Adversarial noise (PGD towards a high OOD score) and adversarial samples (PGD on the test
    images' cross-entropy), on the first ``n_adversarial`` images (see the module docstring)."""
    preset = config.preset_values()
    n_adv = min(preset.n_adversarial or len(data.x_test), len(data.x_test))
    adv_noise = _attack(model, lambda logits, _: method.score(torch.softmax(logits, -1)), noise[:n_adv], None,
                        ACET_EPS, preset.adv_noise_steps, ADV_NOISE_PATH, config.seed + 1, workers,
                        lambda f: report(0.6 * f, f"adversarial noise ({preset.adv_noise_steps} PGD steps)"))
    eps = 0.3 if config.architecture == "lenet" else 0.1
    adv_samples = _attack(model, lambda logits, y: F.cross_entropy(logits, y, reduction="none"),
                          data.x_test[:n_adv], data.y_test[:n_adv], eps, preset.adv_samples_steps, ADV_SAMPLES_PATH,
                          config.seed + 2, workers,
                          lambda f: report(0.6 + 0.4 * f, f"adversarial samples ({preset.adv_samples_steps} PGD steps)"))
    return adv_noise, adv_samples


def evaluate_method(model: nn.Module, method: Method, data: BenchData, config: BenchConfig,
                    progress: Progress | None = None, workers: Workers | None = None) -> MethodResult:
    """Every number of Table 1 and Table 2 for a trained model (see the module docstring), the
    work spread over the processes of ``workers``."""
    start = time.perf_counter()
    report = progress or (lambda fraction, text: None)
    workers = workers or Workers(0, 1, next(model.parameters()).device)
    model.eval()
    p_test = _probs(model, data.x_test, workers)
    scores = _SetScores(method, p_test)
    for name, x in data.ood.items():
        scores.add(name, _probs(model, x, workers))
    report(0.05, "evaluating on the OOD datasets and noise")
    generator = torch.Generator(device=workers.device).manual_seed(config.seed + 1)  # the same noise for every method
    noise = hein_noise(data.x_test.to(workers.device), len(data.x_test), generator).cpu()
    scores.add("noise", _probs(model, noise, workers))
    adv_noise, adv_samples = _adversarial_sets(model, method, data, config, noise, workers, phase(report, 0.05, 0.9))
    scores.add("adv_noise", _probs(model, adv_noise, workers))
    scores.add("adv_samples", _probs(model, adv_samples, workers))
    preset = config.preset_values()
    report(0.9, f"α-scaling on {preset.alpha_trials} uniform noise images")
    median_alpha, overconfident = alpha_scaling(model, method, tuple(data.x_test.shape[1:]), preset.alpha_trials,
                                                torch.Generator().manual_seed(config.seed + 2), workers=workers)
    shown = slice(0, SAMPLES_SHOWN)
    samples = {"noise": noise[shown].numpy(), "adv_noise": adv_noise[shown].numpy(),
               "test": data.x_test[shown].numpy(), "adv_samples": adv_samples[shown].numpy()}
    report(1.0, "evaluation done")
    return MethodResult(method.name, float((p_test.argmax(-1) != data.y_test).double().mean()),
                        mean_max_confidence(scores.confidences["in"]), scores.sets, median_alpha, overconfident, 0.0,
                        time.perf_counter() - start, [], scores.confidences, samples, model)


# ---------------------------------------------------------------------------------------------
# Runs

def method_costs(preset: Preset, name: str, n_train: int, n_test: int, n_ood_sets: int) -> tuple[float, float]:
    """Rough (training, evaluation) costs of a method in image forward-backward passes, for the ETA."""
    method = METHODS[name]
    per_image = 1 + method.needs_ood * preset.ood_share * (1 + (name == "acet") * preset.acet_steps)
    n_adv = min(preset.n_adversarial or n_test, n_test)
    evaluation = (n_adv * (preset.adv_noise_steps + preset.adv_samples_steps)
                  + (n_test * (2 + n_ood_sets) + preset.alpha_trials * 43) / 3)  # forward passes: ~1/3
    return n_train * preset.epochs * per_image, evaluation


def run_method(config: BenchConfig, name: str, data: BenchData, progress: Progress | None = None,
               workers: Workers | None = None, checkpoints=None) -> MethodResult:
    """Train (resuming from ``checkpoints``, see ``train_method``) and evaluate one method;
    ``progress`` gets the fraction done of this method."""
    training, evaluation = method_costs(config.preset_values(), name, len(data.x_train), len(data.x_test),
                                        len(data.ood))
    train_share = training / (training + evaluation)
    model, fit_result = train_method(config, name, data, phase(progress, 0.0, train_share), workers,
                                     checkpoints)
    result = evaluate_method(model, image_method(name, config), data, config,
                             phase(progress, train_share, 1.0, f"{name}: "), workers)
    result.train_seconds, result.epoch_losses = fit_result.seconds, fit_result.epoch_losses
    return result


def run_benchmark(config: BenchConfig, progress: Progress | None = None, workers: Workers | None = None,
                  checkpoints=None) -> BenchResult:
    """Load the data once, then train and evaluate every method of ``config`` in turn, on the
    processes of ``workers`` (``distributed.start_workers``; default: this process alone), each
    method's training resumed from and saved to ``checkpoints`` when given (``train_method``).

    ``progress(fraction, text)`` receives the fraction of the whole run (wrap it in
    ``toyood.progress.with_eta`` for the time left).
    """
    workers = workers or single_process(config)
    data = load_bench_data(config)
    preset = config.preset_values()
    costs = [sum(method_costs(preset, name, len(data.x_train), len(data.x_test), len(data.ood)))
             for name in config.methods]
    bounds = np.concatenate([[0.0], np.cumsum(costs) / sum(costs)])
    results = {name: run_method(config, name, data, phase(progress, bounds[i], bounds[i + 1]), workers,
                                 checkpoints)
               for i, name in enumerate(config.methods)}
    return BenchResult(config, results, data.skipped, len(data.x_train), len(data.x_test))
