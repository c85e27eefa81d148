"""Training jobs (``toyood_app.training``): one progress bar covers training and the metrics the
pages show next, rising to 1; the metrics land in the job table (and the run cache) with the run and
equal ``toy_metrics`` of the same config trained alone."""
from __future__ import annotations

import pytest

from toyood.evaluate import toy_metrics
from toyood.toy import ToyConfig, train_toy
from toyood_app import stores, training
from toyood_app.jobs import JobTable
from toyood_app.running import EXPECTED_ERRORS

TINY = dict(hidden=(16, 16), epochs=2, n_per_class=60, n_far=200, device="cpu")
WAIT = 300


def without_times(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if not name.endswith("_seconds")}


def record_progress(monkeypatch) -> list[tuple[float, str]]:
    """Every (fraction, text) a job reports, in order."""
    seen = []
    real = training.Job.__call__

    def spy(job, fraction, text):
        real(job, fraction, text)
        seen.append((job.fraction, job.text))
    monkeypatch.setattr(training.Job, "__call__", spy)
    return seen


@pytest.mark.parametrize("batch", [False, True])
def test_one_bar_covers_training_then_metrics_and_the_metrics_are_kept(batch, tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("TOYOOD_APP_CACHE", str(tmp_path))
    seen = record_progress(monkeypatch)
    configs = [ToyConfig(method="plain", **TINY), ToyConfig(method="reject", ood="general", **TINY)]
    table = JobTable({})
    monkeypatch.setattr(training, "jobs", lambda: table)  # the server's table, here a table of the test's
    spec = training.batch_job(configs) if batch else training.toy_job(configs[0])
    job = table.get_or_start(spec.key, spec.label, spec.compute, True, EXPECTED_ERRORS)
    assert job.done.wait(WAIT) and job.error is None, job.error
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # one bar, rising to the end
    share = training.TRAIN_SHARE_DEFAULT
    first_metrics = next(i for i, (_, text) in enumerate(seen) if text.startswith("metrics of"))
    assert seen[first_metrics][0] == pytest.approx(share) and all(f <= share + 1e-12 for f in fractions[:first_metrics])
    for config in configs[:2 if batch else 1]:
        expected = without_times(toy_metrics(train_toy(config)))
        assert without_times(table.value_if_finished(("metrics", config))) == expected
        assert without_times(stores.stored_metrics(config)) == expected  # kept on disk with the run


def test_a_gan_source_config_gives_its_training_the_larger_share():
    plain = ToyConfig(method="plain", **TINY)
    gan = ToyConfig(method="confidence", ood="gan", **TINY)
    assert training.train_share([plain]) == training.TRAIN_SHARE_DEFAULT
    assert training.train_share([plain, gan]) == training.TRAIN_SHARE["gan"] > training.TRAIN_SHARE_DEFAULT
