"""Hein et al.'s (2019) noise images: the OOD training data of CEDA/ACET and the "noise" test set.

Recipe (paper Sec. 5 and the authors' ``utils_tf.py``), for a batch of n images:
1. the first half: training images with their pixel positions permuted (each pixel keeps its colour:
   one permutation per image, shared by its channels); the second half: uniform noise in [0, 1];
2. a Gaussian low-pass with σ ~ U[1, 2.5] drawn once per batch: a 15×15 kernel, each channel on its
   own, with symmetric padding (the edge pixel is repeated: numpy/TensorFlow "symmetric");
3. each image min-max rescaled to [0, 1] (over all its channels).
Everything is vectorised over the batch and drawn from the given ``torch.Generator`` on its device.
"""
from __future__ import annotations

import torch

KERNEL_SIZE = 15
SIGMA_RANGE = (1.0, 2.5)
PERMUTED_FRACTION = 0.5


def permute_pixels(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image's pixel positions shuffled by its own random permutation, the same for all channels."""
    n, c, h, w = x.shape
    order = torch.rand(n, h * w, generator=generator, device=generator.device).argsort(1).to(x.device)
    return x.flatten(2).gather(2, order[:, None, :].expand(n, c, h * w)).view(n, c, h, w)


def gaussian_kernel(sigma: float, size: int = KERNEL_SIZE, device=None) -> torch.Tensor:
    """The normalised 1-D Gaussian of standard deviation ``sigma`` on offsets −size//2 .. size//2."""
    offsets = torch.arange(size, dtype=torch.float32, device=device) - size // 2
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def blur_matrix(length: int, sigma: float, size: int = KERNEL_SIZE, device=None) -> torch.Tensor:
    """The length×length matrix of a 1-D Gaussian blur with symmetric padding (edge pixel repeated:
    … c b a | a b c … x y z | z y x …): ``blur_matrix(W) @ row`` blurs a row of W pixels."""
    pad = size // 2
    if pad > length:
        raise ValueError(f"a {size}-tap blur with symmetric padding needs at least {pad} pixels, got {length}")
    source = torch.arange(length, device=device)[:, None] + torch.arange(size, device=device) - pad
    source = torch.where(source < 0, -source - 1, source)
    source = torch.where(source >= length, 2 * length - 1 - source, source)
    rows = torch.arange(length, device=device)[:, None].expand(length, size)
    weights = gaussian_kernel(sigma, size, device).expand(length, size)
    return torch.zeros(length, length, device=device).index_put_((rows, source), weights, accumulate=True)


def low_pass(x: torch.Tensor, sigma: float, size: int = KERNEL_SIZE) -> torch.Tensor:
    """Gaussian blur of each channel (separable size×size kernel, symmetric padding); same shape out."""
    rows = blur_matrix(x.shape[-2], sigma, size, x.device).to(x.dtype)
    cols = blur_matrix(x.shape[-1], sigma, size, x.device).to(x.dtype)
    return rows @ x @ cols.T


def rescale_to_unit(x: torch.Tensor) -> torch.Tensor:
    """Per-image min-max rescaling to [0, 1]; a constant image becomes all zeros."""
    flat = x.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - low) / (high - low).clamp_min(torch.finfo(x.dtype).tiny)).view_as(x)


def unfiltered_noise(images: torch.Tensor, n: int, generator: torch.Generator,
                     permuted_fraction: float = PERMUTED_FRACTION) -> torch.Tensor:
    """Step 1: ``round(n · permuted_fraction)`` pixel-permuted random images of the pool ``images``,
    then uniform noise for the rest; on ``images``' device."""
    n_permuted = round(n * permuted_fraction)
    picks = torch.randint(0, len(images), (n_permuted,), generator=generator, device=generator.device)
    permuted = permute_pixels(images[picks.to(images.device)], generator)
    uniform = torch.rand((n - n_permuted, *images.shape[1:]), generator=generator, device=generator.device)
    return torch.cat([permuted, uniform.to(images.device, images.dtype)])


def draw_sigma(generator: torch.Generator, sigma_range: tuple[float, float] = SIGMA_RANGE) -> float:
    """Step 2's blur width, σ ~ U[sigma_range]."""
    low, high = sigma_range
    return low + (high - low) * torch.rand((), generator=generator, device=generator.device).item()


def hein_noise(images: torch.Tensor, n: int, generator: torch.Generator,
               permuted_fraction: float = PERMUTED_FRACTION,
               sigma_range: tuple[float, float] = SIGMA_RANGE) -> torch.Tensor:
    """``n`` noise images by the full recipe; ``images`` is the pool the permuted ones come from."""
    noise = unfiltered_noise(images, n, generator, permuted_fraction)
    return rescale_to_unit(low_pass(noise, draw_sigma(generator, sigma_range)))


class NoiseSampler:
    """OOD sampler for ``toyood.train.fit``: ``sampler(n, generator)`` gives ``hein_noise(pool, n, ...)``."""

    def __init__(self, pool: torch.Tensor, permuted_fraction: float = PERMUTED_FRACTION,
                 sigma_range: tuple[float, float] = SIGMA_RANGE):
        if not 0 <= permuted_fraction <= 1:
            raise ValueError(f"permuted_fraction must be in [0, 1], got {permuted_fraction}")
        if not 0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f"sigma_range must be (low, high) with 0 < low <= high, got {sigma_range}")
        self.pool = pool
        self.permuted_fraction = permuted_fraction
        self.sigma_range = sigma_range

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return hein_noise(self.pool, n, generator, self.permuted_fraction, self.sigma_range)
