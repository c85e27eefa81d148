"""The Streamlit app's shared parts: one state for every page, the toy sidebar, one cache for long
computations, the toy computations, figures, tables and downloads.

- State: the session holds one ``toyood.appstate.AppState`` (as a dict of its fields). It comes from
  the URL at a session's first run (or when a link with other parameters is opened) and goes back to
  the URL after every run, so the address bar is always a link to the current view. Widgets are made
  with ``widget``: their values live in that dict, so they survive page changes and hidden controls.
- Long computations go through ``run_once``: one worker thread per key, shared by every session that
  asks for it, a bounded cache, a progress bar with a Stop button, an optional live view, and
  cancellation (``toyood.errors.Cancelled``) when nobody watches any more.
- Pages stay thin: ``configs_or_stop`` → ``trained`` → cached evaluations → a figure from ``toyood.plots``.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import hashlib
import io
import itertools
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

import toyood
from toyood import data as toydata
from toyood import farfield
from toyood.appstate import (BOXES, GAN_BETAS, GAN_ITERATIONS, LEARNING_RATES, OOD_SOURCES, PRESET_FIELDS, SCENARIOS,
                             SIGMAS, WEIGHTS, AppState, Scenario, active_scenario, next_scenario, parse_query,
                             preset_value, to_query, widths)
from toyood.batched import train_many
from toyood.budget import Budget, check_gan_job, check_toy_job
from toyood.device import DEVICES, max_threads, resolve_device, use_threads
from toyood.errors import Cancelled, ConfigError, RunFileError, TrainingDiverged
from toyood.evaluate import GridEvaluation, evaluate_grid, gan_metrics, toy_metrics
from toyood.gan import CLASSIFIERS, GAN_SHARE, STARTS, GanConfig, GanRun, gan_ood_samples, train_gan
from toyood.methods import CEDA_OBJECTIVES, METHODS
from toyood.models import DisMaxHead, piecewise_affine_layers
from toyood.plots import gan as gan_plots
from toyood.plots.colours import confidence_colorbar, confidence_colorscale
from toyood.plots.export import export_config
from toyood.plots import regions as region_plots
from toyood.plots import toy as toy_plots
from toyood.progress import Progress, format_duration, phase
from toyood.ray import RayProfile, ray_profile
from toyood.regions import Regions, enumerate_regions
from toyood.runfiles import load_run, read_metrics, save_run
from toyood.toy import MAX_EXTRA_OOD, PRESETS, ToyConfig, ToyRun, build_model, ood_pool, toy_data
from toyood.train import PoolSampler, fit, make_optimizer

LOGGER = logging.getLogger("toyood.app")
# torch, plotly, pandas and Streamlit leave ~400k long-lived objects: a full collection takes ~0.15 s
# and used to land in the middle of a widget change. Freezing them keeps collections small.
gc.freeze()
APP_BUDGET = Budget(memory_bytes=2 * 2**30, seconds=120)  # per job: the server is shared
MAX_REGION_NEURONS = 1200  # hidden neurons of the largest net whose regions the app enumerates
GRID_CACHE_ENTRIES = 48
PROOF_BOXES = (*BOXES, 500, 1000, 2000, 5000)  # the proof's map half-widths: the Linear regions page's boxes, then wider
MIN_ALPHA_VIEW = 1.5  # the proof's curves reach past x itself (α = 1)
MAX_CACHED_RUNS = 64  # trained runs kept on disk (about 1 MB each for 2×500)
JOB_LIMITS = {"toy": 32, "metrics": 32, "toy-batch": 4, "regions": 3, "gan": 6}  # finished results kept per kind of job
DEFAULT_JOB_LIMIT = 8
ABANDON_SECONDS = 5.0  # a job nobody has watched for this long stops at its next progress report
POLL_SECONDS = 0.25
PREVIEW_RESOLUTION = 40
PREVIEW_WIDTH = 400  # px of the loss curve and the coarse map while a model trains
GAN_FINAL_HALFWIDTH = 50.0
GAN_FINAL_RESOLUTION = 150
MAP_WIDTH = 540  # px of one map figure: two side by side from about 1500 px screens, else one per row
COMPARE_MAP_WIDTH = 400  # px: maps of ≥ 320 px, two per row at 1440 px, or at 1024 px with the sidebar closed
OVERLAY_POINTS_PER_CLASS = 150  # training points drawn per class over a map (the training order is random)
OVERLAY_OOD_SAMPLES = 500  # OOD training samples drawn over a map
MAP_GAP = 48  # px: the row's gap between two maps, with room to spare

METHOD_LABELS = {
    "plain": "plain (cross-entropy)",
    "confidence": "confidence loss (Lee)",
    "ceda": "CEDA (Hein)",
    "acet": "ACET (Hein)",
    "reject": "reject class (Vernekar)",
    "dismax": "DisMax",
    "rbf": "RBF network",
}
METHOD_HELP = {
    "plain": "cross-entropy on the K classes only: the baseline of Hein et al.'s Thm 3.1.",
    "confidence": "cross-entropy plus β·KL(uniform ‖ p) on OOD samples (Lee et al.): taught to be unsure there.",
    "ceda": "cross-entropy plus λ·L_out on OOD samples (Hein et al.); L_out is set by the objective below.",
    "acet": "CEDA, but each OOD sample is first moved (ℓ∞ PGD within ε) to where the net is most confident.",
    "reject": "a third output, 'reject'; OOD samples are labelled with it (Vernekar et al.).",
    "dismax": "logits = −distance to learned class prototypes (Macêdo et al.); no OOD samples.",
    "rbf": "an RBF network (Hein et al. Thm 3.2): far away every logit → 0, so confidence → 1/K.",
}
METHODS_HELP = "\n".join(f"- **{METHOD_LABELS[m]}**: {METHOD_HELP[m]}" for m in METHODS)
OOD_HELP = ("boundary: area-uniform in the annulus 3σ…3σ+1 around each mean (Lee et al. / Vernekar Fig. 3a). "
            "general: uniform in [−50, 50]² outside the 3σ discs (Vernekar Fig. 4a). gan: samples of a GAN "
            "trained first, jointly with a classifier, to produce boundary samples (Lee et al.). Used only by "
            "the methods that train on OOD samples.")
GAN_SOURCE_NOTE = ("**gan** trains in two phases, both shown in the progress bar: first Lee et al.'s joint GAN "
                   "(800 iterations of G, D and a classifier, about half a minute), then this method's "
                   "classifier on 2,000 of the generator's samples. See the GAN page for what they look like.")
DATA_LABELS = {"gaussians": "Gaussians", "moons": "two moons", "rings": "concentric rings", "spiral": "spiral arms",
               "xor": "XOR blobs", "file": "your own points (CSV)"}
DATA_HELP = ("gaussians: K classes of std σ, means (±10, 0) for K = 2, else on the circle of radius 10. moons: two "
             "half circles; rings: K concentric rings; spiral: K arms; xor: four blobs, two classes. σ is the noise "
             "of each; OOD means farther than 3σ from the data. Own data: upload a CSV of x, y, label below.")
UPLOAD_HELP = (f"Rows x, y, label (a header row x,y,label is optional), labels 0..K−1 with 2 ≤ K ≤ "
               f"{toydata.MAX_CLASSES}, at most {toydata.MAX_CSV_ROWS:,} rows. The points are scaled so that the "
               f"largest |coordinate| is {toydata.DATA_RADIUS:g}, and split half to train, half to test per class.")
MAX_UPLOADS = 32  # uploaded CSV files kept on the server (each at most toyood.data.MAX_CSV_BYTES)
OBJECTIVE_LABELS = {"max_conf": "log max p (Hein eq. 2)", "uniform": "CE to uniform labels"}
MAX_CONF_NOTE = ("With **log max p** the OOD term's gradient is 1 − p_max: it vanishes where the net is already "
                 "sure, and on this toy the far samples are sure within the first epoch, so CEDA and ACET stay "
                 "as overconfident as plain. **CE to uniform labels** keeps a gradient and makes them unsure "
                 "in the box.")
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
NEVER_KEYS = ("median_alpha_999",)  # a missing value means "never reached"
METRICS_HELP = (
    "Far OOD: 10,000 points uniform in [−50, 50]² outside the 3σ discs. MMC = mean max real-class "
    "probability. AUROC and FPR@95 follow Hein et al. (in-distribution positive, score = max "
    "probability; −entropy for DisMax; max real-class probability for the reject class); TNR@95 and "
    "DTACC follow Lee et al. 'directions → conf. 1': exact share of directions u with "
    "lim softmax(f(αu)) = one-hot on a real class (Thm 3.1). 'median α to 0.999': median over far OOD "
    "points x of the smallest α ≥ 1 with confidence(αx) ≥ 0.999 ('never': not reached by α = 10¹²).")


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def run_label(config: ToyConfig) -> str:
    """The method's label, with the OOD source for methods that train on OOD samples."""
    return method_label(config.method) + (f" · {config.ood} OOD" if config.ood != "none" else "")


