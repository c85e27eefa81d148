"""The one training loop for every method, toy and images alike.

``fit`` is the loop: seeded batch order, in-distribution rows + OOD rows labelled −1 in one batch
(see ``toyood.methods``), Adam (fused kernel where available) or SGD with step decay, a progress
callback, and a clear ``TrainingDiverged`` error when the loss stops being finite.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

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


@dataclass
class FitResult:
    seconds: float
    epoch_losses: list[float]


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
