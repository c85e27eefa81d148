"""Evaluations of a trained run that the pages draw, each cached per (config, arguments) for every
session (Streamlit's ``cache_resource``; a run is hashed by its config, which determines it)."""
from __future__ import annotations

import contextlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from toyood import farfield
from toyood.device import use_threads
from toyood.evaluate import GridEvaluation, evaluate_grid
from toyood.plots import regions as region_plots
from toyood.ray import RayProfile, ray_profile
from toyood.regions import Regions
from toyood.toy import ToyConfig, ToyRun

from .labels import class_names
from .state import BOXES

GRID_CACHE_ENTRIES = 48
PROOF_BOXES = (*BOXES, 500, 1000, 2000, 5000)  # the proof's map half-widths: the Linear regions page's boxes, then wider
MIN_ALPHA_VIEW = 1.5  # the proof's curves reach past x itself (α = 1)
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


def region_colouring(config: ToyConfig, chosen: str) -> str:
    """How a region map of this model is coloured: as ``chosen``, except DisMax's (by region: its
    distance head is not affine, so a region has no one class or confidence)."""
    return "region" if config.method_object().head == "dismax" else chosen


@st.cache_resource(max_entries=12, show_spinner=False, hash_funcs=BY_CONFIG)
def region_map(run: ToyRun, _regions: Regions, halfwidth: float, colour_by: str) -> go.Figure:
    """The region-map raster with the training data (about a second to draw). ``_regions`` are the
    run's regions in [−halfwidth, halfwidth]² (not hashed: the run and the half-width determine them)."""
    return region_plots.region_map_figure(_regions, colour_by, points=run.data.x_train, labels=run.data.y_train,
                                          class_names=class_names(run.config), max_outlines=0)
