import pytest

from toyood.budget import Budget, check_toy_job, direction_arcs_bytes, mlp_parameters, toy_job_estimate
from toyood.errors import BudgetExceeded, ConfigError
from toyood.farfield import direction_arcs
from toyood.models import MLP, piecewise_affine_layers
from toyood.toy import ToyConfig


def test_parameters_of_an_mlp():
    assert mlp_parameters((500, 500), 2, 3) == 3 * 500 + 501 * 500 + 501 * 3


def test_the_default_playground_run_fits_and_huge_ones_do_not():
    check_toy_job(ToyConfig())
    check_toy_job(ToyConfig(preset="vernekar", method="acet"))
    with pytest.raises(BudgetExceeded, match="memory"):
        check_toy_job(ToyConfig(hidden=(4096,) * 6))
    with pytest.raises(BudgetExceeded, match="would take about .* over the limit"):
        check_toy_job(ToyConfig(hidden=(4096, 4096), epochs=5000))


def test_a_smaller_budget_refuses_sooner():
    small = Budget(memory_bytes=2**20, seconds=1)
    with pytest.raises(BudgetExceeded):
        check_toy_job(ToyConfig(), small)


def test_arc_memory_estimate_bounds_the_real_arc_count():
    """The estimate assumes one arc per cut: check the real count of a random net stays below it."""
    for widths in [(50, 50), (200, 100, 50), (100,) * 6, (500, 500)]:
        layers, slope = piecewise_affine_layers(MLP(widths, 2))
        arcs = direction_arcs(layers, slope)
        assert len(arcs.start) <= 2 + 2.2 * sum(widths)
        assert direction_arcs_bytes(widths) >= len(arcs.start) * max(widths) * 16


def test_estimates_grow_with_work():
    base = toy_job_estimate(ToyConfig())
    assert toy_job_estimate(ToyConfig(epochs=80))[1] > base[1]
    assert toy_job_estimate(ToyConfig(method="acet", ood="boundary"))[1] > base[1]


def test_environment_overrides_are_validated(monkeypatch):
    monkeypatch.setenv("TOYOOD_MAX_MINUTES", "lots")
    with pytest.raises(ConfigError, match="TOYOOD_MAX_MINUTES"):
        Budget.from_environment()
    monkeypatch.setenv("TOYOOD_MAX_MINUTES", "0.001")
    with pytest.raises(BudgetExceeded):
        check_toy_job(ToyConfig())


def test_gan_budget():
    from toyood.budget import check_gan_job
    from toyood.gan import GanConfig
    check_gan_job(GanConfig())
    with pytest.raises(BudgetExceeded, match="GAN"):
        check_gan_job(GanConfig(gan_hidden=(4096,) * 6, iterations=100_000, snapshot_every=1000))


def test_the_message_says_the_estimate_the_limit_and_what_to_change():
    budget = Budget(memory_bytes=2**30, seconds=60)
    with pytest.raises(BudgetExceeded, match=r"^job would take about 2 min 00 s, over the limit of 1 min 00 s: fewer epochs$"):
        budget.check("job", seconds=120, time_hint="fewer epochs")
    with pytest.raises(BudgetExceeded, match=r"about 2.0 GiB of memory, over the limit of 1.0 GiB: smaller subsets$"):
        budget.check("job", memory_bytes=2 * 2**30, memory_hint="smaller subsets")
    budget.check("job", memory_bytes=2**30, seconds=60)  # at the limit: allowed
