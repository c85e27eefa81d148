"""The warm start over the lecture (``toyood_app.warm``): every step's models (several trained as one
batch job, as the pages ask), their metrics and what its page draws are computed, in lecture order,
as the jobs and cached views the pages ask for; checked against the library computing them alone.
The lecture here is three tiny steps; the real one is walked by ``benchmarks/bench_classroom.py``."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from toyood.evaluate import toy_metrics
from toyood.models import piecewise_affine_layers
from toyood.regions import enumerate_regions
from toyood.toy import train_toy
from toyood_app import training, views, warm
from toyood_app.lecture import Scenario
from toyood_app.link import parse_query
from toyood_app.running import jobs

TINY = {"hidden": "16,16", "epochs": "2"}
STEPS = {
    "two": Scenario("two", "two models", "playground", {"method": "plain,reject", **TINY}, ""),
    "walk": Scenario("walk", "far away", "far-away", {"method": "plain", "theta": "45", **TINY}, ""),
    "cells": Scenario("cells", "regions", "linear-regions", {"method": "plain", "box": "10", "seed": "1", **TINY}, ""),
}


def without_times(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if not name.endswith("_seconds")}


def finished(key):
    job = jobs().jobs[key]
    assert job.done.is_set() and job.error is None, job.error
    return job.value


@pytest.fixture(scope="module")
def warmed(tmp_path_factory, one_thread):
    patch = pytest.MonkeyPatch()
    patch.setenv("TOYOOD_APP_CACHE", str(tmp_path_factory.mktemp("cache")))
    patch.setattr(warm, "SCENARIOS", STEPS)
    patch.setattr(warm, "_warm_defaults", lambda seconds: None)  # the default view: tests/test_serve.py
    jobs.clear()
    for cached in (views.grid, views.ray_confidence, views.limit_confidence, views.region_map):
        cached.clear()
    parts = warm.warm_up()
    yield parts, {id_: parse_query(step.link_query())[0] for id_, step in STEPS.items()}
    patch.undo()
    jobs.clear()


def test_the_steps_are_ready_in_lecture_order(warmed):
    parts, _ = warmed
    ready = [parts[f"step {n} {id_} ready"] for n, id_ in enumerate(STEPS, 1)]
    assert ready == sorted(ready) and all(value > 0 for value in ready)


def test_a_step_of_several_models_trains_them_as_one_batch_job_with_the_same_numbers(warmed):
    _, states = warmed
    configs = states["two"].toy_configs()
    assert finished(("toy-batch", tuple(configs.values()))) == 2
    assert training.batch_job(list(configs.values())) is None  # a visitor now finds every model trained
    for config in configs.values():
        alone = train_toy(config)  # the same seed and config, trained by itself
        served = finished(("toy", config))
        for name, value in alone.model.state_dict().items():
            assert torch.equal(served.model.state_dict()[name], value)
        assert without_times(finished(("metrics", config))) == without_times(toy_metrics(alone))


def test_each_page_finds_what_it_draws_cached(warmed, monkeypatch):
    """After the warm start the pages' views come from the cache: computing them again would fail."""
    _, states = warmed

    def computed(*args, **kwargs):
        raise AssertionError("a view was computed again")
    monkeypatch.setattr(views, "evaluate_grid", computed)
    monkeypatch.setattr(views.farfield, "ray_probabilities", computed)
    monkeypatch.setattr(views.farfield, "asymptotic_probabilities", computed)
    two = states["two"]
    for config in two.toy_configs().values():
        views.grid(finished(("toy", config)), two.halfwidth, views.COMPARE_RESOLUTION)
    walk = states["walk"]
    run = finished(("toy", walk.toy_config("plain")))
    direction = (float(np.cos(np.radians(45.0))), float(np.sin(np.radians(45.0))))  # as the page
    views.ray_confidence(run, direction, views.RAY_ALPHAS)
    views.limit_confidence(run, views.LIMIT_ANGLES)


def test_a_regions_step_gets_the_exact_regions_of_its_box(warmed):
    _, states = warmed
    cells = states["cells"]
    config = cells.toy_config("plain")
    run = finished(("toy", config))
    layers, slope = piecewise_affine_layers(train_toy(config).model)
    direct = enumerate_regions(layers, 10.0, slope)
    regions = finished(("regions", config, 10.0))
    assert len(regions) == len(direct) and np.array_equal(regions.patterns, direct.patterns)
    assert run.config.seed == 1
