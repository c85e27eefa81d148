"""Image benchmark: Hein et al.'s Table 1 (OOD detection) and Table 2 (α-scaling) for the chosen methods."""
import json
from dataclasses import replace

import pandas as pd
import streamlit as st

import ui
from toyood.images.benchmark import (IMAGE_METHODS, OOD_SETS, PRESETS, SET_TITLES, BenchConfig, ResultStore,
                                     run_benchmark, table_records)
from toyood.images.datasets import DatasetUnavailable, available_datasets
from toyood.plots import images as plots
from toyood.errors import ConfigError, TrainingDiverged

st.title("Image benchmark")
st.caption("The same methods on images (Hein et al., CVPR 2019, Tables 1-2): LeNet on 28×28 data, a small "
           "ResNet on 32×32; CEDA/ACET/reject/confidence train on Hein's noise. Evaluated on other datasets, "
           "noise, adversarial noise (PGD towards high confidence) and adversarial samples of the test set.")


@st.cache_resource(show_spinner=False)
def result_store() -> ResultStore:
    """Finished runs per method, shared by all sessions."""
    return ResultStore()


sidebar = st.sidebar
data_dir = sidebar.text_input("Data directory", "", key="bench_data_dir",
                              help="Where the dataset files are; empty: $TOYOOD_DATA, then ~/.cache/toyood. "
                                   "torchvision's layouts and Debian's Fashion-MNIST are found too.").strip() or None
found = available_datasets(data_dir)
dataset = sidebar.selectbox("In-distribution data", list(OOD_SETS), key="bench_dataset",
                            format_func=lambda d: SET_TITLES[d] + ("" if found[d].present else " (missing)"))
methods = sidebar.multiselect("Methods", IMAGE_METHODS, ["plain", "ceda", "acet"], format_func=ui.method_label,
                              key="bench_methods")
preset = sidebar.radio("Preset", list(PRESETS), key="bench_preset", horizontal=True,
                       help="quick: subsets, 2 epochs, short attacks (about 3 min per method on 2 CPU cores); "
                            "paper: Hein et al.'s settings (hours on a CPU).")
seed = sidebar.number_input("Seed", 0, 2**31 - 1, 0, key="bench_seed")
download = sidebar.checkbox("Download missing datasets", key="bench_download",
                            help="From the official URLs, MD5-checked, into the data directory.")
with st.expander("Datasets found"):
    st.dataframe(pd.DataFrame([{"dataset": name, "found in": str(entry.location) if entry.present else "",
                                "why not": entry.reason} for name, entry in found.items()]), hide_index=True)
if not methods:
    st.info("Choose at least one method in the sidebar.")
    st.stop()
if not found[dataset].present and not download:
    st.warning(found[dataset].reason)
    st.stop()
try:
    config = BenchConfig(dataset, tuple(methods), preset, data_dir, seed=int(seed), download=download)
except ConfigError as error:
    st.error(f"**Invalid settings:** {error}")
    st.stop()

store = result_store()
missing = store.missing(config)
if missing:
    st.info(f"To train and evaluate: {', '.join(missing)} ({preset} preset).")
    if not st.button(f"Run {len(missing)} method{'s' * (len(missing) > 1)}", type="primary"):
        st.stop()
    bar = st.progress(0.0, text="Loading data …")
    try:
        with store.lock, ui.torch_threads():  # another session may have run some of them meanwhile
            if missing := store.missing(config):
                store.add(run_benchmark(replace(config, methods=tuple(missing)),
                                        lambda fraction, text: bar.progress(fraction, text=text)))
    except (DatasetUnavailable, ConfigError, TrainingDiverged) as error:
        st.error(str(error))
        st.stop()
    finally:
        bar.empty()
result = store.result(config)

st.subheader(f"Trained on {SET_TITLES[dataset]}: {result.n_train} training / {result.n_test} test images")
records = pd.DataFrame(table_records(result))
metrics = [column for column in records.columns if column not in ("set", "method")]
table = records.pivot(index="set", columns="method", values=metrics).swaplevel(axis=1)
table = table.loc[records["set"].unique(), [(m, metric) for m in methods for metric in metrics]]
st.dataframe(table.style.format(precision=3, na_rep="–"), width="stretch")
st.caption("MMC: mean confidence (largest real-class probability). AUROC, FPR@95: Hein et al.'s convention "
           "(in-distribution test images positive, score = max probability; −entropy for DisMax); TNR@95, DTACC: "
           "Lee et al.'s. Adv. noise: PGD (ℓ∞, ε = 0.3) from noise towards a high score; adv. samples: PGD "
           "on the test images' cross-entropy.")
if result.skipped:
    st.warning("Not evaluated (files missing or unreadable): " + ", ".join(SET_TITLES[s] for s in result.skipped)
               + ". See “Datasets found” above.")
alpha = pd.DataFrame({m: {"median α with confidence ≥ 0.999": r.median_alpha,
                          "share of clip(αx, 0, 1) with confidence > 0.95": r.alpha_overconfident}
                      for m, r in result.methods.items()})
histograms, noise, adversarial, scaling = st.tabs(["Confidence histograms", "Noise", "Adversarial samples",
                                                   "α-scaling (Table 2)"])
with histograms:
    st.plotly_chart(plots.confidence_histograms_figure(result), key="bench_histograms")
with noise:
    st.plotly_chart(plots.noise_grid_figure(result), key="bench_noise")
with adversarial:
    st.plotly_chart(plots.adversarial_samples_figure(result), key="bench_adversarial")
with scaling:
    st.dataframe(alpha.style.format(precision=3, na_rep="> 10⁶ / –"), width="stretch")
    st.caption("Uniform noise x scaled by α ≥ 1 (Theorem 3.1's construction): the median over trials of the "
               "smallest α with confidence ≥ 0.999, and how often the scaled image clipped back to [0, 1] is "
               "still classified with confidence > 0.95.")
st.download_button("Results (JSON)", json.dumps(result.to_dict(), indent=2), f"bench-{dataset}.json",
                   "application/json", on_click="ignore")
