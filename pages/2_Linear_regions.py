"""Linear regions: the trained net's exact polygons, the unbounded ones, and the class that wins far
away in each direction."""
import streamlit as st

import ui
from toyood.methods import METHODS
from toyood.plots import regions as region_plots
from toyood.plots import toy as plots

BOXES = [10, 20, 50, 100, 200]
COLOUR_BY = {"region": "each region its own colour", "confidence": "confidence", "class": "predicted class"}

st.title("Linear regions")
st.caption("A ReLU network is affine on each polygon of constant activation pattern. Below: every such region "
           "inside the box, exactly (no sampling). Regions outlined in red are unbounded: the net stays affine on "
           "them all the way to infinity, which is why its confidence there tends to 1 (Hein et al. Thm 3.1). The "
           "ring shows which class wins far away in each direction.")

method = st.sidebar.selectbox("Method", list(METHODS), format_func=ui.method_label, key="method")
settings = ui.training_settings(show_ood=METHODS[method].needs_ood, default_hidden="32,32")
left, right = st.columns([1, 2])
halfwidth = left.select_slider("Box half-width", BOXES, 50, key="box")
colour_by = right.segmented_control("Colour", list(COLOUR_BY), default="region", required=True,
                                    format_func=COLOUR_BY.get, key="colour_by")
st.caption("The default architecture here is 2×32 (≈2,000 regions, instant). The playground's 2×500 has about "
           "340,000 regions in [−50, 50]² and takes tens of seconds to enumerate.")
if method == "rbf":
    st.info("The RBF network is not piecewise affine: it has no linear regions. Far away all its logits tend to 0, "
            "so its confidence tends to 1/K = 0.5 in every direction (Thm 3.2); see the Far away page.")
    st.stop()
configs = ui.configs_for([method], settings) if settings is not None else None
if configs is None or ui.trained(configs[method]) is None:
    st.stop()
config = configs[method]
dismax = config.method_object().head == "dismax"
if dismax:
    st.info("DisMax: only its feature extractor is piecewise affine; the regions shown are those of the body. The "
            "distance head −‖f(x) − p_j‖ is not affine, so there is no limit class per region; the limit "
            "confidence per direction is plotted instead.")
    colour_by = "region"

with st.spinner("Enumerating and drawing the regions …"):
    regions = ui.linear_regions(config, float(halfwidth))
    region_fig = ui.region_map(config, float(halfwidth), colour_by)
columns = st.columns(4)
columns[0].metric("Regions in the box", f"{len(regions):,}")
columns[1].metric("Unbounded (in the box)", f"{int(regions.unbounded.sum()):,}")
columns[2].metric("Unbounded (whole plane)", f"{regions.unbounded_total:,}")
columns[3].metric("Arcs of directions", f"{len(regions.arcs.start):,}")
map_column, ring_column = st.columns([3, 2])
map_column.plotly_chart(region_fig, key="regions")
ui.download_figure(map_column, region_fig, f"regions-{method}")
if dismax:
    angles, limit = ui.limit_confidence(config, 720)
    ring_fig = plots.limit_confidence_figure(angles, {ui.method_label(method): limit},
                                             title="DisMax: limit confidence per direction")
else:
    ring_fig = region_plots.limit_ring_figure(regions, ui.class_names(config))
    ring_fig.update_layout(title="Class that wins far away, per direction", height=520,
                           margin=dict(l=50, r=50, t=60, b=20), legend=dict(orientation="h", y=-0.05))
ring_column.plotly_chart(ring_fig, key="ring")
ui.download_figure(ring_column, ring_fig, f"limit-ring-{method}")
