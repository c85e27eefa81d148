"""``train_many``: every model's numbers are those of training it alone with ``train_toy``."""
import numpy as np
import pytest
import torch

from toyood.batched import LOCKSTEP_MAX_WIDTH, BatchedLinear, default_mode, group_indices, train_many
from toyood.errors import ConfigError
from toyood.predict import probabilities
from toyood.toy import ToyConfig, train_toy

TINY = dict(hidden=(16, 16), epochs=3, n_per_class=100, device="cpu")


def assert_same_as_alone(configs, runs, ood_samples=None):
    samples = ood_samples or [None] * len(configs)
    for config, run, sample in zip(configs, runs, samples):
        alone = train_toy(config, ood_samples=sample)
        label = f"{config.method} seed {config.seed}"
        assert run.config == config, label
        for (name, a), b in zip(alone.model.named_parameters(), run.model.parameters()):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7, msg=f"{label}: {name}")
        np.testing.assert_allclose(run.epoch_losses, alone.epoch_losses, rtol=1e-5, err_msg=label)
        np.testing.assert_allclose(probabilities(run.model, alone.data.x_test),
                                   probabilities(alone.model, alone.data.x_test), rtol=1e-5, atol=1e-7)
        assert not run.model.training and next(run.model.parameters()).device.type == "cpu"


STACKED = pytest.mark.parametrize("mode", ["lockstep", "stacked"])


@STACKED
def test_ood_methods_match_training_alone_across_seeds(one_thread, mode):
    configs = [ToyConfig(method=m, seed=s, **TINY) for m in ("plain", "confidence", "ceda", "reject") for s in (0, 3)]
    runs = train_many(configs, mode=mode)
    assert group_indices(configs) == [list(range(8))]  # one batched group
    assert_same_as_alone(configs, runs)
    assert runs[0].epoch_losses != runs[1].epoch_losses  # the seeds really differ


@STACKED
def test_acet_attack_is_batched_per_model(one_thread, mode):
    configs = [ToyConfig(method="acet", seed=0, **TINY), ToyConfig(method="acet", seed=1, **TINY),
               ToyConfig(method="acet", seed=0, ceda_objective="uniform", **TINY),
               ToyConfig(method="acet", seed=2, acet_eps=1.0, acet_steps=2, **TINY),
               ToyConfig(method="ceda", seed=0, **TINY)]
    assert_same_as_alone(configs, train_many(configs, mode=mode))


@STACKED
def test_mixed_heads_rbf_and_architectures(one_thread, mode):
    configs = [ToyConfig(method="dismax", **TINY), ToyConfig(method="rbf", rbf_centres=8, **TINY),
               ToyConfig(method="reject", ood="general", **TINY), ToyConfig(method="plain", **TINY),
               ToyConfig(method="plain", negative_slope=0.1, **TINY), ToyConfig(method="dismax", seed=4, **TINY),
               ToyConfig(method="confidence", **{**TINY, "hidden": (8, 8, 8)})]
    # MLPs sharing widths, slope and lr together; the RBF, the leaky and the deeper net alone
    assert group_indices(configs) == [[0, 2, 3, 5], [1], [4], [6]]
    assert_same_as_alone(configs, train_many(configs, mode=mode))


def test_handed_in_ood_samples_are_used(one_thread):
    rng = np.random.default_rng(0)
    samples = [rng.uniform(-20, 20, (300, 2)).astype(np.float32), None, rng.uniform(-5, 5, (50, 2)).astype(np.float32)]
    configs = [ToyConfig(method="reject", ood="gan", **TINY), ToyConfig(method="plain", **TINY),
               ToyConfig(method="confidence", ood="gan", **TINY)]
    runs = train_many(configs, ood_samples=samples)
    assert runs[0].ood_train is samples[0] or np.array_equal(runs[0].ood_train, samples[0])
    assert_same_as_alone(configs, runs, samples)


@pytest.mark.parametrize("configs,samples,message", [
    ([], None, "at least one"),
    ([ToyConfig(**TINY), ToyConfig(**{**TINY, "epochs": 4})], None, "must share"),
    ([ToyConfig(**TINY), ToyConfig(**{**TINY, "n_per_class": 50, "sigma": 2.0})], None, "n_per_class"),
    ([ToyConfig(**TINY)], [None, None], "2 OOD sample sets for 1"),
    ([ToyConfig(method="reject", ood="gan", **TINY), ToyConfig(**TINY)], None, "train a GAN first"),
    ([ToyConfig(method="reject", **TINY), ToyConfig(**TINY)], [np.zeros((3, 3)), None], "(n, 2)"),
])
def test_bad_batches_raise_config_errors(configs, samples, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train_many(configs, ood_samples=samples)
    with pytest.raises(ConfigError, match="mode must be one of"):
        train_many([ToyConfig(**TINY), ToyConfig(method="reject", **TINY)], mode="fast")


def test_sequential_mode_and_the_cpu_default(one_thread):
    assert default_mode(ToyConfig(**TINY)) == "lockstep"
    assert default_mode(ToyConfig(**{**TINY, "hidden": (LOCKSTEP_MAX_WIDTH + 1, 8)})) == "sequential"
    configs = [ToyConfig(method=m, seed=s, **TINY) for m, s in (("plain", 0), ("reject", 1), ("acet", 2))]
    runs = train_many(configs, mode="sequential")
    assert_same_as_alone(configs, runs)
    assert runs.train_seconds == pytest.approx(sum(r.train_seconds for r in runs))
    lockstep = train_many(configs, mode="lockstep")
    assert len({r.train_seconds for r in lockstep}) == 1 and lockstep.train_seconds == lockstep[0].train_seconds


def test_progress_reaches_the_end(one_thread):
    reports = []
    train_many([ToyConfig(method="plain", **TINY), ToyConfig(method="rbf", **TINY),
                ToyConfig(method="reject", **TINY)], lambda f, t: reports.append((f, t)))
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any("2 models (plain, reject)" in t for _, t in reports) and any(t.startswith("rbf: ") for _, t in reports)


def test_batched_linear_matches_linear_values_and_gradients():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 6, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(BatchedLinear.apply, (x, weight, bias), rtol=1e-6)
    out = BatchedLinear.apply(x, weight, bias)
    for j in range(3):
        torch.testing.assert_close(out[j], torch.nn.functional.linear(x[j], weight[j], bias[j]))
