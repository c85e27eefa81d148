"""Shared helpers of the Streamlit pages: sidebar → ``ToyConfig``, cached training with a progress
bar, cached evaluations, the metrics table, downloads and error display.

Pages stay thin: widgets → frozen config → the cached calls here → a figure from ``toyood.plots``.
Trained runs live in ``st.cache_resource`` (bounded, shared by all sessions and pages), so going
back to a configuration seen before is instant.
"""
from __future__ import annotations

import io
import json
import tempfile
import os
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from toyood import farfield
from toyood.evaluate import GridEvaluation, evaluate_grid, toy_metrics
from toyood.methods import METHODS
from toyood.models import DisMaxHead, piecewise_affine_layers
from toyood.plots import regions as region_plots
from toyood.regions import Regions, enumerate_regions
from toyood.train import (DEVICES, OOD_CHOICES, PRESETS, ConfigError, ToyConfig, ToyRun, TrainingDiverged,
                          save_run, train_toy)

DEFAULT_PRESET = "interactive"
RUN_CACHE_ENTRIES = 24
GRID_CACHE_ENTRIES = 48
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
OOD_SOURCES = tuple(source for source in OOD_CHOICES if source != "none")
METHOD_LABELS = {
    "plain": "plain (cross-entropy)",
    "confidence": "confidence loss (Lee)",
    "ceda": "CEDA (Hein)",
    "acet": "ACET (Hein)",
    "reject": "reject class (Vernekar)",
    "dismax": "DisMax",
    "rbf": "RBF network",
}
METRIC_LABELS = {
    "test_accuracy": "test accuracy",
    "in_mmc": "MMC in-dist.",
    "far_ood_mmc": "MMC far OOD",
    "far_ood_auroc": "AUROC",
    "far_ood_fpr95": "FPR@95",
    "far_ood_tnr95": "TNR@95",
    "far_ood_dtacc": "DTACC",
    "far_ood_overconfident": "far OOD ≥ 0.99",
    "far_ood_rejected": "far OOD rejected",
    "asymptotic_overconfident": "directions → conf. 1",
    "asymptotic_rejected": "directions → reject",
    "asymptotic_mmc": "limit MMC",
    "median_alpha_999": "median α to 0.999",
    "train_seconds": "train s",
}
METRICS_HELP = (
    "Far OOD: 10,000 points uniform in [−50, 50]² outside the 3σ discs. MMC = mean max real-class "
    "probability. AUROC and FPR@95 follow Hein et al. (in-distribution positive, score = max "
    "probability; −entropy for DisMax; max real-class probability for the reject class); TNR@95 and "
    "DTACC follow Lee et al. 'directions → conf. 1': exact share of directions u with "
    "lim softmax(f(αu)) = one-hot on a real class (Thm 3.1). 'median α to 0.999': median over far OOD "
    "points x of the smallest α ≥ 1 with confidence(αx) ≥ 0.999 (empty: never reached).")


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def run_label(config: ToyConfig) -> str:
    """The method's label, with the OOD source for methods that train on OOD samples."""
    return method_label(config.method) + (f" · {config.ood} OOD" if config.ood != "none" else "")


# ---------------------------------------------------------------------------------------------
# Sidebar → configuration


def parse_hidden(text: str) -> tuple[int, ...]:
    """'500, 500' → (500, 500); ValueError with a message saying what is accepted."""
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    if not text.strip() or any(not part.isdigit() for part in parts):
        raise ValueError(f"hidden widths must be positive integers separated by commas, e.g. 500,500 (got {text!r})")
    widths = tuple(int(part) for part in parts)
    if not 1 <= len(widths) <= 6 or not all(1 <= w <= 4096 for w in widths):
        raise ValueError(f"use 1 to 6 hidden layers of width 1 to 4096, e.g. 500,500 (got {text!r})")
    return widths


