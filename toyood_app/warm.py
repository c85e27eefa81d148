"""The warm start (``serve.py``): at server start, in a thread of its own while the server already
takes visitors, read the image page's stored runs and draw one (its imports), then compute what each
lecture step's page shows by default, in lecture order (``toyood_app.lecture.SCENARIOS``), then what
the pages show without a link — as the very jobs the pages ask for (a visitor who comes meanwhile
watches the same job). It gives way to visitors: it pauses between its steps, and its jobs between
epochs, for a few seconds after a browser opens a page (``toyood_app.activity``)."""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

from toyood.budget import check_gan_job, check_toy_job
from toyood.device import use_threads
from toyood.errors import ConfigError, RunFileError
from toyood.images.report import detection_rows, summary_rows
from toyood.plots import images as image_plots
from toyood.toy import ToyConfig, ToyRun
from toyood.train import make_optimizer

from .activity import ACTIVITY
from .lecture import SCENARIOS, Scenario
from .link import parse_query
from .running import JobSpec, start_kept
from .state import SMALL_NET, AppState
from .stores import shipped_runs
from .training import APP_BUDGET, MAX_REGION_NEURONS, batch_job, gan_job, metrics_job, regions_job, toy_job
from .views import (COMPARE_RESOLUTION, LIMIT_ANGLES, MAP_RESOLUTION, RAY_ALPHAS, grid, limit_confidence,
                    proof_view_half, ray_confidence, ray_profile_of, region_colouring, region_map)

LOGGER = logging.getLogger("toyood.app")
REGION_PAGES = ("linear-regions", "proof")  # the pages that show a run's linear regions


class Stopped(Exception):
    """A warm-start job was stopped (by a visitor, or the server shutting down): the warm start ends."""


def lecture_states() -> list[tuple[str, Scenario, AppState]]:
    """Each lecture step's name ('step 3 boundary'), scenario and the state its link opens."""
    return [(f"step {number} {scenario.id}", scenario, parse_query(scenario.link_query())[0])
            for number, scenario in enumerate(SCENARIOS.values(), 1)]


def warm_up() -> dict[str, float]:
    """Every lecture step's models (several at once in one batched job, as the pages train them),
    their metrics, the views its page draws (maps, the far-away curves, regions and region maps) or
    the GAN page's run; then the pages' default view (the Playground's model, the Linear regions and
    proof pages' regions). Returns the seconds of each part done and, per step, '<step> ready': the
    seconds from the start until it was; a failure is logged, never raised (the pages report their own)."""
    seconds: dict[str, float] = {}
    try:
        _warm_up(seconds)
    except Stopped as stopped:
        LOGGER.warning("the warm start ended early: %s was stopped", stopped)
    except Exception:  # noqa: BLE001  (an optimisation only)
        LOGGER.exception("the warm start stopped; the first visitor will wait for the rest")
    return seconds


def _warm_up(seconds: dict[str, float]) -> None:
    use_threads()
    start = time.perf_counter()
    _warm_image_page(seconds)
    for name, scenario, state in lecture_states():  # each job gives way first (_warm_job)
        try:
            if scenario.page == "gan":
                _warm_gan(state, f"{name}: GAN", seconds)
            else:
                runs = _warm_models(_step_configs(scenario.page, state), name, seconds)
                _warm_views(scenario.page, state, runs, name, seconds)
        except ConfigError as error:  # a step the server cannot train: its page says so
            LOGGER.warning("the warm start skips %s: %s", name, error)
            continue
        seconds[f"{name} ready"] = time.perf_counter() - start
    _warm_defaults(seconds)


def _warm_image_page(seconds: dict[str, float]) -> None:
    """The image page's first visit without waiting for files or first calls: the repository's
    stored runs (read once per server), then one of them drawn and tabulated (plotly express and the
    PNG encoder import on their first call)."""
    start = time.perf_counter()
    try:
        runs = shipped_runs()
    except RunFileError as error:  # the page says so to its visitors
        LOGGER.warning("the warm start cannot read the stored image runs: %s", error)
        return
    for run in runs[:1]:
        for figure in (image_plots.noise_confidence_grid_figure, image_plots.method_histograms_figure,
                       image_plots.adversarial_samples_figure):
            figure(run.result).to_json()
        summary_rows(run.result), detection_rows(run.result)
    seconds["image page"] = time.perf_counter() - start


