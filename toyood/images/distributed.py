"""The benchmark on several processes: ``torchrun --nproc_per_node N -m toyood bench ...``.

Every process loads the same data and draws the same random numbers (one seed, the same order of
draws), so each one sees the whole global batch of every step: the same rows, augmentation and
noise as a single process. ``ShardedForward`` then computes only its own share of the rows,
through ``DistributedDataParallel`` in training mode; the logits of the other rows are
gathered without gradient, so every process evaluates the single-process loss. The gradient of its
own rows is scaled by the number of processes, so DDP's average of the processes' gradients is the
single-process gradient (up to the order of float additions). PGD attacks inside a training step
(ACET) run on each process's own rows only. Evaluation is split into fixed chunks, each with its
own seed, handed out round-robin and gathered: the numbers do not depend on the number of processes.

Back ends: NCCL on CUDA (one GPU per process, ``LOCAL_RANK``), gloo on CPU. On CUDA the forward
passes run under bf16 autocast. Batch norm (the ResNet) normalises each process's rows on CPU; on
CUDA it is converted to ``SyncBatchNorm``, which normalises the global batch.
"""
from __future__ import annotations

import gc

import contextlib
import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..device import resolve_device
from ..errors import ConfigError


@dataclass(frozen=True)
class Workers:
    """This process's place among the benchmark's processes (rank 0 of 1 without torchrun)."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Whether this process reports progress and writes the results."""
        return self.rank == 0

    def bounds(self, n: int, rank: int | None = None) -> tuple[int, int]:
        """The rows [start, stop) of ``n`` that ``rank`` (default: this process) computes; the
        first ``n % world`` processes take one row more (as ``torch.tensor_split``)."""
        rank = self.rank if rank is None else rank
        base, extra = divmod(n, self.world)
        start = rank * base + min(rank, extra)
        return start, start + base + (rank < extra)

    def autocast(self):
        """bf16 autocast on CUDA, nothing elsewhere."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def gather_rows(self, local: torch.Tensor, n: int) -> torch.Tensor:
        """The (n, ...) tensor whose rows ``bounds(n, r)`` each process ``r`` holds as ``local``."""
        if self.world == 1:
            return local
        sizes = [self.bounds(n, r)[1] - self.bounds(n, r)[0] for r in range(self.world)]
        padded = local.new_zeros((max(sizes), *local.shape[1:]))
        padded[:len(local)] = local
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[:size] for part, size in zip(parts, sizes)])

    def gather_objects(self, obj) -> list:
        """Every process's ``obj`` (picklable), in rank order, on every process."""
        if self.world == 1:
            return [obj]
        everyone: list = [None] * self.world
        dist.all_gather_object(everyone, obj)
        return everyone

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.world > 1:
            dist.barrier()

    def map_chunks(self, compute: Callable[[int, slice], torch.Tensor], n: int, chunk: int) -> torch.Tensor:
        """``compute(index, rows)`` of every chunk of ``chunk`` rows of ``n``, chunks handed out
        round-robin to the processes, the results gathered in order on every process (on the CPU)."""
        starts = range(0, n, chunk)
        mine = {i: compute(i, slice(start, min(start + chunk, n))).cpu()
                for i, start in enumerate(starts) if i % self.world == self.rank}
        if self.world > 1:
            everyone: list[dict] = [{} for _ in range(self.world)]
            dist.all_gather_object(everyone, mine)
            mine = {i: part for parts in everyone for i, part in parts.items()}
        return torch.cat([mine[i] for i in range(len(starts))]) if starts else torch.empty(0)


def start_workers(device: str) -> Workers:
    """The process group of a ``torchrun`` launch (``WORLD_SIZE`` > 1), or a single process on ``device``."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world == 1:
        return Workers(0, 1, resolve_device(device))
    if device == "mps":
        raise ConfigError("several processes need cpu or cuda devices, not mps")
    cuda = resolve_device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    target = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    return Workers(dist.get_rank(), dist.get_world_size(), target)


def stop_workers() -> None:
    """Leave the process group. The DDP wrappers of the finished run are collected first: one
    destroyed after its group (its reducer in a reference cycle, freed by a later gc or at exit)
    aborts the process ("terminate called without an active exception") — measured with gloo: 5 of
    20 two-process runs of DDP training then destroy_process_group, 3 of 20 with a barrier before
    it, 0 of 40 with the wrapper freed first."""
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


class ShardedForward(nn.Module):
    """The network as ``toyood.train.fit`` and the methods see it (see the module docstring):
    logits of the whole batch, computed for this process's rows only.

    A batch is in-distribution rows followed by OOD rows (``toyood.methods``); ACET attacks the OOD
    rows in eval mode before the training forward. Each process attacks its share of those rows, so
    the training forward that follows splits the in-distribution and the OOD rows separately: each
    process then trains on exactly the OOD rows it attacked.
    """

    def __init__(self, model: nn.Module, workers: Workers):
        super().__init__()
        self.workers = workers
        self.head_kind = getattr(model, "head_kind", None)
        self.attacked_rows = 0  # rows of the last attack of this step (the batch's last rows)
        if workers.world > 1:
            if workers.device.type == "cuda":
                model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            self.net = DistributedDataParallel(model, device_ids=[workers.device] if workers.device.type == "cuda"
                                               else None)
        else:
            self.net = model

    @property
    def model(self) -> nn.Module:
        """The network itself (without the DDP wrapper)."""
        return self.net.module if isinstance(self.net, DistributedDataParallel) else self.net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with self.workers.autocast():
            if self.workers.world == 1:
                return self.net(x).float()
            if not self.training:
                return self._attack_forward(x)
            split = len(x) - self.attacked_rows if 0 < self.attacked_rows <= len(x) else 0
            self.attacked_rows = 0
            segments = [(0, split), (split, len(x))] if split else [(0, len(x))]
            own = [(lo + a, lo + b) for lo, hi in segments for a, b in [self.workers.bounds(hi - lo)]]
            rows = torch.cat([x[a:b] for a, b in own])
            if not len(rows):  # a share without rows still runs DDP's forward, on one row it then drops
                rows = x[-1:]
            local = self.net(rows)[:sum(b - a for a, b in own)].float()
        if local.requires_grad:
            local.register_hook(lambda grad: grad * self.workers.world)
        return torch.cat(self._assemble(local, segments, own))

    def _attack_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Eval mode inside a training step (ACET's attack): logits of this process's share of the
        rows, zeros elsewhere (the other rows are attacked by the other processes)."""
        self.attacked_rows = len(x)
        start, stop = self.workers.bounds(len(x))
        local = self.model(x[start:stop]).float()
        return torch.cat([local.new_zeros((start, local.shape[1])), local,
                          local.new_zeros((len(x) - stop, local.shape[1]))])

    def _assemble(self, local: torch.Tensor, segments, own) -> list[torch.Tensor]:
        """The pieces of the whole batch's logits: this process's rows (with gradient) between the
        other processes' rows (gathered, without gradient), segment by segment."""
        pieces, offset = [], 0
        for (lo, hi), (a, b) in zip(segments, own):
            mine = local[offset:offset + b - a]
            offset += b - a
            everyone = self.workers.gather_rows(mine.detach(), hi - lo)
            pieces += [everyone[:a - lo], mine, everyone[b - lo:]]
        return pieces