@dataclass(frozen=True)
class TrainingSettings:
    """The sidebar's choices shared by every method: a ``ToyConfig`` once a method is chosen."""

    ood: str
    sigma: float
    hidden: tuple[int, ...]
    preset: str
    epochs: int
    lr: float
    seed: int
    device: str

    def config(self, method: str) -> ToyConfig:
        """The method's config; the OOD source applies only to methods that train on OOD samples."""
        ood = self.ood if METHODS[method].needs_ood else "none"
        return ToyConfig(method=method, ood=ood, sigma=self.sigma, hidden=self.hidden, preset=self.preset,
                         epochs=self.epochs, lr=self.lr, seed=self.seed, device=self.device)


def training_settings(show_ood: bool, default_hidden: str = "500,500") -> TrainingSettings | None:
    """Render the sidebar's training widgets; None (after an ``st.error``) on unparsable input."""
    sidebar = st.sidebar
    ood = "boundary"
    if show_ood:
        ood = sidebar.radio("OOD training samples", OOD_SOURCES, horizontal=True, key="ood",
                            help="boundary: area-uniform annulus between 3σ and 3σ+1 around each mean "
                                 "(Lee et al. / Vernekar Fig. 3a); general: uniform in [−50, 50]² outside "
                                 "the 3σ discs (Vernekar Fig. 4a). Used only by methods that train on OOD data.")
    sigma = sidebar.slider("σ of each class", 0.5, 5.0, 1.0, 0.5, key="sigma",
                           help="Standard deviation of both Gaussians, means (±10, 0). Paper: 1; notebooks: 2.")
    hidden_text = sidebar.text_input("Hidden widths", default_hidden, key="hidden",
                                     help="Comma-separated widths of the ReLU layers, e.g. 500,500 (paper).")
    preset = sidebar.selectbox("Preset", list(PRESETS), list(PRESETS).index(DEFAULT_PRESET), key="preset",
                               help="interactive: 40 epochs, batch 64 (fast); vernekar: the paper's 200 epochs, "
                                    "batch 32 + 32 OOD, Adam 1e-3.")
    defaults = PRESETS[preset]
    epochs = sidebar.number_input("Epochs", 1, 1000, defaults["epochs"], key=f"epochs_{preset}")
    lr = sidebar.select_slider("Learning rate (Adam)", LEARNING_RATES, defaults["lr"], key=f"lr_{preset}",
                               format_func=lambda value: f"{value:g}")
    seed = sidebar.number_input("Seed", 0, 2**31 - 1, 0, key="seed", help="Data, OOD samples and initialisation.")
    device = sidebar.selectbox("Device", DEVICES, key="device", help="auto: CUDA, then MPS, then CPU.")
    try:
        hidden = parse_hidden(hidden_text)
    except ValueError as error:
        st.error(f"**Hidden widths:** {error}")
        return None
    return TrainingSettings(ood, float(sigma), hidden, preset, int(epochs), float(lr), int(seed), device)


def configs_for(methods: list[str], settings: TrainingSettings) -> dict[str, ToyConfig] | None:
    """One config per method; None after an ``st.error`` naming what to change."""
    try:
        return {method: settings.config(method) for method in methods}
    except ConfigError as error:
        st.error(f"**Invalid settings:** {error}")
        return None


def configs_or_stop(methods: list[str], settings: TrainingSettings | None) -> dict[str, ToyConfig]:
    """``configs_for``, stopping the page (after saying why) when nothing can be trained."""
    if not methods:
        st.info("Choose at least one method in the sidebar.")
        st.stop()
    configs = configs_for(methods, settings) if settings is not None else None
    if configs is None:
        st.stop()
    return configs


# ---------------------------------------------------------------------------------------------
# Cached training and evaluation


class _RunSlot:
    """The cache entry of one config, filled outside the cached call so that the progress bar is
    not recorded for replay. The lock makes concurrent sessions wait for one training."""

    def __init__(self):
        self.lock = threading.Lock()
        self.run: ToyRun | None = None
        self.error: str | None = None
        self.metrics: dict | None = None


