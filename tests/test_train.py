import pytest
import torch

from toyood.errors import ConfigError, TrainingDiverged
from toyood.methods import ConfidenceLoss, Plain
from toyood.models import MLP
from toyood.train import PoolSampler, fit, make_optimizer


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


def test_make_optimizer_takes_betas_and_sgd():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert make_optimizer(params, "adam", 1e-3, betas=(0.5, 0.999)).param_groups[0]["betas"] == (0.5, 0.999)
    assert isinstance(make_optimizer(params, "sgd", 0.1), torch.optim.SGD)
