"""The toy 2-D problems and their out-of-distribution samplers.

Data sets (``DATASETS``), in toy units (the data span about [−15, 15]², the plots [−50, 50]²):
- ``gaussians`` (Vernekar et al. 2019, Sec. 5): K isotropic Gaussians of std ``sigma``; K = 2 puts
  the means at (−10, 0) and (10, 0) (the paper), K > 2 on the circle of radius 10;
- ``moons``: two interleaving half circles of radius 10, noise ``sigma`` (K = 2);
- ``rings``: K concentric rings of radii 5, 10, 15, …, noise ``sigma``;
- ``spiral``: K spiral arms out to radius 15, noise ``sigma``;
- ``xor``: four blobs at (±8, ±8), std ``sigma``, the class the parity of the quadrant (K = 2);
- your own points (``points_from_csv``), scaled into the same range.

A point is OOD when it is farther than the margin from the data: for Gaussians 3σ from every mean
(Mahalanobis), otherwise 3σ from every in-distribution point. OOD sources (``OOD_SOURCES``):
- ``boundary``: a band of width ``width`` just outside the margin (Lee et al.'s "boundary" samples,
  Vernekar Fig. 3a): area-uniform annuli around each mean for Gaussians, around data points else;
- ``general``: uniform in the box [−box, box]² outside the margin (Vernekar Fig. 4a).
The far test-OOD set is drawn like ``general`` from an independent random stream.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

MEANS = np.array([[-10.0, 0.0], [10.0, 0.0]])  # the paper's two means
N_CLASSES = 2
OOD_RADIUS_SIGMAS = 3.0
OOD_SOURCES = ("boundary", "general")
DATASETS = ("gaussians", "moons", "rings", "spiral", "xor")
FIXED_CLASSES = {"moons": 2, "xor": 2}  # data sets defined for one number of classes
MAX_CLASSES = 10
DATA_RADIUS = 15.0  # own data are scaled so that their largest |coordinate| is this
MAX_CSV_ROWS = 100_000
MAX_CSV_BYTES = 20 * 2**20

# Independent random streams derived from one seed, so adding a draw never shifts another.
_STREAM_DATA, _STREAM_OOD_TRAIN, _STREAM_FAR_TEST = 0, 1, 2


class DataFileError(ValueError):
    """An uploaded or given data file is malformed; the message says what and where."""


@dataclass(frozen=True)
class ToyData:
    """In-distribution train/test split (float32 points, int64 labels) and what defines its OOD:
    ``centres`` (K×2) for Gaussians (OOD = farther than ``margin`` from every centre), else None
    (OOD = farther than ``margin`` from every point). ``scale``: the factor own data were scaled by."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sigma: float
    n_classes: int = N_CLASSES
    centres: np.ndarray | None = None
    margin: float = 3.0
    scale: float = 1.0

    @property
    def points(self) -> np.ndarray:
        """Every in-distribution point, train and test."""
        return np.concatenate([self.x_train, self.x_test])


def stream(seed: int, purpose: int) -> np.random.Generator:
    """A numpy generator for one purpose of one seed (data, OOD pool, far test set, ...)."""
    return np.random.default_rng([int(seed), int(purpose)])


def gaussian_means(n_classes: int) -> np.ndarray:
    """(−10, 0), (10, 0) for two classes; K points on the circle of radius 10 from (−10, 0) on."""
    if n_classes == 2:
        return MEANS.copy()
    angle = np.pi + 2 * np.pi * np.arange(n_classes) / n_classes
    return 10.0 * np.stack([np.cos(angle), np.sin(angle)], 1)


def make_toy_data(sigma: float = 1.0, n_per_class: int = 1000, seed: int = 0, dataset: str = "gaussians",
                  n_classes: int = 2) -> ToyData:
    """Draw ``n_per_class`` points per class and split them 50/50 per class (stratified)."""
    _check_data_arguments(sigma, n_per_class, dataset, n_classes)
    rng = stream(seed, _STREAM_DATA)
    if dataset == "gaussians":
        centres = gaussian_means(n_classes)
        x = np.concatenate([mean + sigma * rng.standard_normal((n_per_class, 2)) for mean in centres])
    else:
        centres = None
        x = SHAPES[dataset](n_per_class, n_classes, sigma, rng)
    y = np.repeat(np.arange(n_classes), n_per_class)
    return split(x, y, rng, sigma, centres)


def _check_data_arguments(sigma, n_per_class, dataset, n_classes) -> None:
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2, got {n_per_class}")
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    if not 2 <= n_classes <= MAX_CLASSES or FIXED_CLASSES.get(dataset, n_classes) != n_classes:
        allowed = FIXED_CLASSES.get(dataset)
        raise ValueError(f"{dataset} has {allowed} classes" if allowed else
                         f"the number of classes must be between 2 and {MAX_CLASSES}, got {n_classes}")


