"""The joint GAN told honestly (issue 23): the reject classifier keeps its classes at its default β,
a classifier that lost a class is flagged, and the plain-GAN baseline shows what the KL term adds."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from toyood import data as toydata
from toyood.cli import main
from toyood.evaluate import gan_metrics
from toyood.gan import (COLLAPSE_RECALL, DEFAULT_BETA, DEFAULT_ENTROPY, GanConfig, GanRun, GanSnapshot,
                        batch_entropy, build_gan, class_recall, classifier_step, disc_share, generator_step,
                        is_collapsed, train_gan)
from toyood.methods import RejectClass
from toyood.models import MLP
from toyood.plots.gan import gan_animation, recall_figure
from toyood.toy import ToyRun

pytestmark = pytest.mark.usefixtures("one_thread")

# Short settings (5-12 s a run on the loaded 2-core machine) in which β = 1 loses a class at seeds 0-2.
SHORT = dict(classifier="reject", iterations=300, lr=1e-3, hidden=(64, 64), gan_hidden=(64, 64), latent_dim=16,
             n_per_class=200, snapshot_every=100, snapshot_samples=50, grid_resolution=4, n_far=100, device="cpu")


# --- why β < 1/K: the classifier step's optimum where G sits on one class -----------------------------

class TwoPlaces(nn.Module):
    """Free logits (K + 1 outputs) at two places: x < 0 (class 0's data) and x ≥ 0 (class 1's)."""

    def __init__(self):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(2, 3))

    def forward(self, x):
        return self.logits[(x[:, 0] >= 0).long()]


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_classifier_step_rejects_the_data_under_g_as_the_mixture_optimum_says(beta):
    """Real rows half class 0 at x = −10, half class 1 at x = 10; every generated row on class 0.
    Minimising −½ log p₀ − β log p_reject at x = −10 gives p_reject = 2β / (2β + 1) (K = 2)."""
    classifier, method = TwoPlaces(), RejectClass()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=0.05)
    x = torch.tensor([[-10.0, 0.0], [10.0, 0.0]]).repeat(50, 1)
    y = torch.tensor([0, 1]).repeat(50)
    fake = torch.tensor([[-10.0, 0.0]]).repeat(100, 1)
    for _ in range(500):
        classifier_step(classifier, optimizer, method, x, y, fake, beta)
    p_class0 = torch.softmax(classifier.logits[0].detach(), -1)
    assert float(p_class0[2]) == pytest.approx(2 * beta / (2 * beta + 1), abs=2e-3)
    assert (float(p_class0[0]) > 0.5) == (beta < 1 / 2)  # the class survives only for β < 1/K


# --- the joint reject classifier keeps its classes --------------------------------------------------

def test_default_beta_is_below_one_over_k_for_the_reject_classifier():
    assert GanConfig(classifier="reject").beta == DEFAULT_BETA["reject"] < 1 / 2
    assert GanConfig(classifier="confidence").beta == 1.0
    assert GanConfig(classifier="reject", beta=0.5).beta == 0.5


def test_joint_reject_classifier_keeps_both_classes_at_its_default_beta():
    run = train_gan(GanConfig(seed=1, **SHORT))
    metrics = gan_metrics(run)
    assert metrics["test_accuracy"] >= 0.95 and not metrics["collapsed"]
    assert min(metrics["class_recall"]) >= 0.9


def test_joint_reject_classifier_at_beta_one_loses_a_class_and_is_flagged():
    run = train_gan(GanConfig(seed=1, beta=1.0, **SHORT))
    recall = class_recall(run.classifier.model, run.classifier.data)
    assert min(recall) < COLLAPSE_RECALL and is_collapsed(recall)
    assert run.snapshots[-1].recall == recall  # the last snapshot records the same figures
    lost = int(np.argmin(recall))
    probs = torch.softmax(run.classifier.model(torch.from_numpy(run.classifier.data.x_test)), -1).detach()
    rejected = probs.argmax(-1).numpy()[run.classifier.data.y_test == lost] == 2
    assert rejected.mean() > 0.5  # lost to the reject class, not to the other class


# --- the collapsed flag ------------------------------------------------------------------------------

def hand_made_classifier(reject_class_0: bool) -> MLP:
    """Hidden units relu(x₁), relu(−x₁); logits (class 0, class 1, reject) = (relu(−x₁), relu(x₁), 0),
    or with ``reject_class_0`` (0, relu(x₁), relu(−x₁)): every point left of 0 is rejected."""
    model = MLP((2,), 2, "reject")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.hidden_layers[0].weight[:, 0] = torch.tensor([1.0, -1.0])
        left_to = 2 if reject_class_0 else 0
        model.head.weight[1, 0] = 1.0
        model.head.weight[left_to, 1] = 1.0
    return model.eval()


def hand_made_gan_run(model: nn.Module) -> GanRun:
    config = GanConfig(classifier="reject", n_per_class=200, n_far=200, grid_resolution=4)
    data = toydata.make_toy_data(config.sigma, config.n_per_class, config.seed)
    samples = np.zeros((10, 2), np.float32)
    snapshot = GanSnapshot(0, samples, np.zeros((4, 4), np.float32), 0.0, 7.0)
    classifier = ToyRun(config.toy_config(), model, data, samples)
    return GanRun(config, None, None, classifier, [snapshot], np.arange(4.0), np.arange(4.0), 1.0)


@pytest.mark.parametrize("reject_class_0", [True, False])
def test_collapsed_flags_a_hand_made_classifier_that_rejects_a_class(reject_class_0):
    run = hand_made_gan_run(hand_made_classifier(reject_class_0))
    data = run.classifier.data
    x, y = data.x_test, data.y_test
    left, right = x[:, 0] < 0, x[:, 0] >= 0  # by hand: class 0 is right iff left of 0 and not rejected
    expected = [0.0 if reject_class_0 else float(left[y == 0].mean()), float(right[y == 1].mean())]
    metrics = gan_metrics(run)
    np.testing.assert_allclose(metrics["class_recall"], expected)
    assert metrics["collapsed"] is reject_class_0
    assert metrics["test_accuracy"] == pytest.approx(np.mean(expected), abs=1e-9)  # classes of equal size


def test_recall_figure_and_animation_title_show_a_lost_class():
    run = hand_made_gan_run(hand_made_classifier(True))
    run.snapshots[0] = GanSnapshot(0, run.snapshots[0].samples, run.snapshots[0].confidence, 0.0, 7.0, (0.0, 1.0))
    figure = recall_figure(run)
    assert [trace.name for trace in figure.data] == ["class 0", "class 1"]
    assert list(figure.data[0].y) == [0.0] and figure.layout.shapes[0].y0 == COLLAPSE_RECALL
    assert "a class lost" in gan_animation(run).layout.title.text


# --- the plain GAN baseline and the CLI -----------------------------------------------------------------

class RejectsUpwards(nn.Module):
    """A reject classifier whose reject logit is ``slope``·x₂: the higher the point, the more OOD."""

    def __init__(self, slope: float):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        return torch.stack([torch.zeros(len(x)), torch.zeros(len(x)), self.slope * x[:, 1]], 1)


def _one_g_step(generator: str, classifier: nn.Module, entropy: float = 0.0, lr: float = 0.05
                ) -> torch.Tensor:
    """G's samples (fixed z) after one SGD G step against a fixed D and ``classifier``, in D's
    standardised units."""
    config = GanConfig(classifier="reject", generator=generator, gan_hidden=(16, 16), latent_dim=8, device="cpu")
    data = toydata.make_toy_data(1.0, 100, 0)
    g_net, d_net = build_gan(config, torch.from_numpy(data.x_train))
    z = torch.randn(64, config.latent_dim, generator=torch.Generator().manual_seed(0))
    generator_step(torch.optim.SGD(g_net.parameters(), lr=lr), d_net, classifier, RejectClass(), g_net(z),
                   config.beta, config.generator == "lee", entropy)
    with torch.no_grad():
        return d_net.standardised.to_unit(g_net(z))


def test_plain_generator_ignores_the_classifier_and_lees_moves_towards_its_ood_region():
    """The plain baseline's G step is the same whatever the classifier says; Lee's KL term moves
    G's samples towards where the classifier says OOD (here: upwards)."""
    plain = _one_g_step("plain", RejectsUpwards(1.0))
    assert torch.equal(plain, _one_g_step("plain", RejectsUpwards(-1.0)))
    lee_up, lee_down = _one_g_step("lee", RejectsUpwards(1.0)), _one_g_step("lee", RejectsUpwards(-1.0))
    assert lee_up[:, 1].mean() > plain[:, 1].mean() > lee_down[:, 1].mean()


