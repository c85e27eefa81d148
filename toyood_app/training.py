"""Training and scoring jobs (Streamlit): the pages ask for a trained run, its metrics, its linear
regions or the GAN page's run; each is one job of the server's table (``running``), computed once for
every session by the library (``toyood.experiment``, ``toyood.gan``, ``toyood.evaluate``,
``toyood.regions``) and kept in the run cache (``stores``). While a model trains, the page shows the
loss so far and a coarse confidence map, both handed over by the library's ``on_epoch`` callback.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from toyood.budget import Budget, check_gan_job, check_toy_job
from toyood.data import gaussian_means
from toyood.errors import ConfigError
from toyood.evaluate import GridEvaluation, evaluate_grid, gan_metrics, toy_metrics
from toyood.experiment import train_toy_configs
from toyood.gan import GanConfig, GanRun, train_gan, train_toy_with_source
from toyood.methods import METHODS
from toyood.models import DisMaxHead, piecewise_affine_layers
from toyood.plots import gan as gan_plots
from toyood.plots import toy as toy_plots
from toyood.progress import phase
from toyood.regions import Regions, enumerate_regions
from toyood.toy import ToyConfig, ToyRun
from toyood.timeline import Snapshot, region_count, train_with_timeline
from toyood.train import EpochEnd

from . import stores
from .charts import show_training
from .labels import run_label
from .running import STOPPED_KEY, Job, JobSpec, jobs, run_once
from .session import INPUT_ERROR_KEY, state, stop

APP_BUDGET = Budget(memory_bytes=2 * 2**30, seconds=120)  # per job: the server is shared
MAX_REGION_NEURONS = 1200  # hidden neurons of the largest net whose regions the app enumerates
PREVIEW_RESOLUTION = 40  # grid points per side of the coarse map shown while a model trains
PREVIEW_COUNT = 20  # coarse maps shown over a training run
GAN_FINAL_HALFWIDTH = 50.0
GAN_FINAL_RESOLUTION = 150
# A training job's progress bar: training, then the metrics the pages show next. Measured on the default
# 2×500 net (2 cores, loaded): plain 6.3 s training, 7.6 s metrics; 'gan' source 27.8 s (GAN 23.3), 4.5 s.
TRAIN_SHARE = {"gan": 0.85}
TRAIN_SHARE_DEFAULT = 0.45
OTHER_SERVER = "another server process is training this model; it loads here when done"


@dataclass(frozen=True)
class TrainingView:
    """What a training job shows while it runs: the loss per epoch so far and a coarse confidence map."""

    losses: tuple[float, ...]
    epochs: int
    grid: GridEvaluation
    centres: np.ndarray | None  # the Gaussian means whose 3σ circles the map draws (None: other data)
    sigma: float
    n_classes: int = 2


class TrainingPreview:
    """``on_epoch`` for a toy config: collects the loss of every epoch and hands ``show`` a
    ``TrainingView`` every few epochs (``PREVIEW_COUNT`` in all) and after the last."""

    def __init__(self, config: ToyConfig, show):
        self.config, self.show, self.losses = config, show, []
        self.every = max(1, config.epochs // PREVIEW_COUNT)

    def __call__(self, end: EpochEnd) -> None:
        self.losses.append(end.loss)
        if end.epoch % self.every and end.epoch != end.epochs:
            return
        with torch.inference_mode():
            grid = evaluate_grid(end.model, self.config.method_object(), toy_plots.TRAINING_BOX, PREVIEW_RESOLUTION)
        centres = gaussian_means(self.config.classes) if self.config.dataset == "gaussians" else None
        self.show(TrainingView(tuple(self.losses), end.epochs, grid, centres, self.config.sigma, self.config.classes))


def toy_job(config: ToyConfig) -> JobSpec:
    """Training a config (or loading it from the run cache); 'gan' trains its GAN first."""
    def compute(job: Job) -> ToyRun:
        def train() -> tuple[ToyRun, dict]:
            share = train_share([config])
            run = train_toy_with_source(config, phase(job, 0.0, share), on_epoch=TrainingPreview(config, job.preview))
            return run, _scored([run], phase(job, share, 1.0), job.table)[0]
        run, trained = stores.stored_or_trained(config, train, lambda: job(0.0, OTHER_SERVER))
        if not trained:
            job(1.0, "loaded from the server's run cache")
        return run
    return JobSpec(("toy", config), compute, f"Training {run_label(config)}")


def train_share(configs: list[ToyConfig]) -> float:
    """The share of a training job's progress bar its training takes (then its metrics)."""
    return max(TRAIN_SHARE.get(config.ood, TRAIN_SHARE_DEFAULT) for config in configs)


