import dataclasses
import functools
import math

import numpy as np
import pytest
import torch

from toyood import data as toydata
from toyood import gan
from toyood.evaluate import gan_metrics
from toyood.gan import (ADAM_BETAS, GanConfig, build_gan, classifier_step, coverage, discriminator_step,
                        generator_step, ring_coverage, ring_distance, train_gan)
from toyood.methods import ConfidenceLoss, RejectClass
from toyood.models import MLP
from toyood.errors import ConfigError
from toyood.toy import ToyConfig, train_toy
from toyood.train import make_optimizer


pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = dict(iterations=20, snapshot_every=10, hidden=(16, 16), gan_hidden=(16, 16), latent_dim=8, batch_size=16,
             n_per_class=60, snapshot_samples=50, grid_resolution=8, n_far=200, device="cpu")


def ring(sigma, angles, mean_index=None, radius_offset=0.0):
    means = toydata.MEANS if mean_index is None else toydata.MEANS[[mean_index]]
    radius = toydata.OOD_RADIUS_SIGMAS * sigma + radius_offset
    unit = np.stack([np.cos(angles), np.sin(angles)], 1)
    return np.concatenate([mean + radius * unit for mean in means])


# --- coverage -------------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_a_full_ring_covers_everything_and_lies_on_the_circles(sigma):
    points = ring(sigma, np.linspace(0, 2 * np.pi, 360, endpoint=False))
    assert coverage(points, sigma) == 1.0
    assert ring_distance(points, sigma) == pytest.approx(0.0, abs=1e-9)


def test_one_sector_covers_one_36th():
    points = ring(1.0, np.array([0.05, 0.1, 0.15]))  # all inside sector 0 of both circles
    assert coverage(points, 1.0) == pytest.approx(1 / 36)
    np.testing.assert_allclose(ring_coverage(ring(1.0, np.array([0.1]), mean_index=1), 1.0), [0, 1 / 36])


def test_points_far_from_the_circles_cover_nothing():
    far = np.array([[0.0, 40.0], [-45.0, -30.0], [10.0, 0.0]])  # far away, and a mean itself (3σ inside)
    assert coverage(far, 1.0) == 0.0
    outside_band = ring(1.0, np.linspace(0, 2 * np.pi, 72, endpoint=False), radius_offset=1.5)
    assert coverage(outside_band, 1.0) == 0.0
    assert coverage(outside_band, 1.0, band=2.0) == 1.0
    assert ring_distance(np.array([[0.0, 0.0]]), 1.0) == pytest.approx(10 - 3)
    assert coverage(np.zeros((0, 2)), 1.0) == 0.0