TINY = dict(iterations=20, snapshot_every=10, hidden=(16, 16), gan_hidden=(16, 16), latent_dim=8, batch_size=16,
            n_per_class=60, snapshot_samples=50, grid_resolution=4, n_far=100, device="cpu")


def test_the_entropy_term_spreads_the_generators_samples():
    """A small step (linear regime): −H in G's loss raises the batch's entropy estimate."""
    before = _one_g_step("plain", RejectsUpwards(0.0), lr=1e-3)
    after = _one_g_step("plain", RejectsUpwards(0.0), entropy=1.0, lr=1e-3)
    assert float(batch_entropy(after)) > float(batch_entropy(before)) + 0.1


def test_a_plain_gans_samples_do_not_depend_on_the_classifier_but_lees_do():
    """Without the KL term G never sees the classifier: the same samples next to a confidence or a
    reject classifier (same seed); with it they differ."""
    def samples(classifier, generator):
        run = train_gan(GanConfig(classifier=classifier, generator=generator, beta=1.0, **TINY))
        return np.stack([s.samples for s in run.snapshots])

    np.testing.assert_array_equal(samples("confidence", "plain"), samples("reject", "plain"))
    assert not np.array_equal(samples("confidence", "lee"), samples("reject", "lee"))


def test_same_seed_gives_the_same_run_with_the_entropy_term():
    config = GanConfig(start="pretrained", **TINY)
    assert config.entropy == 1.0
    a, b = train_gan(config), train_gan(config)
    for sa, sb in zip(a.snapshots, b.snapshots):
        np.testing.assert_array_equal(sa.samples, sb.samples)
        assert sa.recall == sb.recall
    without = train_gan(GanConfig(start="pretrained", entropy=0.0, **TINY))
    assert not np.array_equal(a.snapshots[-1].samples, without.snapshots[-1].samples)


