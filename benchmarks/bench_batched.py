"""Batched (``toyood.batched.train_many``) against sequential (``train_toy`` one after another) training.

    python benchmarks/bench_batched.py [--repeats 3] [--epochs 40] [--skip-layers]

Sets of 1, 2, 4 and 7 methods (the interactive preset, one thread; 2×500, or ``--hidden``), trained
sequentially, in lockstep with each model's own forward, and in lockstep with stacked weights; the
training loops timed (setup excluded, as ``train_seconds``) and the CPU time of each whole call;
the best of ``--repeats``. Ratios are to one ``confidence`` model (one in-distribution + one OOD
batch per step, what three of the four no-PGD methods train on) and to sequential. Every batched
model is compared with its sequential twin (largest relative weight difference). A second table
times one training step of the layer variants considered for the forward/backward (M models of
2×500, 128 rows each).

Measured on the 2-core machine, quiet (load 0.6-0.9), ``--skip-layers``; wall seconds, ratio to one model:

    2×500, best of 1      sequential      lockstep        stacked         rows/one
    1 (confidence)        2.36  1.00      2.52  1.07      2.34  0.99      1.0
    2                     3.52  1.49      4.38  1.85      5.19  2.20      1.5
    4 (no PGD)           10.33  4.37     10.62  4.49     11.11  4.70      3.5
    7 (all)              25.26 10.69     21.83  9.24     23.98 10.15      –
    2×64, best of 2
    1                     0.40  1.00      0.40  1.00      0.41  1.02      1.0
    4 (no PGD)            1.63  4.09      1.76  4.41      2.31  5.80      3.5

On one CPU thread the toy's training is compute-bound: one 2×500 step on 64 + 64 rows is about
0.2 GFLOP, done in ~3.7 ms (≈ 50 GFLOP/s, near what one core gives), so M models cost about the rows
they forward, never the 1.5× of one that issue 10 aimed at (four no-PGD methods are 3.5× the rows of
one). At 2×64 (and 2×32: 4 models 3.3× one sequential, 3.5× stacked) the step is overhead-bound
instead, but most of that overhead (each model's batch draws and its method's loss) stays per model
in ``train_many`` as well, so stacking does not remove it. Batching is kept for compare
mode's single job (one progress bar, one cache entry) and for GPUs, where small matmuls are
launch-bound; it is not faster on this CPU.
"""
from __future__ import annotations

import argparse
import copy
import os
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from toyood.batched import BatchedLinear, train_many
from toyood.methods import method_by_name
from toyood.toy import ToyConfig, train_toy
from toyood.train import make_optimizer

SETS = {
    1: ("confidence",),
    2: ("plain", "confidence"),
    4: ("plain", "confidence", "ceda", "reject"),
    7: ("plain", "confidence", "ceda", "acet", "reject", "dismax", "rbf"),
}


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def timed(train, configs) -> tuple[float, float, list]:
    """(training-loop wall seconds, process CPU seconds of the whole call, runs) of ``train(configs)``."""
    cpu = time.process_time()
    runs = train(configs)
    cpu = time.process_time() - cpu
    return getattr(runs, "train_seconds", sum(r.train_seconds for r in runs)), cpu, runs


def largest_difference(a: nn.Module, b: nn.Module) -> float:
    return max(((p - q).abs().max() / p.abs().max().clamp_min(1e-30)).item()
               for p, q in zip(a.parameters(), b.parameters()))


VARIANTS = {
    "sequential": lambda cs: [train_toy(c) for c in cs],
    "lockstep": lambda cs: train_many(cs, mode="lockstep"),
    "stacked": lambda cs: train_many(cs, mode="stacked"),
}


def compare_sets(epochs: int, repeats: int, hidden: tuple[int, ...]) -> None:
    print(f"sequential vs batched training (lockstep: each model's own forward in one loop; stacked "
          f"weights), interactive preset, {epochs} epochs, {hidden}, one thread; best of {repeats}; seconds of "
          f"the training loops (wall) and of the whole call (CPU) ({load()})")
    print(f"{'models':>6}" + "".join(f"  {name + ' wall/cpu':>22}  {'/one':>5}  {'/seq':>5}" for name in VARIANTS)
          + f"  {'rows/one':>8}  {'max rel Δw':>10}  methods")
    one = None
    for n, methods in SETS.items():
        configs = [ToyConfig(method=m, epochs=epochs, hidden=hidden, device="cpu") for m in methods]
        best = {name: (float("inf"), float("inf")) for name in VARIANTS}
        difference = 0.0
        for _ in range(repeats):
            runs = {}
            for name, train in VARIANTS.items():
                wall, cpu, runs[name] = timed(train, configs)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
            difference = max(difference, *(largest_difference(a.model, b.model) for name in VARIANTS
                                           for a, b in zip(runs["sequential"], runs[name])))
        one = best["sequential"][0] if one is None else one
        cells = "".join(f"  {w:>12.2f} /{c:>8.2f}  {w / one:>5.2f}  {w / best['sequential'][0]:>5.2f}"
                        for w, c in best.values())
        print(f"{n:>6}{cells}  {rows_per_step(methods):>8}  {difference:>10.1e}  {','.join(methods)}", flush=True)


