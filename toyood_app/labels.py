"""What the app calls things: labels and help texts of methods, data, settings and metrics, and the
few words that describe a run (pure Python: no Streamlit)."""
from __future__ import annotations

from toyood import data as toydata
from toyood.methods import METHODS
from toyood.toy import ToyConfig

from .state import AppState

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
    "median_radius_99": "median radius to 0.99",
    "asymptotic_confident_99": "directions → conf. ≥ 0.99",
    "far_adv_overconfident": "moved far OOD ≥ 0.99",
    "far_adv_mmc": "MMC moved far OOD",
    "far_ood_entropy": "entropy far OOD",
    "asymptotic_entropy": "limit entropy",
    "temperature": "temperature T",
    "train_seconds": "train s",
}
GAN_LABELS = {"coverage": "coverage", "ring_distance": "distance to 3σ"}  # the GAN page's own metrics
IMAGE_LABELS = {"test_error": "test error", "noise_mmc": "MMC on noise",
                "adv_noise_mmc": "MMC on adversarial noise"}  # the image page's, from a BenchResult
NEVER_KEYS = ("median_alpha_999", "median_radius_99")  # a missing value means "never reached"
SHARE_KEYS = ("coverage", "test_accuracy", "far_ood_overconfident", "far_ood_rejected", "asymptotic_overconfident",
              "asymptotic_rejected", "far_ood_fpr95", "far_ood_tnr95", "far_ood_dtacc", "asymptotic_confident_99",
              "far_adv_overconfident")  # shown as percentages
METRICS_HELP = (
    "Far OOD: 10,000 points uniform in [−50, 50]² outside the 3σ discs. MMC = mean max real-class "
    "probability. AUROC and FPR@95 follow Hein et al. (in-distribution positive, score = max "
    "probability; −entropy for DisMax; max real-class probability for the reject class); TNR@95 and "
    "DTACC follow Lee et al. 'directions → conf. 1': exact share of directions u with "
    "lim softmax(f(αu)) = one-hot on a real class (Thm 3.1). 'median α to 0.999': median over far OOD "
    "points x of the smallest α ≥ 1 with confidence(αx) ≥ 0.999 ('never': not reached by α = 10¹²). "
    "'median radius to 0.99': the same along each far point's unit direction, to 0.99 (grows with T). "
    "'moved far OOD': the first 1,000 far points each moved by PGD within an ℓ∞ ball of half its norm "
    "towards the highest confidence. Entropies in nats (0 = certain, log K = undecided). Every number "
    "uses the logits / T.")


def metric_text(key: str, value) -> str:
    """A metric as a person reads it: shares as percentages, α as a plain number, the rest to 3 digits."""
    if value is None:
        return "never" if key in NEVER_KEYS else "–"
    if key in SHARE_KEYS:
        return f"{value:.0%}" if value in (0, 1) or 0.01 <= value <= 0.99 else f"{value:.1%}"
    if key in ("median_alpha_999", "median_radius_99", "temperature"):
        return f"{value:.3g}"
    return f"{value:.3f}"


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def run_label(config: ToyConfig) -> str:
    """The method's label, with the OOD source for methods that train on OOD samples."""
    return method_label(config.method) + (f" · {config.ood} OOD" if config.ood != "none" else "")


def net_label(config: ToyConfig) -> str:
    """"a 500×500 net", "a 64×64 leaky-ReLU (0.1) net" or "a 500×500 tanh net"."""
    leaky = f" leaky-ReLU ({config.negative_slope:g})" if config.negative_slope else ""
    bounded = f" {config.activation}" if config.activation in ("tanh", "sigmoid") else ""
    return f"a {'×'.join(map(str, config.hidden))}{leaky}{bounded} net"


COLOUR_LABELS = {"region": "each region its own colour", "confidence": "confidence", "class": "predicted class"}


def data_title(current: AppState) -> str:
    """The data in a few words: 'two Gaussian classes at (±10, 0)', '3 spiral arms', …"""
    k = current.classes
    return {"gaussians": "two Gaussian classes at (±10, 0)" if k == 2 else f"{k} Gaussian classes on a circle of "
                                                                          "radius 10",
            "moons": "two moons", "rings": f"{k} concentric rings", "spiral": f"{k} spiral arms",
            "xor": "XOR blobs (two classes)",
            "file": f"your own points ({k} classes)" if current.data_file else "your own points (none uploaded yet)",
            }[current.dataset]


def class_names(config: ToyConfig) -> list[str]:
    return [f"class {k}" for k in range(config.classes)] + (["reject"] if config.method_object().head == "reject" else [])


def overlay_caption(config: ToyConfig) -> str:
    """What the dashed lines over a map are, for this run's data."""
    if config.dataset == "gaussians":
        return "dashed: the 3σ circles"
    return "OOD is farther than 3σ from every data point"
