"""The sidebars (Streamlit): the settings every toy page shares, declared once (app.py draws them on
each toy page), the CSV upload, and the GAN page's own settings. Each widget writes the state."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from toyood import data as toydata
from toyood.device import DEVICES
from toyood.gan import CLASSIFIERS, DEFAULT_BETA, GENERATORS, STARTS
from toyood.methods import CEDA_OBJECTIVES, METHODS
from toyood.models import ACTIVATIONS
from toyood.scores import SCORE_LABELS, SCORES
from toyood.toy import PRESETS

from . import stores
from .labels import (DATA_HELP, DATA_LABELS, GAN_SOURCE_NOTE, MAX_CONF_NOTE, METHOD_HELP, METHODS_HELP,
                     OBJECTIVE_LABELS, OOD_HELP, UPLOAD_HELP, method_label)
from .link import widths
from .session import INPUT_ERROR_KEY, VALUES_KEY, WIDGET_PREFIX, set_state, state, widget
from .state import (GAN_BETAS, GAN_ITERATIONS, LEAKY_DEFAULT, LEAKY_MAX, LEARNING_RATES, OOD_SOURCES, PRESET_FIELDS,
                    SIGMAS, TEMPERATURES, WEIGHTS)

LOGGER = logging.getLogger("toyood.app")


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
    _activation_control(bar)
    if not students:
        with bar.expander("Training settings"):
            _training_controls(methods)
    _view_controls(bar)


ACTIVATION_HELP = ("The hidden layers' activation. relu and leaky nets are piecewise affine (Hein et al. Thm 3.1 "
                   "applies: confidence → 1 far away); tanh and sigmoid are bounded, so far away each direction's "
                   "confidence tends to a constant that need not be 1 (Vernekar et al. Sec. 5.1), and they have no "
                   "linear regions.")
TEMPERATURE_HELP = ("Every confidence, map and metric uses the logits divided by T; the trained net is the same "
                    "(no retraining). Hein et al. Sec. 3: no T fixes Thm 3.1, the limit softmax(α·Vu/T) is still "
                    "one-hot; a larger T only moves the point where confidence reaches 0.99 farther out.")


def _activation_control(bar) -> None:
    """The hidden activation; choosing leaky gives a slope (LEAKY_DEFAULT), leaving it drops the slope."""
    widget("activation", lambda key: bar.segmented_control(
        "Activation", ACTIVATIONS, key=key, required=True, on_change=_activation_changed, help=ACTIVATION_HELP))


def _activation_changed() -> None:
    values = st.session_state[VALUES_KEY]
    values["activation"] = chosen = st.session_state[f"{WIDGET_PREFIX}activation"]
    values["leaky"] = (values["leaky"] or LEAKY_DEFAULT) if chosen == "leaky" else 0.0
    st.session_state.pop(f"{WIDGET_PREFIX}leaky", None)


SCORE_OWN = "own"  # the score select's entry for None: each method's own score
SCORE_HELP = ("What the Playground's map shows and its detection metrics (AUROC, FPR@95, TNR@95, DTACC) rank by; "
              "higher = more in-distribution. Own: max probability (DisMax: its entropy score, Macêdo eq. 8). Entropy "
              "maps have their own scale, 0 (certain) … log C (undecided): Vernekar et al.'s corollary says it → 0 far "
              "away on a ReLU net; with an entropy score, Far away draws each direction's limit entropy.")


def _view_controls(bar) -> None:
    """How the trained nets are read, without retraining them: the temperature T and the Playground's score."""
    widget("temperature", lambda key: bar.select_slider(
        "Temperature T (logits / T, no retraining)", TEMPERATURES, key=key, format_func="{:g}".format,
        help=TEMPERATURE_HELP))
    widget("score", lambda key: bar.selectbox(
        "Score (maps, metrics, Far away's limits)", (SCORE_OWN, *SCORES), key=key, help=SCORE_HELP,
        format_func=lambda s: "each method's own" if s == SCORE_OWN else SCORE_LABELS[s]),
        shown=lambda v: v or SCORE_OWN, stored=lambda v: None if v == SCORE_OWN else v)


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
    if current.data_file is not None and not stores.upload_still_kept(current.data_file, current.data_digest):
        if file is None or done[1] is not None:  # evicted, and the uploader no longer holds it
            st.session_state[VALUES_KEY].update(data_file=None, data_digest=None)
            bar.warning(f"Your uploaded points are no longer kept on this server (it keeps the last {stores.MAX_UPLOADS} "
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
        path, digest = stores.store_upload(content)
    except toydata.DataFileError as error:
        return f"**{name} cannot be used:** {error}."
    except OSError as error:
        LOGGER.warning("cannot keep an upload: %s", error)
        return f"**{name} cannot be kept on the server:** {error.strerror or error}."
    values = st.session_state[VALUES_KEY]
    values.update(dataset="file", data_file=str(path), data_digest=digest, classes=int(labels.max()) + 1)
    st.session_state.pop(f"{WIDGET_PREFIX}classes:file", None)
    return None


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
    if current.activation == "leaky":
        widget("leaky", lambda key: st.number_input("Leaky-ReLU slope", 0.0, LEAKY_MAX, step=0.05, key=key))
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
    default_beta = DEFAULT_BETA[state().classifier]
    widget("beta", lambda key: bar.select_slider(
        "β (weight of the KL / reject term)", GAN_BETAS, key=key, format_func="{:g}".format,
        help=f"Lee's eq. (2), in the G and the classifier step alike; default {default_beta:g} for this "
             "classifier (a reject classifier with β ≥ 1/K rejects real data once G lands on a class)."),
        shown=lambda v: default_beta if v is None else v, stored=lambda v: None if v == default_beta else v,
        suffix=f":{state().classifier}")
    widget("generator", lambda key: bar.radio(
        "Generator", GENERATORS, key=key,
        format_func={"lee": "Lee's (GAN + KL term)", "plain": "plain GAN (no KL term)"}.get,
        help="plain: an ordinary GAN, the baseline that shows what the KL term adds."))
    widget("sigma", lambda key: bar.select_slider("σ of each class", SIGMAS, key=key, format_func="{:g}".format),
           suffix=":gan")  # keys of their own: the toy sidebar's widgets differ, and would answer their defaults
    widget("seed", lambda key: bar.number_input("Seed", 0, 2**31 - 1, key=key), suffix=":gan")
