"""Far away: confidence along a ray α·x up to α = 10¹², and the limit α → ∞ in every direction, for
the shared model(s)."""
import numpy as np
import streamlit as st

from toyood.farfield import DIRECTION_SAMPLES
from toyood.models import n_outputs
from toyood.plots import toy as plots
from toyood.toy import ToyRun
from toyood_app import charts, controls, session, stage, training, views
from toyood_app.labels import method_label
from toyood_app.state import POINT_LIMIT, THETA_STEP, WALKS

FAR_KEYS = ["asymptotic_overconfident", "asymptotic_rejected", "asymptotic_mmc", "asymptotic_confident_99",
            "asymptotic_entropy", "median_alpha_999", "median_radius_99", "far_ood_mmc", "temperature"]
BOUNDED_NOTE = ("A {activation} net is bounded, not piecewise affine: far away its first layer saturates "
                "(tanh → sign(W₁u), sigmoid → [W₁u > 0]), so the logits tend to finite values and each direction's "
                "confidence tends to a constant that need not be 1 (right: that constant per direction; "
                "Vernekar et al. Sec. 5.1).")
WALK_LABELS = {"direction": "a direction", "point": "a point"}
ENTROPY_SCORES = ("entropy", "dismax_entropy")  # scores under which the right panel shows the limit entropy
ENTROPY_NOTE = (" With the entropy score the right panel shows each direction's limit entropy in nats, 0 (certain) … "
                "log C (undecided): 0 on a ReLU net except where the top logit slopes tie (Vernekar et al.'s "
                "corollary), log K for RBF, a constant > 0 per direction for tanh and sigmoid nets.")


def walk_point(row) -> tuple[float, float] | None:
    """The point x of the walk α·x from the view controls in ``row`` (None, after an error, at the origin)."""
    along = session.widget("along", lambda key: row.segmented_control("Walk along", WALKS, key=key, required=True,
                                                                     format_func=WALK_LABELS.get))
    if along == "direction":
        degrees = session.widget("theta", lambda key: row.slider(
            "Direction θ (degrees; 0° = along the positive x axis)", 0.0, 360.0 - THETA_STEP, step=THETA_STEP,
            format="%.1f°", key=key, width=300))
        return float(np.cos(np.radians(degrees))), float(np.sin(np.radians(degrees)))
    session.widget("point", lambda key: row.number_input("x", -POINT_LIMIT, POINT_LIMIT, key=key, width=120),
                   shown=lambda v: v[0], stored=lambda x: (float(x), session.state().point[1]), suffix=":x")
    point = session.widget("point", lambda key: row.number_input("y", -POINT_LIMIT, POINT_LIMIT, key=key, width=120),
                           shown=lambda v: v[1], stored=lambda y: (session.state().point[0], float(y)), suffix=":y")
    if point == (0.0, 0.0):
        st.error("The origin stays at the origin for every α: pick another point.")
        return None
    return point


@st.fragment
def walk(runs: dict[str, ToyRun]) -> None:
    """The step's note, its numbers and the walk's controls in one row, then the walk α·x and every
    direction's limit side by side: changing the walk reruns only this part (and writes the address)."""
    header = stage.StepHeader()
    point = walk_point(header.row)
    header.fill("far-away", runs)
    along, limits = charts.map_row(2)
    if point is not None:
        curves = {method_label(m): views.ray_confidence(run, point, views.RAY_ALPHAS) for m, run in runs.items()}
        ray_fig = plots.ray_confidence_figure(np.array(views.RAY_ALPHAS), curves,
                                              n_classes=session.state().classes,
                                              title=f"Confidence at α·({point[0]:.3g}, {point[1]:.3g})")
        charts.map_chart(along, ray_fig, "ray", "confidence-along-ray")
    charts.map_chart(limits, *limit_figure(runs))
    session.sync_url()


def limit_figure(runs: dict[str, ToyRun]) -> tuple:
    """Every direction's limit, its chart key and file name: the limit entropy (nats) when the score is
    an entropy, else the limit confidence."""
    if session.state().score not in ENTROPY_SCORES:
        directions = {method_label(m): views.limit_confidence(run, views.LIMIT_ANGLES) for m, run in runs.items()}
        angles = next(iter(directions.values()))[0]
        return plots.limit_confidence_figure(angles, {name: limit for name, (_, limit) in directions.items()},
                                             n_classes=session.state().classes,
                                             title="Confidence as α → ∞, per direction"
                                             ), "limits", "limit-confidence"
    directions = {method_label(m): views.limit_entropy(run, views.LIMIT_ANGLES) for m, run in runs.items()}
    angles = next(iter(directions.values()))[0]
    return plots.limit_entropy_figure(angles, {name: limit for name, (_, limit) in directions.items()},
                                      n_classes=session.state().classes,
                                      reject=any(n_outputs(run.model) > run.config.classes for run in runs.values()),
                                      title="Entropy as α → ∞, per direction"
                                      ), "limits-entropy", "limit-entropy"


stage.intro("far-away", "Far away from the data",
            "Walk out along α·x for α from 0.1 to 10¹² (α = 1 is x itself). A ReLU network is affine on the last, unbounded region the ray "
            "enters, so its logits grow linearly in α and the softmax saturates: confidence → 1 (Hein et al. Thm 3.1) "
            "unless the top two logits grow equally fast. The RBF network is the contrast: every logit → 0, so the "
            f"confidence → 1/K = {1 / session.state().classes:.3g} (Thm 3.2).")
runs = controls.at_temperature(training.trained_or_stop(training.configs_or_stop()))
walk(runs)
st.caption(f"Right: exact for ReLU nets with a linear or reject head: the circle of directions splits into arcs of "
           f"constant activation pattern at infinity, and on each arc the class with the largest logit slope "
           f"wins (confidence 1; 0 for a reject-class model whose reject logit wins). DisMax and RBF limits "
           f"are evaluated on {DIRECTION_SAMPLES:,} directions. Every curve uses the logits / T "
           f"(T = {session.state().temperature:g}): T changes how far out the confidence reaches 1, not the limit."
           + (ENTROPY_NOTE if session.state().score in ENTROPY_SCORES else
              " Choose the entropy score to see each direction's limit entropy instead."))
bounded = {run.config.activation for run in runs.values()} & {"tanh", "sigmoid"}
if bounded:
    st.info(BOUNDED_NOTE.format(activation=" and ".join(sorted(bounded))), icon=":material/info:")
charts.show_metrics(training.metrics_rows(runs), "metrics-far-away", FAR_KEYS)