def _scored(runs: list[ToyRun], progress, table) -> list[dict]:
    """Each run's ``toy_metrics``, kept in ``table`` as its finished metrics job: the pages show them
    next, so the training job's progress covers them too."""
    scores = []
    for i, run in enumerate(runs):
        progress(i / len(runs), f"metrics of {run_label(run.config)}")
        scores.append(toy_metrics(run))
        spec = metrics_job(run)
        table.put(spec.key, spec.label, scores[-1])
    progress(1.0, "done")
    return scores


def _train_together(configs: list[ToyConfig]):
    """Train the configs in one batched loop (``toyood.experiment.train_toy_configs``: one GAN per
    seed and classifier kind), score them, and store each run (and its metrics) as the finished toy
    (metrics) job of its config; under each entry's lock, so another server never trains them too."""
    def compute(job: Job) -> int:
        with contextlib.ExitStack() as locks:  # in one order (the configs'), so two servers never deadlock
            for config in sorted(configs, key=repr):
                locks.enter_context(stores.entry_lock(config, lambda: job(0.0, OTHER_SERVER)))
            stored = {config: stores.stored_run(config) for config in configs}  # trained meanwhile elsewhere?
            missing = [config for config, run in stored.items() if run is None]
            runs = [run for run in stored.values() if run is not None]
            if missing:
                share = train_share(missing)
                trained = train_toy_configs(missing, phase(job, 0.0, share))[0]
                for run, metrics in zip(trained, _scored(trained, phase(job, share, 1.0), job.table)):
                    stores.store_run(run, metrics)
                runs += trained
            for run in runs:
                spec = toy_job(run.config)
                job.table.put(spec.key, spec.label, run)
        return len(runs)
    return compute


def trained(config: ToyConfig) -> ToyRun | None:
    """The trained run of a config: trained once for every session, with a progress bar and the loss
    and a coarse map meanwhile (``charts.show_training``); None after an ``st.error``."""
    return run_once(*toy_job(config), preview=show_training)


def batch_job(configs: list[ToyConfig]) -> JobSpec | None:
    """Training those of ``configs`` that are neither trained nor cached, at once (one batched loop),
    when there are several; None otherwise. The pages and the warm start ask for the same job."""
    missing = [config for config in configs
               if not jobs().finished(toy_job(config).key) and not stores.is_stored(config)]
    if len(missing) < 2:
        return None
    names = ", ".join(run_label(config) for config in missing)
    return JobSpec(("toy-batch", tuple(missing)), _train_together(missing),
                   f"Training {len(missing)} models at once ({names})")


def trained_or_stop(configs: dict[str, ToyConfig]) -> dict[str, ToyRun]:
    """``trained`` for each config, stopping the page if none could be trained. Several untrained
    ones train at once first (the batch's failure leaves each to train, and fail, on its own)."""
    batch = batch_job(list(configs.values()))
    if batch is not None and run_once(*batch) is None and batch.key in st.session_state[STOPPED_KEY]:
        stop()
    runs = {method: run for method, config in configs.items() if (run := trained(config)) is not None}
    if not runs:
        stop()
    return runs


def configs_or_stop(hidden: tuple[int, ...] | None = None, methods: tuple[str, ...] | None = None
                    ) -> dict[str, ToyConfig]:
    """One config per shown method (``methods``, default all; ``hidden`` overrides the widths), each
    within the app's budget; otherwise the page stops after saying what to change."""
    current = state()
    if st.session_state.get(INPUT_ERROR_KEY):
        st.error(st.session_state[INPUT_ERROR_KEY])
        stop()
    if not current.methods:
        st.info("Choose at least one method in the sidebar.")
        stop()
    if current.dataset == "file" and current.data_file is None:
        st.info("Upload a CSV of x, y, label rows in the sidebar (under **Data**): every toy page then trains on "
                "your points.", icon=":material/upload_file:")
        stop()
    if current.dataset != "gaussians" and current.ood == "gan" and any(METHODS[m].needs_ood for m in current.methods):
        st.error("**The gan OOD source needs Gaussian classes** (Lee et al.'s GAN is measured on their 3σ circles): "
                 "choose boundary or general, or the Gaussians, in the sidebar.")
        stop()
    try:
        configs = {m: current.toy_config(m, hidden) for m in (methods or current.methods)}
        for config in configs.values():
            check_toy_job(config, APP_BUDGET)
    except ConfigError as error:
        st.error(f"**These settings cannot be trained here:** {error}. Change them in the sidebar.")
        stop()
    return configs


def metrics_job(run: ToyRun) -> JobSpec:
    """``toy_metrics`` of a run (or its stored metrics), kept with the run in the run cache."""
    def compute(job: Job) -> dict:
        stored = stores.stored_metrics(run.config)
        if stored is None:
            stored = toy_metrics(run)
            stores.store_run(run, stored)
        return stored
    return JobSpec(("metrics", run.config), compute, f"Metrics of {run_label(run.config)}")


def metrics_of(run: ToyRun) -> dict | None:
    """``toyood.evaluate.toy_metrics`` of a trained run, computed once (with a progress bar)."""
    return run_once(*metrics_job(run))


