"""The proof, drawn: Hein et al.'s Thm 3.1 along one ray α·x of the shared model — the regions the ray
crosses (exact, ``toyood.ray``), the logits, the top-two gap and the softmax along it; Thm 3.2's
contrast for the RBF net. The point x is the Far away page's (``point`` in the link)."""
import numpy as np
import pandas as pd
import streamlit as st

from toyood.plots import toy as toy_plots
from toyood.ray import RayProfile, region_crossings
from toyood.toy import ToyRun
from toyood_app import charts, controls, session, stage, training, views
from toyood_app.labels import data_title, net_label, run_label
from toyood_app.link import point as checked_point
from toyood_app.state import SMALL_NET

RBF_RESOLUTION = 200
LAST_ROW_STYLE = "background-color: rgba(255, 208, 0, 0.35)"  # the gold of the last region (toyood.plots.ray)
SMALL_NET_WHY = ("As on the Linear regions page: the Playground's net crosses hundreds of regions and takes a while "
                 "to enumerate; a 2×32 net crosses a few dozen and is instant.")
POINT_HELP = "The point x = (x₁, x₂): the ray α·x, α ≥ 0, passes x at α = 1. Shared with the Far away page."
INTRO = ("Walk out from the origin along α·x. A ReLU net is affine on each linear region, the ray crosses finitely "
         "many of them and never leaves the last, unbounded one; there the logits are f(α·x) = α·Vx + a, the gap "
         "between the top two grows linearly in α and the softmax saturates: confidence → 1 (Hein et al. Thm 3.1, "
         "panels (a)–(d)). The RBF network is the contrast: every logit → 0, so the confidence → 1/K (Thm 3.2).")


def point_input(column, label: str, index: int) -> tuple[float, str | None]:
    """One coordinate of x as a number input; the point is stored only when valid (``toyood_app.link.point``:
    finite, |coordinate| ≤ 1000, not the origin). Returns the value shown and the problem, if any."""
    def stored(value: float) -> tuple[float, float]:
        new = list(session.state().point)
        new[index] = float(value)
        return checked_point(f"{new[0]!r},{new[1]!r}")

    suffix = f":proof-{index}"
    try:
        value = session.widget("point", lambda key: column.number_input(label, key=key, step=1.0, width=140,
                                                                        help=POINT_HELP),
                               shown=lambda v: v[index], stored=stored, suffix=suffix)[index]
    except ValueError as error:
        return st.session_state[f"{session.WIDGET_PREFIX}point{suffix}"], str(error)
    return value, None


def view_controls() -> tuple[str, bool, bool]:
    """The point, the method (compare mode), the map colouring, the log-α axis and the small net;
    stops the page with an error when the point is not valid. Returns method, log axis, small net.
    The colour and small-net widgets have keys of their own (``:proof``): the Linear regions page's
    widget left in the session under the shared key would make this one answer its default for one run."""
    row = st.container(horizontal=True, gap="medium", vertical_alignment="bottom")
    (x1, problem1), (x2, problem2) = point_input(row, "x₁", 0), point_input(row, "x₂", 1)
    controls.focus_control(row, "Net of", 260)
    method = session.state().regions_method() if session.state().methods else None
    if method not in ("rbf", "dismax", None):
        controls.colour_control(row, "Map colour", suffix=":proof")
    log_x = row.toggle("Logarithmic α axis", key="proof:log-alpha",
                       help="The α axis of panels (b)–(d) on a log scale (not part of the link).")
    small = controls.small_net_toggle(SMALL_NET_WHY, suffix=":proof")
    if problem1 or problem2:
        problems = "; ".join(dict.fromkeys(p for p in (problem1, problem2) if p))
        st.error(f"**x = ({x1:g}, {x2:g}) cannot be used:** {problems}.")
        session.stop()
    return method, log_x, small


def confidence_background(run: ToyRun, half: float) -> list:
    """The confidence map over [−half, half]² with the training data, as traces under the ray."""
    data = run.data
    fig = toy_plots.confidence_figure(views.grid(run, half, RBF_RESOLUTION), x_train=data.x_train,
                                      y_train=data.y_train, n_classes=run.config.classes,
                                      **charts.circles(data, run.config.sigma))
    return list(fig.data)