# --- configuration ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,message", [
    (dict(classifier="plain"), "classifier must be one of"),
    (dict(start="warm"), "start must be one of"),
    (dict(iterations=0), "iterations"),
    (dict(beta=0), "beta"),
    (dict(iterations=10_000, snapshot_every=1), "at most 500 snapshots"),
    (dict(sigma=-1), "sigma"),
    (dict(gan_hidden=(0,)), "gan_hidden"),
])
def test_bad_gan_configs_say_what_is_wrong(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GanConfig(**kwargs)


def test_gan_config_is_a_hashable_cache_key_and_describes_its_classifier():
    assert hash(GanConfig(hidden=[8, 8])) == hash(GanConfig(hidden=(8, 8)))
    toy = GanConfig(classifier="reject", beta=0.5).toy_config()
    assert (toy.method, toy.ood, toy.ood_weight) == ("reject", "gan", 0.5)


# --- the three steps --------------------------------------------------------------------------

def _state(*nets):
    return [[p.detach().clone() for p in net.parameters()] for net in nets]


def _changed(before, nets):
    return [any(not torch.equal(a, p) for a, p in zip(old, net.parameters())) for old, net in zip(before, nets)]


@pytest.mark.parametrize("method", [ConfidenceLoss(beta=1.0), RejectClass()])
def test_each_step_updates_only_its_own_network(method):
    config = GanConfig(**SMALL)
    x, y = torch.randn(8, 2) * 10, torch.randint(0, 2, (8,))
    g_net, d_net = build_gan(config, x)
    classifier = MLP((16, 16), 2, method.head)
    nets = (g_net, d_net, classifier)
    opt_g, opt_d, opt_c = (make_optimizer(net.parameters(), lr=1e-2, betas=ADAM_BETAS) for net in nets)

    fake = g_net(torch.randn(8, config.latent_dim))
    before = _state(*nets)
    discriminator_step(d_net, opt_d, x, fake)
    assert _changed(before, nets) == [False, True, False]

    before, d_grads = _state(*nets), [p.grad for p in d_net.parameters()]
    generator_step(opt_g, d_net, classifier, method, fake, 1.0)
    assert _changed(before, nets) == [True, False, False]
    assert all(p.grad is g for p, g in zip(d_net.parameters(), d_grads))  # no gradient landed on D or C
    assert all(p.grad is None for p in classifier.parameters())

    before = _state(*nets)
    classifier_step(classifier, opt_c, method, x, y, g_net(torch.randn(8, config.latent_dim)))
    assert _changed(before, nets) == [False, False, True]


def test_generator_and_discriminator_work_on_standardised_data():
    x = torch.tensor([[-10.0, 1.0], [10.0, -1.0], [-12.0, 0.0], [12.0, 0.0]])
    g_net, d_net = build_gan(GanConfig(**SMALL), x)
    unit = g_net.standardised.to_unit(x)
    torch.testing.assert_close(unit.mean(0), torch.zeros(2))
    torch.testing.assert_close(unit.std(0), torch.ones(2))
    torch.testing.assert_close(g_net.standardised.from_unit(unit), x)


def test_the_generator_term_is_the_classifiers_own_ood_target():
    logits = torch.tensor([[0.0, 0.0], [3.0, -1.0]])
    assert gan.generator_ood_term(ConfidenceLoss(beta=2.0), logits, 2.0) == pytest.approx(
        2.0 * ConfidenceLoss(beta=1.0).ood_loss(logits))
    reject_logits = torch.tensor([[0.0, 0.0, 5.0], [0.0, 0.0, -5.0]])
    assert gan.generator_ood_term(RejectClass(), reject_logits, 3.0) == pytest.approx(
        3.0 * RejectClass().ood_loss(reject_logits))


# --- whole runs -------------------------------------------------------------------------------

@pytest.mark.parametrize("classifier", ["confidence", "reject"])
def test_a_run_records_snapshots_and_metrics(classifier):
    progress = []
    run = train_gan(GanConfig(classifier=classifier, **SMALL), lambda f, text: progress.append(f))
    assert [s.iteration for s in run.snapshots] == [0, 10, 20]
    assert progress == [0.5, 1.0]
    snapshot = run.snapshots[-1]
    assert snapshot.samples.shape == (50, 2) and snapshot.confidence.shape == (8, 8)
    assert len(run.grid_xs) == len(run.grid_ys) == 8
    metrics = gan_metrics(run)
    assert 0 <= metrics["coverage"] <= 1 and len(metrics["coverage_curve"]) == 3
    assert {"far_ood_overconfident", "far_ood_rejected", "train_seconds", "ring_distance"} <= set(metrics)
    assert (metrics["method"], metrics["ood"]) == (classifier, "gan")


def test_same_seed_gives_the_same_samples():
    a, b = train_gan(GanConfig(seed=3, **SMALL)), train_gan(GanConfig(seed=3, **SMALL))
    for sa, sb in zip(a.snapshots, b.snapshots):
        np.testing.assert_array_equal(sa.samples, sb.samples)
        np.testing.assert_array_equal(sa.confidence, sb.confidence)
    c = train_gan(GanConfig(seed=4, **SMALL))
    assert not np.array_equal(a.snapshots[-1].samples, c.snapshots[-1].samples)


def test_pretrained_start_keeps_the_boundary_trained_classifier_fixed():
    config = GanConfig(start="pretrained", **SMALL)
    run = train_gan(config)
    reference = train_toy(dataclasses.replace(config.toy_config(), ood="boundary")).model
    for a, b in zip(run.classifier.model.parameters(), reference.parameters()):
        assert torch.equal(a, b)


def test_generated_samples_are_an_ood_source_for_the_other_methods(monkeypatch):
    small_gan = {k: v for k, v in SMALL.items() if k not in ("hidden", "n_per_class", "n_far", "device")}
    monkeypatch.setattr(gan, "GanConfig", functools.partial(GanConfig, **small_gan))
    config = ToyConfig(method="confidence", ood="gan", hidden=(16, 16), epochs=2, n_per_class=60, n_ood=100,
                       device="cpu")
    run = gan.train_toy_with_source(config)
    assert run.ood_train.shape == (100, 2) and run.ood_train.dtype == np.float32
    np.testing.assert_array_equal(run.ood_train, gan.train_toy_with_source(config).ood_train)


def test_three_class_gan_covers_three_circles():
    config = GanConfig(**{**SMALL, "classes": 3})
    run = train_gan(config)
    assert run.classifier.model(torch.zeros(1, 2)).shape[-1] == 3
    assert run.classifier.data.n_classes == 3
    means = toydata.gaussian_means(3)
    samples = run.snapshots[-1].samples
    np.testing.assert_allclose(gan.ring_coverage(samples, 1.0, means=means), sectors_hit_by_loop(samples, means))
    # hand-worked: 9 sectors of circle 0, none of circle 1, 19 of circle 2 (the even ones and the
    # last one, 35), points at the sector centres on the 3σ circles
    centres = (np.arange(36) + 0.5) * 2 * np.pi / 36
    last = np.r_[centres[::2], centres[35]]
    points = np.concatenate([means[0] + 3.0 * np.stack([np.cos(centres[:9]), np.sin(centres[:9])], 1),
                             means[2] + 3.0 * np.stack([np.cos(last), np.sin(last)], 1)])
    np.testing.assert_allclose(gan.ring_coverage(points, 1.0, means=means), [9 / 36, 0, 19 / 36])


def sectors_hit_by_loop(points, means, sigma=1.0, sectors=36):
    """Reference for ``ring_coverage``, point by point: a sector counts when some point within σ of
    the 3σ circle lies in it."""
    shares = []
    for mean in means:
        hit = set()
        for x, y in np.asarray(points, dtype=np.float64):
            dx, dy = x - mean[0], y - mean[1]
            if abs(math.hypot(dx, dy) - 3 * sigma) <= sigma:
                hit.add(int(math.atan2(dy, dx) % (2 * math.pi) // (2 * math.pi / sectors)) % sectors)
        shares.append(len(hit) / sectors)
    return shares
