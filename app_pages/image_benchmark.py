"""Image benchmark: Hein et al.'s Table 1 (OOD detection) and Table 2 (α-scaling) for the chosen methods.

Where data and results live is the server operator's choice, never a visitor's: ``$TOYOOD_DATA``
(else the real MNIST subset beside the checkout, Debian's Fashion-MNIST and ``~/.cache/toyood``),
``$TOYOOD_RESULTS`` for results (default ``~/.cache/toyood/bench-results``; folders written by
``toyood bench --out`` placed there open in the page) and ``TOYOOD_DOWNLOADS=1`` to offer downloads.
"""
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from toyood.errors import BudgetExceeded, ConfigError, RunFileError, TrainingDiverged
from toyood.images.benchmark import IMAGE_METHODS, OOD_SETS, PRESETS, BenchConfig, BenchResult
from toyood.images.estimate import check_bench_job
from toyood.images.datasets import DATA_VARIABLE, DatasetUnavailable, available_datasets
from toyood.images.report import SET_TITLES, table_records
from toyood.images.results import load_result
from toyood.plots import images as plots
from toyood_app import session
from toyood_app.labels import method_label
from toyood_app.running import run_once
from toyood_app.stores import PAGE_RUNS, ResultFolders, results_root, saved_results

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-10k"  # real MNIST beside the checkout
DOWNLOADS_VARIABLE = "TOYOOD_DOWNLOADS"
EXPECTED_ERRORS = (DatasetUnavailable, ConfigError, TrainingDiverged, RunFileError)  # shown as a message


def operator_data_dir() -> str | None:
    """The first folder searched for datasets: none when ``$TOYOOD_DATA`` is set (the library reads it),
    else the MNIST subset beside the checkout when it is there."""
    if os.environ.get(DATA_VARIABLE, "").strip() or not SHARED_MNIST.is_dir():
        return None
    return str(SHARED_MNIST)


@st.cache_resource(show_spinner=False)
def result_folders(root: str) -> ResultFolders:
    """The store of ``root``, shared by all sessions."""
    return ResultFolders(Path(root))


def show_result(result: BenchResult) -> None:
    """Table 1, the skipped sets, the figures, Table 2 and the JSON download."""
    methods = list(result.methods)
    st.subheader(f"Trained on {SET_TITLES[result.config.dataset]}: {result.n_train} training / "
                 f"{result.n_test} test images")
    records = pd.DataFrame(table_records(result))
    metrics = [column for column in records.columns if column not in ("set", "method")]
    table = records.pivot(index="set", columns="method", values=metrics).swaplevel(axis=1)
    table = table.loc[records["set"].unique(), [(m, metric) for m in methods for metric in metrics]]
    st.dataframe(table.style.format(precision=3, na_rep="–"), width="stretch")
    st.caption("MMC: mean confidence (largest real-class probability). AUROC, FPR@95: Hein et al.'s convention "
               "(in-distribution test images positive, score = max probability; −entropy for DisMax); TNR@95, "
               "DTACC: Lee et al.'s. Adv. noise: PGD (ℓ∞, ε = 0.3) from noise towards a high score; adv. samples: "
               "PGD on the test images' cross-entropy.")
    if result.skipped:
        st.warning("Not evaluated (files missing or unreadable): "
                   + ", ".join(SET_TITLES[s] for s in result.skipped) + ". See “Datasets found” above.")
    histograms, noise, adversarial, scaling = st.tabs(["Confidence histograms", "Noise", "Adversarial samples",
                                                       "α-scaling (Table 2)"])
    histograms.plotly_chart(plots.confidence_histograms_figure(result), key="bench_histograms")
    noise.plotly_chart(plots.noise_grid_figure(result), key="bench_noise")
    adversarial.plotly_chart(plots.adversarial_samples_figure(result), key="bench_adversarial")
    alpha = pd.DataFrame({m: {"median α with confidence ≥ 0.999": r.median_alpha,
                              "share of clip(αx, 0, 1) with confidence > 0.95": r.alpha_overconfident}
                          for m, r in result.methods.items()})
    scaling.dataframe(alpha.style.format(precision=3, na_rep="> 10⁶ / –"), width="stretch")
    scaling.caption("Uniform noise x scaled by α ≥ 1 (Theorem 3.1's construction): the median over trials of the "
                    "smallest α with confidence ≥ 0.999, and how often the scaled image clipped back to [0, 1] "
                    "is still classified with confidence > 0.95.")
    st.download_button("Results (JSON)", json.dumps(result.to_dict(), indent=2), f"bench-{result.config.dataset}.json",
                       "application/json", on_click="ignore")


