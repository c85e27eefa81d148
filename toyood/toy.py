"""The toy experiment: its configuration, the trained run, and how a run is trained.

``train_toy`` draws the data (K Gaussians, another 2-D data set or the points of a CSV file), builds
the network for the method and trains it with the one loop (``toyood.train.fit``). OOD training
samples come from a fixed pool: the config's ``boundary`` or ``general`` sampler, or samples the
caller hands in (the ``gan`` source: see ``toyood.gan.gan_ood_samples``; this module never trains a
GAN itself). ``extra_ood`` adds points of the user's own (clicked on the app's map, or
``--ood-points``) to a sampled pool, each ``EXTRA_OOD_COPIES`` times, as if that many samples lay there.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import data as toydata
from .device import DEVICES, resolve_device
from .errors import ConfigChecker, ConfigError
from .methods import CEDA_OBJECTIVES, METHODS, Method
from .models import ACTIVATIONS, MLP, PIECEWISE_AFFINE, TEMPERATURE_RANGE, RBFNet, set_temperature
from .progress import Progress
from .train import EpochCallback, PoolSampler, fit

PRESETS = {
    # Vernekar et al.'s reference settings (REFERENCE.md): Adam 1e-3, 32 + 32 per step, 200 epochs.
    "vernekar": dict(epochs=200, batch_size=32, lr=1e-3, acet_steps=10),
    # Fast enough to feel instant in the app, with the same phenomena.
    "interactive": dict(epochs=40, batch_size=64, lr=1e-3, acet_steps=5),
}
OOD_CHOICES = ("none", *toydata.OOD_SOURCES, "gan")
MAX_SEED = 2**31
EXTRA_OOD_COPIES = 20  # pool rows per extra OOD point (1% of the default 2000-sample pool each)
MAX_EXTRA_OOD = 50  # extra OOD points per config
EXTRA_OOD_LIMIT = 1e6  # |coordinate| of an extra OOD point


@dataclass(frozen=True)
class ToyConfig:
    """Everything that determines a toy run (hashable: it is the app's cache key).

    Fields left as None take the preset's values (``epochs``, ``batch_size``, ``lr``,
    ``acet_steps``) or the method's default OOD source (``ood``). Invalid values raise
    ``ConfigError`` naming every problem.
    """

    method: str = "plain"  # a name of toyood.methods.METHODS
    dataset: str = "gaussians"  # gaussians, moons, rings, spiral, xor, or file (own points: data_file)
    classes: int = 2  # K, the number of classes (set from the file for own data)
    data_file: str | None = None  # a CSV of x, y, label rows (dataset 'file')
    data_digest: str | None = None  # SHA-256 of data_file's bytes (filled in; part of the cache key)
    ood: str | None = None  # OOD training source: none, boundary, general or gan (None: boundary if needed)
    extra_ood: tuple[tuple[float, float], ...] = ()  # own OOD points added to a sampled pool (EXTRA_OOD_COPIES each)
    sigma: float = 1.0  # std of each Gaussian class
    hidden: tuple[int, ...] = (500, 500)  # hidden-layer widths
    negative_slope: float = 0.0  # leaky-ReLU slope (0 = ReLU)
    activation: str = "relu"  # relu, leaky (negative_slope > 0), tanh or sigmoid; old runs without it: relu
    temperature: float = 1.0  # T: every evaluation uses logits / T (never training; Hein et al. Sec. 3)
    preset: str = "interactive"  # a key of PRESETS: epochs, batch size, lr, ACET steps
    epochs: int | None = None  # passes over the in-distribution training rows
    batch_size: int | None = None  # in-distribution rows per step (as many OOD rows)
    lr: float | None = None  # Adam learning rate
    seed: int = 0  # seeds data, OOD pool, initialisation and batch order
    device: str = "auto"  # auto, cpu, cuda or mps
    n_per_class: int = 1000  # points per class, split 50/50 into train and test
    n_ood: int = 2000  # size of the OOD training pool
    ood_weight: float = 1.0  # β of the confidence loss, λ of CEDA/ACET
    ceda_objective: str = "max_conf"  # CEDA/ACET L_out: max_conf (Hein eq. 2) or uniform
    acet_eps: float = 2.0  # ACET ℓ∞ attack radius
    acet_steps: int | None = None  # ACET PGD steps
    acet_step_size: float = 0.5  # ACET PGD step size
    rbf_centres: int = 20  # centres of the RBF network
    n_far: int = 10000  # far test-OOD points for the metrics

    def __post_init__(self):
        check = ConfigChecker()
        check(self.method in METHODS, f"method must be one of {', '.join(METHODS)} (got {self.method!r})")
        check(self.preset in PRESETS, f"preset must be one of {', '.join(PRESETS)} (got {self.preset!r})")
        check.raise_if_any()
        for key, value in PRESETS[self.preset].items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.activation == "relu" and self.negative_slope:  # a slope alone (old runs, --leaky) means leaky
            object.__setattr__(self, "activation", "leaky")
        object.__setattr__(self, "extra_ood", _extra_points(self.extra_ood, check))
        check.raise_if_any()
        if self.dataset == "file" and self.data_digest is None:  # a new config; a saved one carries both
            _read_own_data(self)
        if self.ood is None:
            object.__setattr__(self, "ood", "boundary" if METHODS[self.method].needs_ood else "none")
        _check_values(self, check)
        check.raise_if_any()

    def method_object(self) -> Method:
        """The method with its own settings taken from this config."""
        return METHODS[self.method].from_options(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def parse_points(text: str) -> tuple[tuple[float, float], ...]:
    """'40:30;-60:10' → ((40.0, 30.0), (-60.0, 10.0)), the spelling of ``--ood-points`` and of the
    app's ``ood-points=``: finite numbers, at least one point (range, count and repeats are
    ``ToyConfig``'s checks). Raises ValueError saying what is wrong."""
    pairs = [part.split(":") for part in text.split(";") if part.strip()]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"expected points X:Y separated by ';', like 40:30;-60:10, got {text!r}")
    points = []
    for x, y in pairs:
        try:
            point = (float(x), float(y))
        except ValueError:
            raise ValueError(f"expected numbers X:Y, got {x.strip()}:{y.strip()}") from None
        if not all(np.isfinite(point)):
            raise ValueError(f"expected finite numbers X:Y, got {x.strip()}:{y.strip()}")
        points.append(point)
    return tuple(points)


