"""Memory and time of a benchmark run, estimated before any work and checked against ``toyood.budget``.

Time: the benchmark's own cost model (``benchmark.method_costs``: image passes of training, ACET's
attack steps, the evaluation attacks, forward passes at a third) times the network's floating-point
operations per pass (its convolutions and dense layers, counted on one image; a pass = forward +
backward ≈ 3 forwards), at ``CONV_FLOPS_PER_THREAD`` per thread, divided among the processes, plus
the start-up. On CUDA or MPS the seconds per pass are measured instead (``measured_pass_seconds``: a
few passes of one batch), since these small networks are bound by kernel launches, not FLOPs. Memory: the process itself, the splits as they are loaded (the whole split as float32
and its uint8 file contents before the subset is drawn), every method's network with its gradients
and Adam moments, and the activations of the largest batch kept for a backward pass.

Accuracy, measured on a 2-core machine shared with other jobs (the quick preset, LeNet on the
28×28 data, one thread): see ``CONV_FLOPS_PER_THREAD``. The ResNet's rate is not calibrated (its
batch norms and small convolutions run less efficiently): expect its estimate to be low.
"""
from __future__ import annotations

import functools
import os
import statistics
import time

import torch
from torch import nn

from ..budget import Budget
from ..device import resolve_device
from .benchmark import BATCH_SIZE, CHUNK, OOD_SETS, BenchConfig, image_method, method_costs
from .datasets import N_CLASSES, SHAPES, DatasetUnavailable, locate, split_size
from .models import build_image_model

# Sustained float32 operations per second of one thread on LeNet's convolutions: 4.3e10 measured here
# (the quick preset's three methods: 1.96 ms per image pass of 83 MFLOP); rounded down.
CONV_FLOPS_PER_THREAD = 4e10
START_SECONDS = 10.0  # importing torch, reading the files, building the networks
PROCESS_BYTES = 0.6 * 2**30  # Python with torch loaded, before any data
PASS_FORWARDS = 3  # forward + backward ≈ three forwards
PASS_REPEATS = 5  # timed passes of a batch on an accelerator (after one warm-up)


def network_cost(config: BenchConfig, method: str) -> tuple[float, float, float]:
    """(forward flops per image, activation floats per image, parameters) of ``method``'s network,
    counted on one zero image through forward hooks on its convolutions and dense layers."""
    with torch.random.fork_rng(devices=[]):
        model = build_image_model(SHAPES[config.dataset], N_CLASSES[config.dataset],
                                  image_method(method, config).head, config.architecture).eval()
    totals = {"flops": 0.0, "activations": 0.0}

    def count(module: nn.Module, inputs, output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            per_output = module.in_features
        totals["flops"] += 2.0 * output.numel() * per_output
        totals["activations"] += float(output.numel())

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros((1, *SHAPES[config.dataset])))
    for hook in hooks:
        hook.remove()
    return totals["flops"], totals["activations"], float(sum(p.numel() for p in model.parameters()))


def _ood_sets(config: BenchConfig) -> list[str]:
    """The OOD sets the run will evaluate: those named, or Hein's pairs whose files are found."""
    if config.ood_sets is not None:
        return list(config.ood_sets)
    present = []
    for name in OOD_SETS[config.dataset]:
        try:
            locate(name, config.data_dir, ("test",))
            present.append(name)
        except DatasetUnavailable:
            pass
    return present


@functools.lru_cache(maxsize=32)
def measured_pass_seconds(config: BenchConfig, method: str, device: torch.device) -> float:
    """Seconds per image of one forward + backward pass of ``method``'s network on ``device``,
    measured on a batch of ``BATCH_SIZE`` zero images (the median of ``PASS_REPEATS`` after a warm-up,
    synchronised on CUDA); kept per process. The estimate of an accelerator, whose speed on these
    small networks (launch-bound, not FLOP-bound) no constant predicts."""
    with torch.random.fork_rng(devices=[]):
        model = build_image_model(SHAPES[config.dataset], N_CLASSES[config.dataset],
                                  image_method(method, config).head, config.architecture).to(device)
    batch = torch.zeros((BATCH_SIZE, *SHAPES[config.dataset]), device=device)
    times = []
    for _ in range(PASS_REPEATS + 1):
        _synchronise(device)
        start = time.perf_counter()
        model(batch).sum().backward()
        _synchronise(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) / BATCH_SIZE


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _pass_seconds(config: BenchConfig, method: str, device: torch.device, flops: float, threads: int,
                  processes: int) -> float:
    """Seconds per image pass: measured on an accelerator, from the network's ``flops`` per forward
    on CPU threads."""
    if device.type != "cpu":
        return measured_pass_seconds(config, method, device) / processes
    return PASS_FORWARDS * flops / (CONV_FLOPS_PER_THREAD * threads * processes)


def bench_job_estimate(config: BenchConfig, threads: int = 1, processes: int = 1) -> tuple[float, float]:
    """(memory bytes, seconds) of ``run_benchmark(config)`` on ``processes`` processes of ``threads``
    threads each, on the device ``config.device`` resolves to (see the module docstring); reads no
    more than the files' headers (and times a few passes on an accelerator)."""
    device = resolve_device(config.device)
    preset = config.preset_values()
    full_train, full_test = (split_size(config.dataset, split, config.data_dir) for split in ("train", "test"))
    n_train = min(preset.n_train or full_train, full_train)
    n_test = min(preset.n_test or full_test, full_test)
    ood_sets = _ood_sets(config)
    seconds, largest_network, activations = START_SECONDS, 0.0, 0.0
    for method in config.methods:
        flops, per_image, parameters = network_cost(config, method)
        passes = sum(method_costs(preset, method, n_train, n_test, len(ood_sets)))
        seconds += passes * _pass_seconds(config, method, device, flops, threads, processes)
        largest_network = max(largest_network, 4.0 * 4 * parameters)  # weights, gradients, two Adam moments
        activations = max(activations, 4.0 * 3 * per_image * max(2 * BATCH_SIZE, CHUNK))
    pixels = 4.0 * torch.Size(SHAPES[config.dataset]).numel()
    largest_test = max([full_test] + [split_size(name, "test", config.data_dir) for name in ood_sets])
    data = pixels * (1.25 * full_train + n_train + n_test * (2 + len(ood_sets)) + 1.25 * largest_test)
    kept_networks = largest_network / 4 * len(config.methods)  # the result keeps every trained network
    return PROCESS_BYTES + data + largest_network + kept_networks + activations, seconds


def check_bench_job(config: BenchConfig, budget: Budget | None = None, threads: int = 1,
                    processes: int | None = None) -> tuple[float, float]:
    """Raise ``BudgetExceeded`` if ``config``'s run is estimated over ``budget`` (default: the
    environment's); returns the estimate. ``processes`` defaults to torchrun's ``WORLD_SIZE``."""
    processes = processes or int(os.environ.get("WORLD_SIZE", "1") or 1)
    memory, seconds = bench_job_estimate(config, threads, processes)
    methods = ", ".join(config.methods)
    (budget or Budget.from_environment()).check(
        f"the {config.preset} benchmark of {methods} on {config.dataset}", memory, seconds,
        memory_hint="use smaller --n-train/--n-test subsets or fewer methods",
        time_hint="use fewer --epochs, smaller subsets, fewer methods or more processes (torchrun)")
    return memory, seconds
