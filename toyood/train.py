"""One training loop for every method (toy and images), the toy run configuration, saving/loading.

``fit`` is the loop: seeded batch order, in-distribution rows + OOD rows labelled −1 in one batch
(see ``toyood.methods``), Adam (fused kernel where available) or SGD with step decay, a progress
callback, and a clear ``TrainingDiverged`` error when the loss stops being finite.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import data as toydata
from .methods import CEDA_OBJECTIVES, METHODS, OOD_LABEL, Method, method_by_name
from .models import MLP, RBFNet

Progress = Callable[[float, str], None]
OodSampler = Callable[[int, torch.Generator], torch.Tensor]
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A configuration value is out of range or a combination is not allowed."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    """'auto' → cuda, then mps, then cpu; an explicit device must be available."""
    if name not in DEVICES:
        raise ConfigError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise ConfigError(f"device {name!r} is not available on this machine; use 'cpu' or 'auto'")
    return torch.device(name)


class PoolSampler:
    """Draws OOD batches from a fixed pool, without replacement, reshuffling after each pass."""

    def __init__(self, pool: torch.Tensor):
        self.pool = pool
        self.order = torch.empty(0, dtype=torch.long)
        self.position = 0

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        taken = []
        while n > 0:
            if self.position >= len(self.order):
                self.order = torch.randperm(len(self.pool), generator=generator, device=generator.device)
                self.position = 0
            chunk = self.order[self.position:self.position + n]
            self.position += len(chunk)
            n -= len(chunk)
            taken.append(chunk)
        return self.pool[torch.cat(taken)]


@dataclass
class FitResult:
    seconds: float
    epoch_losses: list[float]


def make_optimizer(params, name: str, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    try:  # the fused kernel updates all tensors in one call: the largest single win on small nets
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def fit(model: nn.Module, method: Method, x_in: torch.Tensor, y_in: torch.Tensor, ood: OodSampler | None, *,
        epochs: int, batch_size: int, lr: float, seed: int, ood_batch_size: int | None = None,
        optimizer: str = "adam", momentum: float = 0.9, weight_decay: float = 0.0,
        milestones: tuple[float, ...] = (), augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        progress: Progress | None = None) -> FitResult:
    """Train ``model`` in place with ``method`` on tensors already on the model's device.

    An epoch is one pass over the in-distribution rows in batches of ``batch_size`` (the last one
    may be smaller); each step adds ``ood_batch_size`` (default: ``batch_size``) OOD rows from
    ``ood`` when the method needs them. ``milestones`` are fractions of the epochs at which the
    learning rate is divided by 10.
    """
    if method.needs_ood and ood is None:
        raise ConfigError(f"method {method.name!r} needs OOD training data")
    device = x_in.device
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    opt = make_optimizer(model.parameters(), optimizer, lr, momentum, weight_decay)
    steps_per_epoch = math.ceil(len(x_in) / batch_size)
    n_ood = ood_batch_size or batch_size
    decay_epochs = {math.floor(m * epochs) for m in milestones}
    losses: list[float] = []
    model.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        if epoch in decay_epochs:
            for group in opt.param_groups:
                group["lr"] /= 10
        order = torch.randperm(len(x_in), generator=generator, device=device)
        total = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            index = order[step * batch_size:(step + 1) * batch_size]
            x, y = x_in[index], y_in[index]
            if augment is not None:
                x = augment(x, generator)
            if method.needs_ood:
                x_out = ood(n_ood, generator)
                x = torch.cat([x, x_out])
                y = torch.cat([y, torch.full((len(x_out),), OOD_LABEL, dtype=y.dtype, device=device)])
            loss = method.loss(model, x, y, generator)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        mean_loss = total.item() / steps_per_epoch
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(
                f"training diverged in epoch {epoch + 1}: the loss became {mean_loss}; "
                f"lower the learning rate (now {lr:g}) or change the method's weight")
        losses.append(mean_loss)
        if progress is not None:
            progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs} · loss {mean_loss:.4f}")
    model.eval()
    return FitResult(seconds=time.perf_counter() - start, epoch_losses=losses)


# ---------------------------------------------------------------------------------------------
# The toy run

PRESETS = {
    # Vernekar et al.'s reference settings (REFERENCE.md): Adam 1e-3, 32 + 32 per step, 200 epochs.
    "vernekar": dict(epochs=200, batch_size=32, lr=1e-3, acet_steps=10),
    # Fast enough to feel instant in the app (~2 s on 2 CPU cores for 2×500) with the same phenomena.
    "interactive": dict(epochs=40, batch_size=64, lr=1e-3, acet_steps=5),
}
OOD_CHOICES = ("none", *toydata.OOD_SOURCES, "gan")


@dataclass(frozen=True)
class ToyConfig:
    """Everything that determines a toy run (hashable: it is the app's cache key).

    ``epochs``, ``batch_size``, ``lr`` and ``acet_steps`` left as None take the preset's values.
    ``ood`` None takes 'boundary' for methods that need OOD data and 'none' for the others.
    ``ood_weight`` is β of the confidence loss or λ of CEDA/ACET (ignored by the other methods).
    """

    method: str = "plain"
    ood: str | None = None
    sigma: float = 1.0
    hidden: tuple[int, ...] = (500, 500)
    negative_slope: float = 0.0
    preset: str = "interactive"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    n_per_class: int = 1000
    n_ood: int = 2000
    ood_weight: float = 1.0
    ceda_objective: str = "max_conf"
    acet_eps: float = 2.0
    acet_steps: int | None = None
    acet_step_size: float = 0.5
    rbf_centres: int = 20
    n_far: int = 10000

    def __post_init__(self):
        check = ConfigChecker()
        check(self.method in METHODS, f"method must be one of {', '.join(METHODS)} (got {self.method!r})")
        check(self.preset in PRESETS, f"preset must be one of {', '.join(PRESETS)} (got {self.preset!r})")
        check.raise_if_any()
        for key, value in PRESETS.get(self.preset, {}).items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        needs_ood = METHODS[self.method].needs_ood
        if self.ood is None:
            object.__setattr__(self, "ood", "boundary" if needs_ood else "none")
        check(self.ood in OOD_CHOICES, f"ood must be one of {', '.join(OOD_CHOICES)} (got {self.ood!r})")
        check(not (needs_ood and self.ood == "none"),
              f"method {self.method!r} trains on OOD samples: choose an OOD source (boundary, general or gan)")
        check(needs_ood or self.ood == "none",
              f"method {self.method!r} uses no OOD samples: set the OOD source to 'none'")
        check(0 < self.sigma <= 5, f"sigma must be in (0, 5] (got {self.sigma})")
        check(1 <= len(self.hidden) <= 6 and all(1 <= h <= 4096 for h in self.hidden),
              f"hidden must be 1 to 6 layer widths between 1 and 4096 (got {self.hidden})")
        check(0 <= self.negative_slope < 1, f"negative_slope must be in [0, 1) (got {self.negative_slope})")
        check(1 <= self.epochs <= 5000, f"epochs must be between 1 and 5000 (got {self.epochs})")
        check(1 <= self.batch_size <= 4096, f"batch size must be between 1 and 4096 (got {self.batch_size})")
        check(0 < self.lr <= 1, f"learning rate must be in (0, 1] (got {self.lr})")
        check(0 <= self.seed < 2**31, f"seed must be in [0, 2^31) (got {self.seed})")
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)} (got {self.device!r})")
        check(2 <= self.n_per_class <= 100_000, f"n_per_class must be in [2, 100000] (got {self.n_per_class})")
        check(1 <= self.n_ood <= 100_000, f"n_ood must be in [1, 100000] (got {self.n_ood})")
        check(0 < self.ood_weight <= 100, f"ood_weight must be in (0, 100] (got {self.ood_weight})")
        check(self.ceda_objective in CEDA_OBJECTIVES,
              f"ceda_objective must be one of {', '.join(CEDA_OBJECTIVES)} (got {self.ceda_objective!r})")
        check(self.acet_eps > 0 and self.acet_step_size > 0 and 1 <= self.acet_steps <= 200,
              "ACET needs eps > 0, step size > 0 and 1 to 200 steps")
        check(1 <= self.rbf_centres <= 1000, f"rbf_centres must be in [1, 1000] (got {self.rbf_centres})")
        check(100 <= self.n_far <= 1_000_000, f"n_far must be in [100, 1000000] (got {self.n_far})")
        check.raise_if_any()

    def method_object(self) -> Method:
        params = {"plain": {}, "dismax": {}, "rbf": {}, "reject": {},
                  "confidence": {"beta": self.ood_weight},
                  "ceda": {"lam": self.ood_weight, "objective": self.ceda_objective},
                  "acet": {"lam": self.ood_weight, "objective": self.ceda_objective, "eps": self.acet_eps,
                           "steps": self.acet_steps, "step_size": self.acet_step_size}}[self.method]
        return method_by_name(self.method, **params)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class ConfigChecker:
    """Collects every failed check so the user sees all problems at once."""

    def __init__(self):
        self.problems: list[str] = []

    def __call__(self, ok: bool, message: str):
        if not ok:
            self.problems.append(message)

    def raise_if_any(self):
        if self.problems:
            raise ConfigError("; ".join(self.problems))


@dataclass
class ToyRun:
    config: ToyConfig
    model: nn.Module
    data: toydata.ToyData
    ood_train: np.ndarray | None
    train_seconds: float = 0.0
    epoch_losses: list[float] = field(default_factory=list)


def build_model(config: ToyConfig, data: toydata.ToyData) -> nn.Module:
    """The untrained network for a config: PyTorch default initialisation under ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.method == "rbf":
            pick = torch.randperm(len(data.x_train))[:config.rbf_centres]
            return RBFNet(torch.from_numpy(data.x_train[pick.numpy()]), toydata.N_CLASSES,
                          gamma=1.0 / (2 * config.sigma**2))
        return MLP(config.hidden, toydata.N_CLASSES, config.method_object().head, config.negative_slope)


def ood_pool(config: ToyConfig) -> np.ndarray | None:
    """The fixed pool of training OOD samples for the config's source (None for 'none'); 'gan' trains
    a default GAN first (``toyood.gan.ood_pool``)."""
    if config.ood == "none":
        return None
    if config.ood == "gan":
        from . import gan
        return gan.ood_pool(config)
    return toydata.sample_ood(config.ood, config.n_ood, config.sigma, config.seed)


def train_toy(config: ToyConfig, progress: Progress | None = None) -> ToyRun:
    """Draw the data, build the model and train it; deterministic for a config on one device."""
    device = resolve_device(config.device)
    data = toydata.make_toy_data(config.sigma, config.n_per_class, config.seed)
    pool = ood_pool(config)
    model = build_model(config, data).to(device)
    sampler = PoolSampler(torch.from_numpy(pool).to(device)) if pool is not None else None
    result = fit(model, config.method_object(), torch.from_numpy(data.x_train).to(device),
                 torch.from_numpy(data.y_train).to(device), sampler, epochs=config.epochs,
                 batch_size=config.batch_size, lr=config.lr, seed=config.seed, progress=progress)
    return ToyRun(config, model.cpu(), data, pool, result.seconds, result.epoch_losses)


def save_run(run: ToyRun, directory: str | Path, metrics: dict | None = None) -> Path:
    """Write config.json, model.pt (state dict) and, when given, metrics.json."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
    torch.save(run.model.state_dict(), directory / "model.pt")
    if metrics is not None:
        (directory / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return directory


def load_run(directory: str | Path) -> ToyRun:
    """Load a run written by ``save_run`` (or ``python -m toyood toy --out DIR``)."""
    directory = Path(directory)
    for name in ("config.json", "model.pt"):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory} is not a saved toyood run: {name} is missing "
                                    "(write one with: python -m toyood toy --out DIR)")
    raw = json.loads((directory / "config.json").read_text())
    known = {f.name for f in dataclasses.fields(ToyConfig)}
    config = ToyConfig(**{k: (tuple(v) if k == "hidden" else v) for k, v in raw.items() if k in known})
    data = toydata.make_toy_data(config.sigma, config.n_per_class, config.seed)
    model = build_model(config, data)
    model.load_state_dict(torch.load(directory / "model.pt", map_location="cpu", weights_only=True))
    model.eval()
    return ToyRun(config, model, data, ood_pool(config))
