import copy

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


class MemoryCheckpoints:
    """Keeps a copy of every epoch's state; restores the one chosen (none: start afresh)."""

    def __init__(self, resume_from=None):
        self.saved, self.resume_from = [], resume_from

    def restore(self, state):
        if self.resume_from is not None:
            state.load_state_dict(copy.deepcopy(self.resume_from))

    def save(self, state):
        self.saved.append(copy.deepcopy(state.state_dict()))


def confidence_run(epochs, checkpoint=None):
    torch.manual_seed(0)
    model = MLP((8,), 2)
    x, y = torch.randn(40, 2), torch.randint(0, 2, (40,))
    sampler = PoolSampler(torch.randn(30, 2) * 5)  # 30 rows, 8 per step: passes end inside epochs
    result = fit(model, ConfidenceLoss(), x, y, sampler, epochs=epochs, batch_size=8, lr=1e-2, seed=3,
                 milestones=(0.5,), checkpoint=checkpoint)
    return model, result


def test_resuming_from_any_epoch_gives_the_uninterrupted_run_bit_for_bit():
    recorder = MemoryCheckpoints()
    whole, whole_result = confidence_run(4, recorder)
    assert [s["epochs_done"] for s in recorder.saved] == [1, 2, 3, 4]
    for saved in recorder.saved[:3]:
        resumed, result = confidence_run(4, MemoryCheckpoints(saved))
        assert result.epoch_losses == whole_result.epoch_losses
        for key, value in whole.state_dict().items():
            assert torch.equal(resumed.state_dict()[key], value), key


def test_a_finished_state_trains_nothing_more():
    recorder = MemoryCheckpoints()
    whole, whole_result = confidence_run(2, recorder)
    resumed, result = confidence_run(2, MemoryCheckpoints(recorder.saved[-1]))
    assert result.epoch_losses == whole_result.epoch_losses
    assert all(torch.equal(resumed.state_dict()[k], v) for k, v in whole.state_dict().items())


def test_resuming_without_the_generator_state_would_differ():
    """The check above can fail: a state whose generator is reset gives other batches."""
    recorder = MemoryCheckpoints()
    _, whole_result = confidence_run(3, recorder)
    state = recorder.saved[0]
    state["generator"] = torch.Generator().manual_seed(3).get_state()
    _, result = confidence_run(3, MemoryCheckpoints(state))
    assert result.epoch_losses[1:] != whole_result.epoch_losses[1:]


def batchnorm_run(epochs, on_epoch=None, checkpoint=None):
    """A net whose training-mode forward differs from its eval-mode one (batch statistics)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    x, y = torch.randn(40, 2), torch.randint(0, 2, (40,))
    result = fit(model, Plain(), x, y, None, epochs=epochs, batch_size=8, lr=1e-2, seed=3, milestones=(0.5,),
                 checkpoint=checkpoint, on_epoch=on_epoch)
    return model, result


def test_on_epoch_sees_every_epoch_with_its_recorded_loss_and_a_training_model():
    seen = []
    model, result = batchnorm_run(4, lambda end: seen.append((end.epoch, end.epochs, end.loss, end.model,
                                                               end.model.training)))
    assert [s[:2] for s in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [s[2] for s in seen] == result.epoch_losses
    assert all(s[3] is model and s[4] for s in seen)


def test_on_epoch_comes_after_the_progress_call_of_its_epoch():
    order = []
    fit(MLP((4,), 2), Plain(), torch.randn(8, 2), torch.randint(0, 2, (8,)), None, epochs=2, batch_size=4,
        lr=1e-3, seed=0, progress=lambda f, text: order.append(("progress", round(f * 2))),
        on_epoch=lambda end: order.append(("epoch", end.epoch)))
    assert order == [("progress", 1), ("epoch", 1), ("progress", 2), ("epoch", 2)]


def test_a_callback_that_evaluates_the_model_changes_no_trained_number():
    def look(end):  # what the app does: an eval-mode forward pass, global random draws, model left in eval
        end.model.eval()
        with torch.no_grad():
            end.model(torch.randn(16, 2) * 30)

    plain, plain_result = batchnorm_run(4)
    watched, watched_result = batchnorm_run(4, look)
    assert watched_result.epoch_losses == plain_result.epoch_losses
    for key, value in plain.state_dict().items():
        assert torch.equal(watched.state_dict()[key], value), key


def test_on_epoch_skips_the_epochs_restored_from_a_checkpoint():
    recorder = MemoryCheckpoints()
    batchnorm_run(4, checkpoint=recorder)
    seen = []
    _, result = batchnorm_run(4, lambda end: seen.append((end.epoch, end.loss)),
                              MemoryCheckpoints(recorder.saved[1]))
    assert seen == [(3, result.epoch_losses[2]), (4, result.epoch_losses[3])]