def net_label(config: ToyConfig) -> str:
    """"a 500×500 net", or "a 64×64 leaky-ReLU (0.1) net"."""
    leaky = f" leaky-ReLU ({config.negative_slope:g})" if config.negative_slope else ""
    return f"a {'×'.join(map(str, config.hidden))}{leaky} net"


@contextlib.contextmanager
def torch_threads():
    """torch on the app's thread count (one, or $TOYOOD_THREADS) for the block, restored after."""
    before = torch.get_num_threads()
    use_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# State: URL ↔ session

VALUES_KEY = "toyood:state"  # dict of AppState fields: the session's state
WRITTEN_KEY = "toyood:written"  # the query parameters the app last put in the address bar
PROBLEMS_KEY = "toyood:link-problems"
INPUT_ERROR_KEY = "toyood:input-error"
WIDGET_PREFIX = "w:"


def load_state() -> None:
    """Take the state from the URL at a session's first run, or when the address holds parameters
    the app did not write (a scenario link, an edited address); note one problem per bad value."""
    query = st.query_params.to_dict()
    if VALUES_KEY not in st.session_state or (query and query != st.session_state.get(WRITTEN_KEY)):
        parsed, problems = parse_query(query)
        set_state(parsed)
        st.session_state[PROBLEMS_KEY] = problems
        st.session_state[WRITTEN_KEY] = query
    st.session_state[INPUT_ERROR_KEY] = None


def set_state(new: AppState) -> None:
    """Replace the session's state; every widget shows the new values at its next render."""
    st.session_state[VALUES_KEY] = dataclasses.asdict(new)
    for key in [key for key in st.session_state if str(key).startswith(WIDGET_PREFIX)]:
        del st.session_state[key]


def state() -> AppState:
    return AppState(**st.session_state[VALUES_KEY])


def widget(field: str, render: Callable[[str], Any], shown: Callable = lambda v: v, stored: Callable = lambda v: v,
           suffix: str = "", options=None) -> Any:
    """Render the widget of an AppState field with ``render(key)`` and store its value.

    The widget starts from the state (``shown`` converts a state value to a widget value) and its
    value goes back into the state (``stored``; a ValueError there leaves the state unchanged and
    is raised), so it survives page changes and being hidden. ``options``: the widget's choices,
    when they depend on other settings (a value no longer offered starts again from the state).
    """
    key = f"{WIDGET_PREFIX}{field}{suffix}"
    values = st.session_state[VALUES_KEY]
    if options is not None and key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]
    if key not in st.session_state:
        st.session_state[key] = shown(values[field])
    value = stored(render(key))
    values[field] = value
    return value


def show_link_problems() -> None:
    """The problems of the link this session was opened with, once."""
    problems = st.session_state.get(PROBLEMS_KEY)
    if problems:
        st.warning("**This link has values the app cannot show:**\n" + "\n".join(f"- {p}" for p in problems))
        st.session_state[PROBLEMS_KEY] = []


LINK_SLOT_KEY = "toyood:link-slot"


def link_slot() -> None:
    """Reserve the sidebar's place for the 'link to this view' control (filled by ``sync_url``)."""
    st.session_state[LINK_SLOT_KEY] = st.sidebar.empty()


def sync_url() -> None:
    """Write the state into the address bar (only what differs from the defaults) and fill the
    'link to this view' control; a scenario whose settings were changed is dropped. app.py calls it
    after every page; a fragment of view controls calls it after its own reruns."""
    values, slot = st.session_state.get(VALUES_KEY), st.session_state.get(LINK_SLOT_KEY)
    if values is None or slot is None:
        return
    if values["scenario"] and active_scenario(state()) is None:
        values["scenario"] = None
    query = to_query(state())
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)
    st.session_state[WRITTEN_KEY] = query
    with slot.container():
        with st.popover("Link to this view", icon=":material/link:", width="stretch"):
            st.code(view_link(query), language=None, wrap_lines=True)
            st.caption("Copy it with the button at the box's right. Opening it shows this page with exactly "
                       "these settings; add `students=1` to hide the advanced controls.")
            if state().dataset == "file":
                st.warning("**Your uploaded points are not in this link:** an upload stays on this server. The link "
                           "opens the default data; send the CSV along and have it uploaded again.",
                           icon=":material/upload_file:")


def view_link(query: dict[str, str]) -> str:
    """The address of this page with ``query`` (relative when the browser's address is unknown)."""
    base = st.context.url or ""
    return base + ("?" + urllib.parse.urlencode(query, safe=",") if query else "")


# ---------------------------------------------------------------------------------------------
# The toy sidebar (rendered by app.py on every toy page)


def toy_sidebar() -> None:
    """The settings every toy page shares, declared once: method(s), OOD source, CEDA/ACET objective,
    σ, widths, and (unless in the students' view) the training settings."""
    bar = st.sidebar
    students = widget("students", lambda key: bar.toggle(
        "Students' view", key=key, help="Hide the training settings: only the method, the OOD source, σ and "
                                        "the widths stay. A link with students=1 opens this way."))
    _method_controls(bar)
    methods = state().methods
    if any(METHODS[m].needs_ood for m in methods):
        ood = widget("ood", lambda key: bar.radio("OOD training samples", OOD_SOURCES, key=key, horizontal=True,
                                                   help=OOD_HELP))
        if ood == "gan":
            bar.caption(GAN_SOURCE_NOTE)
    if {"ceda", "acet"} & set(methods):
        objective = widget("ceda_objective", lambda key: bar.radio(
            "CEDA/ACET objective L_out", CEDA_OBJECTIVES, key=key, format_func=OBJECTIVE_LABELS.get,
            help="What CEDA and ACET minimise on OOD samples (ACET's attack maximises it)."))
        if objective == "max_conf":
            bar.caption(MAX_CONF_NOTE)
    _data_controls(bar)
    widget("sigma", lambda key: bar.select_slider(
        "σ of each class", SIGMAS, key=key, format_func="{:g}".format,
        help="Std of each Gaussian (paper: 1; notebooks: 2), the noise of the other data sets; the OOD "
             "samplers keep 3σ away from the data."))
    _hidden_control(bar)
    if not students:
        with bar.expander("Training settings"):
            _training_controls(methods)


def _method_controls(bar) -> None:
    compare = widget("compare", lambda key: bar.toggle(
        "Compare methods", key=key, on_change=_compare_changed,
        help="Several methods side by side, on the same data, seed and settings."))
    if compare:
        widget("methods", lambda key: bar.multiselect("Methods", list(METHODS), key=key, format_func=method_label,
                                                      help=METHODS_HELP), shown=list, stored=tuple, suffix=":several")
    else:
        method = widget("methods", lambda key: bar.selectbox("Method", list(METHODS), key=key,
                                                             format_func=method_label, help=METHODS_HELP),
                        shown=lambda v: v[0], stored=lambda v: (v,), suffix=":one")[0]
        bar.caption(f"**{method_label(method)}**: {METHOD_HELP[method]}")


