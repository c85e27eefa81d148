"""Evaluations of a trained run that the pages draw, each cached per (config, arguments) for every
session (Streamlit's ``cache_resource``; a run is hashed by its config, which determines it)."""
from __future__ import annotations

import contextlib
import copy
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from toyood import farfield
from toyood.attack import adversarial_far_points
from toyood.device import use_threads
from toyood.evaluate import GridEvaluation, eval_logits, evaluate_grid
from toyood.plots import regions as region_plots
from toyood.plots.ray import proof_panels
from toyood.models import set_temperature
from toyood.ray import RayProfile, ray_profile
from toyood.regions import Regions
from toyood.timeline import Snapshot, timeline_entries
from toyood.toy import ToyConfig, ToyRun, far_test_points

from .labels import class_names
from .state import BOXES, auto_colouring

GRID_CACHE_ENTRIES = 48
FIGURE_CACHE_ENTRIES = 64  # shared figures (two maps per model and view)
# What the pages draw by default, named once for the pages and the warm start (``warm``):
MAP_RESOLUTION = 200  # Playground: grid points per side of one model's maps
COMPARE_RESOLUTION = 150  # Playground: of each map when several models are compared
RAY_ALPHAS = tuple(np.geomspace(0.1, 1e12, 261))  # Far away: the walk α·x, from near the origin
LIMIT_ANGLES = 720  # Far away: the directions of the limit curve
PROOF_BOXES = (*BOXES, 500, 1000, 2000, 5000)  # the proof's map half-widths: the Linear regions page's boxes, then wider
MIN_ALPHA_VIEW = 1.5  # the proof's curves reach past x itself (α = 1)
COLOUR_BAR_PAD = 40  # px between the proof's map and its colour bar
BY_CONFIG = {ToyRun: lambda run: run.config}  # a run's cache key: its config (the run is a function of it)


@contextlib.contextmanager
def torch_threads():
    """torch on the app's thread count (one, or $TOYOOD_THREADS) for the block, restored after."""
    before = torch.get_num_threads()
    use_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False, hash_funcs=BY_CONFIG)
def grid(run: ToyRun, halfwidth: float, resolution: int = 200) -> GridEvaluation:
    """The model on a resolution² grid over [−halfwidth, halfwidth]²."""
    with torch_threads():
        return evaluate_grid(run.model, run.config.method_object(), float(halfwidth), resolution)


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False, hash_funcs=BY_CONFIG)
def ray_confidence(run: ToyRun, point: tuple[float, float], alphas: tuple[float, ...]) -> np.ndarray:
    """Confidence at α·point for each α (float64)."""
    with torch_threads():
        probs = farfield.ray_probabilities(run.model, np.array([point]), np.array(alphas))[0]
    return run.config.method_object().confidence(torch.from_numpy(probs)).numpy()


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False, hash_funcs=BY_CONFIG)
def limit_confidence(run: ToyRun, n_angles: int) -> tuple[np.ndarray, np.ndarray]:
    """Angles and lim_{α→∞} confidence(α·u(θ)) on ``n_angles`` equally spaced directions."""
    angles = (np.arange(n_angles) + 0.5) * 2 * np.pi / n_angles
    with torch_threads():
        probs = farfield.asymptotic_probabilities(run.model, angles)
    return angles, run.config.method_object().confidence(torch.from_numpy(probs)).numpy()


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False, hash_funcs=BY_CONFIG)
def limit_entropy(run: ToyRun, n_angles: int) -> tuple[np.ndarray, np.ndarray]:
    """Angles and lim_{α→∞} entropy (nats) of softmax(f(α·u(θ)) / T) on ``n_angles`` equally spaced directions."""
    angles = (np.arange(n_angles) + 0.5) * 2 * np.pi / n_angles
    with torch_threads():
        return angles, farfield.limit_entropy(run.model, angles)


@st.cache_resource(max_entries=32, show_spinner=False, hash_funcs=BY_CONFIG)
def ray_profile_of(run: ToyRun, point: tuple[float, float]) -> RayProfile:
    """The exact profile of the trained model along the ray α·``point``."""
    with torch_threads():
        profile = ray_profile(run.model, np.array(point))
        if profile.alpha_view < MIN_ALPHA_VIEW:  # an RBF net's view ends where its bumps have decayed
            profile = ray_profile(run.model, np.array(point), alpha_view=MIN_ALPHA_VIEW)
    return profile


