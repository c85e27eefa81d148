"""Several toy models — different methods and/or seeds on the same data settings — trained as one loop.

``train_many(configs)`` gives the same runs as ``[train_toy(c) for c in configs]`` (bitwise on one
CPU thread), training them in lockstep in one loop where that is faster. Which models are batched:
MLPs (plain, confidence, ceda, acet, reject, dismax) whose configs share hidden widths, activation
(relu, leaky, tanh, sigmoid), leaky slope and learning rate train together; an RBF network, or a
model alone in its group, trains with ``train_toy`` in the same call.

How: within a group, models with the same rows per step (with or without OOD rows), the same head
(linear K, reject K+1, DisMax distances) and the same ACET attack form a *segment*. Each step, a
segment's forward is either stacked — weights stacked along a model axis (M, out, in), every layer
one ``BatchedLinear`` (``torch.baddbmm``) for all its models — or each model's own forward. The
backward target is the sum of the models' own losses (``Method.logits_loss``), so each model gets
exactly its own gradient, and one Adam step (``make_optimizer``, fused where available) updates every
model's tensors. ACET's PGD (Hein et al. 2019, eq. 4-5) runs on each model's own OOD rows, all
models' at once (``pgd_start`` per model, one ``pgd_ascend`` per segment).

Modes (``MODES``; ``default_mode``): 'stacked' on GPUs (M small kernels become one). On a CPU a
batched product costs as much as M single ones and stacking adds copies, so there 'lockstep' runs
each model's own forward inside the one loop (sharing the backward, optimiser and zero_grad calls),
and for wide nets 'sequential' trains the models one after another, which is faster there.

Identical to training alone: each model is built by ``build_model`` (same init), has its own
``torch.Generator`` seeded as ``toyood.train.fit`` seeds it and draws its batch order, OOD pool
reshuffles and ACET random starts in ``fit``'s order, from its own data and OOD pool; the models keep
their own parameter tensors, so Adam updates each exactly as alone.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import data as toydata
from .device import resolve_device
from .errors import ConfigError, TrainingDiverged
from .methods import ACET, OOD_LABEL, Method, pgd_ascend, pgd_start
from .models import activation_function
from .progress import Progress, phase
from .toy import ToyConfig, ToyRun, build_model, ood_pool, toy_data, train_toy
from .train import PoolSampler, make_optimizer

# Every config of one call shares these (they fix the data's size and the loop's steps).
SHARED_FIELDS = ("sigma", "n_per_class", "epochs", "batch_size", "device", "dataset", "classes", "data_file")
# Configs that also share these train in one batched group.
GROUP_FIELDS = ("hidden", "activation", "negative_slope", "lr")


def check_shared(configs: list[ToyConfig]) -> None:
    """Raise ``ConfigError`` unless every config shares ``SHARED_FIELDS``."""
    if not configs:
        raise ConfigError("no models to train: give at least one configuration")
    first = configs[0]
    differing = [f for f in SHARED_FIELDS if any(getattr(c, f) != getattr(first, f) for c in configs)]
    if differing:
        values = "; ".join(f"{f}: {sorted({repr(getattr(c, f)) for c in configs})}" for f in differing)
        raise ConfigError(f"models trained together must share {', '.join(SHARED_FIELDS)} ({values})")


MODES = ("stacked", "lockstep", "sequential")
# On a CPU, lockstep pays only for narrow nets: for wide ones the models' combined working set
# (weights, gradients, Adam moments) costs more than the shared per-step work saves.
LOCKSTEP_MAX_WIDTH = 256


class BatchRuns(list):
    """The runs of ``train_many``, in order, with ``train_seconds``: the wall time of its training
    loops (each lockstep group once, each model trained alone once)."""

    train_seconds: float = 0.0


def default_mode(config: ToyConfig) -> str:
    """'stacked' on GPUs; on a CPU 'lockstep' for nets up to ``LOCKSTEP_MAX_WIDTH`` wide, else
    'sequential' (each model alone, one after another)."""
    if resolve_device(config.device).type != "cpu":
        return "stacked"
    return "lockstep" if max(config.hidden) <= LOCKSTEP_MAX_WIDTH else "sequential"


def train_many(configs: list[ToyConfig], progress: Progress | None = None,
               ood_samples: list[np.ndarray | None] | None = None, mode: str | None = None) -> BatchRuns:
    """Train every config (see the module docstring) and return their runs in order.

    ``ood_samples[i]`` replaces config i's sampled OOD pool, as in ``train_toy`` (required for the
    'gan' source). ``mode`` (``MODES``; default ``default_mode``): a group's models in lockstep with
    stacked weights or each with its own forward, or one after another. A lockstep run's
    ``train_seconds`` is its group's time.
    """
    configs = list(configs)
    check_shared(configs)
    if mode is not None and mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    samples = [None] * len(configs) if ood_samples is None else list(ood_samples)
    if len(samples) != len(configs):
        raise ConfigError(f"got {len(samples)} OOD sample sets for {len(configs)} models")
    runs, done = BatchRuns([None] * len(configs)), 0
    for indices in group_indices(configs):
        group_mode = mode or default_mode(configs[indices[0]])
        if len(indices) == 1 or group_mode == "sequential":
            for i in indices:
                part = phase(progress, done / len(configs), (done + 1) / len(configs), f"{configs[i].method}: ")
                runs[i] = train_toy(configs[i], part, samples[i])
                runs.train_seconds += runs[i].train_seconds
                done += 1
            continue
        names = ", ".join(dict.fromkeys(configs[i].method for i in indices))
        part = phase(progress, done / len(configs), (done + len(indices)) / len(configs),
                     f"{len(indices)} models ({names}): ")
        trained = _train_group([configs[i] for i in indices], [samples[i] for i in indices], part,
                               group_mode == "stacked")
        for i, run in zip(indices, trained):
            runs[i] = run
        runs.train_seconds += trained[0].train_seconds
        done += len(indices)
    return runs


def group_indices(configs: list[ToyConfig]) -> list[list[int]]:
    """Indices of the configs trained together: MLPs sharing ``GROUP_FIELDS``; each RBF alone."""
    groups: dict[object, list[int]] = {}
    for i, config in enumerate(configs):
        key = ("rbf", i) if config.method == "rbf" else tuple(getattr(config, f) for f in GROUP_FIELDS)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


@dataclass
class _Member:
    """One model of a batched group with everything ``train_toy`` would give ``fit``."""

    config: ToyConfig
    method: Method
    data: toydata.ToyData
    pool: np.ndarray | None
    model: nn.Module
    x_in: torch.Tensor
    y_in: torch.Tensor
    sampler: PoolSampler | None
    generator: torch.Generator
    losses: list[float] = field(default_factory=list)

    @classmethod
    def build(cls, config: ToyConfig, samples: np.ndarray | None, device: torch.device) -> "_Member":
        data = toy_data(config)
        pool = ood_pool(config, data) if samples is None else np.asarray(samples, dtype=np.float32)
        if pool is not None and (pool.ndim != 2 or pool.shape[1] != 2 or not len(pool)):
            raise ConfigError(f"OOD samples must be a non-empty (n, 2) array, got shape {pool.shape}")
        method = config.method_object()
        if method.needs_ood and pool is None:
            raise ConfigError(f"method {method.name!r} needs OOD training data")
        generator = torch.Generator(device=device)
        generator.manual_seed(int(config.seed))
        sampler = PoolSampler(torch.from_numpy(pool).to(device)) if pool is not None else None
        return cls(config, method, data, pool, build_model(config, data).to(device),
                   torch.from_numpy(data.x_train).to(device), torch.from_numpy(data.y_train).to(device),
                   sampler, generator)

    def attack_key(self) -> tuple:
        m = self.method
        return (m.steps, m.eps, m.step_size, m.lower, m.upper) if isinstance(m, ACET) else ()


class BatchedLinear(torch.autograd.Function):
    """x Wᵀ + b for M models at once: x (M, rows, in), W (M, out, in), b (M, out).

    The backward forms the same products, in the same layouts, as ``F.linear``'s (``addmm``) backward:
    ∂x = g W and ∂W = gᵀ x (not (xᵀ g)ᵀ, which rounds differently and needs a transposed copy)."""

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, weight, _ = inputs
        ctx.save_for_backward(x, weight)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad
        return (torch.bmm(grad, weight) if need_x else None,
                torch.bmm(grad.transpose(1, 2), x) if need_weight else None,
                grad.sum(1) if need_bias else None)


Forward = Callable[..., torch.Tensor]


class _Segment:
    """Models with the same rows per step, head and attack, trained in lockstep.

    The models keep their own parameters (so Adam updates each tensor exactly as alone). With
    ``stacked``, each step stacks them once and every layer is one ``BatchedLinear`` for all models;
    otherwise each model runs its own forward on its rows (still one backward and one optimiser step
    for the group)."""

    def __init__(self, members: list[_Member], stacked: bool):
        self.members, self.stacked = members, stacked
        self.models = [m.model for m in members]
        self.act = activation_function(self.models[0].activation, self.models[0].negative_slope)
        self.head_kind = self.models[0].head_kind
        self.needs_ood = members[0].method.needs_ood
        self.attack = members[0].method if isinstance(members[0].method, ACET) else None
        self.x_in = torch.stack([m.x_in for m in members])
        self.y_in = torch.stack([m.y_in for m in members])
        if self.head_kind == "dismax":
            device = self.x_in.device
            self.scales = {mode: torch.tensor([getattr(m.head, f"{mode}_scale") for m in self.models],
                                              device=device)[:, None, None] for mode in ("train", "eval")}

    def step_forward(self) -> Forward:
        """This step's ``forward(x, attack=False)``: (M, rows, 2) → (M, rows, outputs) logits, as
        each ``MLP.forward`` computes them; ``attack`` = eval mode without weight gradients."""
        if not self.stacked:
            return self._each
        weights = self._weights()
        frozen = [tuple(t.detach() for t in layer) for layer in weights]
        return lambda x, attack=False: self._stacked(x, frozen if attack else weights, not attack)

    def _each(self, x: torch.Tensor, attack: bool = False) -> torch.Tensor:
        for model in self.models:
            model.train(not attack)
        return torch.stack([model(rows) for model, rows in zip(self.models, x)])

    def _weights(self) -> list[tuple[torch.Tensor, ...]]:
        """Per layer, the stacked (weight, bias) — for the head (weight, bias) or (prototypes,)."""
        layers = [(torch.stack([l.weight for l in ls]), torch.stack([l.bias for l in ls]))
                  for ls in zip(*(m.hidden_layers for m in self.models))]
        heads = [m.head for m in self.models]
        if self.head_kind == "dismax":
            return layers + [(torch.stack([h.prototypes for h in heads]),)]
        return layers + [(torch.stack([h.weight for h in heads]), torch.stack([h.bias for h in heads]))]

    def _stacked(self, x: torch.Tensor, weights: list, training: bool) -> torch.Tensor:
        for weight, bias in weights[:-1]:
            x = self.act(BatchedLinear.apply(x, weight, bias))
        if self.head_kind == "dismax":  # DisMaxHead: −α‖f − p_j‖ (Macêdo et al., eq. 6-7)
            distances = torch.linalg.vector_norm(x[:, :, None, :] - weights[-1][0][:, None], dim=-1)
            return -self.scales["train" if training else "eval"] * distances
        return BatchedLinear.apply(x, *weights[-1])

    def batch(self, index: torch.Tensor, n_ood: int, forward: Forward) -> tuple[torch.Tensor, torch.Tensor]:
        """Each model's rows of a step: its in-distribution rows ``index`` (M, b), then OOD rows
        drawn from its own pool and generator (attacked for ACET), labelled ``OOD_LABEL``."""
        x = torch.gather(self.x_in, 1, index[..., None].expand(-1, -1, self.x_in.shape[-1]))
        y = torch.gather(self.y_in, 1, index)
        if not self.needs_ood:
            return x, y
        x_out = torch.stack([m.sampler(n_ood, m.generator) for m in self.members])
        if self.attack is not None:
            x_out = self.attacked(x_out, forward)
        y_out = torch.full(x_out.shape[:2], OOD_LABEL, dtype=y.dtype, device=y.device)
        return torch.cat([x, x_out], 1), torch.cat([y, y_out], 1)

    def attacked(self, x_out: torch.Tensor, forward: Forward) -> torch.Tensor:
        """ACET's PGD on every model's own OOD rows at once (eval mode, as ``ACET.loss``)."""
        a = self.attack
        start = torch.stack([pgd_start(x, a.eps, a.lower, a.upper, m.generator)
                             for x, m in zip(x_out, self.members)])

        def objective(u: torch.Tensor) -> torch.Tensor:
            logits = forward(u, attack=True)
            return torch.stack([m.method.out_objective(l) for m, l in zip(self.members, logits)])

        return pgd_ascend(objective, x_out, start, a.eps, a.steps, a.step_size, a.lower, a.upper)

    def losses(self, index: torch.Tensor, n_ood: int) -> torch.Tensor:
        """(M,) each model's own loss (``Method.logits_loss``) on its rows of one step."""
        forward = self.step_forward()
        x, y = self.batch(index, n_ood, forward)
        logits = forward(x)
        return torch.stack([m.method.logits_loss(l, t) for m, l, t in zip(self.members, logits, y)])