def _data_controls(bar) -> None:
    """The data set, K (fixed for moons and xor, the file's for own data) and the CSV upload."""
    dataset = widget("dataset", lambda key: bar.selectbox("Data", [*toydata.DATASETS, "file"], key=key,
                                                         format_func=DATA_LABELS.get, help=DATA_HELP))
    values = st.session_state[VALUES_KEY]
    fixed = toydata.FIXED_CLASSES.get(dataset)
    if dataset == "file":
        _upload_control(bar)
    if fixed is not None and values["classes"] != fixed:
        values["classes"] = fixed
        st.session_state.pop(f"{WIDGET_PREFIX}classes", None)
    widget("classes", lambda key: bar.number_input(
        "Classes K", 2, toydata.MAX_CLASSES, key=key, disabled=fixed is not None or dataset == "file",
        help="K: 2 to 10 (moons and xor have 2; own data: the file's labels)."),
        suffix=":file" if dataset == "file" else "")


UPLOAD_DONE_KEY = "toyood:upload-done"  # file id of the upload handled last, and its error (or None)


def _upload_control(bar) -> None:
    """The CSV uploader: a new file is checked and, if good, becomes the data of every toy page
    (kept in the state, so it survives page changes and an emptied uploader)."""
    file = bar.file_uploader("Your points (CSV: x, y, label)", type=["csv", "txt"], key="upload-csv",
                             help=UPLOAD_HELP)
    done = st.session_state.get(UPLOAD_DONE_KEY)
    if file is not None and (done is None or done[0] != file.file_id):
        error = use_upload(file.name, file.getvalue())
        st.session_state[UPLOAD_DONE_KEY] = done = (file.file_id, error)
    if file is not None and done[1] is not None:
        bar.error(done[1])
    current = state()
    if current.data_file is not None and not _upload_still_kept(current):
        if file is None or done[1] is not None:  # evicted, and the uploader no longer holds it
            st.session_state[VALUES_KEY].update(data_file=None, data_digest=None)
            bar.warning(f"Your uploaded points are no longer kept on this server (it keeps the last {MAX_UPLOADS} "
                        "uploads): upload the file again.", icon=":material/upload_file:")
            return
        use_upload(file.name, file.getvalue())  # evicted, but the uploader still holds it: keep it again
        current = state()
    if current.data_file is not None:
        rows, classes, scale = own_data_summary(current.data_file, current.data_digest)
        bar.caption(f"In use: {rows:,} points, K = {classes}, scaled by {scale:.4g} (largest |coordinate| → "
                    f"{toydata.DATA_RADIUS:g}); SHA-256 {current.data_digest[:12]}…")


def use_upload(name: str, content: bytes) -> str | None:
    """Check an uploaded CSV and make it the session's data (stored server-side by its SHA-256);
    returns None, or the message saying what is wrong (the state then keeps its data)."""
    try:
        _, labels, _ = toydata.points_from_csv(content)
        path, digest = store_upload(content)
    except toydata.DataFileError as error:
        return f"**{name} cannot be used:** {error}."
    except OSError as error:
        LOGGER.warning("cannot keep an upload: %s", error)
        return f"**{name} cannot be kept on the server:** {error.strerror or error}."
    values = st.session_state[VALUES_KEY]
    values.update(dataset="file", data_file=str(path), data_digest=digest, classes=int(labels.max()) + 1)
    st.session_state.pop(f"{WIDGET_PREFIX}classes:file", None)
    return None


def upload_dir() -> Path:
    """Where uploaded CSV files are kept: a hidden folder of the run cache (the run cache never
    evicts it), or a temporary folder when the run cache is off."""
    cache = run_cache_dir()
    return cache / ".uploads" if cache is not None else Path(tempfile.gettempdir()) / f"toyood-uploads-{os.getuid()}"


def store_upload(content: bytes) -> tuple[Path, str]:
    """Write the bytes to ``upload_dir()/<sha256>.csv`` (atomically; the oldest beyond
    ``MAX_UPLOADS`` go) and return the path and the digest. Names come from the content only, so a
    visitor can never name a server path."""
    digest = hashlib.sha256(content).hexdigest()
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.csv"
    if not path.is_file():
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as handle:
            handle.write(content)
        os.replace(handle.name, path)
    path.touch()
    kept = sorted(folder.glob("*.csv"), key=lambda f: f.stat().st_mtime)
    for old in kept[:max(0, len(kept) - MAX_UPLOADS)]:
        old.unlink(missing_ok=True)
    return path, digest


def _upload_still_kept(current: AppState) -> bool:
    """Whether the session's upload is still stored under its digest (older uploads are evicted)."""
    path = Path(current.data_file)
    return path.is_file() and path.stem == current.data_digest


@st.cache_data(max_entries=16, show_spinner=False)
def own_data_summary(path: str, digest: str) -> tuple[int, int, float]:
    """Rows, K and the scale factor of a stored upload (its digest is part of the cache key)."""
    x, labels, scale = toydata.points_from_csv(Path(path).read_bytes())
    return len(x), int(labels.max()) + 1, scale


def _compare_changed() -> None:
    set_state(state().with_compare(bool(st.session_state[f"{WIDGET_PREFIX}compare"])))


def _hidden_control(bar) -> None:
    try:
        widget("hidden", lambda key: bar.text_input("Hidden widths", key=key,
                                                    help="Comma-separated widths of the ReLU layers, e.g. 500,500 "
                                                         "(the paper's). The Linear regions page shows this net."),
               shown=lambda v: ",".join(map(str, v)), stored=widths)
    except ValueError as error:
        st.session_state[INPUT_ERROR_KEY] = f"**Hidden widths:** {error}."


def _training_controls(methods: tuple[str, ...]) -> None:
    current = state()
    widget("preset", lambda key: st.selectbox("Preset", list(PRESETS), key=key, on_change=_preset_changed,
                                              help="interactive: 40 epochs, batch 64 + 64 OOD (fast); vernekar: "
                                                   "the paper's 200 epochs, batch 32 + 32 OOD, Adam 1e-3."))
    _preset_widget("epochs", lambda key: st.number_input("Epochs", 1, 5000, key=key), current.preset)
    _preset_widget("batch_size", lambda key: st.number_input("Batch size (and as many OOD rows)", 1, 4096, key=key),
                   current.preset)
    _preset_widget("lr", lambda key: st.select_slider("Learning rate (Adam)", LEARNING_RATES, key=key,
                                                      format_func="{:g}".format), current.preset)
    used = set().union(*(METHODS[m].settings_used() for m in methods))
    if "ood_weight" in used:
        widget("weight", lambda key: st.select_slider("Weight of the OOD term (β, λ)", WEIGHTS, key=key,
                                                      format_func="{:g}".format))
    if "acet_eps" in used:
        widget("acet_eps", lambda key: st.number_input("ACET ε (ℓ∞ radius)", 0.1, 100.0, step=0.5, key=key))
        _preset_widget("acet_steps", lambda key: st.number_input("ACET PGD steps", 1, 200, key=key), current.preset)
        widget("acet_step_size", lambda key: st.number_input("ACET step size", 0.01, 100.0, step=0.1, key=key))
    widget("leaky", lambda key: st.number_input("Leaky-ReLU slope (0 = ReLU)", 0.0, 0.95, step=0.05, key=key))
    widget("seed", lambda key: st.number_input("Seed", 0, 2**31 - 1, key=key,
                                               help="Data, OOD samples, initialisation and batch order."))
    widget("device", lambda key: st.selectbox("Device", DEVICES, key=key, help="auto: CUDA, then MPS, then CPU."))


def _preset_widget(field: str, render: Callable[[str], Any], preset: str) -> None:
    """A widget whose default is the preset's value (stored as None while it equals it)."""
    default = PRESETS[preset][field]
    widget(field, render, shown=lambda v: default if v is None else v,
           stored=lambda v: None if v == default else v)