def _extra_points(points, check: ConfigChecker) -> tuple[tuple[float, float], ...]:
    """``extra_ood`` as a tuple of (x, y) float pairs; a malformed value is reported to ``check``."""
    try:
        pairs = tuple((float(x), float(y)) for x, y in points)
    except (TypeError, ValueError):
        check(False, f"extra_ood must be (x, y) pairs of numbers (got {points!r:.80})")
        return ()
    finite = all(np.isfinite(v) and abs(v) <= EXTRA_OOD_LIMIT for pair in pairs for v in pair)
    check(finite, f"extra OOD points must be finite with |coordinate| <= {EXTRA_OOD_LIMIT:g}")
    check(len(pairs) <= MAX_EXTRA_OOD, f"at most {MAX_EXTRA_OOD} extra OOD points (got {len(pairs)})")
    check(len(set(pairs)) == len(pairs), "an extra OOD point is given twice")
    return pairs


def _read_own_data(config: ToyConfig) -> None:
    """Validate the config's data file and fill in its digest and number of classes."""
    if not config.data_file:
        raise ConfigError("the data set 'file' needs a data file (a CSV of x, y, label rows)")
    content = _file_bytes(config.data_file)
    digest = hashlib.sha256(content).hexdigest()
    try:
        _, labels, _ = toydata.points_from_csv(content)
    except toydata.DataFileError as error:
        raise ConfigError(f"{config.data_file}: {error}") from None
    object.__setattr__(config, "data_digest", digest)
    object.__setattr__(config, "classes", int(labels.max()) + 1)


def _file_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            content = handle.read(toydata.MAX_CSV_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"cannot read the data file {path}: {error.strerror or error}") from None
    if len(content) > toydata.MAX_CSV_BYTES:
        raise ConfigError(f"the data file {path} is larger than {toydata.MAX_CSV_BYTES // 2**20} MiB")
    return content


