"""Joint GAN + classifier training on the toy (Lee et al. 2018, eq. 2) and how well the generated
"boundary" samples cover the in-distribution boundary (Vernekar et al. 2019, Sec. 5.2).

One iteration, as in Lee et al.'s code (``run_joint_confidence.py``), on 100 real + 100 generated rows:

1. D step: BCE(D(x), real) + BCE(D(G(z)), fake)                       — eq. (2) term (c);
2. G step: BCE(D(G(z)), real) + β·KL(target ‖ p_θ(y | G(z))), same G(z) — eq. (2) terms (b) + (c);
3. classifier step: CE on the real rows + β·KL(target ‖ p_θ(y | G(z))) on a fresh generated
   batch                                                              — eq. (2) terms (a) + (b).

The KL target is the classifier's own OOD target: the uniform distribution for the confidence
classifier (Lee's KL(U ‖ p)), the reject class for the reject classifier (KL(e_K ‖ p) = CE to class
K). Either way G seeks where the classifier already says "OOD" and D holds it near the data, which
is the boundary analogue. Term (b) carries the same β in steps 2 and 3, as in eq. (2) and the
authors' code. Eq. (2)'s entropy term −H(P_G), "added to discourage the generator from collapsing",
is left out of the joint runs, as in the authors' code, and kept (weight 1, ``batch_entropy``: a
nearest-neighbour estimate on each standardised batch) in the pretrained runs, Lee's own toy.
``generator='plain'`` drops term (b) from the G step only: an ordinary GAN whose samples the
classifier still learns to call OOD (Lee et al.'s "confidence loss with original GAN" variant), the
baseline that shows what the KL term adds.

Why β must stay below 1/K for the reject classifier. Where G's samples land on class k's data, the
classifier's loss is minimised by p_reject = β·g / (β·g + p_k / K) (g, p_k: the densities of G and
of class k, each batch half real, half generated). A GAN that collapses onto one class (g = p_k,
common on the toy) then gives p_reject = βK / (βK + 1): for β ≥ 1/K the class is rejected — the
data, not the boundary, becomes OOD, and D keeps G there because it is real data. With β = 1 every
seed 0-4 lost one class (test accuracy 0.50-0.73). The reject classifier's default β is therefore
0.1 (Lee et al.'s CIFAR-10 value; p_reject ≤ 1/6 on the data at K = 2). ``class_recall`` and
``COLLAPSE_RECALL`` flag a run that lost a class anyway.

Networks (Vernekar's 2-D GAN, their Fig. 5): G = Dense 256 ×3 (LeakyReLU 0.2) → 2 linear on
z ~ N(0, I₁₀₀); D the same → 1 logit (sigmoid in the BCE); Adam(2e-4, β = (0.5, 0.999)) for G, D
and the classifier. G and D work on standardised data: per axis, D's input is (x − mean) / std and
G's output is mean + std · G(z), with the training data's mean and std (about (0, 0) and (10, 1)
for σ = 1). A single factor of 10 left the y-spread at 0.1 in D's units and G collapsed to a thin
line; per-axis standardisation lets it spread in both directions. The classifier sees the toy's own
coordinates.

``start='joint'`` trains all three from scratch (Vernekar's experiment, the default);
``start='pretrained'`` is Lee et al.'s toy setting as Vernekar describes it: the classifier is first
trained with boundary samples (``train_toy`` with ood='boundary') and then held fixed while the GAN
trains against it. Without −H(P_G), G stayed a thin segment along the x-axis there: coverage after
800 iterations 0.07-0.40 over seeds 0-4 (mean 0.18), jumping between snapshots. With it, G spreads
round the data and the coverage climbs steadily: 0.29-0.44 (mean 0.36; 0.47-0.49 at 2400 iterations,
seeds 0-1). What the KL term adds, against a plain GAN on the same classifier: without −H it doubles
the coverage (mean 0.09 → 0.18) and halves the distance to the circles (4.1 → 2.6); with −H it adds
little (0.33 → 0.36). Numbers: ``benchmarks/bench_gan.py --table``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data as toydata
from .device import DEVICES, resolve_device
from .errors import ConfigChecker, ConfigError, TrainingDiverged
from .methods import Method, RejectClass
from .models import MLP
from .predict import grid_points, probabilities
from .progress import Progress, phase
from .toy import ToyConfig, ToyRun, build_model, toy_data, train_toy
from .train import EpochCallback, PoolSampler, make_optimizer

CLASSIFIERS = ("confidence", "reject")
STARTS = ("joint", "pretrained")
GENERATORS = ("lee", "plain")  # G's loss: eq. (2) terms (b) + (c), or (c) alone (an ordinary GAN)
DEFAULT_BETA = {"confidence": 1.0, "reject": 0.1}  # reject: below 1/K, see the module docstring
DEFAULT_ENTROPY = {"joint": 0.0, "pretrained": 1.0}  # joint: the authors' code; pretrained: eq. (2) as printed
COLLAPSE_RECALL = 0.5  # a classifier with a class's test recall below this has lost that class
ADAM_BETAS = (0.5, 0.999)
LEAKY_SLOPE = 0.2
RING_SECTORS = 36
PRETRAIN_SHARE = 0.2  # of the progress bar, for start='pretrained'
GAN_SHARE = 0.8  # of the progress bar of a toy run with the 'gan' source


@dataclass(frozen=True)
class GanConfig:
    """Everything that determines a GAN run (hashable: the app's cache key).

    ``beta`` weighs eq. (2)'s term (b) in the G step and the classifier step alike; left out, it is
    ``DEFAULT_BETA`` of the classifier. ``generator='plain'`` trains G without term (b). Snapshots
    are taken at iteration 0, every ``snapshot_every`` iterations and at the end. Invalid values
    raise ``toyood.errors.ConfigError`` naming every problem.
    """

    classifier: str = "confidence"  # the jointly trained classifier: confidence or reject
    start: str = "joint"  # joint (all from scratch) or pretrained (classifier boundary-trained, then fixed)
    iterations: int = 800  # G/D/classifier iterations
    beta: float | None = None  # β of term (b) in the G and classifier steps; None: DEFAULT_BETA[classifier]
    generator: str = "lee"  # lee: G loss (b) + (c), Lee's GAN; plain: (c) only, an ordinary GAN
    entropy: float | None = None  # weight of eq. (2)'s −H(P_G) in G's loss; None: DEFAULT_ENTROPY[start]
    seed: int = 0  # seeds data, networks, latents and batch order
    snapshot_every: int = 20  # iterations between snapshots
    snapshot_samples: int = 200  # generated points per snapshot (fixed latents)
    grid_resolution: int = 40  # side of the confidence grid of each snapshot
    sigma: float = 1.0  # std of each Gaussian class
    classes: int = 2  # K Gaussian classes (means on the circle of radius 10 for K > 2)
    n_per_class: int = 1000  # points per class, split 50/50 into train and test
    hidden: tuple[int, ...] = (500, 500)  # the classifier's hidden widths
    gan_hidden: tuple[int, ...] = (256, 256, 256)  # hidden widths of G and D
    latent_dim: int = 100  # dimension of z ~ N(0, I)
    batch_size: int = 100  # real and generated rows per iteration
    lr: float = 2e-4  # Adam learning rate of G, D and the classifier
    device: str = "auto"  # auto, cpu, cuda or mps
    n_far: int = 10000  # far test-OOD points for the classifier's metrics

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "gan_hidden", tuple(int(h) for h in self.gan_hidden))
        if self.beta is None:
            object.__setattr__(self, "beta", DEFAULT_BETA.get(self.classifier, 1.0))
        if self.entropy is None:
            object.__setattr__(self, "entropy", DEFAULT_ENTROPY.get(self.start, 0.0))
        check = ConfigChecker()
        check(self.classifier in CLASSIFIERS,
              f"classifier must be one of {', '.join(CLASSIFIERS)} (got {self.classifier!r})")
        check(self.start in STARTS, f"start must be one of {', '.join(STARTS)} (got {self.start!r})")
        check(0 <= self.entropy <= 100, f"entropy must be in [0, 100] (got {self.entropy})")
        check(self.generator in GENERATORS,
              f"generator must be one of {', '.join(GENERATORS)} (got {self.generator!r})")
        check(1 <= self.iterations <= 100_000, f"iterations must be between 1 and 100000 (got {self.iterations})")
        check(0 < self.beta <= 100, f"beta must be in (0, 100] (got {self.beta})")
        check(1 <= self.snapshot_every, f"snapshot_every must be at least 1 (got {self.snapshot_every})")
        check(self.iterations // max(self.snapshot_every, 1) <= 500,
              f"at most 500 snapshots: raise snapshot_every (now {self.snapshot_every}) "
              f"or lower iterations (now {self.iterations})")
        check(1 <= self.snapshot_samples <= 5000,
              f"snapshot_samples must be in [1, 5000] (got {self.snapshot_samples})")
        check(2 <= self.grid_resolution <= 200,
              f"grid_resolution must be in [2, 200] (got {self.grid_resolution})")
        check(1 <= len(self.gan_hidden) <= 6 and all(1 <= h <= 4096 for h in self.gan_hidden),
              f"gan_hidden must be 1 to 6 layer widths between 1 and 4096 (got {self.gan_hidden})")
        check(1 <= self.latent_dim <= 1024, f"latent_dim must be in [1, 1024] (got {self.latent_dim})")
        check(1 <= self.batch_size <= 4096, f"batch size must be between 1 and 4096 (got {self.batch_size})")
        check(0 < self.lr <= 1, f"learning rate must be in (0, 1] (got {self.lr})")
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)} (got {self.device!r})")
        check.raise_if_any()
        self.toy_config()  # validates sigma, hidden, seed, n_per_class and n_far

    def toy_config(self) -> ToyConfig:
        """The classifier's toy configuration: its method, data and seed, with the GAN as OOD source."""
        return ToyConfig(method=self.classifier, ood="gan", sigma=self.sigma, classes=self.classes,
                         hidden=self.hidden, seed=self.seed,
                         device=self.device, n_per_class=self.n_per_class, ood_weight=self.beta, n_far=self.n_far)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Standardised(nn.Module):
    """Per-axis mean and std of the training data (buffers): ``to_unit`` and ``from_unit`` map between
    toy coordinates and the standardised ones G and D work in."""

    def __init__(self, x: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", x.mean(0))
        self.register_buffer("std", x.std(0))

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        return self.mean + self.std * u


class GeneratorNet(nn.Module):
    """z → Dense ×L (LeakyReLU 0.2) → 2 linear, mapped back to toy coordinates."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], x_train: torch.Tensor):
        super().__init__()
        self.net = MLP(hidden, 2, "linear", LEAKY_SLOPE, in_features=latent_dim)
        self.standardised = Standardised(x_train)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.standardised.from_unit(self.net(z))


class DiscriminatorNet(nn.Module):
    """Standardised x → Dense ×L (LeakyReLU 0.2) → the logit of "x is real"."""

    def __init__(self, hidden: tuple[int, ...], x_train: torch.Tensor):
        super().__init__()
        self.net = MLP(hidden, 1, "linear", LEAKY_SLOPE, in_features=2)
        self.standardised = Standardised(x_train)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.standardised.to_unit(x)).squeeze(-1)


# ---------------------------------------------------------------------------------------------
# Coverage of the 3σ boundary circles

def ring_coverage(points: np.ndarray, sigma: float, sectors: int = RING_SECTORS,
                  band: float | None = None, means: np.ndarray = toydata.MEANS) -> np.ndarray:
    """Per mean, the share of the 3σ circle's ``sectors`` equal angular sectors that hold at least
    one point within ``band`` (default 1σ) of the circle. Returns shape (number of means,)."""
    band = sigma if band is None else band
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    shares = []
    for mean in means:
        offset = points - mean
        near = np.abs(np.linalg.norm(offset, axis=1) - toydata.OOD_RADIUS_SIGMAS * sigma) <= band
        angle = np.arctan2(offset[near, 1], offset[near, 0]) % (2 * np.pi)
        sector = np.minimum((angle / (2 * np.pi) * sectors).astype(int), sectors - 1)
        shares.append(len(np.unique(sector)) / sectors)
    return np.array(shares)


def coverage(points: np.ndarray, sigma: float, sectors: int = RING_SECTORS, band: float | None = None,
             means: np.ndarray = toydata.MEANS) -> float:
    """Mean over the 3σ circles of ``ring_coverage``: 1 = every sector of every circle is hit."""
    return float(ring_coverage(points, sigma, sectors, band, means).mean())


def ring_distance(points: np.ndarray, sigma: float, means: np.ndarray = toydata.MEANS) -> float:
    """Mean over points of the distance to the nearer 3σ circle (toy units; NaN without points)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not len(points):
        return math.nan
    radii = np.linalg.norm(points[:, None, :] - means[None], axis=-1)
    return float(np.abs(radii - toydata.OOD_RADIUS_SIGMAS * sigma).min(1).mean())


def disc_share(points: np.ndarray, sigma: float, means: np.ndarray = toydata.MEANS) -> float:
    """Share of points inside some 3σ disc, i.e. on the data rather than on or beyond its boundary
    (NaN without points)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not len(points):
        return math.nan
    radii = np.linalg.norm(points[:, None, :] - means[None], axis=-1)
    return float((radii.min(1) < toydata.OOD_RADIUS_SIGMAS * sigma).mean())


def view_extent(sigma: float) -> tuple[float, float, float, float]:
    """The fixed plot and grid box: the data and its 3σ circles plus a margin of 10."""
    margin = toydata.OOD_RADIUS_SIGMAS * sigma + 10.0
    return (-10.0 - margin, 10.0 + margin, -margin, margin)


# ---------------------------------------------------------------------------------------------
# Training

@dataclass(frozen=True)
class GanSnapshot:
    """The state after ``iteration`` iterations: G on the fixed snapshot latents, the classifier's
    confidence (largest real-class probability) on the grid (ny, nx), the coverage figures and the
    classifier's test recall per class (``class_recall``)."""

    iteration: int
    samples: np.ndarray
    confidence: np.ndarray
    coverage: float
    ring_distance: float
    recall: tuple[float, ...] = ()


@dataclass
class GanRun:
    """A trained GAN run: G and D, the classifier as a ``ToyRun`` (config ood='gan', its OOD samples
    the last snapshot's), the snapshots and the grid they were evaluated on."""

    config: GanConfig
    generator_net: GeneratorNet
    discriminator_net: DiscriminatorNet
    classifier: ToyRun
    snapshots: list[GanSnapshot]
    grid_xs: np.ndarray
    grid_ys: np.ndarray
    train_seconds: float


def generator_ood_term(method: Method, logits: torch.Tensor, beta: float) -> torch.Tensor:
    """β·KL(target ‖ p_θ(y|G(z))), Lee et al. eq. (2) term (b) of the G and the classifier step, with
    the classifier's own OOD target: uniform for ``ConfidenceLoss`` (its ``ood_loss`` carries β, the
    config's) or the reject class for ``RejectClass``."""
    if isinstance(method, RejectClass):
        return beta * method.ood_loss(logits)
    return method.ood_loss(logits)


def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One step on ``loss`` for the optimizer's own parameters only: gradients flow through the
    other networks to their inputs but never land on their weights."""
    params = optimizer.param_groups[0]["params"]
    for param, grad in zip(params, torch.autograd.grad(loss, params)):
        param.grad = grad
    optimizer.step()


def discriminator_step(discriminator: DiscriminatorNet, optimizer: torch.optim.Optimizer, real: torch.Tensor,
                       fake: torch.Tensor) -> torch.Tensor:
    """D step, eq. (2) term (c): BCE(D(x), real) + BCE(D(G(z)), fake), G(z) detached."""
    is_real = torch.cat([torch.ones(len(real), device=real.device), torch.zeros(len(fake), device=real.device)])
    loss = F.binary_cross_entropy_with_logits(discriminator(torch.cat([real, fake.detach()])), is_real)
    update(optimizer, loss)
    return loss.detach()


def batch_entropy(u: torch.Tensor) -> torch.Tensor:
    """Kozachenko–Leonenko estimate of the entropy of the distribution behind the rows of ``u``, up
    to a constant: (d/n)·Σᵢ log ρᵢ, ρᵢ the distance from row i to its nearest other row."""
    distances = torch.cdist(u, u) + torch.diag(torch.full((len(u),), math.inf, device=u.device))
    return u.shape[1] * torch.log(distances.min(1).values + 1e-6).mean()


def generator_step(optimizer: torch.optim.Optimizer, discriminator: DiscriminatorNet, classifier: nn.Module,
                   method: Method, fake: torch.Tensor, beta: float, kl_term: bool = True,
                   entropy: float = 0.0) -> torch.Tensor:
    """G step, eq. (2) terms (b) + (c): BCE(D(G(z)), real) + β·KL(target ‖ p_θ(y|G(z))); without
    ``kl_term``, (c) alone: an ordinary GAN's G step. ``entropy`` > 0 adds eq. (2)'s −H(P_G), estimated
    by ``batch_entropy`` on the standardised batch."""
    is_real = torch.ones(len(fake), device=fake.device)
    loss = F.binary_cross_entropy_with_logits(discriminator(fake), is_real)
    if kl_term:
        loss = loss + generator_ood_term(method, classifier(fake), beta)
    if entropy:
        loss = loss - entropy * batch_entropy(discriminator.standardised.to_unit(fake))
    update(optimizer, loss)
    return loss.detach()


def classifier_step(classifier: nn.Module, optimizer: torch.optim.Optimizer, method: Method, x: torch.Tensor,
                    y: torch.Tensor, fake: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Classifier step, eq. (2) terms (a) + (b): CE on the real rows + ``generator_ood_term`` on the
    generated rows (``ConfidenceLoss``: β·KL(U ‖ p); ``RejectClass``: β·CE to the reject class)."""
    logits = classifier(torch.cat([x, fake.detach()]))
    loss = F.cross_entropy(logits[:len(x)], y) + generator_ood_term(method, logits[len(x):], beta)
    update(optimizer, loss)
    return loss.detach()


def build_gan(config: GanConfig, x_train: torch.Tensor) -> tuple[GeneratorNet, DiscriminatorNet]:
    """Untrained G and D for the training points ``x_train``: PyTorch default initialisation under
    ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return (GeneratorNet(config.latent_dim, config.gan_hidden, x_train),
                DiscriminatorNet(config.gan_hidden, x_train))


def _classifier(config: GanConfig, data: toydata.ToyData, progress: Progress | None) -> tuple[nn.Module, bool]:
    """The classifier and whether it keeps training: untrained (joint) or boundary-trained and fixed."""
    toy = config.toy_config()
    if config.start == "joint":
        return build_model(toy, data), True
    pretrain_progress = phase(progress, 0.0, PRETRAIN_SHARE, "pre-training the classifier: ")
    return train_toy(dataclasses.replace(toy, ood="boundary"), pretrain_progress).model, False


def class_recall(model: nn.Module, data: toydata.ToyData) -> tuple[float, ...]:
    """Per class k, the share of class k's test points whose arg-max output is k (a reject-class
    prediction counts as wrong, as in ``toy_metrics``' test accuracy); keeps ``model``'s mode."""
    was_training = model.training
    predicted = probabilities(model, data.x_test).argmax(-1)
    model.train(was_training)
    hits = [predicted[data.y_test == k] == k for k in range(data.n_classes)]
    return tuple(float(h.mean()) if len(h) else math.nan for h in hits)


def is_collapsed(recall) -> bool:
    """True when some class's test recall is below ``COLLAPSE_RECALL``: the classifier lost it."""
    return any(r < COLLAPSE_RECALL for r in recall)


def train_gan(config: GanConfig, progress: Progress | None = None) -> GanRun:
    """Train G, D and the classifier alternately per batch (see the module docstring); deterministic
    for a config on one device. ``progress(fraction, text)`` is called at every snapshot."""
    start_time = time.perf_counter()
    device = resolve_device(config.device)
    data = toy_data(config.toy_config())
    classifier, train_classifier = _classifier(config, data, progress)
    classifier = classifier.to(device).train()
    method = config.toy_config().method_object()
    x_train, y_train = torch.from_numpy(data.x_train).to(device), torch.from_numpy(data.y_train).to(device)
    g_net, d_net = (net.to(device).train() for net in build_gan(config, x_train))
    opt_g, opt_d, opt_c = (make_optimizer(net.parameters(), lr=config.lr, betas=ADAM_BETAS)
                           for net in (g_net, d_net, classifier))
    rng = torch.Generator(device=device)
    rng.manual_seed(config.seed)
    real_rows = PoolSampler(torch.arange(len(x_train), device=device))
    n, latent = config.batch_size, config.latent_dim
    snapshot_latents = torch.randn(config.snapshot_samples, latent, generator=rng, device=device)
    xs, ys, grid = grid_points(view_extent(config.sigma), config.grid_resolution)
    offset = PRETRAIN_SHARE if config.start == "pretrained" else 0.0

    def snapshot(iteration: int) -> GanSnapshot:
        with torch.no_grad():
            samples = g_net(snapshot_latents).cpu().numpy()
        confidence = method.confidence(torch.from_numpy(probabilities(classifier, grid.astype(np.float32))))
        classifier.train()
        return GanSnapshot(iteration, samples, confidence.numpy().reshape(len(ys), len(xs)).astype(np.float32),
                           coverage(samples, config.sigma, means=data.centres),
                           ring_distance(samples, config.sigma, data.centres), class_recall(classifier, data))

    snapshots = [snapshot(0)]
    for iteration in range(1, config.iterations + 1):
        rows = real_rows(n, rng)
        x, y = x_train[rows], y_train[rows]
        fake = g_net(torch.randn(n, latent, generator=rng, device=device))
        d_loss = discriminator_step(d_net, opt_d, x, fake)
        g_loss = generator_step(opt_g, d_net, classifier, method, fake, config.beta, config.generator == "lee",
                                config.entropy)
        if train_classifier:
            with torch.no_grad():
                fresh = g_net(torch.randn(n, latent, generator=rng, device=device))
            classifier_step(classifier, opt_c, method, x, y, fresh, config.beta)
        if iteration % config.snapshot_every == 0 or iteration == config.iterations:
            _check_finite(iteration, d_loss, g_loss, config)
            snapshots.append(snapshot(iteration))
            if progress is not None:
                progress(offset + (1 - offset) * iteration / config.iterations,
                         f"iteration {iteration}/{config.iterations} · coverage {snapshots[-1].coverage:.0%}")
    classifier.eval()
    seconds = time.perf_counter() - start_time
    toy_run = ToyRun(config.toy_config(), classifier.cpu(), data, snapshots[-1].samples, seconds)
    return GanRun(config, g_net.cpu().eval(), d_net.cpu().eval(), toy_run, snapshots, xs, ys, seconds)


def _check_finite(iteration: int, d_loss: torch.Tensor, g_loss: torch.Tensor, config: GanConfig) -> None:
    losses = torch.stack([d_loss, g_loss]).tolist()
    if not all(map(math.isfinite, losses)):
        raise TrainingDiverged(f"GAN training diverged at iteration {iteration} (D, G losses {losses}); "
                               f"lower the learning rate (now {config.lr:g}) or β (now {config.beta:g})")


def generated_samples(run: GanRun, n: int, seed: int) -> np.ndarray:
    """``n`` samples of the trained G from latents drawn under ``seed`` (float32, toy units)."""
    rng = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        return run.generator_net(torch.randn(n, run.config.latent_dim, generator=rng)).numpy().astype(np.float32)


def gan_ood_samples(config: ToyConfig, progress: Progress | None = None) -> np.ndarray:
    """The 'gan' OOD source of a toy config: ``config.n_ood`` samples of a GAN trained with the
    defaults above, jointly with a confidence classifier (a reject one for method 'reject'), on the
    config's data and seed. Hand them to ``toyood.toy.train_toy(config, ood_samples=...)``."""
    classifier = "reject" if config.method == "reject" else "confidence"
    if config.dataset != "gaussians":
        raise ConfigError("the GAN source is defined for Gaussian classes (its coverage is measured on their "
                          "3σ circles): use the boundary or general source for other data")
    gan = GanConfig(classifier=classifier, seed=config.seed, sigma=config.sigma, classes=config.classes,
                    n_per_class=config.n_per_class, hidden=config.hidden, device=config.device)
    return generated_samples(train_gan(gan, progress), config.n_ood, config.seed)


def train_toy_with_source(config: ToyConfig, progress: Progress | None = None,
                          on_epoch: EpochCallback | None = None) -> ToyRun:
    """``train_toy`` for any OOD source: for 'gan', first the GAN (its own progress phase), then the
    classifier on its samples; for the others, ``train_toy`` itself. ``on_epoch`` (``train_toy``'s)
    sees the classifier's epochs only, not the GAN's iterations."""
    if config.ood != "gan":
        return train_toy(config, progress, on_epoch=on_epoch)
    samples = gan_ood_samples(config, phase(progress, 0.0, GAN_SHARE, "phase 1 of 2, GAN: "))
    return train_toy(config, phase(progress, GAN_SHARE, 1.0, "phase 2 of 2, classifier: "), ood_samples=samples,
                     on_epoch=on_epoch)