@st.cache_resource(max_entries=RUN_CACHE_ENTRIES, show_spinner=False)
def _slot(config: ToyConfig) -> _RunSlot:
    return _RunSlot()


@contextmanager
def torch_threads():
    """One intra-op thread while training or evaluating (``TOYOOD_THREADS`` overrides it). The
    server shares the cores with the browser and other sessions: measured in Chromium on 2 cores,
    the cold playground took 10.6 s with one thread and 14.9 s with two (OpenMP spin-waiting)."""
    threads = torch.get_num_threads()
    wanted = os.environ.get("TOYOOD_THREADS", "1")
    torch.set_num_threads(int(wanted) if wanted.isdigit() and int(wanted) >= 1 else 1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train_into(slot: _RunSlot, config: ToyConfig, progress=None) -> None:
    try:
        with torch_threads():
            slot.run = train_toy(config, progress)
    except (ConfigError, TrainingDiverged) as error:
        slot.error = str(error)


def trained(config: ToyConfig) -> ToyRun | None:
    """The trained run of a config (training with a progress bar on a cache miss); None after an
    ``st.error`` when the config is rejected or training diverges."""
    slot = _slot(config)
    with slot.lock:
        if slot.run is None and slot.error is None:
            label = method_label(config.method)
            bar = st.progress(0.0, text=f"Training {label} …")
            _train_into(slot, config, lambda fraction, text: bar.progress(fraction, text=f"Training {label}: {text}"))
            bar.empty()
    if slot.error is not None:
        st.error(f"**{method_label(config.method)} could not be trained:** {slot.error}. "
                 "Change the settings in the sidebar and the page updates.")
        return None
    return slot.run


def _quiet_run(config: ToyConfig) -> ToyRun:
    """The run of a config already trained by ``trained`` (retrained silently if evicted since)."""
    slot = _slot(config)
    with slot.lock:
        if slot.run is None:
            _train_into(slot, config)
    if slot.run is None:
        raise TrainingDiverged(slot.error or "training failed")
    return slot.run


def metrics(config: ToyConfig) -> dict:
    """``toy_metrics`` of a trained config, computed once."""
    slot = _slot(config)
    run = _quiet_run(config)
    with slot.lock:
        if slot.metrics is None:
            with st.spinner(f"Evaluating {method_label(config.method)} …"), torch_threads():
                slot.metrics = toy_metrics(run)
    return slot.metrics


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False)
def grid(config: ToyConfig, halfwidth: float, resolution: int) -> GridEvaluation:
    """The trained model of ``config`` on a resolution² grid over [−halfwidth, halfwidth]²."""
    run = _quiet_run(config)
    with torch_threads():
        return evaluate_grid(run.model, config.method_object(), halfwidth, resolution)


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False)
def ray_confidence(config: ToyConfig, point: tuple[float, float], alphas: tuple[float, ...]) -> np.ndarray:
    """Confidence at α·point for each α (float64)."""
    run = _quiet_run(config)
    with torch_threads():
        probs = farfield.ray_probabilities(run.model, np.array([point]), np.array(alphas))[0]
    return config.method_object().confidence(torch.from_numpy(probs)).numpy()


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False)
def limit_confidence(config: ToyConfig, n_angles: int) -> tuple[np.ndarray, np.ndarray]:
    """Angles and lim_{α→∞} confidence(α·u(θ)) on ``n_angles`` equally spaced directions."""
    run = _quiet_run(config)
    angles = (np.arange(n_angles) + 0.5) * 2 * np.pi / n_angles
    with torch_threads():
        probs = farfield.asymptotic_probabilities(run.model, angles)
    return angles, config.method_object().confidence(torch.from_numpy(probs)).numpy()


