import numpy as np
import pytest
import torch

from toyood.evaluate import probabilities
from toyood.train import (ConfigError, PoolSampler, ToyConfig, TrainingDiverged, fit, load_run,
                          resolve_device, save_run, train_toy)
from toyood.methods import Plain, ConfidenceLoss
from toyood.models import MLP

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


class Exploding(Plain):
    def loss(self, model, x, y, generator=None):
        return super().loss(model, x, y, generator) * (float("nan") if self.calls() > 5 else 1.0)

    def calls(self, count=[0]):
        count[0] += 1
        return count[0]


def test_diverging_training_raises_a_clear_error():
    with pytest.raises(TrainingDiverged, match="epoch 2.*lower the learning rate"):
        fit(MLP((4,), 2), Exploding(), torch.randn(16, 2), torch.randint(0, 2, (16,)), None, epochs=5,
            batch_size=4, lr=1e-3, seed=0)


def test_fit_refuses_a_method_that_needs_ood_without_a_source():
    model = MLP((4,), 2)
    with pytest.raises(ConfigError, match="needs OOD"):
        fit(model, ConfidenceLoss(), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), None,
            epochs=1, batch_size=2, lr=1e-3, seed=0)


def test_fit_reports_progress_per_epoch():
    seen = []
    fit(MLP((4,), 2), Plain(), torch.randn(10, 2), torch.randint(0, 2, (10,)), None, epochs=3, batch_size=4,
        lr=1e-3, seed=0, progress=lambda f, text: seen.append(f))
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_pool_sampler_draws_without_replacement_within_a_pass():
    pool = torch.arange(10.0)[:, None]
    sampler = PoolSampler(pool)
    g = torch.Generator().manual_seed(0)
    first = torch.cat([sampler(3, g), sampler(3, g), sampler(3, g), sampler(1, g)])
    assert sorted(first[:, 0].tolist()) == list(range(10))


def test_save_and_load_round_trip(tmp_path):
    run = train_toy(ToyConfig(method="reject", **SMALL))
    save_run(run, tmp_path, {"x": 1})
    loaded = load_run(tmp_path)
    assert loaded.config == run.config
    np.testing.assert_array_equal(probabilities(loaded.model, run.data.x_test), probabilities(run.model, run.data.x_test))


def test_load_run_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_run(tmp_path)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="not available"):
            resolve_device("cuda")