def _preset_changed() -> None:
    values = st.session_state[VALUES_KEY]
    values["preset"] = st.session_state[f"{WIDGET_PREFIX}preset"]
    for field in PRESET_FIELDS:
        values[field] = None
        st.session_state.pop(f"{WIDGET_PREFIX}{field}", None)


def gan_sidebar() -> None:
    """The GAN page's settings (σ and the seed are the toy pages' own)."""
    bar = st.sidebar
    widget("classifier", lambda key: bar.radio(
        "Classifier", CLASSIFIERS, key=key, format_func=method_label,
        help="confidence: generated samples get the KL-to-uniform loss and G seeks uniform predictions (Lee). "
             "reject: generated samples are labelled reject and G seeks the reject class."))
    widget("start", lambda key: bar.radio(
        "Start", STARTS, key=key, format_func={"joint": "joint from scratch (Vernekar)",
                                               "pretrained": "pre-trained classifier (Lee)"}.get,
        help="joint: G, D and the classifier from scratch (Vernekar's experiment). pre-trained: the classifier "
             "is first trained with boundary samples, then held fixed while the GAN trains against it."))
    widget("iterations", lambda key: bar.select_slider(
        "Iterations", GAN_ITERATIONS, key=key, help="Each: 100 real + 100 generated rows; D, G and the classifier "
                                                     "step once. Vernekar ran ~20,000."))
    widget("beta", lambda key: bar.select_slider("β (KL weight)", GAN_BETAS, key=key, format_func="{:g}".format))
    widget("sigma", lambda key: bar.select_slider("σ of each class", SIGMAS, key=key, format_func="{:g}".format),
           suffix=":gan")  # keys of their own: the toy sidebar's widgets differ, and would answer their defaults
    widget("seed", lambda key: bar.number_input("Seed", 0, 2**31 - 1, key=key), suffix=":gan")


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


def scenario_note(page_path: str) -> None:
    """The note of the lecture scenario this view was opened as, and a link to the next one."""
    scenario = active_scenario(state())
    if scenario is None or scenario.page != page_path:
        return
    number = list(SCENARIOS).index(scenario.id) + 1
    following = next_scenario(scenario.id)
    st.info(f"**Scenario {number} of {len(SCENARIOS)}: {scenario.title}.** {scenario.note}",
            icon=":material/school:")
    if following is not None:
        st.page_link(page_for(following), label=f"Next: {following.title}", icon=":material/arrow_forward:",
                     query_params=following.link_query())


PAGE_OBJECTS: dict[str, Any] = {}  # url path → st.Page, filled by app.py


def page_for(scenario: Scenario):
    return PAGE_OBJECTS[scenario.page]


# ---------------------------------------------------------------------------------------------
# One cache for long computations


class Job:
    """One computation, shared by every session that asks for its key. The worker thread calls
    ``compute(job)``; ``job(fraction, text)`` is its progress callback and ``job.preview(obj)`` hands
    the page something to show meanwhile. Either raises ``Cancelled`` once the job is stopped, or
    when nobody has watched it for ``ABANDON_SECONDS`` (the browser was closed)."""

    ids = itertools.count(1)

    def __init__(self, key, label: str, keep: bool, table: "JobTable"):
        self.key, self.label, self.keep, self.id, self.table = key, label, keep, next(Job.ids), table
        self.fraction, self.text = 0.0, "queued"
        self.preview_value, self.preview_version = None, 0
        self.value, self.error, self.cancelled = None, None, False
        self.done = threading.Event()
        self.watchers, self.unwatched_since, self.stop_requested = 0, time.monotonic(), False
        self.started = time.monotonic()

    def __call__(self, fraction: float, text: str) -> None:
        self._check_wanted()
        self.fraction, self.text = min(max(float(fraction), 0.0), 1.0), text

    def preview(self, value) -> None:
        self._check_wanted()
        self.preview_value, self.preview_version = value, self.preview_version + 1

    def _check_wanted(self) -> None:
        abandoned = (not self.keep and self.watchers == 0
                     and time.monotonic() - self.unwatched_since > ABANDON_SECONDS)
        if self.stop_requested or abandoned:
            raise Cancelled(f"{self.label}: stopped")

    def status(self) -> str:
        elapsed = time.monotonic() - self.started
        left = (f" · about {format_duration(elapsed * (1 - self.fraction) / self.fraction)} left"
                if self.fraction >= 0.02 else "")
        return f"{self.label}: {self.text} · {self.fraction:.0%} · {format_duration(elapsed)}{left}"

    def attach(self) -> None:
        self.watchers += 1

    def detach(self) -> None:
        self.watchers -= 1
        self.unwatched_since = time.monotonic()

    def stop_unless_watched(self) -> None:
        """A session pressed Stop: the job ends unless another session is still watching it."""
        if self.watchers == 0:
            self.stop_requested = True


class JobTable:
    """The jobs by key, bounded per kind (``key[0]``): the least recently used finished ones go."""

    def __init__(self, limits: dict[str, int]):
        self.limits, self.lock, self.jobs = limits, threading.Lock(), collections.OrderedDict()
        self.workers = threading.BoundedSemaphore(max_threads())

    def get_or_start(self, key, label: str, compute: Callable[[Job], Any], keep: bool, expected) -> Job:
        with self.lock:
            job = self.jobs.get(key)
            if job is None or job.cancelled or job.stop_requested:
                job = self.jobs[key] = Job(key, label, keep, self)
                threading.Thread(target=self._work, args=(job, compute, expected), daemon=True,
                                 name=f"toyood-job-{job.id}").start()
                self._evict(key[0])
            self.jobs.move_to_end(key)
            return job

    def finished(self, key) -> bool:
        with self.lock:
            job = self.jobs.get(key)
            return job is not None and job.done.is_set() and not job.cancelled

    def value_if_finished(self, key):
        """The value of the finished job of ``key``, else None (never waits, never starts a job)."""
        with self.lock:
            job = self.jobs.get(key)
            return job.value if job is not None and job.done.is_set() and not job.cancelled else None

    def put(self, key, label: str, value) -> None:
        """Store a value computed elsewhere (a batch of models) as the finished job of ``key``."""
        with self.lock:
            if key in self.jobs and not self.jobs[key].cancelled:
                return
            job = self.jobs[key] = Job(key, label, False, self)
            job.value, job.fraction, job.text = value, 1.0, "done"
            job.done.set()
            self._evict(key[0])

    def stop_all(self, timeout: float) -> bool:
        """Ask every running job to stop (at its next progress call) and wait up to ``timeout``
        seconds for them: the server is shutting down. True if all have ended."""
        with self.lock:
            running = [job for job in self.jobs.values() if not job.done.is_set()]
        for job in running:
            job.stop_requested = True
        deadline = time.monotonic() + timeout
        return all(job.done.wait(max(0.0, deadline - time.monotonic())) for job in running)

    def forget(self, job: Job) -> None:
        with self.lock:
            if self.jobs.get(job.key) is job:
                del self.jobs[job.key]

    def _evict(self, kind: str) -> None:
        finished = [key for key, job in self.jobs.items() if key[0] == kind and job.done.is_set()]
        for key in finished[:max(0, len(finished) - self.limits.get(kind, DEFAULT_JOB_LIMIT))]:
            del self.jobs[key]

    def _work(self, job: Job, compute: Callable[[Job], Any], expected) -> None:
        try:
            while not self.workers.acquire(timeout=POLL_SECONDS):
                job(0.0, "waiting for a free worker")
            try:
                use_threads()
                job.value = compute(job)
            finally:
                self.workers.release()
        except Cancelled:
            job.cancelled = True
            self.forget(job)
        except expected as error:
            job.error = str(error)
        except Exception:  # logged for the operator; the visitor sees a one-line message
            LOGGER.exception("job %s failed", job.label)
            job.error = "an unexpected error stopped it (the details are in the server log)"
            self.forget(job)
        finally:
            job.done.set()


@st.cache_resource(show_spinner=False)
def jobs() -> JobTable:
    """The server's one table of jobs, shared by every session."""
    return JobTable(JOB_LIMITS)