def rows_per_step(methods: tuple[str, ...]) -> str:
    """Rows (in-distribution + OOD) all the models forward and backward per step, over one confidence
    model's: the compute floor of any batching on a compute-bound CPU. '–' with ACET (its PGD steps
    add passes) or an RBF net (another architecture)."""
    if any(m in ("acet", "rbf") for m in methods):
        return "–"
    return f"{sum(2 if method_by_name(m).needs_ood else 1 for m in methods) / 2:.1f}"


def mlp(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def stacked(models, transpose: bool) -> list[torch.Tensor]:
    layers = [(m[0], m[2], m[4]) for m in models]
    out = []
    for index in range(3):
        weight = torch.stack([ls[index].weight.detach() for ls in layers])
        out += [(weight.transpose(1, 2) if transpose else weight).contiguous().requires_grad_(),
                torch.stack([ls[index].bias.detach() for ls in layers]).requires_grad_()]
    return out


def layer_variants(m: int, rows: int = 128, hidden: int = 500) -> dict:
    """name → (loss function, parameters) for M models' forward on (M, rows, 2) inputs."""
    x = torch.randn(m, rows, 2)
    models = [mlp(hidden) for _ in range(m)]
    out_in, in_out = stacked(models, False), stacked(models, True)

    def chain(params, layer):
        h = x
        for i in range(3):
            h = layer(h, params[2 * i], params[2 * i + 1])
            h = F.relu(h) if i < 2 else h
        return h.square().mean(1).sum()

    base = copy.deepcopy(models[0]).to("meta")
    params, buffers = stack_module_state(models)
    vmapped = vmap(lambda p, b, xx: functional_call(base, (p, b), (xx,)))
    return {
        "BatchedLinear (library)": (lambda: chain(out_in, BatchedLinear.apply), out_in),
        "baddbmm, autograd, (M,out,in)": (lambda: chain(out_in, lambda h, w, b: torch.baddbmm(
            b.unsqueeze(1), h, w.transpose(1, 2))), out_in),
        "baddbmm, autograd, (M,in,out)": (lambda: chain(in_out, lambda h, w, b: torch.baddbmm(
            b.unsqueeze(1), h, w)), in_out),
        "vmap(functional_call)": (lambda: vmapped(params, buffers, x).square().mean(1).sum(), list(params.values())),
        "per-model F.linear, one graph": (lambda: sum(mod(x[j]).square().mean(0).sum()
                                                      for j, mod in enumerate(models)),
                                          [p for mod in models for p in mod.parameters()]),
    }


def time_step(loss_fn, params, steps: int) -> float:
    """Best CPU seconds per step of five rounds."""
    optimizer = make_optimizer(params, "adam", 1e-4)
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss_fn().backward()
            optimizer.step()
        best = min(best, (time.process_time() - start) / steps)
    return best


def compare_layers(steps: int = 30) -> None:
    print(f"\none training step (forward, backward, fused Adam) of M 2×500 MLPs on 128 rows each, best CPU "
          f"ms of 5 rounds ({load()})")
    one = time_step(*layer_variants(1)["per-model F.linear, one graph"], steps)
    print(f"{'variant':<32}" + "".join(f"  {'M=' + str(m) + ' ms':>9}  {'/one':>5}" for m in (1, 4, 7)))
    results = {}
    for m in (1, 4, 7):
        for name, (loss_fn, params) in layer_variants(m).items():
            results.setdefault(name, []).append(time_step(loss_fn, params, steps))
    for name, times in results.items():
        print(f"{name:<32}" + "".join(f"  {t * 1e3:>9.2f}  {t / one:>5.2f}" for t in times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--hidden", type=lambda t: tuple(int(v) for v in t.split(",")), default=(500, 500))
    parser.add_argument("--skip-layers", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_toy(ToyConfig(method="plain", epochs=1, hidden=(16, 16), device="cpu"))  # one-time imports
    compare_sets(args.epochs, args.repeats, args.hidden)
    if not args.skip_layers:
        compare_layers()
    print(f"({load()} at the end)")


if __name__ == "__main__":
    main()
