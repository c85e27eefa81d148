"""Image benchmark: Hein et al.'s Table 1 (OOD detection) and Table 2 (α-scaling) for the chosen
methods, ours beside the paper's. It opens on a stored run (``results/``: no training), and trains
what no stored run holds on request, one method at a time, each shown as soon as it is done.

Where data and results live is the server operator's choice, never a visitor's: ``$TOYOOD_DATA``
(else the real MNIST subset beside the checkout, Debian's Fashion-MNIST and ``~/.cache/toyood``),
``$TOYOOD_RESULTS`` for this server's own runs (default ``~/.cache/toyood/bench-results``) and
``TOYOOD_DOWNLOADS=1`` to offer downloads.
"""
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from toyood.device import max_threads, resolve_device
from toyood.errors import BudgetExceeded, ConfigError, RunFileError, TrainingDiverged
from toyood.images import stored
from toyood.images.benchmark import IMAGE_METHODS, OOD_SETS, PRESETS, BenchConfig, BenchResult
from toyood.images.datasets import DATA_VARIABLE, DatasetUnavailable, available_datasets
from toyood.images.estimate import bench_job_estimate, check_bench_job
from toyood.images.paper import setup_difference
from toyood.images.report import DETAIL_COLUMNS, MAIN_COLUMNS, SET_TITLES, detection_rows, summary_rows
from toyood.plots import images as plots
from toyood.progress import format_duration
from toyood_app import charts, session, stage
from toyood_app.labels import method_label, metric_text
from toyood_app.running import run_once
from toyood_app.stores import PAGE_RUNS, ResultFolders, results_root, shipped_runs

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-10k"  # real MNIST beside the checkout
DOWNLOADS_VARIABLE = "TOYOOD_DOWNLOADS"
FINISHED = "finished"  # this server's finished runs, under the results folder, beside the repository's
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


def known_runs() -> dict[str, stored.StoredRun]:
    """Every stored run by name: the repository's, then this server's finished ones ("… (this server)")."""
    runs = {run.name: run for run in shipped_runs()}
    try:
        runs.update({f"{run.name} (this server)": run for run in stored.stored_runs(results_root() / FINISHED)})
    except RunFileError as error:
        st.warning(f"**One of this server's finished runs cannot be read:** {error}")
    return runs


def show_tables(result: BenchResult, key: str = "bench-all-columns") -> None:
    """Summary and Table 1, ours beside the paper's; the rarer columns behind a toggle (``key``)."""
    everything = st.toggle("All columns", key=key,
                           help="TNR@95, DTACC, AUPR, Table 2's α-scaling and the times.")
    for kind, rows in (("summary", summary_rows(result)), ("detection", detection_rows(result))):
        columns = list(MAIN_COLUMNS[kind]) + (list(DETAIL_COLUMNS[kind]) if everything else [])
        st.dataframe(pd.DataFrame(rows)[columns], hide_index=True, width="stretch")
    st.caption("“(paper)”: Hein et al. (CVPR 2019) Tables 1-2; “–” says why a number is missing. MMC: mean "
               "confidence. AUROC, FPR@95: in-distribution test images positive, score = max probability "
               "(−entropy for DisMax). Adv. noise: PGD (ℓ∞, ε = 0.3) from noise towards a high score.")


def step_figures(result: BenchResult) -> dict[str, dict[str, str]]:
    """The numbers a lecture step quotes, by method (``labels.IMAGE_LABELS``)."""
    def mmc(r, name):
        return metric_text("mmc", r.sets[name]["mmc"]) if name in r.sets else "–"
    return {m: {"test_error": f"{r.test_error:.1%}", "noise_mmc": mmc(r, "noise"), "adv_noise_mmc": mmc(r, "adv_noise")}
            for m, r in result.methods.items()}


