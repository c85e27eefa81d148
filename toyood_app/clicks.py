"""OOD points of the user's own, clicked on the Playground's confidence map (Streamlit). Streamlit
reports no selection for clicks on a heatmap (streamlit/streamlit#8760, #15042), so the map carries
an invisible grid of markers: a click selects the nearest one, and its (x, y) becomes the point."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from toyood import data as toydata
from toyood.methods import METHODS
from toyood.toy import MAX_EXTRA_OOD

from .session import VALUES_KEY
from .state import AppState

CLICK_GRID = 41  # markers per side of the invisible grid (a point every 1/20 of the half-width)
CLICKED_KEY = "toyood:clicked"  # the selection handled last (a chart keeps reporting it)
CLICK_TRACE = "click to add an OOD point"


def clicks_apply(current: AppState) -> bool:
    """Whether clicked points reach the shown model: one method that trains on sampled OOD samples."""
    return (not current.compare and METHODS[current.methods[0]].needs_ood
            and current.ood in toydata.OOD_SOURCES)


def with_click_grid(fig: go.Figure, halfwidth: float, points: tuple[tuple[float, float], ...]) -> go.Figure:
    """The user's OOD points (magenta crosses) and the invisible click grid over [−halfwidth, halfwidth]²."""
    if points:
        xy = np.asarray(points, dtype=np.float64)
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name="your OOD points", hoverinfo="skip",
                                 marker=dict(symbol="x", size=11, color="#ff00ff", line=dict(width=1.5,
                                                                                            color="white"))))
    ticks = np.linspace(-halfwidth, halfwidth, CLICK_GRID)
    gx, gy = np.meshgrid(ticks, ticks)
    fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name=CLICK_TRACE, showlegend=False,
                             marker=dict(size=12, opacity=0), hovertemplate="click: add an OOD point at "
                                                                            "(%{x:.4g}, %{y:.4g})<extra></extra>"))
    return fig


def clicked_points(event, fig: go.Figure) -> list[tuple[float, float]]:
    """The grid points a chart's selection event holds (the clicks on other traces are ignored)."""
    grid = next(i for i, trace in enumerate(fig.data) if trace.name == CLICK_TRACE)
    selection = getattr(event, "selection", None) or {}
    return [(float(p["x"]), float(p["y"])) for p in selection.get("points", []) if p.get("curve_number") == grid]


def add_ood_points(points: list[tuple[float, float]]) -> bool:
    """Add (or, when already there, remove) the clicked points in the state; returns whether the
    state changed. A selection already handled is ignored (the chart keeps reporting it)."""
    signature = tuple(points)
    if not points or st.session_state.get(CLICKED_KEY) == signature:
        return False
    st.session_state[CLICKED_KEY] = signature
    values = st.session_state[VALUES_KEY]
    current = list(values["ood_points"])
    for point in points:
        rounded = (float(f"{point[0]:.6g}"), float(f"{point[1]:.6g}"))
        if rounded in current:
            current.remove(rounded)
        else:
            current.append(rounded)
    values["ood_points"] = tuple(current[-MAX_EXTRA_OOD:])
    return True


def clear_ood_points() -> None:
    st.session_state[VALUES_KEY]["ood_points"] = ()
    st.session_state[CLICKED_KEY] = None