def proof_view_half(profile: RayProfile) -> float:
    """Half-width of the proof's map: holds x and the ray a bit past its last breakpoint (RBF: its view)."""
    reach = profile.alpha_view if profile.last_start is None else 1.3 * profile.last_start
    needed = 1.15 * float(np.abs(profile.x).max()) * max(1.0, reach)
    return float(next((box for box in PROOF_BOXES if box >= needed), PROOF_BOXES[-1]))


def region_colouring(config: ToyConfig, chosen: str | None) -> str:
    """How a region map of this model is coloured: as ``chosen`` (None: ``state.auto_colouring``),
    except DisMax's (by region: its distance head is not affine, so a region has no one class or
    confidence)."""
    if config.method_object().head == "dismax":
        return "region"
    return chosen or auto_colouring(config.hidden)


@st.cache_resource(max_entries=FIGURE_CACHE_ENTRIES, show_spinner=False)
def shared_figure(key: tuple, _build: Callable[[], go.Figure]) -> go.Figure:
    """``_build()``, built once per ``key`` for every session: one object shared by all, so no caller
    may change it (lay it out inside ``_build``). ``key`` names everything the figure shows, e.g.
    ``("confidence", run.config, halfwidth, resolution)``. Building the Playground's two maps is about
    half of a cached view's server CPU per session (``benchmarks/bench_classroom.py``)."""
    return _build()


@st.cache_resource(max_entries=12, show_spinner=False, hash_funcs=BY_CONFIG)
def region_map(run: ToyRun, _regions: Regions, halfwidth: float, colour_by: str) -> go.Figure:
    """The region-map raster with the training data (about a second to draw). ``_regions`` are the
    run's regions in [−halfwidth, halfwidth]² (not hashed: the run and the half-width determine them)."""
    return region_plots.region_map_figure(_regions, colour_by, points=run.data.x_train, labels=run.data.y_train,
                                          class_names=class_names(run.config), max_outlines=0)


def _lower_colour_bar(trace) -> None:
    """The colour bar's title clears the x tick labels of the proof's path panel."""
    if trace.type == "heatmap":
        trace.update(colorbar_ypad=COLOUR_BAR_PAD)
    elif trace.type in ("scatter", "scattergl") and trace.marker.showscale:
        trace.update(marker_colorbar_ypad=COLOUR_BAR_PAD)


@st.cache_resource(max_entries=16, show_spinner=False, hash_funcs=BY_CONFIG)
def proof_figures(run: ToyRun, point: tuple[float, float], half: float, background: str, log_x: bool,
                  _profile: RayProfile, _traces: list, _regions: Regions | None) -> dict:
    """The proof's panels (``toyood.plots.ray.proof_panels``) of the run's ray through ``point`` over
    [−half, half]², built once per view (about half a second of plotly work). ``background`` names what
    ``_traces`` are (a region map's colouring, or 'confidence'); with the run, the point and the
    half-width it determines them, the profile and the regions, which are therefore not hashed."""
    panels = proof_panels(_profile, _traces, _regions, (-half, half, -half, half), log_x, class_names(run.config))
    panels["path"].figure.for_each_trace(_lower_colour_bar)
    return panels


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False, hash_funcs=BY_CONFIG)
def moved_far_points(run: ToyRun, points: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The first ``points`` far test points moved by ``toyood.attack`` (PGD in an ℓ∞ ball of half
    their norm, towards the highest confidence; the metrics' ``far_adv_*`` moves) and the confidence
    at each moved point (logits / T), as toy_metrics computes them."""
    method = run.config.method_object()
    with torch_threads():
        far = far_test_points(run.config, run.data)[:points]
        moved = adversarial_far_points(run.model, method, far, seed=run.config.seed)
        confidence = method.confidence(torch.softmax(eval_logits(run.model, moved), -1)).numpy()
    return moved, confidence


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False, hash_funcs=BY_CONFIG)
def snapshot_view(run: ToyRun, snapshots: int, index: int, halfwidth: float, _snapshot: Snapshot
                  ) -> tuple[GridEvaluation, dict]:
    """One training snapshot read at the run's temperature: its map over [−halfwidth, halfwidth]² and
    its ``toyood.timeline.timeline_entries`` (far-away share, test accuracy; regions not counted).
    ``_snapshot`` is snapshot ``index`` of ``snapshots`` of the run's config (so not hashed)."""
    model = set_temperature(copy.copy(_snapshot.model), run.config.temperature)
    with torch_threads():
        grid_at = evaluate_grid(model, run.config.method_object(), float(halfwidth), MAP_RESOLUTION)
        entry = timeline_entries(run, [Snapshot(_snapshot.epoch, _snapshot.step, model)], regions=False)[0]
    return grid_at, entry