EXPECTED_ERRORS = (ConfigError, TrainingDiverged, RunFileError)


class JobSpec(NamedTuple):
    """A kind of job, defined once for the pages (``run_once(*spec)``) and the warm start
    (``start_kept``): its key in the job table, its computation and its label."""

    key: tuple
    compute: Callable[[Job], Any]
    label: str


def start_kept(spec: JobSpec) -> Job:
    """Start (or find) the job of ``spec``, kept running whether or not anyone watches it."""
    return jobs().get_or_start(spec.key, spec.label, spec.compute, True, EXPECTED_ERRORS)
STOPPED_KEY = "toyood:stopped"


def run_once(key: tuple, compute: Callable[[Job], Any], label: str,
             preview: Callable[[Any, str], None] | None = None, keep: bool = False,
             expected: tuple[type[BaseException], ...] = EXPECTED_ERRORS):
    """``compute(job)`` for ``key`` (a hashable tuple whose first item names the kind of job),
    computed once in a worker thread and shared by every session; meanwhile a progress bar, a Stop
    button and, if given, ``preview(value, element_key)`` of what the job last handed over.

    Returns the value, or None after an ``st.error`` (one of the ``expected`` errors) or when this
    session stopped the job (with a button to start it again). ``keep`` jobs run on unwatched.
    """
    stopped = st.session_state.setdefault(STOPPED_KEY, set())
    while key not in stopped:
        job = jobs().get_or_start(key, label, compute, keep, expected)
        if st.session_state.get(f"stop-{job.id}"):
            stopped.add(key)
            job.stop_unless_watched()
            break
        if not job.done.is_set():
            _watch(job, preview)
        if not job.cancelled:  # cancelled while watched: stopped by another session, so start again
            if job.error is not None:
                st.error(f"**{label} failed:** {job.error}. Change the settings and the page updates.")
                return None
            return job.value
    if st.button(f"Stopped: {label}. Start again", icon=":material/replay:", key=f"restart-{hash(key)}"):
        stopped.discard(key)
        st.rerun()
    return None


def _watch(job: Job, preview: Callable[[Any, str], None] | None) -> None:
    """Show the job's progress until it is done. A widget change or a closed tab interrupts this
    (Streamlit raises from the next element call); the job then runs on for ``ABANDON_SECONDS``."""
    job.attach()
    placeholder = st.empty()
    box = placeholder.container(border=True)
    try:
        bar = box.progress(job.fraction, text=job.status())
        box.button("Stop this job", key=f"stop-{job.id}", icon=":material/stop_circle:")
        view, shown, text = box.empty(), 0, ""
        while not job.done.wait(POLL_SECONDS):
            if job.status() != text:
                text = job.status()
                bar.progress(job.fraction, text=text)
            if preview is not None and job.preview_version != shown:
                shown = job.preview_version
                with view.container():
                    preview(job.preview_value, f"preview-{job.id}-{shown}")
        placeholder.empty()
    finally:
        job.detach()


# ---------------------------------------------------------------------------------------------
# Toy computations


@dataclass(frozen=True)
class ToyResult:
    """A trained toy run (its metrics: ``metrics_of``, computed after the maps are drawn)."""

    run: ToyRun


@dataclass(frozen=True)
class TrainingView:
    """What a training job shows while it runs: the loss per epoch so far and a coarse confidence map."""

    losses: tuple[float, ...]
    epochs: int
    grid: GridEvaluation
    circles: dict  # the map's 3σ circles (``circles``)
    n_classes: int = 2


LOSS_PATTERN = re.compile(r"loss ([-+0-9.eE]+|nan|inf)")