def finished_metrics(run: ToyRun) -> dict | None:
    """The run's metrics if they are computed already (never starts the job)."""
    return jobs().value_if_finished(metrics_job(run).key)


def metrics_rows(runs: dict[str, ToyRun]) -> dict[str, dict]:
    """The metrics of each run under its run label (those that could be computed)."""
    rows = {run_label(run.config): metrics_of(run) for run in runs.values()}
    return {label: metrics for label, metrics in rows.items() if metrics is not None}


def regions_job(run: ToyRun, halfwidth: float) -> JobSpec:
    """The exact linear regions of a run's net in [−halfwidth, halfwidth]² (DisMax: its body's)."""
    model = run.model

    def compute(job: Job) -> Regions:
        layers, negative_slope = piecewise_affine_layers(model)
        if isinstance(model.head, DisMaxHead):  # the body only: a zero 2-logit output layer
            layers = [*layers, (np.zeros((2, layers[-1][0].shape[0])), np.zeros(2))]
        return enumerate_regions(layers, halfwidth, negative_slope, progress=job, budget=APP_BUDGET)
    return JobSpec(("regions", run.config, float(halfwidth)), compute, f"Linear regions of {run_label(run.config)}")


def linear_regions(run: ToyRun, halfwidth: float) -> Regions | None:
    """The exact linear regions in [−halfwidth, halfwidth]² of the model's piecewise-affine part,
    enumerated once with a progress bar; None after an ``st.error``."""
    neurons = sum(run.config.hidden)
    if neurons > MAX_REGION_NEURONS:
        st.error(f"**Too large to enumerate here:** the app enumerates the exact regions of nets with at most "
                 f"{MAX_REGION_NEURONS:,} hidden neurons (this one has {neurons:,}). Use narrower layers or "
                 "`toyood regions` on the command line.")
        return None
    return run_once(*regions_job(run, halfwidth))


@dataclass(frozen=True)
class GanResult:
    """Everything the GAN page shows of one config, computed once."""

    run: GanRun
    metrics: dict
    animation: go.Figure
    final_grid: GridEvaluation


def gan_job(config: GanConfig) -> JobSpec:
    """The GAN page's run: G, D and the classifier trained, evaluated and animated."""
    def compute(job: Job) -> GanResult:
        run = train_gan(config, phase(job, 0.0, 0.9))
        job(0.9, "evaluating the classifier")
        final = evaluate_grid(run.classifier.model, run.classifier.config.method_object(), GAN_FINAL_HALFWIDTH,
                              GAN_FINAL_RESOLUTION)
        return GanResult(run, gan_metrics(run), gan_plots.gan_animation(run), final)
    return JobSpec(("gan", config), compute, "Training G, D and the classifier")


def trained_gan_or_stop() -> GanResult:
    """The GAN page's run for the current settings (within the app's budget), trained once with a
    progress bar; the page stops after an ``st.error`` otherwise."""
    try:
        config = state().gan_config()
        check_gan_job(config, APP_BUDGET)
    except ConfigError as error:
        st.error(f"**These settings cannot be trained here:** {error}. Change them in the sidebar.")
        stop()
    result = run_once(*gan_job(config))
    if result is None:
        stop()
    return result


def metrics_by_score(run: ToyRun, score: str | None) -> dict | None:
    """``toy_metrics`` of a run with detection by ``score`` (``toyood.scores``; None: the method's
    own, ``metrics_of``), computed once per run and score (a score is read, never trained)."""
    if score is None:
        return metrics_of(run)

    def compute(job: Job) -> dict:
        return toy_metrics(run, score=score)
    return run_once(("metrics", run.config, score), compute, f"Metrics of {run_label(run.config)} by {score}")


def timeline_of(config: ToyConfig, snapshots: int) -> tuple[ToyRun, list[Snapshot]] | None:
    """``config`` trained again with ``snapshots`` nets kept over training (``toyood.timeline``; the
    final net is the trained run's, bitwise), once for every session; None after an ``st.error``."""
    def compute(job: Job) -> tuple[ToyRun, list[Snapshot]]:
        return train_with_timeline(config, snapshots, job)
    return run_once(("timeline", config, snapshots), compute,
                    f"Training {run_label(config)} again, keeping {snapshots} snapshots")


def snapshot_regions(config: ToyConfig, snapshots: int, index: int, snapshot: Snapshot, count: bool = True
                     ) -> int | None:
    """The exact region count in [−50, 50]² of one snapshot (``toyood.timeline.region_count``, the
    compiled cutter: 1-2 s for a 2×500 net), counted once for every session; ``count`` False: only
    if counted already (None otherwise, and for nets without linear regions)."""
    key = ("timeline-regions", config, snapshots, index)
    if not count:
        return jobs().value_if_finished(key)
    return run_once(key, lambda job: region_count(snapshot.model), f"Counting the regions at epoch {snapshot.epoch}")