def _step_configs(page: str, state: AppState) -> dict[str, ToyConfig]:
    """The configs a step's page trains: every shown method's, or the regions pages' one method
    (Linear regions: the 2×32 net when the link asks for it)."""
    if page not in REGION_PAGES:
        configs = state.toy_configs()
    else:
        method = state.regions_method()
        small = page == "linear-regions" and state.small_net
        configs = {method: state.toy_config(method, SMALL_NET if small else None)}
    for config in configs.values():
        check_toy_job(config, APP_BUDGET)
    return configs


def _warm_models(configs: dict[str, ToyConfig], name: str, seconds: dict[str, float]) -> dict[str, ToyRun]:
    """The step's runs (untrained ones trained together, as ``training.trained_or_stop`` does) and
    their metrics."""
    batch = batch_job(list(configs.values()))
    if batch is not None:
        _warm_job(batch, f"{name}: {len(batch.key[1])} models at once", seconds)
    runs = {method: _warm_job(toy_job(config), f"{name}: model {method}", seconds)
            for method, config in configs.items()}
    for method, run in runs.items():
        _warm_job(metrics_job(run), f"{name}: metrics {method}", seconds)
    return runs


def _warm_views(page: str, state: AppState, runs: dict[str, ToyRun], name: str, seconds: dict[str, float]) -> None:
    """What the step's page draws from its runs (each cached in ``views`` for every session)."""
    ACTIVITY.give_way()
    start = time.perf_counter()
    if page == "playground":
        resolution = COMPARE_RESOLUTION if state.compare else MAP_RESOLUTION
        for run in runs.values():
            grid(run, state.halfwidth, resolution)
    elif page == "far-away":
        theta = np.radians(state.theta)  # as the Far away page computes it: the cache key is the same
        point = (float(np.cos(theta)), float(np.sin(theta))) if state.along == "direction" else state.point
        for run in runs.values():
            ray_confidence(run, point, RAY_ALPHAS)
            limit_confidence(run, LIMIT_ANGLES)
    elif page in REGION_PAGES:
        for run in runs.values():
            if sum(run.config.hidden) <= MAX_REGION_NEURONS:
                _warm_regions(run, state, seconds, name)
    seconds[f"{name}: views"] = time.perf_counter() - start


def _warm_gan(state: AppState, name: str, seconds: dict[str, float]) -> None:
    """torch's one-time optimiser imports (``torch._dynamo``, ~1 s), then the GAN page's run."""
    start = time.perf_counter()
    weight = torch.zeros(1, requires_grad=True)
    weight.sum().backward()
    make_optimizer([weight]).step()
    seconds["optimiser imports"] = time.perf_counter() - start
    gan = state.gan_config()
    check_gan_job(gan, APP_BUDGET)
    _warm_job(gan_job(gan), name, seconds)


def _warm_defaults(seconds: dict[str, float]) -> None:
    """The pages' view without a link: the Playground's model and metrics, the Linear regions and
    proof pages' regions and region maps, the GAN page's run (found at once when a step had them)."""
    defaults = AppState()
    for config in defaults.toy_configs().values():
        run = _warm_job(toy_job(config), f"default model {config.method}", seconds)
        _warm_job(metrics_job(run), f"metrics {config.method}", seconds)
        if sum(config.hidden) <= MAX_REGION_NEURONS:
            _warm_regions(run, defaults, seconds)
    _warm_gan(defaults, "GAN", seconds)


def _warm_job(spec: JobSpec, name: str, seconds: dict[str, float]):
    """Start the job of ``spec`` and wait for it (one at a time: a visitor's job gets the other
    worker); its value. Raises ``Stopped`` if it was stopped, ``ConfigError`` if it failed."""
    ACTIVITY.give_way()
    start = time.perf_counter()
    job = start_kept(spec)
    job.done.wait()
    if job.cancelled:
        raise Stopped(f"the job '{spec.label}'")
    if job.error is not None:
        raise ConfigError(f"the warm start's job '{spec.label}' failed: {job.error}")
    seconds[name] = time.perf_counter() - start
    return job.value


def _warm_regions(run: ToyRun, state: AppState, seconds: dict[str, float], prefix: str = "") -> None:
    """The Linear regions page's regions and region map, then the proof page's (its box depends on
    the ray through the state's point)."""
    proof_half = proof_view_half(ray_profile_of(run, state.point))
    name = f"{prefix}: " if prefix else ""
    for half in dict.fromkeys([float(state.box), proof_half]):
        regions = _warm_job(regions_job(run, half), f"{name}regions {run.config.method} ±{half:g}", seconds)
        start = time.perf_counter()
        region_map(run, regions, half, region_colouring(run.config, state.colour))
        seconds[f"{name}region map ±{half:g}"] = time.perf_counter() - start