class _EpochWatcher:
    """``fit``'s progress callback: passes progress on, collects the loss of each epoch from its text
    ("epoch i/n · loss x") and hands a coarse confidence map to ``show`` every few epochs."""

    def __init__(self, model, config: ToyConfig, data: toydata.ToyData, progress: Progress,
                 show: Callable[[TrainingView], None]):
        self.model, self.config, self.progress, self.show = model, config, progress, show
        self.circles = circles(data, config.sigma)
        self.losses: list[float] = []
        self.every = max(1, config.epochs // 20)

    def __call__(self, fraction: float, text: str) -> None:
        self.progress(fraction, text)
        match = LOSS_PATTERN.search(text)
        if match:
            self.losses.append(float(match.group(1)))
        if len(self.losses) % self.every == 0 or fraction >= 1.0:
            with torch.inference_mode():
                grid = evaluate_grid(self.model, self.config.method_object(), toy_plots.TRAINING_BOX,
                                     PREVIEW_RESOLUTION)
            self.model.train()
            self.show(TrainingView(tuple(self.losses), self.config.epochs, grid, self.circles, self.config.classes))


def fit_watched(config: ToyConfig, progress: Progress, show: Callable[[TrainingView], None],
                ood_samples: np.ndarray | None = None) -> ToyRun:
    """``toyood.toy.train_toy``'s own steps (the same calls in the same order, so the same model),
    with the model looked at every few epochs; the tests compare the two."""
    device = resolve_device(config.device)
    data = toy_data(config)
    pool = ood_pool(config, data) if ood_samples is None else np.asarray(ood_samples, dtype=np.float32)
    model = build_model(config, data).to(device)
    sampler = PoolSampler(torch.from_numpy(pool).to(device)) if pool is not None else None
    result = fit(model, config.method_object(), torch.from_numpy(data.x_train).to(device),
                 torch.from_numpy(data.y_train).to(device), sampler, epochs=config.epochs,
                 batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                 progress=_EpochWatcher(model, config, data, progress, show))
    return ToyRun(config, model.cpu(), data, pool, result.seconds, result.epoch_losses)


def _toy_job(config: ToyConfig) -> JobSpec:
    """Training a config (or loading it from the run cache)."""
    def compute(job: Job) -> ToyResult:
        stored = stored_run(config)
        if stored is not None:
            job(1.0, "loaded from the server's run cache")
            return ToyResult(stored)
        if config.ood == "gan":  # toyood.gan.train_toy_with_source's two phases
            samples = gan_ood_samples(config, phase(job, 0.0, GAN_SHARE, "phase 1 of 2, GAN: "))
            run = fit_watched(config, phase(job, GAN_SHARE, 1.0, "phase 2 of 2, classifier: "), job.preview, samples)
        else:
            run = fit_watched(config, job, job.preview)
        store_run(run)
        return ToyResult(run)
    return JobSpec(("toy", config), compute, f"Training {run_label(config)}")


def trained(config: ToyConfig) -> ToyResult | None:
    """The trained run and metrics of a config: trained once for every session, with a progress bar
    and the loss and a coarse map meanwhile; None after an ``st.error``."""
    return run_once(*_toy_job(config), preview=show_training)


def _train_many_and_evaluate(configs: list[ToyConfig]) -> Callable[[Job], int]:
    """Train the configs in one batched loop (``toyood.batched.train_many``) and store each run as the
    finished ``trained`` job of its config; returns how many."""
    def compute(job: Job) -> int:
        samples = [gan_ood_samples(c, phase(job, 0.0, 0.3, f"GAN samples for {c.method}: ")) if c.ood == "gan"
                   else None for c in configs]
        start = 0.3 if any(sample is not None for sample in samples) else 0.0
        runs = train_many(configs, phase(job, start, 1.0, "training together: "), samples)
        for run in runs:
            store_run(run)
            spec = _toy_job(run.config)
            job.table.put(spec.key, spec.label, ToyResult(run))
        return len(runs)
    return compute


def trained_or_stop(configs: dict[str, ToyConfig]) -> dict[str, ToyResult]:
    """``trained`` for each config, stopping the page if none could be trained. Several untrained
    ones train at once first (the batch's failure leaves each to train, and fail, on its own)."""
    missing = [config for config in configs.values()
               if not jobs().finished(_toy_job(config).key) and not _is_stored(config)]
    if len(missing) > 1:
        key = ("toy-batch", tuple(missing))
        if run_once(key, _train_many_and_evaluate(missing), f"Training {len(missing)} models at once") is None \
                and key in st.session_state[STOPPED_KEY]:
            stop()
    results = {method: result for method, config in configs.items() if (result := trained(config)) is not None}
    if not results:
        stop()
    return results


def metrics_of(result: ToyResult) -> dict | None:
    """``toyood.evaluate.toy_metrics`` of a trained run, computed once (with a progress bar) and kept
    with the run in the server's run cache."""
    run = result.run
    return run_once(*_metrics_job(run))


def _metrics_job(run: ToyRun) -> JobSpec:
    """``toy_metrics`` of a run (or its stored metrics), kept with the run in the run cache."""
    def compute(job: Job) -> dict:
        stored = stored_metrics(run.config)
        if stored is None:
            stored = toy_metrics(run)
            store_run(run, stored)
        return stored
    return JobSpec(("metrics", run.config), compute, f"Metrics of {run_label(run.config)}")


# ---------------------------------------------------------------------------------------------
# The server's run cache: trained runs kept on disk between server starts


def run_cache_dir() -> Path | None:
    """Where trained runs are kept ($TOYOOD_APP_CACHE, default ~/.cache/toyood/app-runs; "off": nowhere)."""
    setting = os.environ.get("TOYOOD_APP_CACHE", "").strip()
    if setting.lower() == "off":
        return None
    return Path(setting) if setting else Path.home() / ".cache" / "toyood" / "app-runs"


@st.cache_resource(show_spinner=False)
def code_digest() -> str:
    """What a cached run was trained with: the toyood sources and the numeric libraries' versions,
    so that a changed library never serves an old run."""
    digest = hashlib.sha256(f"{torch.__version__} {np.__version__}".encode())
    package = Path(toyood.__file__).parent
    for file in sorted(package.rglob("*.py")):
        digest.update(file.relative_to(package).as_posix().encode() + file.read_bytes())
    return digest.hexdigest()


def run_folder(config: ToyConfig) -> Path | None:
    """The cache folder of a config (on the device it resolves to here); None without a cache or
    when the device is not available (the training then says so)."""
    try:
        device = resolve_device(config.device).type
    except ConfigError:
        return None
    key = json.dumps({**config.to_dict(), "device": device}, sort_keys=True)
    name = hashlib.sha256((key + code_digest()).encode()).hexdigest()[:32]
    return None if run_cache_dir() is None else run_cache_dir() / name


def stored_run(config: ToyConfig) -> ToyRun | None:
    """The cached run of a config, if there is a readable one."""
    folder = run_folder(config)
    if folder is None or not folder.is_dir():
        return None
    try:
        run = load_run(folder)
    except (RunFileError, ConfigError, OSError) as error:
        LOGGER.warning("ignoring the cached run %s: %s", folder, error)
        return None
    return run if run.config == config else None


def _is_stored(config: ToyConfig) -> bool:
    folder = run_folder(config)
    return folder is not None and folder.is_dir()


def stored_metrics(config: ToyConfig) -> dict | None:
    folder = run_folder(config)
    try:
        return read_metrics(folder) if folder is not None and folder.is_dir() else None
    except (RunFileError, OSError) as error:
        LOGGER.warning("ignoring the cached metrics in %s: %s", folder, error)
        return None


def store_run(run: ToyRun, metrics: dict | None = None) -> None:
    """Keep a run (and its metrics) in the cache, dropping the oldest beyond ``MAX_CACHED_RUNS``; a
    cache that cannot be written is logged and skipped."""
    folder = run_folder(run.config)
    if folder is None:
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        save_run(run, folder, metrics, overwrite=True)
        folders = sorted((f for f in run_cache_dir().iterdir() if f.is_dir() and not f.name.startswith(".")),
                         key=lambda f: f.stat().st_mtime)
        for old in folders[:max(0, len(folders) - MAX_CACHED_RUNS)]:
            shutil.rmtree(old, ignore_errors=True)
    except (OSError, ConfigError, RunFileError) as error:
        LOGGER.warning("cannot keep the run in the cache %s: %s", run_cache_dir(), error)


def warm_up() -> dict[str, float]:
    """At server start (``serve.py``, in a thread of its own while the server already takes visitors),
    compute what the lesson's pages show by default, in their order, as the jobs the pages ask for (a
    visitor meanwhile watches the same job): the Playground's default models (loaded from the run
    cache, or trained and stored there) and their metrics; the Linear regions page's regions and
    region map, then the proof page's (a wider box); torch's one-time optimiser imports
    (``torch._dynamo``, ~1 s); the GAN page's run. One job at a time, so a visitor's own job gets the
    other worker. Returns the seconds of each part done; a failure is logged, never raised (the pages
    report their own errors)."""
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
        result = _warm_job(_toy_job(config), f"default model {config.method}", seconds)
        if result is None:
            return
        _warm_job(_metrics_job(result.run), f"metrics {config.method}", seconds)
        if sum(config.hidden) <= MAX_REGION_NEURONS and not _warm_regions(result, defaults, seconds):
            return
    start = time.perf_counter()
    weight = torch.zeros(1, requires_grad=True)
    weight.sum().backward()
    make_optimizer([weight]).step()
    seconds["optimiser imports"] = time.perf_counter() - start
    gan = defaults.gan_config()
    check_gan_job(gan, APP_BUDGET)
    _warm_job(_gan_job(gan), "GAN", seconds)


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


def _warm_regions(result: ToyResult, defaults: AppState, seconds: dict[str, float]) -> bool:
    """The Linear regions page's regions and region map, then the proof page's (its box depends on
    the ray through the default point). False if a job was stopped."""
    proof_half = proof_view_half(ray_profile_of(result, defaults.point))
    for half in dict.fromkeys([float(defaults.box), proof_half]):
        regions = _warm_job(_regions_job(result.run, half), f"regions {result.run.config.method} ±{half:g}", seconds)
        if regions is None:
            return False
        start = time.perf_counter()
        region_map(result, regions, half, region_colouring(result.run.config, defaults.colour))
        seconds[f"region map ±{half:g}"] = time.perf_counter() - start
    return True


def metrics_rows(results: dict[str, ToyResult]) -> dict[str, dict]:
    """The metrics of each result under its run label (those that could be computed)."""
    rows = {run_label(r.run.config): metrics_of(r) for r in results.values()}
    return {label: metrics for label, metrics in rows.items() if metrics is not None}


def show_training(view: TrainingView, key: str) -> None:
    """The loss curve so far beside the current coarse confidence map (one under the other where
    the page is narrow)."""
    row = st.container(horizontal=True, gap="small")
    loss = go.Figure(go.Scatter(x=np.arange(1, len(view.losses) + 1), y=view.losses, mode="lines+markers"))
    loss.update_layout(title=f"Training loss, epoch {len(view.losses)} of {view.epochs}", height=PREVIEW_WIDTH,
                       xaxis=dict(title="epoch", range=[0.5, view.epochs + 0.5]), yaxis=dict(title="loss"),
                       margin=dict(l=10, r=10, t=40, b=10))
    row.plotly_chart(loss, key=f"{key}-loss", width=PREVIEW_WIDTH, config=export_config("training-loss"))
    confidence = toy_plots.confidence_figure(view.grid, title="Confidence now (coarse)", **view.circles,
                                             n_classes=view.n_classes)
    map_chart(row, confidence.update_layout(showlegend=False), f"{key}-map", "training-confidence", PREVIEW_WIDTH)


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False)
def _grid(config: ToyConfig, halfwidth: float, resolution: int, _run: ToyRun) -> GridEvaluation:
    with torch_threads():
        return evaluate_grid(_run.model, config.method_object(), halfwidth, resolution)