def _check_values(c: ToyConfig, check: ConfigChecker) -> None:
    needs_ood = METHODS[c.method].needs_ood
    check(c.dataset in (*toydata.DATASETS, "file"),
          f"dataset must be one of {', '.join((*toydata.DATASETS, 'file'))} (got {c.dataset!r})")
    fixed = toydata.FIXED_CLASSES.get(c.dataset)
    check(2 <= c.classes <= toydata.MAX_CLASSES and fixed in (None, c.classes),
          f"{c.dataset} has {fixed} classes (got {c.classes})" if fixed else
          f"classes must be between 2 and {toydata.MAX_CLASSES} (got {c.classes})")
    check(c.dataset == "file" or c.data_file is None, "a data file is used only with the data set 'file'")
    check(c.ood in OOD_CHOICES, f"ood must be one of {', '.join(OOD_CHOICES)} (got {c.ood!r})")
    check(not (needs_ood and c.ood == "none"),
          f"method {c.method!r} trains on OOD samples: choose an OOD source (boundary, general or gan)")
    check(needs_ood or c.ood == "none", f"method {c.method!r} uses no OOD samples: set the OOD source to 'none'")
    check(not c.extra_ood or c.ood in toydata.OOD_SOURCES,
          f"extra OOD points join a sampled pool: use them with a method that trains on OOD samples and the "
          f"{' or '.join(toydata.OOD_SOURCES)} source (got method {c.method!r}, ood {c.ood!r})")
    check(0 < c.sigma <= 5, f"sigma must be in (0, 5] (got {c.sigma})")
    check(1 <= len(c.hidden) <= 6 and all(1 <= h <= 4096 for h in c.hidden),
          f"hidden must be 1 to 6 layer widths between 1 and 4096 (got {c.hidden})")
    check(0 <= c.negative_slope < 1, f"negative_slope must be in [0, 1) (got {c.negative_slope})")
    check(c.activation in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)} (got {c.activation!r})")
    check(c.activation != "leaky" or c.negative_slope > 0, "activation leaky needs a negative_slope in (0, 1)")
    check(c.activation in PIECEWISE_AFFINE or not c.negative_slope,
          f"negative_slope applies to leaky nets only (got activation {c.activation!r})")
    check(c.activation == "relu" or c.method != "rbf", "the rbf method has no hidden activation: keep relu")
    low, high = TEMPERATURE_RANGE
    check(isinstance(c.temperature, (int, float)) and low <= c.temperature <= high,
          f"temperature must be in [{low:g}, {high:g}] (got {c.temperature!r})")
    check(1 <= c.epochs <= 5000, f"epochs must be between 1 and 5000 (got {c.epochs})")
    check(1 <= c.batch_size <= 4096, f"batch size must be between 1 and 4096 (got {c.batch_size})")
    check(0 < c.lr <= 1, f"learning rate must be in (0, 1] (got {c.lr})")
    check(0 <= c.seed < MAX_SEED, f"seed must be in [0, 2^31) (got {c.seed})")
    check(c.device in DEVICES, f"device must be one of {', '.join(DEVICES)} (got {c.device!r})")
    check(2 <= c.n_per_class <= 100_000, f"n_per_class must be in [2, 100000] (got {c.n_per_class})")
    check(1 <= c.n_ood <= 100_000, f"n_ood must be in [1, 100000] (got {c.n_ood})")
    check(0 < c.ood_weight <= 100, f"ood_weight must be in (0, 100] (got {c.ood_weight})")
    check(c.ceda_objective in CEDA_OBJECTIVES,
          f"ceda_objective must be one of {', '.join(CEDA_OBJECTIVES)} (got {c.ceda_objective!r})")
    check(0 < c.acet_eps <= 100, f"ACET eps must be in (0, 100] (got {c.acet_eps})")
    check(0 < c.acet_step_size <= 100, f"ACET step size must be in (0, 100] (got {c.acet_step_size})")
    check(1 <= c.acet_steps <= 200, f"ACET steps must be between 1 and 200 (got {c.acet_steps})")
    check(1 <= c.rbf_centres <= 1000, f"rbf_centres must be in [1, 1000] (got {c.rbf_centres})")
    check(100 <= c.n_far <= 1_000_000, f"n_far must be in [100, 1000000] (got {c.n_far})")


@dataclass
class ToyRun:
    """A trained toy model with the data and the OOD training samples it saw (None: no OOD source,
    or an old saved run of the gan source, whose samples were not stored)."""

    config: ToyConfig
    model: nn.Module
    data: toydata.ToyData
    ood_train: np.ndarray | None
    train_seconds: float = 0.0
    epoch_losses: list[float] = field(default_factory=list)

    def __post_init__(self):
        set_temperature(self.model, self.config.temperature)  # eval-mode logits / T (toyood.models)


