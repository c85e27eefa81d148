"""The one training loop for every method, toy and images alike.

``fit`` is the loop: seeded batch order, in-distribution rows + OOD rows labelled −1 in one batch
(see ``toyood.methods``), Adam (fused kernel where available) or SGD with step decay, a progress
callback, an ``on_epoch`` callback that sees the model after each epoch (``EpochEnd``), and a clear
``TrainingDiverged`` error when the loss stops being finite.

Between epochs everything the next epoch reads is a ``TrainingState``: the weights, the optimiser
(its moments and learning rate), the one generator every random draw of an epoch comes from (batch
order, augmentation, OOD rows, PGD starts), the OOD sampler's position when it has one, the epochs
done and their losses. A ``Checkpointer`` given to ``fit`` restores that state before the first
epoch and saves it after each one; restoring the state saved after epoch k and training on gives
the numbers of an uninterrupted run.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch
from torch import nn

from .errors import ConfigError, TrainingDiverged
from .methods import OOD_LABEL, Method
from .progress import Progress

OodSampler = Callable[[int, torch.Generator], torch.Tensor]
ADAM_BETAS = (0.9, 0.999)  # PyTorch's defaults


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

    def state_dict(self) -> dict:
        return {"order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.order, self.position = state["order"].to(self.pool.device), int(state["position"])


@dataclass(frozen=True)
class EpochEnd:
    """What ``fit``'s ``on_epoch`` callback gets after each epoch it trains: the epoch (counted from
    1), the number of epochs, that epoch's mean loss (the value ``FitResult.epoch_losses`` records)
    and the model, in training mode (``fit`` puts it back in training mode after the callback)."""

    epoch: int
    epochs: int
    loss: float
    model: nn.Module


EpochCallback = Callable[[EpochEnd], None]


@dataclass
class FitResult:
    seconds: float
    epoch_losses: list[float]


@dataclass
class TrainingState:
    """What ``fit`` carries from one epoch to the next (see the module docstring)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    ood: OodSampler | None
    epochs_done: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0  # training time of the epochs done

    def state_dict(self) -> dict:
        """Tensors and plain values only (``torch.load(weights_only=True)`` reads them back)."""
        sampler = self.ood.state_dict() if hasattr(self.ood, "state_dict") else None
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "sampler": sampler, "epochs_done": self.epochs_done,
                "epoch_losses": list(self.epoch_losses), "seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``'s values; raises what torch raises for ill-fitting tensors."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        if state["sampler"] is not None and hasattr(self.ood, "load_state_dict"):
            self.ood.load_state_dict(state["sampler"])
        self.epochs_done, self.seconds = int(state["epochs_done"]), float(state["seconds"])
        self.epoch_losses = [float(loss) for loss in state["epoch_losses"]]


class Checkpointer(Protocol):
    """Where ``fit`` keeps its state: ``restore`` before the first epoch, ``save`` after each one."""

    def restore(self, state: TrainingState) -> None: ...

    def save(self, state: TrainingState) -> None: ...


def make_optimizer(params, name: str = "adam", lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0.0,
                   betas: tuple[float, float] = ADAM_BETAS) -> torch.optim.Optimizer:
    """SGD with momentum, or Adam with the fused kernel where the device has one (it updates all
    tensors in one call: the largest single win on small nets)."""
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)


def fit(model: nn.Module, method: Method, x_in: torch.Tensor, y_in: torch.Tensor, ood: OodSampler | None, *,
        epochs: int, batch_size: int, lr: float, seed: int, ood_batch_size: int | None = None,
        optimizer: str = "adam", momentum: float = 0.9, weight_decay: float = 0.0,
        milestones: tuple[float, ...] = (), augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        progress: Progress | None = None, checkpoint: Checkpointer | None = None,
        on_epoch: EpochCallback | None = None) -> FitResult:
    """Train ``model`` in place with ``method`` on tensors already on the model's device.

    An epoch is one pass over the in-distribution rows in batches of ``batch_size`` (the last one
    may be smaller); each step adds ``ood_batch_size`` (default: ``batch_size``) OOD rows from
    ``ood`` when the method needs them. ``milestones`` are fractions of the epochs at which the
    learning rate is divided by 10. ``checkpoint`` restores a saved ``TrainingState`` first (the
    epochs it holds are not trained again) and saves the state after every epoch. ``on_epoch(EpochEnd)``
    is called after every epoch trained in this call, after the progress call (not for epochs restored
    from a checkpoint); its time is not training time, and the model is put back in training mode after it.
    """
    if method.needs_ood and ood is None:
        raise ConfigError(f"method {method.name!r} needs OOD training data")
    device = x_in.device
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    state = TrainingState(model, make_optimizer(model.parameters(), optimizer, lr, momentum, weight_decay),
                          generator, ood)
    if checkpoint is not None:
        checkpoint.restore(state)
    n_ood = ood_batch_size or batch_size
    decay_epochs = {math.floor(m * epochs) for m in milestones}
    model.train()
    start, done_before = time.perf_counter(), state.seconds  # checkpoint saves are not training time
    for epoch in range(state.epochs_done, epochs):
        if epoch in decay_epochs:
            for group in state.optimizer.param_groups:
                group["lr"] /= 10
        mean_loss = _epoch(state, method, x_in, y_in, batch_size, n_ood, augment)
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(
                f"training diverged in epoch {epoch + 1}: the loss became {mean_loss}; "
                f"lower the learning rate (now {lr:g}) or change the method's weight")
        state.epoch_losses.append(mean_loss)
        state.epochs_done, state.seconds = epoch + 1, done_before + time.perf_counter() - start
        if checkpoint is not None:
            saving = time.perf_counter()
            checkpoint.save(state)
            start += time.perf_counter() - saving
        if progress is not None:
            progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs} · loss {mean_loss:.4f}")
        if on_epoch is not None:
            watching = time.perf_counter()
            on_epoch(EpochEnd(epoch + 1, epochs, mean_loss, model))
            model.train()
            start += time.perf_counter() - watching
    model.eval()
    return FitResult(seconds=state.seconds, epoch_losses=list(state.epoch_losses))  # saving not included


def _epoch(state: TrainingState, method: Method, x_in: torch.Tensor, y_in: torch.Tensor, batch_size: int,
           n_ood: int, augment: Callable | None) -> float:
    """One pass over the in-distribution rows in a seeded order; the mean loss of its steps."""
    device, generator, opt = x_in.device, state.generator, state.optimizer
    steps = math.ceil(len(x_in) / batch_size)
    order = torch.randperm(len(x_in), generator=generator, device=device)
    total = torch.zeros((), device=device)
    for step in range(steps):
        index = order[step * batch_size:(step + 1) * batch_size]
        x, y = x_in[index], y_in[index]
        if augment is not None:
            x = augment(x, generator)
        if method.needs_ood:
            x_out = state.ood(n_ood, generator)
            x = torch.cat([x, x_out])
            y = torch.cat([y, torch.full((len(x_out),), OOD_LABEL, dtype=y.dtype, device=device)])
        loss = method.loss(state.model, x, y, generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
    return total.item() / steps