def background(run: ToyRun, profile: RayProfile, half: float):
    """The traces under the ray, the regions to outline and what the traces are: the exact region
    map (its colouring) when the net is piecewise affine and small enough, else the confidence map
    (and no regions)."""
    config = run.config
    if profile.pieces is None:
        return confidence_background(run, half), None, "confidence"
    if sum(config.hidden) > training.MAX_REGION_NEURONS:
        st.info(f"This net has more than {training.MAX_REGION_NEURONS:,} hidden neurons: its regions are not "
                "enumerated here, so the ray is drawn over the confidence map (the table below is exact all the same).")
        return confidence_background(run, half), None, "confidence"
    regions = training.linear_regions(run, half)
    if regions is None:
        return confidence_background(run, half), None, "confidence"
    colour = views.region_colouring(config, session.state().colour)
    with st.spinner("Drawing the regions …"):
        traces = views.region_map(run, regions, half, colour).data
    # every unbounded region's red outline would bury the one that matters: the last region, in gold
    return [trace for trace in traces if getattr(trace, "legendgroup", None) != "unbounded"], regions, colour


def summary(profile: RayProfile) -> None:
    """The proof's numbers: regions crossed, where the last one starts, the threshold α, the limit."""
    numbers = st.container(horizontal=True, gap="medium")
    if profile.pieces is not None:
        numbers.metric("Regions crossed", f"{len(profile.pieces):,}", width="content",
                       help="Linear regions (activation patterns) the ray α·x, α ≥ 0, passes through.")
        numbers.metric("Last region from α =", f"{profile.last_start:.4g}", width="content",
                       help="From here on the ray never leaves its last, unbounded region (Lemma 3.1).")
    reached = profile.alpha_threshold
    numbers.metric(f"Confidence ≥ {profile.threshold:g} from α =", f"{reached:.4g}" if np.isfinite(reached)
                   else "never", width="content", help="The first α at which the confidence reaches the threshold.")
    numbers.metric("Limit confidence (α → ∞)", f"{profile.limit_confidence:.4g}", width="content")


def crossings_table(profile: RayProfile) -> None:
    """The regions the ray crosses, in order, with the α at which it enters and leaves each; the
    last, unbounded one highlighted."""
    table = pd.DataFrame(region_crossings(profile.pieces))
    table = table[["region", "enters at α", "leaves at α", "active neurons", "unbounded", "pattern"]]
    table = table.rename(columns={"pattern": "pattern (hex)"})

    def highlight(frame: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
        styles.loc[frame["unbounded"].to_numpy(bool)] = LAST_ROW_STYLE
        return styles

    alpha = lambda v: "∞" if np.isinf(v) else f"{v:.6g}"  # noqa: E731
    styler = table.style.apply(highlight, axis=None).format({"enters at α": alpha, "leaves at α": alpha})
    widths = {"region": 56, "enters at α": 96, "leaves at α": 96, "active neurons": 104, "unbounded": 80}
    st.dataframe(styler, hide_index=True, key="crossings", height=min(36 + 35 * len(table), 420),
                 column_config={name: st.column_config.Column(width=width) for name, width in widths.items()})
    st.caption("Exact, from the activation patterns: along α·x every pre-activation is affine in α, and the ray "
               "enters a new region where one of them changes sign. Highlighted: the last region, which the ray "
               "never leaves (Lemma 3.1).")


def draw(profile: RayProfile, run: ToyRun, log_x: bool) -> None:
    """Panel (a) and the crossings beside panels (b)–(d) (stacked, so their α axes line up)."""
    half = views.proof_view_half(profile)
    traces, regions, kind = background(run, profile, half)
    panels = views.proof_figures(run, tuple(profile.x), half, kind, log_x, profile, traces, regions)
    method = run.config.method
    left, right = charts.map_row(2)
    charts.map_chart(left, panels["path"].figure, "proof-path", f"proof-path-{method}")
    left.caption(panels["path"].caption)
    with left:
        if profile.pieces is not None:
            st.markdown("**The regions the ray crosses**")
            crossings_table(profile)
        else:
            st.info("The RBF network is not piecewise affine: there are no linear regions for the ray to cross, "
                    "and nothing grows linearly far away (Thm 3.2).")
    for name in ("logits", "gap", "confidence"):
        charts.chart(right, panels[name].figure, f"proof-{name}", f"proof-{name}-{method}")
        right.caption(panels[name].caption)


stage.intro("proof", "The proof, drawn", INTRO)
method, log_x, small = view_controls()
configs = training.configs_or_stop(hidden=SMALL_NET if small else None, methods=(method,) if method else None)
run = controls.at_temperature(training.trained_or_stop(configs))[method]
point = session.state().point
try:
    profile = views.ray_profile_of(run, point)
except ValueError as error:
    st.info(f"**The proof does not apply to {net_label(run.config)}:** {error}. Thm 3.1 needs a piecewise affine "
            "net; far away a bounded net's confidence tends to a constant per direction (see the Far away page).")
    session.stop()
st.caption(f"{run_label(run.config)} on {net_label(run.config)}, x = ({point[0]:g}, {point[1]:g}); "
           f"data: {data_title(session.state())}.")
summary(profile)
draw(profile, run, log_x)
