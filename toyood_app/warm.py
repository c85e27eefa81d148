"""The warm start (``serve.py``): at server start, in a thread of its own while the server already
takes visitors, compute what the lesson's pages show by default, in their order, as the very jobs the
pages ask for (a visitor who comes meanwhile watches the same job)."""
from __future__ import annotations

import logging
import time

import torch

from toyood.budget import check_gan_job
from toyood.device import use_threads
from toyood.errors import ConfigError
from toyood.toy import ToyRun
from toyood.train import make_optimizer

from .running import JobSpec, start_kept
from .state import AppState
from .training import APP_BUDGET, MAX_REGION_NEURONS, gan_job, metrics_job, regions_job, toy_job
from .views import proof_view_half, ray_profile_of, region_colouring, region_map

LOGGER = logging.getLogger("toyood.app")


def warm_up() -> dict[str, float]:
    """The Playground's default models (loaded from the run cache, or trained and stored there) and
    their metrics; the Linear regions page's regions and region map, then the proof page's (a wider
    box); torch's one-time optimiser imports (``torch._dynamo``, ~1 s); the GAN page's run. One job at
    a time, so a visitor's own job gets the other worker. Returns the seconds of each part done; a
    failure is logged, never raised (the pages report their own errors)."""
    seconds: dict[str, float] = {}
    try:
        _warm_up(seconds)
    except Exception:  # noqa: BLE001  (an optimisation only)
        LOGGER.exception("the warm start stopped; the first visitor will wait for the rest")
    return seconds


def _warm_up(seconds: dict[str, float]) -> None:
    use_threads()
    defaults = AppState()
    for config in defaults.toy_configs().values():
        run = _warm_job(toy_job(config), f"default model {config.method}", seconds)
        if run is None:
            return
        _warm_job(metrics_job(run), f"metrics {config.method}", seconds)
        if sum(config.hidden) <= MAX_REGION_NEURONS and not _warm_regions(run, defaults, seconds):
            return
    start = time.perf_counter()
    weight = torch.zeros(1, requires_grad=True)
    weight.sum().backward()
    make_optimizer([weight]).step()
    seconds["optimiser imports"] = time.perf_counter() - start
    gan = defaults.gan_config()
    check_gan_job(gan, APP_BUDGET)
    _warm_job(gan_job(gan), "GAN", seconds)


def _warm_job(spec: JobSpec, name: str, seconds: dict[str, float]):
    """Start the job of ``spec`` and wait for it (one at a time: a visitor's job gets the other
    worker); its value, or None if it was stopped (by a visitor, or the server shutting down)."""
    start = time.perf_counter()
    job = start_kept(spec)
    job.done.wait()
    if job.cancelled:
        return None
    if job.error is not None:
        raise ConfigError(f"the warm start's job '{spec.label}' failed: {job.error}")
    seconds[name] = time.perf_counter() - start
    return job.value


def _warm_regions(run: ToyRun, defaults: AppState, seconds: dict[str, float]) -> bool:
    """The Linear regions page's regions and region map, then the proof page's (its box depends on
    the ray through the default point). False if a job was stopped."""
    proof_half = proof_view_half(ray_profile_of(run, defaults.point))
    for half in dict.fromkeys([float(defaults.box), proof_half]):
        regions = _warm_job(regions_job(run, half), f"regions {run.config.method} ±{half:g}", seconds)
        if regions is None:
            return False
        start = time.perf_counter()
        region_map(run, regions, half, region_colouring(run.config, defaults.colour))
        seconds[f"region map ±{half:g}"] = time.perf_counter() - start
    return True
