"""The toy 2-D problem (Vernekar et al. 2019, Sec. 5) and its out-of-distribution samplers.

In-distribution: K=2 isotropic Gaussians with means (-10, 0) and (10, 0) and standard deviation
``sigma`` (the paper: 1; the authors' notebooks: 2). A point is OOD when it lies more than 3 sigma
(Mahalanobis) from both means.

OOD sources (``OOD_SOURCES``):
- ``boundary``: area-uniform in the annulus between 3 sigma and 3 sigma + ``width`` around each
  mean, half of the points per mean (Lee et al.'s "boundary" samples, Vernekar Fig. 3a);
- ``general``: uniform in the box [-box, box]^2 with the 3 sigma discs removed (Vernekar Fig. 4a).
The far test-OOD set is drawn like ``general`` from an independent random stream.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEANS = np.array([[-10.0, 0.0], [10.0, 0.0]])
N_CLASSES = 2
OOD_RADIUS_SIGMAS = 3.0
OOD_SOURCES = ("boundary", "general")

# Independent random streams derived from one seed, so adding a draw never shifts another.
_STREAM_DATA, _STREAM_OOD_TRAIN, _STREAM_FAR_TEST = 0, 1, 2


@dataclass(frozen=True)
class ToyData:
    """In-distribution train/test split (float32 points, int64 labels)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sigma: float


def stream(seed: int, purpose: int) -> np.random.Generator:
    """A numpy generator for one purpose of one seed (data, OOD pool, far test set, ...)."""
    return np.random.default_rng([int(seed), int(purpose)])


def make_toy_data(sigma: float = 1.0, n_per_class: int = 1000, seed: int = 0) -> ToyData:
    """Draw ``n_per_class`` points per Gaussian and split them 50/50 per class (stratified)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2, got {n_per_class}")
    rng = stream(seed, _STREAM_DATA)
    x_train, y_train, x_test, y_test = [], [], [], []
    n_train = n_per_class // 2
    for k, mean in enumerate(MEANS):
        points = mean + sigma * rng.standard_normal((n_per_class, 2))
        x_train.append(points[:n_train])
        x_test.append(points[n_train:])
        y_train.append(np.full(n_train, k))
        y_test.append(np.full(n_per_class - n_train, k))
    order = rng.permutation(2 * n_train)
    return ToyData(
        x_train=np.concatenate(x_train).astype(np.float32)[order],
        y_train=np.concatenate(y_train).astype(np.int64)[order],
        x_test=np.concatenate(x_test).astype(np.float32),
        y_test=np.concatenate(y_test).astype(np.int64),
        sigma=float(sigma),
    )


def distance_to_nearest_mean(x: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to the closer of the two means."""
    return np.min(np.linalg.norm(x[:, None, :] - MEANS[None], axis=-1), axis=1)


def is_ood(x: np.ndarray, sigma: float) -> np.ndarray:
    """True where a point lies outside 3 sigma of both means."""
    return distance_to_nearest_mean(x) > OOD_RADIUS_SIGMAS * sigma


def boundary_ring(n: int, sigma: float, rng: np.random.Generator, width: float = 1.0) -> np.ndarray:
    """Area-uniform samples in the annuli 3σ ≤ r ≤ 3σ + width around each mean, n/2 per mean."""
    inner = OOD_RADIUS_SIGMAS * sigma
    outer = inner + width
    radius = np.sqrt(rng.uniform(inner**2, outer**2, n))
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    centre = MEANS[np.arange(n) % 2]
    return (centre + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)).astype(np.float32)


def uniform_outside_discs(n: int, sigma: float, rng: np.random.Generator, box: float = 50.0) -> np.ndarray:
    """Uniform samples in [-box, box]^2 outside the 3σ discs (rejection sampling)."""
    out = np.empty((0, 2))
    while len(out) < n:
        candidates = rng.uniform(-box, box, (2 * (n - len(out)) + 16, 2))
        out = np.concatenate([out, candidates[is_ood(candidates, sigma)]])
    return out[:n].astype(np.float32)


def sample_ood(kind: str, n: int, sigma: float, seed: int, width: float = 1.0, box: float = 50.0) -> np.ndarray:
    """The training OOD pool of one source (see ``OOD_SOURCES``)."""
    rng = stream(seed, _STREAM_OOD_TRAIN)
    if kind == "boundary":
        return boundary_ring(n, sigma, rng, width)
    if kind == "general":
        return uniform_outside_discs(n, sigma, rng, box)
    raise ValueError(f"unknown OOD source {kind!r}; choose one of {', '.join(OOD_SOURCES)}")


def far_test_ood(n: int, sigma: float, seed: int, box: float = 50.0) -> np.ndarray:
    """The far test-OOD set: drawn like ``general`` but from an independent stream."""
    return uniform_outside_discs(n, sigma, stream(seed, _STREAM_FAR_TEST), box)
