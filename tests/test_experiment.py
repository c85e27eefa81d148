import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from toyood.cli import main
from toyood.errors import ConfigError
from toyood.experiment import train_toy_configs
from toyood.gan import GAN_SHARE, gan_ood_samples, train_toy_with_source
from toyood.toy import ToyConfig

SMALL = dict(hidden=(16, 16), epochs=2, n_per_class=100, n_far=500)


@pytest.fixture
def fake_gans(monkeypatch):
    """``toyood.gan.train_gan`` replaced by a recorder whose G maps z to samples that depend on every
    GanConfig field checked here (kind, seed through the latents, hidden); returns the configs it saw."""
    trained = []

    def train_gan(config, progress=None):
        trained.append(config)
        if progress is not None:
            progress(1.0, "trained")
        shift = 100.0 * config.hidden[0] + (50.0 if config.classifier == "reject" else 0.0)
        return SimpleNamespace(config=config, generator_net=lambda z: 20 * z[:, :2] + shift)
    monkeypatch.setattr("toyood.gan.train_gan", train_gan)
    return trained


def gan_configs(methods, seeds, **settings):
    return [ToyConfig(method=m, seed=s, ood="gan" if m != "plain" else None, **{**SMALL, **settings})
            for m in methods for s in seeds]


def test_one_gan_trains_per_classifier_kind_and_seed(one_thread, fake_gans):
    configs = gan_configs(("plain", "confidence", "ceda", "reject"), (0, 1))
    runs, seconds = train_toy_configs(configs)
    kinds = sorted((c.classifier, c.seed) for c in fake_gans)
    assert kinds == [("confidence", 0), ("confidence", 1), ("reject", 0), ("reject", 1)]
    assert len(set(fake_gans)) == len(fake_gans)  # no GAN trained twice
    assert set(seconds) == {"train_seconds", "gan_seconds"}
    for config, run in zip(configs, runs):
        assert run.config == config
        if config.ood == "gan":  # the samples of its own GAN, drawn as if it trained alone
            np.testing.assert_array_equal(run.ood_train, gan_ood_samples(config))


def test_configs_with_other_gan_settings_get_their_own_gan(one_thread, fake_gans):
    configs = [ToyConfig(method="confidence", ood="gan", seed=0, **SMALL),
               ToyConfig(method="ceda", ood="gan", seed=0, **{**SMALL, "hidden": (8, 8)})]
    runs, _ = train_toy_configs(configs)
    assert sorted(c.hidden for c in fake_gans) == [(8, 8), (16, 16)]
    for config, run in zip(configs, runs):
        np.testing.assert_array_equal(run.ood_train, gan_ood_samples(config))


def test_runs_equal_training_each_config_alone(one_thread, fake_gans):
    configs = gan_configs(("plain", "confidence", "reject"), (3,))
    runs, seconds = train_toy_configs(configs)
    for config, run in zip(configs, runs):
        alone = train_toy_with_source(config)
        assert run.epoch_losses == alone.epoch_losses
        assert all(torch.equal(a, b) for a, b in zip(run.model.parameters(), alone.model.parameters()))


def test_without_the_gan_source_no_gan_trains(one_thread, fake_gans):
    configs = [ToyConfig(method="plain", **SMALL), ToyConfig(method="reject", ood="general", **SMALL)]
    runs, seconds = train_toy_configs(configs)
    assert fake_gans == [] and list(seconds) == ["train_seconds"] and len(runs) == 2


def test_progress_gives_the_gans_their_share_and_ends_at_one(one_thread, fake_gans):
    fractions = []
    train_toy_configs(gan_configs(("confidence", "reject"), (0,)), lambda f, text: fractions.append((f, text)))
    assert fractions == sorted(fractions, key=lambda p: p[0]) and fractions[-1][0] == pytest.approx(1.0)
    gans = [(f, text) for f, text in fractions if text.startswith("GAN")]
    assert gans == [(pytest.approx(GAN_SHARE / 2), "GAN 1 of 2: trained"),
                    (pytest.approx(GAN_SHARE), "GAN 2 of 2: trained")]


GAN_CONFIG = ToyConfig(method="confidence", ood="gan", **SMALL)


@pytest.mark.parametrize("configs,message", [
    ([], "at least one configuration"),
    ([GAN_CONFIG, "plain"], r"configs must be ToyConfig objects \(got str\)"),
    ([GAN_CONFIG, ToyConfig(**{**SMALL, "epochs": 3})], "must share"),
])
def test_bad_config_lists_say_what_is_wrong_before_any_gan_trains(configs, message, fake_gans):
    with pytest.raises(ConfigError, match=message):
        train_toy_configs(configs)
    assert fake_gans == []


def test_train_toy_with_source_hands_on_epoch_the_classifier_s_epochs_only(one_thread, fake_gans):
    config = ToyConfig(method="reject", ood="gan", **SMALL)
    seen = []
    run = train_toy_with_source(config, on_epoch=lambda end: seen.append((end.epoch, end.loss)))
    assert len(fake_gans) == 1 and seen == list(zip((1, 2), run.epoch_losses))


# The numbers `toyood toy --method plain,confidence,ceda,reject --seeds 0 --ood gan --json --hidden 16,16
# --epochs 2 --n-per-class 100 --n-far 500` printed at revision ec49ed2, before training several configs
# moved from the CLI into toyood.experiment: (test_accuracy, in_mmc, far_ood_mmc) per method. Reject is
# left out: its GAN's default β became 0.1 in the same round (toyood.gan.DEFAULT_BETA), on purpose.
PREVIOUS_REVISION = {
    "plain": (1.0, 0.7537977242469788, 0.9027570984363555),
    "confidence": (1.0, 0.7000712114572525, 0.8814330548048019),
    "ceda": (1.0, 0.6991178971529007, 0.8803496383428574),
}


def test_cli_gives_the_previous_revision_s_numbers(one_thread, capsys):
    argv = ["toy", "--method", "plain,confidence,ceda", "--seeds", "0", "--ood", "gan", "--json",
            "--hidden", "16,16", "--epochs", "2", "--n-per-class", "100", "--n-far", "500"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for method, expected in PREVIOUS_REVISION.items():
        run = summary[method]["runs"]["0"]
        assert (run["test_accuracy"], run["in_mmc"], run["far_ood_mmc"]) == pytest.approx(expected, rel=1e-6), method
    assert summary["gan_seconds"] > 0 and summary["train_seconds"] > 0