def show_result(result: BenchResult, provenance: dict | None) -> None:
    """The lecture step's note if this view is one, the run's setup, its figures, then its tables."""
    stage.StepHeader().fill("image-benchmark", figures=step_figures(result))
    st.caption(f"Trained on {SET_TITLES[result.config.dataset]}: {result.n_train:,} training / {result.n_test:,} test "
               f"images. {setup_difference(result.config, result.n_train)}")
    if provenance:
        load = provenance.get("load_average_1min")
        shared = f" (load {load:g}: other work shared the machine)" if load is not None and load > 1.5 else ""
        st.caption(f"Stored run: `{provenance['command']}` · {provenance['wall_seconds']:.0f} s on "
                   f"{provenance['device']}{shared} · revision {provenance['revision'][:12]}")
    grid, histograms, adversarial = st.tabs(["Noise and adversarial noise", "Confidence histograms",
                                             "Adversarial samples"])
    charts.chart(grid, plots.noise_confidence_grid_figure(result), "bench_noise", "bench-noise")
    charts.chart(histograms, plots.method_histograms_figure(result), "bench_histograms", "bench-histograms")
    charts.chart(adversarial, plots.adversarial_samples_figure(result), "bench_adversarial", "bench-adversarial")
    show_tables(result)
    if result.skipped:
        st.warning("Not evaluated (files missing or unreadable): " + ", ".join(SET_TITLES[s] for s in result.skipped))
    st.download_button("Results (JSON)", json.dumps(result.to_dict(), indent=2), f"bench-{result.config.dataset}.json",
                       "application/json", on_click="ignore")


def stored_view(runs: dict[str, stored.StoredRun], current) -> stored.StoredRun | None:
    """The stored run the link names (``bench-run``) or the one matching its settings."""
    if current.bench_run is not None:
        return runs.get(current.bench_run)
    fits = [r for r in runs.values() if r.result.config.dataset == current.bench_dataset
            and r.result.config.preset == current.bench_preset and r.result.config.seed == current.bench_seed
            and set(current.bench_methods) <= set(r.result.methods)]
    return fits[0] if fits else None


def missing_message(title: str, downloads: bool) -> str:
    remedy = ("tick **Download missing datasets** in the sidebar to fetch it" if downloads else
              "the server's operator can add its files (see “Datasets found” below)")
    return (f"**{title} is not on this server.** Choose a dataset without “(missing)” under "
            f"**In-distribution data** in the sidebar, or {remedy}.")


def where_it_runs(config: BenchConfig) -> str:
    """"2 CPU threads" or the accelerator's name: what the estimate assumed."""
    if resolve_device(config.device).type == "cpu":
        return f"{max_threads()} CPU thread{'s' * (max_threads() > 1)}"
    return stored.device_description(config.device)


def run_methods(store: ResultFolders, config: BenchConfig) -> BenchResult | None:
    """Offer to train the methods not stored yet, with the estimate; once asked, train them one by
    one as shared jobs (progress, a Stop button), showing each as soon as it is done."""
    missing = store.missing(config)
    if missing:
        try:
            check_bench_job(replace(config, methods=tuple(missing)))
        except BudgetExceeded as error:
            st.error(f"**This run is too large for this server:** {error}.")
            session.stop()
        seconds = bench_job_estimate(replace(config, methods=tuple(missing)), max_threads())[1]
        requested = st.session_state.setdefault("bench_requested", {})  # config -> when this session asked
        if config not in requested:
            prompt = st.empty()
            with prompt.container():
                st.info(f"No stored run holds this view. Training {', '.join(map(method_label, missing))} "
                        f"({config.preset} preset) takes about **{format_duration(seconds)}** on this server "
                        f"({where_it_runs(config)}).")
                clicked = st.button(f"Run {len(missing)} method{'s' * (len(missing) > 1)}", type="primary")
            if not clicked:
                session.stop()
            requested[config] = time.time_ns()
            prompt.empty()  # the prompt goes as soon as it is answered
        shown = st.empty()
        for i, method in enumerate(missing, 1):
            single = replace(config, methods=(method,))
            label = f"{SET_TITLES[config.dataset]}: {method_label(method)} ({i} of {len(missing)})"
            if run_once(("bench", single, requested[config]), lambda job, c=single: store.run(c, job), label,
                        expected=EXPECTED_ERRORS) is None:
                session.stop()
            done = [m for m in config.methods if m not in store.missing(config)]
            with shown.container():
                show_tables(store.result(replace(config, methods=tuple(done))), key=f"bench-partial-{i}")
        shown.empty()
    return store.result(config)


def keep_finished(store: ResultFolders, result: BenchResult) -> None:
    """A finished run joins this server's stored runs (with its provenance), with every method of its
    settings this server has trained (a later run with other methods adds to it, never drops one)."""
    config = replace(result.config, methods=tuple(m for m in IMAGE_METHODS if m not in store.missing(
        replace(result.config, methods=IMAGE_METHODS))))
    result = store.result(config) or result
    config = result.config
    provenance = {"command": f"toyood bench --dataset {config.dataset} --methods {','.join(config.methods)} --preset "
                             f"{config.preset} --seed {config.seed}",
                  "revision": stored.revision(), "device": stored.device_description(config.device),
                  "wall_seconds": sum(r.train_seconds + r.eval_seconds for r in result.methods.values()),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "data": stored.data_used(config, [config.dataset, *OOD_SETS[config.dataset]]) or {"none": {}}}
    try:
        stored.save_stored(result, provenance, results_root() / FINISHED)
    except (OSError, RunFileError, ConfigError) as error:
        st.warning(f"The run is shown but could not be kept with the stored runs: {error}")


