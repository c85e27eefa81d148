"""Memory and time budgets, checked before a job starts.

Estimates come from the sizes alone (widths, depth, epochs, grid sizes), never from running the job;
they are deliberately rough (a factor of two either way) and err towards letting a job run. A job
over its budget raises ``BudgetExceeded`` with the estimate and the limit, so a command line ends
with one line and the app shows one message instead of running out of memory an hour later.

Limits: ``Budget`` (the command line's defaults; the app passes smaller ones), overridable with
$TOYOOD_MAX_MEMORY_GB and $TOYOOD_MAX_MINUTES.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import BudgetExceeded, ConfigError
from .progress import format_duration

# Sustained float32 multiply-adds per second of one CPU thread on small dense layers (a low
# estimate of a current x86 core, so that time estimates err high only for slow machines).
FLOPS_PER_THREAD = 2e10
BYTES_PER_FLOAT64 = 8


@dataclass(frozen=True)
class Budget:
    """The most memory (bytes) and wall time (seconds) one job may be estimated to need."""

    memory_bytes: float = 8 * 2**30
    seconds: float = 2 * 3600

    @classmethod
    def from_environment(cls, memory_gb: float | None = None, minutes: float | None = None) -> "Budget":
        """Defaults, overridden by the arguments, then by $TOYOOD_MAX_MEMORY_GB / $TOYOOD_MAX_MINUTES."""
        memory_gb = _env_number("TOYOOD_MAX_MEMORY_GB", memory_gb if memory_gb is not None else 8)
        minutes = _env_number("TOYOOD_MAX_MINUTES", minutes if minutes is not None else 120)
        return cls(memory_gb * 2**30, minutes * 60)

    def check(self, what: str, memory_bytes: float = 0.0, seconds: float = 0.0,
              memory_hint: str = "use fewer or narrower layers",
              time_hint: str = "use fewer epochs or a smaller net") -> None:
        """Raise ``BudgetExceeded`` when an estimate is over a limit (the hint says what to change)."""
        if memory_bytes > self.memory_bytes:
            raise BudgetExceeded(f"{what} would need about {_gib(memory_bytes)} of memory, over the limit of "
                                 f"{_gib(self.memory_bytes)}: {memory_hint}")
        if seconds > self.seconds:
            raise BudgetExceeded(f"{what} would take about {format_duration(seconds)}, over the limit of "
                                 f"{format_duration(self.seconds)}: {time_hint}")


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a positive number, got {text!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number, got {text!r}")
    return value


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def mlp_parameters(widths: tuple[int, ...], inputs: int = 2, outputs: int = 3) -> int:
    """Weights and biases of an MLP inputs → widths… → outputs."""
    sizes = (inputs, *widths, outputs)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def training_seconds(parameters: int, steps: int, rows_per_step: int, attack_steps: int = 0,
                     attacked_rows: int = 0, threads: int = 1) -> float:
    """Forward + backward ≈ 3 passes of 2 flops per weight per row; an attack step ≈ 2 passes."""
    flops = steps * parameters * 2 * (3 * rows_per_step + 2 * attack_steps * attacked_rows)
    return flops / (FLOPS_PER_THREAD * threads)


def direction_arcs_bytes(widths: tuple[int, ...]) -> float:
    """``farfield.direction_arcs``: about one arc per cut (two per neuron) and a few float64 arrays of
    arcs × width × 2 alive at once."""
    arcs = 2 + 2.2 * sum(widths)
    return 6.0 * arcs * max(widths) * 2 * BYTES_PER_FLOAT64


def activations_bytes(rows: int, widths: tuple[int, ...]) -> float:
    """float32 activations of ``rows`` inputs through every layer, kept for a backward pass."""
    return 4.0 * rows * sum(widths) * 3


def toy_job_estimate(config, threads: int = 1) -> tuple[float, float]:
    """(memory bytes, seconds) of training and evaluating a ``toyood.toy.ToyConfig``."""
    widths = config.hidden if config.method != "rbf" else (config.rbf_centres,)
    parameters = mlp_parameters(widths)
    steps = config.epochs * -(-config.n_per_class // config.batch_size)  # half the points train
    ood_rows = config.batch_size if config.ood != "none" else 0
    attack = config.acet_steps if config.method == "acet" else 0
    seconds = training_seconds(parameters, steps, config.batch_size + ood_rows, attack, ood_rows, threads)
    seconds += training_seconds(parameters, 1, config.n_far + config.n_per_class, threads=threads) / 3
    memory = max(direction_arcs_bytes(widths), activations_bytes(min(config.n_far, 65536), widths))
    return memory, seconds


def check_toy_job(config, budget: Budget | None = None, threads: int = 1) -> None:
    """Raise ``BudgetExceeded`` if training and evaluating ``config`` is over ``budget``."""
    memory, seconds = toy_job_estimate(config, threads)
    (budget or Budget.from_environment()).check(f"training {config.method} on {config.hidden}", memory, seconds)


def gan_job_estimate(config, threads: int = 1) -> tuple[float, float]:
    """(memory bytes, seconds) of ``toyood.gan.train_gan`` for a ``GanConfig``: per iteration a D, a G
    and a classifier step on ``batch_size`` real + generated rows, plus a grid per snapshot."""
    gan_parameters = (mlp_parameters(config.gan_hidden, config.latent_dim, 2)
                      + mlp_parameters(config.gan_hidden, 2, 1))
    classifier = mlp_parameters(config.hidden)
    rows = 2 * config.batch_size
    seconds = training_seconds(2 * gan_parameters + classifier, config.iterations, rows, threads=threads)
    snapshots = config.iterations // config.snapshot_every + 2
    seconds += training_seconds(classifier, snapshots, config.grid_resolution ** 2, threads=threads) / 3
    memory = max(direction_arcs_bytes(config.hidden), activations_bytes(rows, config.gan_hidden))
    return memory, seconds


def check_gan_job(config, budget: Budget | None = None, threads: int = 1) -> None:
    """Raise ``BudgetExceeded`` if ``train_gan(config)`` and its metrics are over ``budget``."""
    memory, seconds = gan_job_estimate(config, threads)
    (budget or Budget.from_environment()).check(f"training the GAN ({config.iterations} iterations)",
                                                memory, seconds)