def segments_of(members: list[_Member], stacked: bool) -> list[_Segment]:
    """Split a group into segments by (OOD rows, head, ACET attack settings)."""
    keyed: dict[tuple, list[_Member]] = {}
    for m in members:
        keyed.setdefault((m.method.needs_ood, m.model.head_kind, m.attack_key()), []).append(m)
    return [_Segment(ms, stacked) for ms in keyed.values()]


def _train_group(configs: list[ToyConfig], samples: list, progress: Progress | None,
                 stacked: bool) -> list[ToyRun]:
    """``fit`` for a group of MLPs sharing architecture and learning rate, in lockstep."""
    first = configs[0]
    device = resolve_device(first.device)
    members = [_Member.build(c, s, device) for c, s in zip(configs, samples)]
    segments = segments_of(members, stacked)
    optimizer = make_optimizer([p for m in members for p in m.model.parameters()], "adam", first.lr)
    n_train, batch_size = len(members[0].x_in), first.batch_size
    steps_per_epoch = math.ceil(n_train / batch_size)
    start = time.perf_counter()
    for epoch in range(first.epochs):
        orders = [torch.stack([torch.randperm(n_train, generator=m.generator, device=device) for m in s.members])
                  for s in segments]
        totals = [torch.zeros(len(s.members), device=device) for s in segments]
        for step in range(steps_per_epoch):
            losses = [s.losses(order[:, step * batch_size:(step + 1) * batch_size], batch_size)
                      for s, order in zip(segments, orders)]
            optimizer.zero_grad(set_to_none=True)
            torch.cat(losses).sum().backward()
            optimizer.step()
            for total, loss in zip(totals, losses):
                total += loss.detach()
        _record_epoch(segments, totals, steps_per_epoch, epoch, first, progress)
    seconds = time.perf_counter() - start
    return [ToyRun(m.config, m.model.eval().cpu(), m.data, m.pool, seconds, m.losses) for m in members]


def _record_epoch(segments: list[_Segment], totals: list[torch.Tensor], steps: int, epoch: int,
                  config: ToyConfig, progress: Progress | None) -> None:
    """Each model's mean loss of the epoch (as ``fit`` computes it); stop on a non-finite one."""
    for s, total in zip(segments, totals):
        for m, value in zip(s.members, total.tolist()):
            mean_loss = value / steps
            if not math.isfinite(mean_loss):
                raise TrainingDiverged(
                    f"training diverged in epoch {epoch + 1}: the loss of {m.config.method} (seed "
                    f"{m.config.seed}) became {mean_loss}; lower the learning rate (now {config.lr:g}) "
                    f"or change the method's weight")
            m.losses.append(mean_loss)
    if progress is not None:
        progress((epoch + 1) / config.epochs, f"epoch {epoch + 1}/{config.epochs}")