@st.cache_resource(max_entries=8, show_spinner=False)
def linear_regions(config: ToyConfig, halfwidth: float) -> Regions:
    """Exact linear regions in [−halfwidth, halfwidth]² of the piecewise-affine part of the model:
    the whole net for linear and reject heads, the feature extractor (body) for DisMax."""
    model = _quiet_run(config).model
    layers, negative_slope = piecewise_affine_layers(model)
    if isinstance(model.head, DisMaxHead):  # regions of the body only: a zero 2-logit output layer
        layers = [*layers, (np.zeros((2, layers[-1][0].shape[0])), np.zeros(2))]
    return enumerate_regions(layers, halfwidth, negative_slope)


def class_names(config: ToyConfig) -> list[str]:
    return ["class 0", "class 1"] + (["reject"] if config.method_object().head == "reject" else [])


@st.cache_resource(max_entries=16, show_spinner=False)
def region_map(config: ToyConfig, halfwidth: float, colour_by: str) -> go.Figure:
    """The region-map raster of ``linear_regions`` with the training data (cached: ~1 s to draw)."""
    run = _quiet_run(config)
    fig = region_plots.region_map_figure(linear_regions(config, halfwidth), colour_by, points=run.data.x_train,
                                         labels=run.data.y_train, class_names=class_names(config), max_outlines=0)
    return fig.update_layout(title="Regions in the box (red outline: unbounded)", height=640,
                             legend=dict(orientation="h", y=-0.08))


# ---------------------------------------------------------------------------------------------
# Tables and downloads


def metrics_table(rows: dict[str, dict], keys: list[str] | None = None) -> pd.DataFrame:
    """One row per model name; columns ``keys`` (default: all of ``METRIC_LABELS``) under readable names."""
    keys = keys or list(METRIC_LABELS)
    table = pd.DataFrame.from_dict({name: {METRIC_LABELS[key]: m.get(key) for key in keys}
                                    for name, m in rows.items()}, orient="index").astype(float)
    table.index.name = "model"
    return table


def show_metrics(rows: dict[str, dict], file_stem: str, keys: list[str] | None = None) -> None:
    """The metrics table (``keys``, default all; one row per model, or one column for a single
    model) with its explanation and JSON/CSV downloads."""
    table = metrics_table(rows, keys)
    if len(table) == 1:  # one model: a column of metrics reads better than one very wide row
        table = table.T.rename_axis("metric")
    st.dataframe(table.style.format(precision=3, na_rep="never"), width="stretch")
    st.caption(METRICS_HELP)
    left, right, _ = st.columns([1, 1, 3])
    left.download_button("Metrics (JSON)", json.dumps(rows, indent=2), f"{file_stem}.json", "application/json",
                         on_click="ignore", key=f"json_{file_stem}")
    right.download_button("Metrics (CSV)", lambda: pd.DataFrame.from_dict(rows, orient="index").to_csv(),
                          f"{file_stem}.csv", "text/csv", on_click="ignore", key=f"csv_{file_stem}")


def download_figure(container, fig: go.Figure, file_stem: str, label: str = "Figure (HTML)") -> None:
    """A download button for a stand-alone HTML copy of the figure (built only when clicked)."""
    container.download_button(label, lambda: fig.to_html(include_plotlyjs=True, full_html=True),
                              f"{file_stem}.html", "text/html", on_click="ignore", key=f"html_{file_stem}")


def download_run(container, config: ToyConfig, file_stem: str) -> None:
    """A download button for the run as a zip of config.json, model.pt and metrics.json
    (unzip and open with ``toyood.train.load_run``); built only when clicked."""

    def archive() -> bytes:
        with tempfile.TemporaryDirectory() as directory:
            save_run(_quiet_run(config), directory, _slot(config).metrics)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as zipped:
                for path in sorted(Path(directory).iterdir()):
                    zipped.write(path, path.name)
        return buffer.getvalue()

    container.download_button("Trained model (zip)", archive, f"{file_stem}.zip", "application/zip",
                              on_click="ignore", key=f"zip_{file_stem}",
                              help="config.json, model.pt (state dict), metrics.json: "
                                   "unzip, then toyood.train.load_run(folder).")