def split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, sigma: float,
          centres: np.ndarray | None = None, scale: float = 1.0) -> ToyData:
    """Half of each class (rows in their given order) to train, shuffled; the rest to test."""
    train = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        rows = np.flatnonzero(y == k)
        train[rows[:len(rows) // 2]] = True
    order = rng.permutation(int(train.sum()))
    return ToyData(x[train].astype(np.float32)[order], y[train].astype(np.int64)[order],
                   x[~train].astype(np.float32), y[~train].astype(np.int64), float(sigma),
                   int(y.max()) + 1, centres, OOD_RADIUS_SIGMAS * sigma, float(scale))


def _moons(n: int, k: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0, np.pi, (2, n))
    upper = np.stack([10 * np.cos(t[0]) - 5, 10 * np.sin(t[0]) - 2.5], 1)
    lower = np.stack([5 - 10 * np.cos(t[1]), 2.5 - 10 * np.sin(t[1])], 1)
    return np.concatenate([upper, lower]) + sigma * rng.standard_normal((2 * n, 2))


def _rings(n: int, k: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, k * n)
    radius = np.repeat(5.0 * (1 + np.arange(k)) * 3 / k, n)
    return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1) + sigma * rng.standard_normal((k * n, 2))


def _spiral(n: int, k: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    t = np.sqrt(rng.uniform(0.02, 1, k * n))  # denser towards the outside, where the arm is longer
    turn = np.repeat(2 * np.pi * np.arange(k) / k, n) + 3 * np.pi * t
    return DATA_RADIUS * t[:, None] * np.stack([np.cos(turn), np.sin(turn)], 1) + sigma * rng.standard_normal((k * n, 2))


def _xor(n: int, k: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    corners = np.array([[8, 8], [-8, -8], [-8, 8], [8, -8]], dtype=float)  # class 0: 1st and 3rd quadrant
    pick = np.concatenate([np.arange(n) % 2, 2 + np.arange(n) % 2])
    return corners[pick] + sigma * rng.standard_normal((2 * n, 2))


SHAPES = {"moons": _moons, "rings": _rings, "spiral": _spiral, "xor": _xor}


def distance_to_data(x: np.ndarray, data: ToyData | None = None) -> np.ndarray:
    """Distance from each point to the nearest centre (Gaussians; the paper's two means when ``data``
    is None) or to the nearest in-distribution point."""
    centres = MEANS if data is None else data.centres
    if centres is not None:
        return np.min(np.linalg.norm(x[:, None, :] - centres[None], axis=-1), axis=1)
    return cKDTree(data.points).query(x)[0]


def distance_to_nearest_mean(x: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to the closer of the paper's two means."""
    return distance_to_data(x)


def is_ood(x: np.ndarray, sigma: float, data: ToyData | None = None) -> np.ndarray:
    """True where a point lies farther than the margin (3σ) from the data (see the module docstring)."""
    return distance_to_data(x, data) > OOD_RADIUS_SIGMAS * sigma


def boundary_ring(n: int, sigma: float, rng: np.random.Generator, width: float = 1.0,
                  centres: np.ndarray = MEANS) -> np.ndarray:
    """Area-uniform samples in the annuli 3σ ≤ r ≤ 3σ + width around each centre, in turn."""
    inner = OOD_RADIUS_SIGMAS * sigma
    radius = np.sqrt(rng.uniform(inner**2, (inner + width)**2, n))
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    centre = centres[np.arange(n) % len(centres)]
    return (centre + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)).astype(np.float32)


def boundary_band(n: int, data: ToyData, rng: np.random.Generator, width: float = 1.0) -> np.ndarray:
    """Samples in the band margin < distance to the data ≤ margin + width (rejection sampling
    around random data points; uniform in the band up to the overlap of the discs)."""
    points, tree, out = data.points, cKDTree(data.points), np.empty((0, 2))
    for _ in range(200):
        m = 4 * (n - len(out)) + 64
        radius = np.sqrt(rng.uniform(data.margin**2, (data.margin + width)**2, m))
        angle = rng.uniform(0, 2 * np.pi, m)
        candidates = points[rng.integers(len(points), size=m)] + radius[:, None] * np.stack(
            [np.cos(angle), np.sin(angle)], 1)
        distance = tree.query(candidates)[0]
        out = np.concatenate([out, candidates[(distance > data.margin) & (distance <= data.margin + width)]])
        if len(out) >= n:
            return out[:n].astype(np.float32)
    raise ValueError("the data leave no room for boundary samples: lower sigma or use the general source")


def uniform_outside_discs(n: int, sigma: float, rng: np.random.Generator, box: float = 50.0,
                          data: ToyData | None = None) -> np.ndarray:
    """Uniform samples in [−box, box]² farther than the margin from the data (rejection sampling)."""
    out = np.empty((0, 2))
    for _ in range(1000):
        candidates = rng.uniform(-box, box, (2 * (n - len(out)) + 16, 2))
        out = np.concatenate([out, candidates[is_ood(candidates, sigma, data)]])
        if len(out) >= n:
            return out[:n].astype(np.float32)
    raise ValueError(f"the data cover the box [-{box:g}, {box:g}]²: no room for OOD samples")


def sample_ood(kind: str, n: int, sigma: float, seed: int, width: float = 1.0, box: float = 50.0,
               data: ToyData | None = None) -> np.ndarray:
    """The training OOD pool of one source (see ``OOD_SOURCES``); ``data`` None is the paper's problem."""
    rng = stream(seed, _STREAM_OOD_TRAIN)
    if kind == "boundary":
        if data is None or data.centres is not None:
            return boundary_ring(n, sigma, rng, width, MEANS if data is None else data.centres)
        return boundary_band(n, data, rng, width)
    if kind == "general":
        return uniform_outside_discs(n, sigma, rng, box, data)
    raise ValueError(f"unknown OOD source {kind!r}; choose one of {', '.join(OOD_SOURCES)}")


def far_test_ood(n: int, sigma: float, seed: int, box: float = 50.0, data: ToyData | None = None) -> np.ndarray:
    """The far test-OOD set: drawn like ``general`` but from an independent stream."""
    return uniform_outside_discs(n, sigma, stream(seed, _STREAM_FAR_TEST), box, data)


def points_from_csv(content: bytes | str) -> tuple[np.ndarray, np.ndarray, float]:
    """Points and labels of a CSV with columns x, y, label (a header row is optional), scaled so that
    the largest |coordinate| is ``DATA_RADIUS``: returns (points, labels, scale). Every problem
    raises ``DataFileError`` naming the row."""
    if isinstance(content, bytes):
        if len(content) > MAX_CSV_BYTES:
            raise DataFileError(f"the file is larger than {MAX_CSV_BYTES // 2**20} MiB")
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataFileError("the file is not UTF-8 text (expected a CSV with columns x, y, label)") from None
    reader = csv.reader(io.StringIO(content))
    rows = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]  # (file line, row)
    if rows and [c.strip().lower() for c in rows[0][1]] == ["x", "y", "label"]:
        rows = rows[1:]
    if len(rows) > MAX_CSV_ROWS:
        raise DataFileError(f"the file has {len(rows):,} rows; at most {MAX_CSV_ROWS:,} are allowed")
    x, y = _parse_rows(rows)
    return _checked_points(x, y, [line for line, _ in rows])


def _parse_rows(rows: list[tuple[int, list[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates and labels of (file line, row) pairs; problems name the file's line."""
    values, labels = np.empty((len(rows), 2)), np.empty(len(rows))
    for i, (line, row) in enumerate(rows):
        if len(row) != 3:
            raise DataFileError(f"line {line} has {len(row)} columns; expected 3: x, y, label")
        try:
            values[i] = [float(row[0]), float(row[1])]
            labels[i] = float(row[2])
        except ValueError:
            excerpt = " ".join(", ".join(row).split())[:60]  # one line, whatever the quoted fields hold
            raise DataFileError(f"line {line} is not numeric: {excerpt}") from None
    return values, labels


def _checked_points(x: np.ndarray, y: np.ndarray, lines: list[int]) -> tuple[np.ndarray, np.ndarray, float]:
    if len(x) == 0:
        raise DataFileError("the file holds no rows of x, y, label")
    bad = np.flatnonzero(~np.isfinite(x).all(1) | ~np.isfinite(y))
    if len(bad):
        raise DataFileError(f"line {lines[bad[0]]} holds NaN or an infinite value")
    bad = np.flatnonzero((y != np.round(y)) | (y < 0))
    if len(bad):
        raise DataFileError(f"line {lines[bad[0]]}: label {y[bad[0]]:g}; labels must be whole numbers 0, 1, …, K−1")
    classes = np.unique(y).astype(int)
    if len(classes) < 2:
        raise DataFileError("the file holds one class only; at least two are needed")
    if len(classes) > MAX_CLASSES or classes.tolist() != list(range(len(classes))):
        raise DataFileError(f"labels must be 0..K−1 with 2 ≤ K ≤ {MAX_CLASSES}, got {classes.tolist()[:12]}")
    if np.bincount(y.astype(int)).min() < 2:
        raise DataFileError("every class needs at least two points (one to train, one to test)")
    extent = np.abs(x).max()
    scale = DATA_RADIUS / extent if extent > 0 else 1.0
    return x * scale, y.astype(np.int64), float(scale)


def data_from_points(x: np.ndarray, y: np.ndarray, seed: int, sigma: float, scale: float = 1.0) -> ToyData:
    """A train/test split of given points (each class shuffled under ``seed``, then halved)."""
    rng = stream(seed, _STREAM_DATA)
    order = rng.permutation(len(y))
    return split(x[order], y[order], rng, sigma, None, scale)
