"""Hein et al.'s training augmentation, applied to whole batches on their device.

Random crops of the zero-padded images (torchvision's ``RandomCrop(size, padding=4)``) for every
dataset, plus left-right flips with probability 1/2 for CIFAR, each drawn per image from the
training loop's ``torch.Generator`` so that a seed fixes every batch.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def random_crop(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Per-image random crop of the zero-padded batch back to its size, as one gather: output pixel
    (i, j) of image k is padded pixel (i + dy_k, j + dx_k)."""
    n, c, h, w = x.shape
    padded_width = w + 2 * pad
    padded = F.pad(x, (pad, pad, pad, pad)).flatten(2)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=generator.device).to(x.device)
    window = (torch.arange(h, device=x.device)[:, None] * padded_width + torch.arange(w, device=x.device)).flatten()
    index = (window + (dy * padded_width + dx)[:, None])[:, None, :].expand(n, c, h * w)
    return padded.gather(2, index).view(n, c, h, w)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(len(x), generator=generator, device=generator.device).to(x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def augmentation(dataset: str) -> Augmentation:
    """Hein et al.'s training augmentation for ``dataset``: crop with padding 4; plus flips for CIFAR."""
    flips = dataset.startswith("cifar")

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = random_crop(x, generator)
        return random_flip(x, generator) if flips else x

    return augment