def test_disc_share_counts_points_inside_the_3_sigma_discs():
    points = np.array([[-10.0, 0.0], [-10.0, 2.9], [10.0, -3.1], [0.0, 0.0]])
    assert disc_share(points, 1.0) == 0.5
    assert disc_share(points, 2.0) == 0.75
    assert np.isnan(disc_share(np.zeros((0, 2)), 1.0))


def test_cli_plain_generator_reports_beta_recall_and_the_collapsed_flag(capsys):
    code = main(["gan", "--classifier", "reject", "--generator", "plain", "--iterations", "10", "--snapshot-every",
                 "5", "--n-far", "200", "--device", "cpu", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["generator"], result["beta"]) == ("plain", DEFAULT_BETA["reject"])
    assert len(result["class_recall"]) == 2 and isinstance(result["collapsed"], bool)
    assert result["collapsed"] == (min(result["class_recall"]) < COLLAPSE_RECALL)
    assert [len(r) for r in result["class_recall_curve"]] == [2, 2, 2]
    assert 0 <= result["disc_share"] <= 1


@pytest.mark.parametrize("flags,message", [
    (["--generator", "none"], "invalid choice"),
    (["--beta", "0"], "beta must be in (0, 100]"),
])
def test_bad_generator_or_beta_exit_2_with_one_line(flags, message, capsys):
    assert main(["gan", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_batch_entropy_is_d_times_the_mean_log_nearest_neighbour_distance():
    from scipy.spatial import cKDTree
    u = np.random.default_rng(0).normal(size=(60, 2))
    distances, _ = cKDTree(u).query(u, k=2)  # itself, then its nearest neighbour
    expected = 2 * np.log(distances[:, 1] + 1e-6).mean()
    assert float(batch_entropy(torch.from_numpy(u))) == pytest.approx(expected, rel=1e-9)
    # spreading the points by a factor s raises the estimate by d·log s
    assert float(batch_entropy(torch.from_numpy(3 * u))) == pytest.approx(expected + 2 * np.log(3), abs=1e-4)


def test_entropy_term_is_on_for_lees_pretrained_setting_and_off_for_the_joint_runs():
    assert GanConfig(start="pretrained").entropy == DEFAULT_ENTROPY["pretrained"] == 1.0
    assert GanConfig(start="joint").entropy == DEFAULT_ENTROPY["joint"] == 0.0
    assert GanConfig(start="joint", entropy=2.0).entropy == 2.0


def test_bad_generator_in_the_config_says_what_is_allowed():
    from toyood.errors import ConfigError
    with pytest.raises(ConfigError, match="generator must be one of lee, plain"):
        GanConfig(generator="none")
    with pytest.raises(ConfigError, match=r"entropy must be in \[0, 100\]"):
        GanConfig(entropy=-1.0)