def with_temperature(run: ToyRun, temperature: float) -> ToyRun:
    """The same trained run evaluated at temperature T, without training: a shallow copy of the model
    (the same weight tensors) with its own T, and the config's temperature replaced."""
    return dataclasses.replace(run, config=dataclasses.replace(run.config, temperature=temperature),
                               model=copy.copy(run.model))


def toy_data(config: ToyConfig) -> toydata.ToyData:
    """The in-distribution data of a config: drawn from its data set, or read from its data file."""
    if config.dataset != "file":
        return toydata.make_toy_data(config.sigma, config.n_per_class, config.seed, config.dataset, config.classes)
    content = _file_bytes(config.data_file)
    if hashlib.sha256(content).hexdigest() != config.data_digest:
        raise ConfigError(f"{config.data_file} has changed since this run was configured (its SHA-256 differs)")
    x, y, scale = toydata.points_from_csv(content)
    return toydata.data_from_points(x, y, config.seed, config.sigma, scale)


def build_model(config: ToyConfig, data: toydata.ToyData) -> nn.Module:
    """The untrained network for a config: PyTorch default initialisation under ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.method == "rbf":
            pick = torch.randperm(len(data.x_train))[:config.rbf_centres]
            return RBFNet(torch.from_numpy(data.x_train[pick.numpy()]), config.classes,
                          gamma=1.0 / (2 * config.sigma**2))
        return MLP(config.hidden, config.classes, config.method_object().head, config.negative_slope,
                   activation=config.activation)


def ood_pool(config: ToyConfig, data: toydata.ToyData | None = None) -> np.ndarray | None:
    """The fixed pool of OOD training samples of a sampled source (None for 'none'). The 'gan'
    source has no sampler here: its samples come from a trained GAN, handed to ``train_toy``."""
    if config.ood == "none":
        return None
    if config.ood == "gan":
        raise ConfigError("the 'gan' OOD source needs generated samples: train a GAN first "
                          "(toyood.gan.gan_ood_samples) and pass them as ood_samples")
    data = toy_data(config) if data is None else data
    try:
        pool = toydata.sample_ood(config.ood, config.n_ood, config.sigma, config.seed, data=data)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if not config.extra_ood:
        return pool
    extra = np.repeat(np.asarray(config.extra_ood, dtype=np.float32), EXTRA_OOD_COPIES, axis=0)
    return np.concatenate([pool, extra])


def far_test_points(config: ToyConfig, data: toydata.ToyData) -> np.ndarray:
    """The far test-OOD points of a config (uniform in [−50, 50]² away from the data)."""
    try:
        return toydata.far_test_ood(config.n_far, config.sigma, config.seed, data=data)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def train_toy(config: ToyConfig, progress: Progress | None = None,
              ood_samples: np.ndarray | None = None, on_epoch: EpochCallback | None = None) -> ToyRun:
    """Draw the data, build the model and train it; deterministic for a config on one device.
    ``ood_samples`` (n, 2) replaces the config's sampled pool (required for the 'gan' source);
    ``on_epoch`` is ``fit``'s per-epoch callback (``toyood.train.EpochEnd``; it changes no number)."""
    device = resolve_device(config.device)
    data = toy_data(config)
    pool = ood_pool(config, data) if ood_samples is None else np.asarray(ood_samples, dtype=np.float32)
    if pool is not None and (pool.ndim != 2 or pool.shape[1] != 2 or not len(pool)):
        raise ConfigError(f"OOD samples must be a non-empty (n, 2) array, got shape {pool.shape}")
    model = build_model(config, data).to(device)
    sampler = PoolSampler(torch.from_numpy(pool).to(device)) if pool is not None else None
    result = fit(model, config.method_object(), torch.from_numpy(data.x_train).to(device),
                 torch.from_numpy(data.y_train).to(device), sampler, epochs=config.epochs,
                 batch_size=config.batch_size, lr=config.lr, seed=config.seed, progress=progress,
                 on_epoch=on_epoch)
    return ToyRun(config, model.cpu(), data, pool, result.seconds, result.epoch_losses)
