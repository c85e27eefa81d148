"""GAN boundary samples: Lee et al.'s joint GAN + classifier training on the toy, animated, with how
much of the 3σ boundary the generated samples cover (Vernekar et al. Sec. 5.2, Fig. 5)."""
import threading
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

import ui
from toyood.evaluate import GridEvaluation, evaluate_grid
from toyood.gan import CLASSIFIERS, RING_SECTORS, STARTS, GanConfig, GanRun, gan_metrics, train_gan
from toyood.plots import gan as gan_plots
from toyood.plots import toy as toy_plots
from toyood.train import ConfigError, TrainingDiverged

ITERATIONS = (200, 400, 800, 1200, 2000, 4000, 10000, 20000)
BETAS = (0.1, 0.3, 1.0, 3.0, 10.0)
FINAL_HALFWIDTH = 50.0
FINAL_RESOLUTION = 150
METRIC_KEYS = ["test_accuracy", "far_ood_mmc", "far_ood_auroc", "far_ood_overconfident", "far_ood_rejected",
               "asymptotic_overconfident", "train_seconds"]
START_LABELS = {"joint": "joint from scratch (Vernekar)", "pretrained": "pre-trained classifier (Lee)"}


@dataclass(frozen=True)
class GanResult:
    """Everything the page shows of one config, computed once."""

    run: GanRun
    metrics: dict
    animation: go.Figure
    final_grid: GridEvaluation


class GanSlot:
    """One config's cache entry, filled outside the cached call so the progress bar is not replayed;
    the lock makes concurrent sessions wait for one training."""

    def __init__(self):
        self.lock = threading.Lock()
        self.result: GanResult | None = None
        self.error: str | None = None


@st.cache_resource(max_entries=8, show_spinner=False)
def gan_slot(config: GanConfig) -> GanSlot:
    return GanSlot()


def compute(config: GanConfig, progress) -> GanResult:
    """Train and evaluate on ``ui.torch_threads`` (one thread unless TOYOOD_THREADS says otherwise)."""
    with ui.torch_threads():
        run = train_gan(config, progress)
        grid = evaluate_grid(run.classifier.model, run.classifier.config.method_object(), FINAL_HALFWIDTH,
                             FINAL_RESOLUTION)
        return GanResult(run, gan_metrics(run), gan_plots.gan_animation(run), grid)


def trained(config: GanConfig) -> GanSlot:
    slot = gan_slot(config)
    with slot.lock:
        if slot.result is None and slot.error is None:
            bar = st.progress(0.0, text="Training G, D and the classifier …")
            try:
                slot.result = compute(config, lambda fraction, text: bar.progress(fraction, text=text))
            except (ConfigError, TrainingDiverged) as error:
                slot.error = str(error)
            bar.empty()
    return slot


st.title("GAN boundary samples")
st.caption("Lee et al. (2018, eq. 2) train a GAN whose generator is pulled towards the data by the "
           "discriminator and towards where the classifier is unsure (KL to uniform), so that it produces "
           "'boundary' OOD samples for the classifier's confidence loss. Vernekar et al. (2019, Sec. 5.2) "
           "found that, trained jointly from scratch, the samples hug only part of the boundary. Magenta: the "
           "generated samples for fixed latents z; dashed: the 3σ circles; colour: the classifier's confidence.")

sidebar = st.sidebar
classifier = sidebar.radio("Classifier", CLASSIFIERS, format_func=ui.method_label, key="gan_classifier",
                           help="confidence: generated samples get the KL-to-uniform loss and G seeks uniform "
                                "predictions (Lee). reject: generated samples are labelled reject and G seeks "
                                "the reject class (the same OOD target the classifier learns).")
start = sidebar.radio("Start", STARTS, format_func=START_LABELS.get, key="gan_start",
                      help="joint: G, D and the classifier from scratch (Vernekar's experiment). pre-trained: "
                           "the classifier is first trained with boundary samples and then held fixed while "
                           "the GAN trains against it (Lee's toy setting, which Vernekar criticises).")
iterations = sidebar.select_slider("Iterations", ITERATIONS, GanConfig.iterations, key="gan_iterations",
                                   help="Each: 100 real + 100 generated rows; D, G and classifier step once. "
                                        "Vernekar ran ~20,000.")
beta = sidebar.select_slider("β (KL weight)", BETAS, GanConfig.beta, key="gan_beta", format_func="{:g}".format,
                             help="Weight of the KL terms in the G step and in the confidence classifier's loss.")
seed = sidebar.number_input("Seed", 0, 2**31 - 1, 0, key="gan_seed")

try:
    config = GanConfig(classifier=classifier, start=start, iterations=int(iterations), beta=float(beta),
                       seed=int(seed), snapshot_every=max(int(iterations) // 40, 1))
except ConfigError as error:
    st.error(f"**Invalid settings:** {error}")
    st.stop()
slot = trained(config)
if slot.error is not None:
    st.error(f"**The GAN could not be trained:** {slot.error}. Change the settings in the sidebar.")
    st.stop()
run, metrics = slot.result.run, slot.result.metrics
reject = classifier == "reject"

st.plotly_chart(slot.result.animation, key="gan_animation")
st.caption(f"Coverage: share of {RING_SECTORS} angular sectors per 3σ circle holding a generated sample within "
           "1σ of the circle, averaged over both circles. Press ▶ or drag the slider.")

columns = st.columns(4)
columns[0].metric("Final coverage", f"{metrics['coverage']:.0%}")
columns[1].metric("Mean distance to the 3σ circles", f"{metrics['ring_distance']:.2f}")
columns[2].metric("Far OOD with confidence ≥ 0.99", f"{metrics['far_ood_overconfident']:.1%}")
columns[3].metric("Training", f"{run.train_seconds:.1f} s")

st.subheader("Coverage over the iterations")
st.plotly_chart(gan_plots.coverage_figure({ui.method_label(classifier): run}), key="gan_coverage")

st.subheader("The final classifier")
data = run.classifier.data
final = toy_plots.confidence_figure(slot.result.final_grid, title="Confidence over [−50, 50]², last samples",
                                    x_train=data.x_train, y_train=data.y_train, ood=run.snapshots[-1].samples,
                                    sigma=config.sigma, zmin=0.0 if reject else 0.5)
st.plotly_chart(final, key="gan_final")
ui.show_metrics({ui.method_label(classifier): {k: metrics[k] for k in METRIC_KEYS}}, "gan-metrics", METRIC_KEYS)
