"""One epoch of training batches: toyood's in-memory pipeline vs a plain DataLoader, side by side.

toyood: a seeded permutation per epoch, batches by index slicing (as ``toyood.train.fit`` does), the
augmentation applied to the whole batch at once (``toyood.images.datasets.augmentation``) and, with
``--noise``, a batch of Hein et al.'s noise per step (``toyood.images.noise.NoiseSampler``).
Baseline: ``torch.utils.data.DataLoader(shuffle=True)`` over a ``TensorDataset`` whose samples are
padded, cropped (and for CIFAR flipped) one at a time, the usual torchvision-style setup.
``--forward`` adds a forward pass of the Hein network to both loops.

    .venv/bin/python benchmarks/bench_image_pipeline.py --dataset mnist --data-dir ../shared/data/mnist-10k
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from toyood.images.augment import augmentation
from toyood.images.datasets import DATASET_NAMES, DatasetUnavailable, load_split
from toyood.images.models import build_image_model
from toyood.images.noise import NoiseSampler


class PerSampleAugmented(TensorDataset):
    """A TensorDataset whose images are zero-padded by 4, randomly cropped and optionally flipped one by one."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, flip: bool):
        super().__init__(images, labels)
        self.flip = flip

    def __getitem__(self, index):
        image, label = super().__getitem__(index)
        _, h, w = image.shape
        top, left = torch.randint(0, 9, (2,)).tolist()
        image = F.pad(image, (4, 4, 4, 4))[:, top:top + h, left:left + w]
        if self.flip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        return image, label


def toyood_epoch(x, y, batch_size, augment, noise, model, seed) -> int:
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=generator)
    for start in range(0, len(x), batch_size):
        index = order[start:start + batch_size]
        batch, labels = augment(x[index], generator), y[index]  # labels sliced as fit does, for equal work
        if noise is not None:
            batch = torch.cat([batch, noise(len(index), generator)])
        if model is not None:
            model(batch)
    return len(range(0, len(x), batch_size))


def dataloader_epoch(x, y, batch_size, flip, noise, model, seed, workers) -> int:
    torch.manual_seed(seed)
    loader = DataLoader(PerSampleAugmented(x, y, flip), batch_size=batch_size, shuffle=True, num_workers=workers)
    generator = torch.Generator().manual_seed(seed)
    steps = 0
    for batch, labels in loader:
        if noise is not None:
            batch = torch.cat([batch, noise(len(batch), generator)])
        if model is not None:
            model(batch)
        steps += 1
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=DATASET_NAMES, default="mnist")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-10k"),
                        help="where the dataset files are (default: the MNIST subset beside the checkout)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--noise", action="store_true", help="add a noise batch per step (CEDA/ACET training)")
    parser.add_argument("--forward", action="store_true", help="add a forward pass of the Hein network")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed per pipeline; the best is shown")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        x, y = load_split(args.dataset, "train", args.data_dir)
    except DatasetUnavailable as error:
        raise SystemExit(f"error: {error}")
    noise = NoiseSampler(x) if args.noise else None
    model = build_image_model(tuple(x.shape[1:]), 10).eval() if args.forward else None
    flip = args.dataset.startswith("cifar")
    print(f"{args.dataset}: {len(x)} training images {tuple(x.shape[1:])}, batch {args.batch_size}, "
          f"noise {args.noise}, forward {args.forward}, {torch.get_num_threads()} torch threads")
    timings = {}
    with torch.inference_mode():
        augment = augmentation(args.dataset)
        for name, run in (("toyood (slicing + batch augmentation)",
                           lambda seed: toyood_epoch(x, y, args.batch_size, augment, noise, model, seed)),
                          (f"DataLoader (per-sample transforms, {args.workers} workers)",
                           lambda seed: dataloader_epoch(x, y, args.batch_size, flip, noise, model, seed,
                                                         args.workers))):
            best = float("inf")
            for repeat in range(args.repeats):
                start = time.perf_counter()
                steps = run(repeat)
                best = min(best, time.perf_counter() - start)
            timings[name] = best
            print(f"  {name:<50} {best:8.3f} s/epoch  ({steps} steps)")
    ours, baseline = timings.values()
    print(f"  DataLoader / toyood = {baseline / ours:.1f}×")


if __name__ == "__main__":
    main()