def grid(result: ToyResult, halfwidth: float, resolution: int = 200) -> GridEvaluation:
    """The model on a resolution² grid over [−halfwidth, halfwidth]² (cached)."""
    return _grid(result.run.config, float(halfwidth), resolution, result.run)


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False)
def _ray(config: ToyConfig, point: tuple[float, float], alphas: tuple[float, ...], _run: ToyRun) -> np.ndarray:
    with torch_threads():
        probs = farfield.ray_probabilities(_run.model, np.array([point]), np.array(alphas))[0]
    return config.method_object().confidence(torch.from_numpy(probs)).numpy()


def ray_confidence(result: ToyResult, point: tuple[float, float], alphas: tuple[float, ...]) -> np.ndarray:
    """Confidence at α·point for each α (float64; cached)."""
    return _ray(result.run.config, point, alphas, result.run)


@st.cache_resource(max_entries=GRID_CACHE_ENTRIES, show_spinner=False)
def _limits(config: ToyConfig, n_angles: int, _run: ToyRun) -> tuple[np.ndarray, np.ndarray]:
    angles = (np.arange(n_angles) + 0.5) * 2 * np.pi / n_angles
    with torch_threads():
        probs = farfield.asymptotic_probabilities(_run.model, angles)
    return angles, config.method_object().confidence(torch.from_numpy(probs)).numpy()


def limit_confidence(result: ToyResult, n_angles: int) -> tuple[np.ndarray, np.ndarray]:
    """Angles and lim_{α→∞} confidence(α·u(θ)) on ``n_angles`` equally spaced directions (cached)."""
    return _limits(result.run.config, n_angles, result.run)


def linear_regions(result: ToyResult, halfwidth: float) -> Regions | None:
    """The exact linear regions in [−halfwidth, halfwidth]² of the model's piecewise-affine part (the
    body for DisMax), enumerated once with a progress bar; None after an ``st.error``."""
    config = result.run.config
    neurons = sum(config.hidden)
    if neurons > MAX_REGION_NEURONS:
        st.error(f"**Too large to enumerate here:** the app enumerates the exact regions of nets with at most "
                 f"{MAX_REGION_NEURONS:,} hidden neurons (this one has {neurons:,}). Use narrower layers or "
                 "`toyood regions` on the command line.")
        return None
    return run_once(*_regions_job(result.run, halfwidth))


def _regions_job(run: ToyRun, halfwidth: float) -> JobSpec:
    """The exact linear regions of a run's net in [−halfwidth, halfwidth]²."""
    model = run.model

    def compute(job: Job) -> Regions:
        layers, negative_slope = piecewise_affine_layers(model)
        if isinstance(model.head, DisMaxHead):  # the body only: a zero 2-logit output layer
            layers = [*layers, (np.zeros((2, layers[-1][0].shape[0])), np.zeros(2))]
        return enumerate_regions(layers, halfwidth, negative_slope, progress=job, budget=APP_BUDGET)
    return JobSpec(("regions", run.config, float(halfwidth)), compute, f"Linear regions of {run_label(run.config)}")


@st.cache_resource(max_entries=32, show_spinner=False)
def _ray_profile(config: ToyConfig, point: tuple[float, float], _run: ToyRun) -> RayProfile:
    with torch_threads():
        profile = ray_profile(_run.model, np.array(point))
        if profile.alpha_view < MIN_ALPHA_VIEW:  # an RBF net's view ends where its bumps have decayed
            profile = ray_profile(_run.model, np.array(point), alpha_view=MIN_ALPHA_VIEW)
    return profile


def ray_profile_of(result: ToyResult, point: tuple[float, float]) -> RayProfile:
    """The exact profile of the trained model along the ray α·``point`` (cached per config and point)."""
    return _ray_profile(result.run.config, tuple(point), result.run)


def proof_view_half(profile: RayProfile) -> float:
    """Half-width of the proof's map: holds x and the ray a bit past its last breakpoint (RBF: its view)."""
    reach = profile.alpha_view if profile.last_start is None else 1.3 * profile.last_start
    needed = 1.15 * float(np.abs(profile.x).max()) * max(1.0, reach)
    return float(next((box for box in PROOF_BOXES if box >= needed), PROOF_BOXES[-1]))


def class_names(config: ToyConfig) -> list[str]:
    return [f"class {k}" for k in range(config.classes)] + (["reject"] if config.method_object().head == "reject" else [])


def data_title(current: AppState | None = None) -> str:
    """The data in a few words: 'two Gaussian classes at (±10, 0)', '3 spiral arms', …"""
    current = current or state()
    k = current.classes
    return {"gaussians": "two Gaussian classes at (±10, 0)" if k == 2 else f"{k} Gaussian classes on a circle of "
                                                                          "radius 10",
            "moons": "two moons", "rings": f"{k} concentric rings", "spiral": f"{k} spiral arms",
            "xor": "XOR blobs (two classes)",
            "file": f"your own points ({k} classes)" if current.data_file else "your own points (none uploaded yet)",
            }[current.dataset]


def circles(data: toydata.ToyData, sigma: float) -> dict:
    """The map builders' 3σ-circle arguments for this data: around its Gaussian means, or none
    (other data sets: OOD there means 3σ from every data point, which no circle shows)."""
    return {} if data.centres is None else dict(sigma=sigma, centres=data.centres)


def overlay_caption(run: ToyRun) -> str:
    """What the dashed lines over a map are, for this run's data."""
    if run.config.dataset == "gaussians":
        return "dashed: the 3σ circles"
    return "OOD is farther than 3σ from every data point"


@st.cache_resource(max_entries=12, show_spinner=False)
def _region_map(config: ToyConfig, halfwidth: float, colour_by: str, _regions: Regions, _run: ToyRun) -> go.Figure:
    fig = region_plots.region_map_figure(_regions, colour_by, points=_run.data.x_train, labels=_run.data.y_train,
                                         class_names=class_names(config), max_outlines=0)
    return fig


def region_colouring(config: ToyConfig, chosen: str) -> str:
    """How a region map of this model is coloured: as ``chosen``, except DisMax's (by region: its
    distance head is not affine, so a region has no one class or confidence)."""
    return "region" if config.method_object().head == "dismax" else chosen


def region_map(result: ToyResult, regions: Regions, halfwidth: float, colour_by: str) -> go.Figure:
    """The region-map raster with the training data (cached: about a second to draw)."""
    return _region_map(result.run.config, float(halfwidth), colour_by, regions, result.run)


@dataclass(frozen=True)
class GanResult:
    """Everything the GAN page shows of one config, computed once."""

    run: GanRun
    metrics: dict
    animation: go.Figure
    final_grid: GridEvaluation


def _gan_job(config: GanConfig) -> JobSpec:
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
    result = run_once(*_gan_job(config))
    if result is None:
        stop()
    return result


# ---------------------------------------------------------------------------------------------
# Figures, tables and downloads


def shown_points(data) -> tuple[np.ndarray, np.ndarray]:
    """The training points drawn over a map: an evenly spread subset of ``OVERLAY_POINTS_PER_CLASS``
    per class (each point is an SVG marker the browser redraws at every change; the blobs look the
    same with fewer)."""
    keep = np.concatenate([np.flatnonzero(data.y_train == k)[:OVERLAY_POINTS_PER_CLASS]
                           for k in np.unique(data.y_train)])
    return data.x_train[keep], data.y_train[keep]