def open_saved(folders: list[Path]) -> None:
    """Show a results folder chosen from those the operator placed in the results folder."""
    chosen = st.sidebar.selectbox("Saved results", folders, format_func=lambda path: path.name, key="bench_saved")
    try:
        show_result(load_result(chosen))
    except RunFileError as error:
        st.error(f"**These saved results cannot be opened:** {error}")


def missing_message(title: str, downloads: bool) -> str:
    remedy = ("tick **Download missing datasets** in the sidebar to fetch it" if downloads else
              "the server's operator can add its files (see “Datasets found” below)")
    return (f"**{title} is not on this server.** Choose a dataset without “(missing)” under "
            f"**In-distribution data** in the sidebar, or {remedy}.")


def run_missing(store: ResultFolders, config: BenchConfig) -> None:
    """Offer to run the methods not stored yet; once asked, run them as the app's shared job (progress,
    a Stop button, errors as messages). The prompt goes as soon as it is answered."""
    missing = store.missing(config)
    if not missing:
        return
    try:
        check_bench_job(replace(config, methods=tuple(missing)))
    except BudgetExceeded as error:
        st.error(f"**This run is too large for this server:** {error}.")
        session.stop()
    requested = st.session_state.setdefault("bench_requested", {})  # config -> when this session asked
    if config not in requested:
        prompt = st.empty()
        with prompt.container():
            st.info(f"To train and evaluate: {', '.join(map(method_label, missing))} ({config.preset} preset).")
            clicked = st.button(f"Run {len(missing)} method{'s' * (len(missing) > 1)}", type="primary")
        if not clicked:
            session.stop()
        requested[config] = time.time_ns()
        prompt.empty()
    key = ("bench", config, requested[config])
    label = f"Image benchmark on {SET_TITLES[config.dataset]}"
    if run_once(key, lambda job: store.run(config, job), label, expected=EXPECTED_ERRORS) is None:
        session.stop()


st.title("Image benchmark")
st.caption("The same methods on images (Hein et al., CVPR 2019, Tables 1-2): LeNet on 28×28 data, a small "
           "ResNet on 32×32; CEDA/ACET/reject/confidence train on Hein's noise. Evaluated on other datasets, "
           "noise, adversarial noise (PGD towards high confidence) and adversarial samples of the test set.")
sidebar = st.sidebar
saved = saved_results()
if saved and sidebar.radio("Results", ["New run", "Saved results"], key="bench_source", horizontal=True) != "New run":
    open_saved(saved)
    session.stop()
data_dir = operator_data_dir()
found = available_datasets(data_dir)
names = list(OOD_SETS)
dataset = sidebar.selectbox("In-distribution data", names, key="bench_dataset",
                            index=next((i for i, d in enumerate(names) if found[d].present), 0),
                            format_func=lambda d: SET_TITLES[d] + ("" if found[d].present else " (missing)"))
methods = sidebar.multiselect("Methods", IMAGE_METHODS, ["plain", "ceda", "acet"], format_func=method_label,
                              key="bench_methods")
preset = sidebar.radio("Preset", list(PRESETS), key="bench_preset", horizontal=True,
                       help="quick: subsets, 2 epochs, short attacks (about 3 min per method on 2 CPU cores); "
                            "paper: Hein et al.'s settings (hours on a CPU).")
seed = sidebar.number_input("Seed", 0, 2**31 - 1, 0, key="bench_seed")
downloads = os.environ.get(DOWNLOADS_VARIABLE, "").strip() == "1"
download = downloads and sidebar.checkbox("Download missing datasets", key="bench_download",
                                          help="From the official URLs, size- and time-limited and MD5-checked.")
with st.expander("Datasets found"):
    st.dataframe(pd.DataFrame([{"dataset": SET_TITLES[name], "found in": str(entry.location) if entry.present else "–"}
                               for name, entry in found.items()]), hide_index=True)
if not methods:
    st.info("Choose at least one method under **Methods** in the sidebar.")
    session.stop()
if not found[dataset].present and not download:
    st.warning(missing_message(SET_TITLES[dataset], downloads))
    session.stop()
try:
    config = BenchConfig(dataset, tuple(methods), preset, data_dir, seed=int(seed), download=download)
except ConfigError as error:
    st.error(f"**Invalid settings:** {error}")
    session.stop()
store = result_folders(str(results_root() / PAGE_RUNS))
run_missing(store, config)
result = store.result(config)
if result is None:  # damaged, or removed from disk since the job ran (the oldest go beyond MAX_PAGE_RUNS)
    st.session_state.get("bench_requested", {}).pop(config, None)  # the next visit offers to run again
    st.error("**The stored results could not be read back;** the server's log says why. Reload the page to run again.")
    session.stop()
show_result(result)