def sidebar(found) -> None:
    """The view's settings, each in the link (``bench-…``)."""
    bar = st.sidebar
    names = list(OOD_SETS)
    session.widget("bench_dataset", lambda key: bar.selectbox(
        "In-distribution data", names, key=key,
        format_func=lambda d: SET_TITLES[d] + ("" if found[d].present else " (missing)")))
    session.widget("bench_methods", lambda key: bar.multiselect("Methods", IMAGE_METHODS, key=key,
                                                               format_func=method_label), shown=list, stored=tuple)
    session.widget("bench_preset", lambda key: bar.radio(
        "Preset", list(PRESETS), key=key, horizontal=True,
        help="demo: plain, CEDA and ACET in about a minute on 2 CPU cores; quick: a few minutes per method; "
             "standard: about an hour per dataset on 2 cores; paper: Hein et al.'s settings (a GPU or torchrun)."))
    session.widget("bench_seed", lambda key: bar.number_input("Seed", 0, 2**31 - 1, key=key))


def choose_run(runs: dict[str, stored.StoredRun]) -> None:
    """A stored run by name, or the one the settings above describe (a name no run has is said, and
    the settings decide)."""
    match = "(the settings above)"
    named = session.state().bench_run
    if named is not None and named not in runs:
        st.warning(f"**No stored run is called {named}:** showing the one the settings describe. Stored here: "
                   f"{', '.join(runs) or 'none'}.")
    session.widget("bench_run", lambda key: st.sidebar.selectbox(
        "Stored run", [match, *runs], key=key, format_func=lambda n: n if n == match else runs[n].label(),
        help="Finished runs that open without training: the repository's (results/) and this server's."),
        shown=lambda v: v if v in runs else match, stored=lambda v: None if v == match else v,
        options=[match, *runs])


stage.intro("image-benchmark", "Image benchmark",
            "The same methods on images (Hein et al., CVPR 2019, Tables 1-2): LeNet on 28×28 data, a small ResNet on "
            "32×32; CEDA/ACET/reject/confidence train on Hein's noise. Evaluated on other datasets, noise, adversarial "
            "noise (PGD towards high confidence) and adversarial samples of the test set.")
data_dir = operator_data_dir()
found = available_datasets(data_dir)
runs = known_runs()
sidebar(found)
choose_run(runs)
current = session.state()
if not current.bench_methods:
    st.info("Choose at least one method under **Methods** in the sidebar.")
    session.stop()
shown_run = stored_view(runs, current)
if shown_run is not None:
    methods = tuple(m for m in current.bench_methods if m in shown_run.result.methods) or tuple(
        shown_run.result.methods)
    show_result(stored.select_methods(shown_run.result, methods), shown_run.provenance)
    session.stop()
downloads = os.environ.get(DOWNLOADS_VARIABLE, "").strip() == "1"
download = downloads and st.sidebar.checkbox("Download missing datasets", key="bench_download",
                                             help="From the official URLs, size- and time-limited and MD5-checked.")
with st.expander("Datasets found"):
    st.dataframe(pd.DataFrame([{"dataset": SET_TITLES[name], "found in": str(entry.location) if entry.present
                                else "–"} for name, entry in found.items()]), hide_index=True)
if not found[current.bench_dataset].present and not download:
    st.warning(missing_message(SET_TITLES[current.bench_dataset], downloads))
    session.stop()
try:
    config = BenchConfig(current.bench_dataset, current.bench_methods, current.bench_preset, data_dir,
                         seed=current.bench_seed, download=download)
except ConfigError as error:
    st.error(f"**Invalid settings:** {error}")
    session.stop()
store = result_folders(str(results_root() / PAGE_RUNS))
result = run_methods(store, config)
if result is None:  # damaged, or removed from disk since the job ran (the oldest go beyond MAX_PAGE_RUNS)
    st.session_state.get("bench_requested", {}).pop(config, None)  # the next visit offers to run again
    st.error("**The stored results could not be read back;** the server's log says why. Reload the page to run "
             "again.")
    session.stop()
keep_finished(store, result)
show_result(result, None)