def shown_ood(run: ToyRun) -> np.ndarray | None:
    """The OOD training samples drawn over a map: at most ``OVERLAY_OOD_SAMPLES``, evenly spread."""
    if run.ood_train is None:
        return None
    step = max(1, -(-len(run.ood_train) // OVERLAY_OOD_SAMPLES))
    return run.ood_train[::step]


def chart(container, fig: go.Figure, key: str, file_stem: str | None = None, width: int | str = "stretch") -> None:
    """``st.plotly_chart`` whose camera button saves a 2× PNG named ``file_stem`` (default: ``key``)."""
    container.plotly_chart(fig, key=key, width=width, config=export_config(file_stem or key))


def map_row(width: int = MAP_WIDTH):
    """A row for maps ``width`` px wide: two side by side where they fit, else one per row at full
    size; never more than two."""
    return st.container(horizontal=True, gap="small", width=2 * width + MAP_GAP)


def map_chart(container, fig: go.Figure, key: str, file_stem: str, width: int = MAP_WIDTH, clickable: bool = False):
    """A map at a fixed width whose plot area is square: the height is the width less the side
    margins plus the top and bottom ones (title, ticks, colour bar, legend). ``clickable``: a click
    on a point of the figure reruns the app and the chart returns the selection event."""
    margin = fig.layout.margin
    side = width - (margin.l or 0) - (margin.r or 0)
    fig.update_layout(height=side + (margin.t or 0) + (margin.b or 0))
    select = dict(on_select="rerun", selection_mode="points") if clickable else {}
    return container.plotly_chart(fig, key=key, width=width, config=export_config(file_stem), **select)


# ---------------------------------------------------------------------------------------------
# OOD points of the user's own, clicked on the Playground's confidence map. Streamlit reports no
# selection for clicks on a heatmap (streamlit/streamlit#8760, #15042), so the map carries an
# invisible grid of markers: a click selects the nearest one, and its (x, y) becomes the point.

CLICK_GRID = 41  # markers per side of the invisible grid (a point every 1/20 of the half-width)
CLICKED_KEY = "toyood:clicked"  # the selection handled last (a chart keeps reporting it)
CLICK_TRACE = "click to add an OOD point"


def clicks_apply(current: AppState) -> bool:
    """Whether clicked points reach the shown model: one method that trains on sampled OOD samples."""
    return (not current.compare and METHODS[current.methods[0]].needs_ood
            and current.ood in toydata.OOD_SOURCES)


def with_click_grid(fig: go.Figure, halfwidth: float, points: tuple[tuple[float, float], ...]) -> go.Figure:
    """The user's OOD points (magenta crosses) and the invisible click grid over [−halfwidth, halfwidth]²."""
    if points:
        xy = np.asarray(points, dtype=np.float64)
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name="your OOD points", hoverinfo="skip",
                                 marker=dict(symbol="x", size=11, color="#ff00ff", line=dict(width=1.5,
                                                                                            color="white"))))
    ticks = np.linspace(-halfwidth, halfwidth, CLICK_GRID)
    gx, gy = np.meshgrid(ticks, ticks)
    fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name=CLICK_TRACE, showlegend=False,
                             marker=dict(size=12, opacity=0), hovertemplate="click: add an OOD point at "
                                                                            "(%{x:.4g}, %{y:.4g})<extra></extra>"))
    return fig


def clicked_points(event, fig: go.Figure) -> list[tuple[float, float]]:
    """The grid points a chart's selection event holds (the clicks on other traces are ignored)."""
    grid = next(i for i, trace in enumerate(fig.data) if trace.name == CLICK_TRACE)
    selection = getattr(event, "selection", None) or {}
    return [(float(p["x"]), float(p["y"])) for p in selection.get("points", []) if p.get("curve_number") == grid]


def add_ood_points(points: list[tuple[float, float]]) -> bool:
    """Add (or, when already there, remove) the clicked points in the state; returns whether the
    state changed. A selection already handled is ignored (the chart keeps reporting it)."""
    signature = tuple(points)
    if not points or st.session_state.get(CLICKED_KEY) == signature:
        return False
    st.session_state[CLICKED_KEY] = signature
    values = st.session_state[VALUES_KEY]
    current = list(values["ood_points"])
    for point in points:
        rounded = (float(f"{point[0]:.6g}"), float(f"{point[1]:.6g}"))
        if rounded in current:
            current.remove(rounded)
        else:
            current.append(rounded)
    values["ood_points"] = tuple(current[-MAX_EXTRA_OOD:])
    return True


def clear_ood_points() -> None:
    st.session_state[VALUES_KEY]["ood_points"] = ()
    st.session_state[CLICKED_KEY] = None


def colour_bar_figure(n_classes: int = 2) -> go.Figure:
    """The confidence colour bar alone: the one shared scale of a row of maps drawn without theirs."""
    fig = go.Figure(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                               marker=dict(colorscale=confidence_colorscale(n_classes), cmin=0.0, cmax=1.0, color=[0.0],
                                           showscale=True,
                                           colorbar={**confidence_colorbar(n_classes), "y": 0.0, "ypad": 0,
                                                     "yanchor": "bottom", "len": 360})))
    fig.update_layout(height=70, margin=dict(l=10, r=10, t=0, b=0), xaxis=dict(visible=False),
                      yaxis=dict(visible=False), plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return fig


def metrics_table(rows: dict[str, dict], keys: list[str] | None = None) -> pd.DataFrame:
    """One row per metric (``keys``, default all of ``METRIC_LABELS``), one column per model: the
    table stays narrow for any number of models."""
    keys = keys or list(METRIC_LABELS)
    table = pd.DataFrame({name: [m.get(key) for key in keys] for name, m in rows.items()},
                         index=[METRIC_LABELS[key] for key in keys]).astype(float)
    table.index.name = "metric"
    return table


def show_metrics(rows: dict[str, dict], file_stem: str, keys: list[str] | None = None) -> None:
    """The metrics table (every row, no inner scroll; '–' for a missing value, 'never' for an α never
    reached), its explanation and JSON/CSV downloads."""
    if not rows:
        return
    keys = keys or list(METRIC_LABELS)
    table = metrics_table(rows, keys)
    never = [METRIC_LABELS[key] for key in keys if key in NEVER_KEYS]
    styler = table.style.format(precision=3, na_rep="–")
    if never:
        styler = styler.format(precision=3, na_rep="never", subset=pd.IndexSlice[never, :])
    st.table(styler, width="content" if len(rows) == 1 else "stretch")
    st.caption(METRICS_HELP)
    row = st.container(horizontal=True)
    row.download_button("Metrics (JSON)", json.dumps(rows, indent=2), f"{file_stem}.json", "application/json",
                         on_click="ignore", key=f"json_{file_stem}")
    row.download_button("Metrics (CSV)", lambda: pd.DataFrame.from_dict(rows, orient="index").to_csv(),
                          f"{file_stem}.csv", "text/csv", on_click="ignore", key=f"csv_{file_stem}")


def download_figure(container, fig: go.Figure, file_stem: str, label: str = "Figure (HTML)") -> None:
    """A download button for a stand-alone HTML copy of the figure (built only when clicked)."""
    container.download_button(label, lambda: fig.to_html(include_plotlyjs=True, full_html=True),
                              f"{file_stem}.html", "text/html", on_click="ignore", key=f"html_{file_stem}")


def download_run(container, result: ToyResult, file_stem: str) -> None:
    """A download button for the run as a zip (config.json, model.pt, ood_train.npy, run.json,
    metrics.json: ``toyood.runfiles.load_run`` opens it); built only when clicked."""

    def archive() -> bytes:
        with tempfile.TemporaryDirectory() as directory:
            metrics = jobs().value_if_finished(_metrics_job(result.run).key)
            folder = save_run(result.run, Path(directory) / "run", metrics)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as zipped:
                for path in sorted(folder.iterdir()):
                    zipped.write(path, path.name)
        return buffer.getvalue()

    container.download_button("Trained model (zip)", archive, f"{file_stem}.zip", "application/zip",
                              on_click="ignore", key=f"zip_{file_stem}",
                              help="The run's files; toyood.runfiles.load_run opens the zip as it is.")


class PageStopped(Exception):
    """Raised by ``stop``: the page ends here, the app's own closing steps still run."""


def stop():
    """End the page here, like ``st.stop``, but let app.py still write the address and the link
    (after ``st.stop`` Streamlit drops every later element)."""
    raise PageStopped()


def run_page(page) -> None:
    """Run a page; an unexpected exception goes to the server log and the visitor sees one message."""
    try:
        page.run()
    except PageStopped:
        pass
    except Exception:  # Streamlit's own stop/rerun signals are BaseExceptions and pass through
        LOGGER.exception("page %s failed", page.title)
        st.error("**Something went wrong on this page.** The details are in the server's log; changing a "
                 "setting or reloading usually helps.")
