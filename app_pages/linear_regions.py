"""Linear regions: the shared model's exact polygons (by default the Playground's 2×500 net), the
unbounded ones, and the class that wins far away in each direction."""
import streamlit as st

from toyood.plots import regions as region_plots
from toyood.plots import toy as plots
from toyood_app import charts, controls, session, stage, training, views
from toyood_app.labels import class_names, data_title, method_label, net_label, run_label
from toyood_app.state import BOXES, SMALL_NET

SMALL_NET_WHY = ("The Playground's net (the default here) has hundreds of thousands of regions and takes a second "
                 "or two to enumerate; a 2×32 net has about two thousand, few enough to see each one.")

stage.intro("linear-regions", "Linear regions",
            "A ReLU network is affine on each polygon of constant activation pattern. Below: every such region inside "
            "the box, exactly (no sampling). Regions outlined in red are unbounded: the net stays affine on them all the "
            "way to infinity, which is why its confidence there tends to 1 (Hein et al. Thm 3.1). The ring shows which "
            "class wins far away in each direction.")
current = session.state()
row_of_controls = st.container(horizontal=True, gap="medium")
box = session.widget("box", lambda key: row_of_controls.select_slider("Box half-width", BOXES, key=key, width=260))
colour_by = controls.colour_control(row_of_controls)
controls.focus_control(row_of_controls, "Regions of", 300)
small = controls.small_net_toggle(SMALL_NET_WHY)
stage.StepHeader().fill("linear-regions")
method = session.state().regions_method() if current.methods else None
if method == "rbf":
    st.info("The RBF network is not piecewise affine: it has no linear regions. Far away all its logits tend to 0, "
            f"so its confidence tends to 1/K = {1 / current.classes:.3g} in every direction (Thm 3.2); see the Far away "
            "page.")
    session.stop()
configs = training.configs_or_stop(hidden=SMALL_NET if small else None, methods=(method,) if method else None)
run = controls.at_temperature(training.trained_or_stop(configs))[method]
reason = controls.not_piecewise_affine(run)
if reason is not None:
    st.info(f"**No linear regions for {net_label(run.config)}:** {reason}. Far away its confidence tends to a "
            "constant per direction: see the Far away page.")
    session.stop()
config = run.config
dismax = config.method_object().head == "dismax"
if dismax:
    st.info("DisMax: only its feature extractor is piecewise affine; the regions shown are those of the body. The "
            "distance head −‖f(x) − p_j‖ is not affine, so there is no limit class per region; the limit "
            "confidence per direction is plotted instead.")
regions = training.linear_regions(run, float(box))
if regions is None:
    session.stop()

numbers = st.container(horizontal=True, gap="medium")
numbers.metric("Regions in the box", f"{len(regions):,}", width="content")
numbers.metric("Unbounded, in the box", f"{int(regions.unbounded.sum()):,}", width="content",
               help="Regions in the box that extend to infinity (outlined in red).")
numbers.metric("Unbounded, whole plane", f"{regions.unbounded_total:,}", width="content",
               help="All unbounded regions of the net, wherever they meet the box.")
numbers.metric("Arcs of directions", f"{len(regions.arcs.start):,}", width="content",
               help="The circle of directions splits into arcs, each with one activation pattern at infinity.")
st.caption(f"{run_label(config)} on {net_label(config)}"
           + (f"; data: {data_title(current)}." if config.dataset != "gaussians" or config.classes != 2 else "."))
row = charts.map_row(2)
with st.spinner("Drawing the regions …"):
    region_fig = views.region_map(run, regions, float(box), views.region_colouring(config, colour_by))
charts.map_chart(row[0], region_fig, "regions", f"regions-{method}")
if dismax:
    angles, limit = views.limit_confidence(run, 720)
    ring_fig = plots.limit_confidence_figure(angles, {method_label(method): limit}, n_classes=config.classes,
                                             title="DisMax: limit confidence per direction")
else:
    ring_fig = region_plots.limit_ring_figure(regions, class_names(config))
charts.map_chart(row[1], ring_fig, "ring", f"limit-ring-{method}")
downloads = st.container(horizontal=True)
charts.download_figure(downloads, region_fig, f"regions-{method}", "Region map (HTML)")
charts.download_figure(downloads, ring_fig, f"limit-ring-{method}", "Directions (HTML)")
