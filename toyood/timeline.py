"""Training over time: snapshots of a toy run's net during training, and their numbers.

``train_with_timeline(config, n)`` trains as ``train_toy`` does (the same numbers: the snapshots are
taken by ``fit``'s ``on_epoch`` callback, which changes nothing) and keeps the net at n epochs spread
evenly over training: epoch round(i·E/(n−1)) for i = 0..n−1, from the untrained net (epoch 0, rebuilt
by ``build_model``: the same initialisation) to the final one; n = 1 keeps only the final net. A
snapshot's ``step`` counts optimiser steps (epochs × steps per epoch). ``timeline_entries`` gives, per snapshot,
the exact region count in [−50, 50]² (``toyood.regions``; None for tanh/sigmoid nets, which have no
linear regions), ``far_ood_overconfident`` and ``test_accuracy`` at the run's temperature.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .evaluate import eval_logits, overconfident_share
from .gan import train_toy_with_source
from .models import piecewise_affine_layers, set_temperature
from .progress import Progress
from .regions import enumerate_regions
from .toy import ToyConfig, ToyRun, build_model, far_test_points, toy_data
from .train import EpochEnd

MAX_SNAPSHOTS = 200
REGION_BOX = 50.0


@dataclass(frozen=True)
class Snapshot:
    """The net after ``epoch`` epochs (``step`` optimiser steps), as an eval-mode copy."""

    epoch: int
    step: int
    model: nn.Module


def snapshot_epochs(epochs: int, n: int) -> list[int]:
    """n distinct epochs spread evenly over 0..epochs, the last one ``epochs``: round(i·epochs/(n−1)),
    i = 0..n−1 (n = 1: only ``epochs``)."""
    if not 1 <= n <= min(epochs + 1, MAX_SNAPSHOTS):
        raise ValueError(f"the timeline takes 1 to {min(epochs + 1, MAX_SNAPSHOTS)} snapshots "
                         f"(epochs + 1, at most {MAX_SNAPSHOTS}; got {n})")
    if n == 1:
        return [epochs]
    return [int(np.floor(i * epochs / (n - 1) + 0.5)) for i in range(n)]


def steps_per_epoch(config: ToyConfig, n_train: int) -> int:
    """Optimiser steps in one epoch: ⌈training rows / batch size⌉ (``toyood.train.fit``)."""
    return math.ceil(n_train / config.batch_size)


def train_with_timeline(config: ToyConfig, n: int, progress: Progress | None = None) -> tuple[ToyRun, list[Snapshot]]:
    """Train ``config`` (any OOD source) and keep ``n`` snapshots (``snapshot_epochs``)."""
    wanted = set(snapshot_epochs(config.epochs, n))
    kept: list[tuple[int, nn.Module]] = []
    if 0 in wanted:
        kept.append((0, build_model(config, toy_data(config)).eval()))

    def on_epoch(end: EpochEnd) -> None:
        if end.epoch in wanted:
            kept.append((end.epoch, copy.deepcopy(end.model).cpu().eval()))

    run = train_toy_with_source(config, progress, on_epoch=on_epoch)
    per_epoch = steps_per_epoch(config, len(run.data.x_train))
    snapshots = [Snapshot(epoch, epoch * per_epoch, set_temperature(model, config.temperature))
                 for epoch, model in kept]
    return run, snapshots


def timeline_entries(run: ToyRun, snapshots: list[Snapshot], regions: bool = True) -> list[dict]:
    """Per snapshot: {epoch, step, regions, far_ood_overconfident, test_accuracy} (see the module
    docstring); ``regions`` False skips the counts (None)."""
    method = run.config.method_object()
    far = far_test_points(run.config, run.data)
    entries = []
    for snapshot in snapshots:
        probs_far = torch.softmax(eval_logits(snapshot.model, far), -1)
        predicted = eval_logits(snapshot.model, run.data.x_test).argmax(-1).numpy()
        entries.append({
            "epoch": snapshot.epoch, "step": snapshot.step,
            "regions": region_count(snapshot.model) if regions else None,
            "far_ood_overconfident": overconfident_share(method, probs_far),
            "test_accuracy": float(np.mean(predicted == run.data.y_test)),
        })
    return entries


def region_count(model: nn.Module, box: float = REGION_BOX) -> int | None:
    """The exact number of linear regions of ``model`` in [−box, box]² (None where it has none:
    tanh/sigmoid, RBF, DisMax heads count their body's regions)."""
    try:
        layers, slope = piecewise_affine_layers(model)
    except ValueError:
        return None
    if getattr(model, "head_kind", "linear") == "dismax":
        out = layers[-1][0].shape[0]
        layers = [*layers, (np.zeros((1, out)), np.zeros(1))]  # the body's regions, a dummy affine output
    return len(enumerate_regions(layers, box, slope))
