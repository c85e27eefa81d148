"""Linear regions: the shared model's exact polygons (by default the Playground's 2×500 net), the
unbounded ones, and the class that wins far away in each direction."""
import streamlit as st

import ui
from toyood.appstate import BOXES, COLOURINGS, SMALL_NET
from toyood.plots import regions as region_plots
from toyood.plots import toy as plots

COLOUR_LABELS = {"region": "each region its own colour", "confidence": "confidence", "class": "predicted class"}

st.title("Linear regions")
st.caption("A ReLU network is affine on each polygon of constant activation pattern. Below: every such region "
           "inside the box, exactly (no sampling). Regions outlined in red are unbounded: the net stays affine on "
           "them all the way to infinity, which is why its confidence there tends to 1 (Hein et al. Thm 3.1). The "
           "ring shows which class wins far away in each direction.")
current = ui.state()
controls = st.container(horizontal=True, gap="medium")
box = ui.widget("box", lambda key: controls.select_slider("Box half-width", BOXES, key=key, width=260))
colour_by = ui.widget("colour", lambda key: controls.segmented_control(
    "Colour", COLOURINGS, key=key, required=True, format_func=COLOUR_LABELS.get))
if current.compare:
    first = current.methods[0] if current.methods else None
    ui.widget("focus", lambda key: controls.selectbox("Regions of", current.methods, key=key, width=300,
                                                      format_func=ui.method_label),
              shown=lambda v: v if v in current.methods else first, stored=lambda v: None if v == first else v,
              options=current.methods)
small = ui.widget("small_net", lambda key: st.toggle(
    f"A small {'×'.join(map(str, SMALL_NET))} net with the same settings instead", key=key,
    help="The Playground's net (the default here) has hundreds of thousands of regions and takes a second "
         "or two to enumerate; a 2×32 net has about two thousand, few enough to see each one."))
ui.scenario_note("linear-regions")
method = ui.state().regions_method() if current.methods else None
if method == "rbf":
    st.info("The RBF network is not piecewise affine: it has no linear regions. Far away all its logits tend to 0, "
            f"so its confidence tends to 1/K = {1 / current.classes:.3g} in every direction (Thm 3.2); see the Far away "
            "page.")
    ui.stop()
configs = ui.configs_or_stop(hidden=SMALL_NET if small else None, methods=(method,) if method else None)
result = ui.trained_or_stop(configs)[method]
config = result.run.config
dismax = config.method_object().head == "dismax"
if dismax:
    st.info("DisMax: only its feature extractor is piecewise affine; the regions shown are those of the body. The "
            "distance head −‖f(x) − p_j‖ is not affine, so there is no limit class per region; the limit "
            "confidence per direction is plotted instead.")
regions = ui.linear_regions(result, float(box))
if regions is None:
    ui.stop()

numbers = st.container(horizontal=True, gap="medium")
numbers.metric("Regions in the box", f"{len(regions):,}", width="content")
numbers.metric("Unbounded, in the box", f"{int(regions.unbounded.sum()):,}", width="content",
               help="Regions in the box that extend to infinity (outlined in red).")
numbers.metric("Unbounded, whole plane", f"{regions.unbounded_total:,}", width="content",
               help="All unbounded regions of the net, wherever they meet the box.")
numbers.metric("Arcs of directions", f"{len(regions.arcs.start):,}", width="content",
               help="The circle of directions splits into arcs, each with one activation pattern at infinity.")
st.caption(f"{ui.run_label(config)} on {ui.net_label(config)}"
           + (f"; data: {ui.data_title()}." if config.dataset != "gaussians" or config.classes != 2 else "."))
row = ui.map_row()
with st.spinner("Drawing the regions …"):
    region_fig = ui.region_map(result, regions, float(box), ui.region_colouring(config, colour_by))
ui.map_chart(row, region_fig, "regions", f"regions-{method}")
if dismax:
    angles, limit = ui.limit_confidence(result, 720)
    ring_fig = plots.limit_confidence_figure(angles, {ui.method_label(method): limit}, n_classes=config.classes,
                                             title="DisMax: limit confidence per direction")
else:
    ring_fig = region_plots.limit_ring_figure(regions, ui.class_names(config))
ui.map_chart(row, ring_fig, "ring", f"limit-ring-{method}")
downloads = st.container(horizontal=True)
ui.download_figure(downloads, region_fig, f"regions-{method}", "Region map (HTML)")
ui.download_figure(downloads, ring_fig, f"limit-ring-{method}", "Directions (HTML)")
