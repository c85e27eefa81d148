import numpy as np
import pytest
import torch

from toyood.errors import ConfigError
from toyood.toy import ToyConfig, ood_pool, train_toy

SMALL = dict(hidden=(32, 32), epochs=3, n_per_class=200)


def test_same_seed_gives_identical_weights_and_outputs():
    a = train_toy(ToyConfig(method="confidence", seed=5, **SMALL))
    b = train_toy(ToyConfig(method="confidence", seed=5, **SMALL))
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert a.epoch_losses == b.epoch_losses
    c = train_toy(ToyConfig(method="confidence", seed=6, **SMALL))
    assert a.epoch_losses != c.epoch_losses


def test_presets_fill_unset_values_and_explicit_values_win():
    v = ToyConfig(preset="vernekar")
    assert (v.epochs, v.batch_size, v.lr) == (200, 32, 1e-3)
    assert ToyConfig(preset="vernekar", epochs=7).epochs == 7


def test_ood_defaults_follow_the_method():
    assert ToyConfig(method="reject").ood == "boundary"
    assert ToyConfig(method="plain").ood == "none"


@pytest.mark.parametrize("kwargs,message", [
    (dict(method="reject", ood="none"), "trains on OOD samples"),
    (dict(method="plain", ood="general"), "uses no OOD samples"),
    (dict(hidden=(0,)), "hidden"),
    (dict(lr=0), "learning rate"),
    (dict(sigma=-1), "sigma"),
    (dict(method="nope"), "method must be one of"),
    (dict(preset="slow"), "preset must be one of"),
    (dict(device="tpu"), "device must be one of"),
])
def test_bad_configs_say_what_is_wrong(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ToyConfig(**kwargs)


def test_config_is_hashable_cache_key():
    assert hash(ToyConfig(hidden=[8, 8])) == hash(ToyConfig(hidden=(8, 8)))


def test_method_settings_come_from_the_method():
    acet = ToyConfig(method="acet", ood_weight=0.5, acet_eps=1.5, acet_steps=3).method_object()
    assert (acet.lam, acet.eps, acet.steps, acet.objective) == (0.5, 1.5, 3, "max_conf")
    assert ToyConfig(method="confidence", ood_weight=2.0).method_object().beta == 2.0


def test_the_gan_source_needs_samples_from_the_caller():
    config = ToyConfig(method="confidence", ood="gan", **SMALL)
    with pytest.raises(ConfigError, match="gan"):
        ood_pool(config)
    samples = np.random.default_rng(0).uniform(-20, 20, (64, 2)).astype(np.float32)
    run = train_toy(config, ood_samples=samples)
    np.testing.assert_array_equal(run.ood_train, samples)


@pytest.mark.parametrize("kwargs", [dict(acet_eps=float("inf")), dict(acet_step_size=float("inf")),
                                    dict(acet_eps=float("nan"))])
def test_acet_settings_must_be_finite(kwargs):
    with pytest.raises(ConfigError, match="ACET"):
        ToyConfig(method="acet", **kwargs)


def test_train_toy_hands_each_epoch_to_on_epoch_without_changing_the_run(one_thread):
    config = ToyConfig(method="confidence", seed=2, **SMALL)
    seen = []
    watched = train_toy(config, on_epoch=lambda end: seen.append((end.epoch, end.epochs, end.loss, end.model.training)))
    alone = train_toy(config)
    assert seen == [(epoch, 3, loss, True) for epoch, loss in zip((1, 2, 3), alone.epoch_losses)]
    assert watched.epoch_losses == alone.epoch_losses
    for pa, pb in zip(watched.model.parameters(), alone.model.parameters()):
        assert torch.equal(pa, pb)
