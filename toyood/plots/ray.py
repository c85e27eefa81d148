"""The proof of Hein et al. 2019, Thm 3.1 (and Thm 3.2 for RBF nets), drawn along one ray α·x.

Four panels from a ``toyood.ray.RayProfile``, each a ``Panel`` = figure + a one-sentence caption
naming the step of the proof it shows: (a) ``ray_path_panel``, the ray over a map, entering each
linear region at the marked α and never leaving the last, unbounded one (Lemma 3.1); (b)
``ray_logits_panel``, the logits as exact piecewise-linear functions of α; (c) ``ray_gap_panel``,
the top-two gap growing linearly on the last region; (d) ``ray_saturation_panel``, the softmax
saturating (RBF: tending to 1/K). ``proof_panels`` returns all four. Pure plotly, float32 payloads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..ray import RayProfile
from ..regions import Regions
from .colours import class_colours

LAST_COLOUR = "#ffd000"  # the last, unbounded region and the piece of the ray in it (no class uses gold)
LAST_FILL = "rgba(255,208,0,0.16)"
LAST_TEXT = "#8a6d00"  # gold is too light for text on white
HALO = "rgba(255,255,255,0.85)"
RAY_COLOUR = "#222222"
TICK_COLOUR = "#555555"
MAX_LABELS = 6  # α labels on the map; every entry point keeps a marker with a hover label
MAP_HEIGHT = 640
CURVE_HEIGHT = 460
F32 = np.float32


@dataclass(frozen=True)
class Panel:
    """A figure and the one sentence linking it to its step of the proof."""

    figure: go.Figure
    caption: str


def _fmt(value: float) -> str:
    return "∞" if np.isinf(value) else f"{value:.4g}"


def output_names(profile: RayProfile, class_names: Sequence[str] | None = None) -> list[str]:
    """Names of the outputs: the real classes, then "reject" for a reject head."""
    names = list(class_names or [f"class {k}" for k in range(profile.n_classes)])[:profile.n_classes]
    return names + (["reject"] if profile.reject is not None else [])


def _view_extent(profile: RayProfile) -> tuple[float, float, float, float]:
    """A square around the origin holding x and the ray up to a bit past its last breakpoint."""
    reach = profile.alpha_view if profile.last_start is None else max(1.0, 1.3 * profile.last_start)
    half = 1.1 * float(np.abs(profile.x).max()) * reach
    return (-half, half, -half, half)


def _exit_alpha(x: np.ndarray, extent) -> float:
    """The α at which the ray α·x leaves the rectangle ``extent`` (it starts at the origin)."""
    xmin, xmax, ymin, ymax = extent
    limits = [(xmax if x[0] > 0 else xmin) / x[0] if x[0] else np.inf,
              (ymax if x[1] > 0 else ymin) / x[1] if x[1] else np.inf]
    return max(0.0, float(min(limits)))


def _row_keys(rows: np.ndarray) -> np.ndarray:
    """A 64-bit key per row of bytes: equal rows get equal keys (a hash; collisions are possible)."""
    padded = np.zeros((len(rows), -(-rows.shape[1] // 8) * 8), np.uint8)
    padded[:, :rows.shape[1]] = rows
    words = padded.view(np.uint64)
    mix = np.arange(1, 2 * words.shape[1], 2, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (words * mix).sum(axis=1, dtype=np.uint64)  # wraps around mod 2⁶⁴


def crossed_regions(profile: RayProfile, regions: Regions) -> list[int | None]:
    """The id in ``regions`` of each region the ray passes through, in order, matched by activation
    pattern (None where the region has no part in the box)."""
    candidates = np.flatnonzero(np.isin(_row_keys(regions.patterns), _row_keys(profile.pieces.packed)))
    ids = {regions.patterns[r].tobytes(): int(r) for r in candidates}  # the keys' hits, checked byte by byte
    return [ids.get(row.tobytes()) for row in profile.pieces.packed]


def _outlines(regions: Regions, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The closed outlines of regions ``ids`` as one float32 polyline, NaN between regions (a gap)."""
    rings = [np.vstack([regions.polygon(r), regions.polygon(r)[:1], [np.nan, np.nan]]) for r in ids]
    points = np.vstack(rings).astype(F32) if rings else np.zeros((0, 2), F32)
    return points[:, 0], points[:, 1]


def _region_traces(profile: RayProfile, regions: Regions) -> list[go.Scatter]:
    """Outlines of the regions of ``regions`` the ray passes through, as one trace; the last,
    unbounded one hatched in gold."""
    crossed = crossed_regions(profile, regions)
    before = [r for r in crossed[:-1] if r is not None]
    traces = []
    if before:
        x, y = _outlines(regions, before)
        traces.append(go.Scatter(x=x, y=y, mode="lines", hoverinfo="skip", line=dict(color="black", width=1),
                                 name="regions crossed"))
    if crossed and crossed[-1] is not None:
        x, y = _outlines(regions, [crossed[-1]])
        traces.append(go.Scatter(x=x[:-1], y=y[:-1], mode="lines", hoverinfo="skip", fill="toself",
                                 fillcolor=LAST_FILL, line=dict(color=LAST_COLOUR, width=3),
                                 fillpattern=dict(shape="/", fgcolor=LAST_COLOUR, size=10, solidity=0.25),
                                 name="last region (unbounded)"))
    return traces


def _entry_labels(alphas: np.ndarray, spacing: float) -> np.ndarray:
    """Which entry points get a text label: the last one, then going back towards the origin each
    one at least ``spacing`` (in α) from the labelled ones, at most ``MAX_LABELS``."""
    chosen = np.zeros(len(alphas), bool)
    for i in range(len(alphas) - 1, -1, -1):
        if chosen.sum() >= MAX_LABELS:
            break
        if np.all(np.abs(alphas[chosen] - alphas[i]) >= spacing):
            chosen[i] = True
    return chosen


def _segment(x: np.ndarray, a: float, b: float) -> dict:
    return dict(x=np.array([a * x[0], b * x[0]], F32), y=np.array([a * x[1], b * x[1]], F32))


def _ray_traces(profile: RayProfile, edge: float) -> list[go.Scatter]:
    """The ray up to α = ``edge`` on a white halo (the last piece in gold, an arrow to infinity),
    the points where it enters a new region, and x itself."""
    x, last = profile.x, profile.last_start
    split = edge if last is None else min(last, edge)
    traces = [go.Scatter(**_segment(x, 0.0, edge), mode="lines", line=dict(color=HALO, width=8), hoverinfo="skip",
                         showlegend=False),
              go.Scatter(**_segment(x, 0.0, split), mode="lines", line=dict(color=RAY_COLOUR, width=2.5),
                         name="ray α·x", hoverinfo="skip")]
    if last is not None and last < edge:
        tip = max(last, 0.97 * edge)  # the arrow head stays inside the plot
        traces.append(go.Scatter(**_segment(x, last, tip), mode="lines+markers",
                                 line=dict(color=LAST_COLOUR, width=5),
                                 marker=dict(symbol=["circle", "arrow"], angleref="previous", size=[1, 18],
                                             color=LAST_COLOUR, line=dict(color=RAY_COLOUR, width=1)),
                                 name=f"last piece, α ≥ {_fmt(last)}: never left", hoverinfo="skip"))
    entries = profile.breakpoints[profile.breakpoints <= edge]
    if len(entries):
        traces.append(go.Scatter(x=(entries * x[0]).astype(F32), y=(entries * x[1]).astype(F32), mode="markers",
                                 marker=dict(size=8, color="white", line=dict(color=RAY_COLOUR, width=1.5)),
                                 customdata=entries.astype(F32), name="enters a new region at α",
                                 hovertemplate="enters a new region at α = %{customdata:.6g}<extra></extra>"))
    traces.append(go.Scatter(x=np.array([x[0]], F32), y=np.array([x[1]], F32), mode="markers",
                             marker=dict(symbol="star", size=15, color="white", line=dict(color="black", width=1.5)),
                             name="x (α = 1)", hovertemplate="x = (%{x:.4g}, %{y:.4g})<extra></extra>"))
    return traces


def _label_entries(fig: go.Figure, profile: RayProfile, edge: float) -> None:
    """Text labels α = … on a white box beside a few well-spread entry points."""
    entries = profile.breakpoints[profile.breakpoints <= edge]
    for alpha in entries[_entry_labels(entries, 0.15 * edge)]:
        fig.add_annotation(x=float(alpha * profile.x[0]), y=float(alpha * profile.x[1]), text=f"α={_fmt(alpha)}",
                           showarrow=True, arrowhead=0, arrowwidth=1, ax=-28, ay=-22, font=dict(size=11),
                           bgcolor=HALO, borderpad=1)


def _path_caption(profile: RayProfile) -> str:
    if profile.kind == "rbf":
        return ("An RBF net has no linear regions (Thm 3.2): along α·x every Gaussian bump is left behind, "
                "so nothing can grow without bound.")
    n = len(profile.pieces)
    return (f"Lemma 3.1: the ray α·x passes through {n} convex linear region{'s' * (n != 1)}, entering each at "
            f"the marked α, and from α = {_fmt(profile.last_start)} on it never leaves the last, unbounded "
            "one (gold).")


def ray_path_panel(profile: RayProfile, background: Sequence | go.Figure = (), regions: Regions | None = None,
                   extent: tuple[float, float, float, float] | None = None, height: int = MAP_HEIGHT) -> Panel:
    """(a) The ray drawn over ``background`` (plotly traces, or a figure whose traces are taken: a
    confidence heatmap, a region raster) and, given ``regions``, the outlines of the regions it
    crosses; entry points marked and labelled by α, the last, unbounded piece in gold."""
    extent = extent or (regions.box if regions is not None else _view_extent(profile))
    background = list(background.data if isinstance(background, go.Figure) else background)
    edge = _exit_alpha(profile.x, extent)
    fig = go.Figure(background)
    if regions is not None and profile.pieces is not None:
        fig.add_traces(_region_traces(profile, regions))
    fig.add_traces(_ray_traces(profile, edge))
    _label_entries(fig, profile, edge)
    fig.update_xaxes(range=list(extent[:2]), constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(range=list(extent[2:]), constrain="domain", scaleanchor="x", scaleratio=1, showgrid=False,
                     zeroline=False)
    title = "(a) The ray α·x " + ("past the RBF centres" if profile.kind == "rbf" else "through the linear regions")
    fig.update_layout(title=dict(text=title, x=0.5, xanchor="center"), height=height, plot_bgcolor="white",
                      margin=dict(l=50, r=20, t=50, b=170 if background else 80),  # room for a colour bar
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=0, yref="container",
                                  yanchor="bottom", font=dict(size=11)))
    return Panel(fig, _path_caption(profile))


def _visible(profile: RayProfile, log_x: bool) -> np.ndarray:
    return profile.alphas > 0 if log_x else np.ones(len(profile.alphas), bool)


def _x_position(value: float, log_x: bool) -> float:
    """An annotation's x in axis units (log10 of the value on a log axis)."""
    return float(np.log10(value)) if log_x else float(value)


def _y_range(values: list[np.ndarray], floor: float | None = None) -> list[float]:
    low, high = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
    low = min(low, floor) if floor is not None else low
    span = max(high - low, 1e-9)
    return [low - 0.12 * span, high + 0.06 * span]  # room for the breakpoint ticks at the bottom


def _mark_pieces(fig: go.Figure, profile: RayProfile, y_range: list[float], log_x: bool) -> None:
    """Breakpoints as vertical ticks on the bottom of the plot (one hoverable trace), the last,
    unbounded piece shaded from its start to the edge of the view."""
    view = profile.alpha_view
    shown = profile.breakpoints[(profile.breakpoints <= view) & ((profile.breakpoints > 0) | (not log_x))]
    if len(shown):
        row = y_range[0] + 0.04 * (y_range[1] - y_range[0])  # just above the x axis
        fig.add_trace(go.Scatter(x=shown.astype(F32), y=np.full(len(shown), row, F32), mode="markers",
                                 marker=dict(symbol="line-ns-open", size=14, color=TICK_COLOUR,
                                             line=dict(width=1.5, color=TICK_COLOUR)),
                                 name="breakpoints (enters a new region)",
                                 hovertemplate="breakpoint α = %{x:.6g}<extra></extra>"))
    last = profile.last_start
    if last is not None and last < view:
        fig.add_vrect(x0=max(last, profile.alphas[_visible(profile, log_x)][0]), x1=view, fillcolor=LAST_FILL,
                      line_width=0, layer="below")
        fig.add_annotation(x=_x_position(view, log_x), y=1, yref="paper", xanchor="right", yanchor="bottom",
                           showarrow=False, text=f"last region (unbounded): α ≥ {_fmt(last)}",
                           font=dict(size=11, color=LAST_TEXT))


def _curve_layout(fig: go.Figure, profile: RayProfile, title: str, y_title: str, y_range: list[float],
                  log_x: bool, height: int) -> None:
    alphas = profile.alphas[_visible(profile, log_x)]
    x_range = ([float(np.log10(alphas[0])), float(np.log10(profile.alpha_view))] if log_x
               else [0.0, profile.alpha_view])
    fig.update_xaxes(type="log" if log_x else "linear", range=x_range, title="α (the point is α·x)",
                     exponentformat="power", showline=True, linecolor="#888888")
    fig.update_yaxes(range=y_range, title=y_title, zeroline=False)
    fig.update_layout(title=dict(text=title, x=0.5, xanchor="center", y=0.98, yanchor="top"), height=height,
                      plot_bgcolor="white", margin=dict(l=70, r=20, t=70, b=90),
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=0, yref="container",
                                  yanchor="bottom", font=dict(size=11)))
    fig.update_xaxes(gridcolor="#eeeeee")
    fig.update_yaxes(gridcolor="#eeeeee")


def _logits_caption(profile: RayProfile) -> str:
    if profile.kind == "rbf":
        return "Thm 3.2: each RBF logit Σ_l α_kl·exp(−γ‖αx − c_l‖²) decays to 0 as α grows."
    if profile.kind == "dismax":
        return ("DisMax's features are piecewise affine in α (kinks at the ticks), "
                "but its logits −s‖f − p_j‖ "
                "all fall at the same rate s·α·‖g‖ far out, so no logit pulls ahead.")
    return ("On each linear region the net is affine (Section 2), so every logit is an exact linear function of α "
            "between the breakpoints (ticks), and on the last region f(α·x) = α·Vx + a.")


def ray_logits_panel(profile: RayProfile, log_x: bool = False, class_names: Sequence[str] | None = None,
                     height: int = CURVE_HEIGHT) -> Panel:
    """(b) The logits along the ray against α, breakpoints as ticks, the last piece shaded."""
    visible = _visible(profile, log_x)
    alphas, logits = profile.alphas[visible], profile.logits[visible]
    colours = class_colours(profile.n_classes, profile.reject is not None)
    fig = go.Figure()
    for k, name in enumerate(output_names(profile, class_names)):
        fig.add_trace(go.Scatter(x=alphas.astype(F32), y=logits[:, k].astype(F32), mode="lines", name=name,
                                 line=dict(color=colours[k], width=2.5, dash="dash" if k == profile.reject else None),
                                 hovertemplate="α=%{x:.4g}<br>logit=%{y:.4g}<extra>" + name + "</extra>"))
    y_range = _y_range([logits], floor=0.0 if profile.kind == "rbf" else None)
    if profile.kind == "rbf":
        fig.add_hline(y=0.0, line=dict(color="grey", dash="dot"))
    _mark_pieces(fig, profile, y_range, log_x)
    _curve_layout(fig, profile, "(b) The logits along the ray", "logit f_k(α·x)", y_range, log_x, height)
    return Panel(fig, _logits_caption(profile))


def _asymptote(profile: RayProfile) -> tuple[float, float] | None:
    """Slope and intercept of the top-two gap on the last piece once the ranking is final."""
    if profile.kind != "affine":
        return None
    rate, offset = profile.pieces.rate[-1], profile.pieces.offset[-1]
    order = np.lexsort((offset, rate))  # the eventual ranking: by rate, ties by offset
    top, second = order[-1], order[-2]
    return float(rate[top] - rate[second]), float(offset[top] - offset[second])


def _gap_caption(profile: RayProfile) -> str:
    if profile.kind == "rbf":
        return "Thm 3.2: the gap between the top two logits shrinks to 0 with the logits themselves."
    if profile.kind == "dismax":
        return ("The gap between the top two logits tends to a finite limit s·⟨ĝ, p_k − p_r⟩ "
                "instead of growing, "
                "because every distance ‖f − p_j‖ grows at the same rate.")
    winner, rate = profile.growth()
    if winner < 0:
        return ("Along this direction the top two rows of V tie (⟨v_k − v_r, x⟩ = 0), "
                "so the gap stays bounded: "
                "one of the measure-zero exceptions Thm 3.1 allows.")
    return ("Thm 3.1: on the last region the top-two gap is α·⟨v_k − v_r, x⟩ + c, "
            f"a line of slope {rate:.3g} > 0 "
            "because the rows of V differ, so it grows without bound.")


def ray_gap_panel(profile: RayProfile, log_x: bool = False, height: int = CURVE_HEIGHT) -> Panel:
    """(c) The gap between the top two logits against α; for a linear or reject head the line it
    follows on the last piece is drawn dashed with its slope."""
    visible = _visible(profile, log_x)
    alphas, gap = profile.alphas[visible], profile.gap[visible]
    fig = go.Figure(go.Scatter(x=alphas.astype(F32), y=gap.astype(F32), mode="lines", name="top-two gap",
                               line=dict(color=RAY_COLOUR, width=2.5),
                               hovertemplate="α=%{x:.4g}<br>gap=%{y:.4g}<extra></extra>"))
    line = _asymptote(profile)
    if line is not None and profile.last_start < profile.alpha_view:
        start = max(profile.last_start, float(alphas[0]))
        ends = np.geomspace(start, profile.alpha_view, 200) if log_x else np.array([start, profile.alpha_view])
        fig.add_trace(go.Scatter(x=ends.astype(F32), y=(line[0] * ends + line[1]).astype(F32), mode="lines",
                                 line=dict(color=LAST_TEXT, width=2, dash="dash"),
                                 name=f"last region: {line[0]:.3g}·α {'+−'[line[1] < 0]} {abs(line[1]):.3g}",
                                 hoverinfo="skip"))
    y_range = _y_range([gap], floor=0.0)
    _mark_pieces(fig, profile, y_range, log_x)
    _curve_layout(fig, profile, "(c) The gap between the top two logits", "largest − second-largest logit",
                  y_range, log_x, height)
    return Panel(fig, _gap_caption(profile))


def _saturation_caption(profile: RayProfile) -> str:
    k, limit = profile.n_classes, profile.limit_confidence
    if profile.kind == "rbf":
        return ("Thm 3.2: with every logit → 0 the softmax tends to uniform, "
                f"so the confidence tends to 1/K = {1 / k:.3g}.")
    if profile.kind == "dismax":
        return f"With a bounded gap the softmax cannot saturate: the confidence tends to {limit:.3g} < 1."
    winner, _ = profile.growth()
    reached = (f"it reaches {profile.threshold:g} at α = {_fmt(profile.alpha_threshold)}"
               if np.isfinite(profile.alpha_threshold) else f"it never reaches {profile.threshold:g}")
    if winner >= 0 and winner == profile.reject:
        return ("Thm 3.1 with the reject output as the winner: its probability → 1, so the real-class confidence "
                f"tends to 0 ({reached}).")
    if winner < 0:
        return f"With tied top logits the softmax does not saturate: the confidence tends to {limit:.3g} ({reached})."
    return f"Hence softmax_k = 1/Σ_r exp(f_r − f_k) → 1 as the gap grows (Thm 3.1): {reached}."


def ray_saturation_panel(profile: RayProfile, log_x: bool = False, height: int = CURVE_HEIGHT) -> Panel:
    """(d) The confidence (largest real-class probability) along the ray, from the exact logits,
    with 1/K, the threshold and the first α reaching it marked."""
    visible = _visible(profile, log_x)
    alphas, conf = profile.alphas[visible], profile.confidence[visible]
    fig = go.Figure(go.Scatter(x=alphas.astype(F32), y=conf.astype(F32), mode="lines", name="confidence",
                               line=dict(color=RAY_COLOUR, width=2.5),
                               hovertemplate="α=%{x:.4g}<br>confidence=%{y:.6f}<extra></extra>"))
    k = profile.n_classes
    fig.add_hline(y=1.0 / k, line=dict(color="grey", dash="dot"), annotation_text=f"1/K = {1 / k:.3g}",
                  annotation_position="bottom right")
    fig.add_hline(y=profile.threshold, line=dict(color="grey", dash="dash"),
                  annotation_text=f"{profile.threshold:g}", annotation_position="bottom right")
    alpha_t = profile.alpha_threshold
    if np.isfinite(alpha_t) and alpha_t <= profile.alpha_view and (alpha_t > 0 or not log_x):
        fig.add_trace(go.Scatter(x=np.array([alpha_t], F32), y=np.array([profile.threshold], F32), mode="markers",
                                 marker=dict(size=11, color="white", symbol="diamond",
                                             line=dict(color="black", width=2)),
                                 name=f"first α with confidence ≥ {profile.threshold:g}: {_fmt(alpha_t)}",
                                 hovertemplate="α = %{x:.6g}<extra></extra>"))
    elif np.isfinite(alpha_t) and alpha_t > profile.alpha_view:
        fig.add_annotation(x=1, xref="paper", y=profile.threshold, yanchor="top", xanchor="right", yshift=-18,
                           showarrow=False, text=f"reaches {profile.threshold:g} at α = {_fmt(alpha_t)} →",
                           font=dict(size=11))
    y_range = [-0.02, 1.06]
    _mark_pieces(fig, profile, y_range, log_x)
    _curve_layout(fig, profile, "(d) The softmax confidence along the ray", "confidence (largest real-class prob.)",
                  y_range, log_x, height)
    return Panel(fig, _saturation_caption(profile))


def proof_panels(profile: RayProfile, background: Sequence | go.Figure = (), regions: Regions | None = None,
                 extent: tuple[float, float, float, float] | None = None, log_x: bool = False,
                 class_names: Sequence[str] | None = None) -> dict[str, Panel]:
    """All four panels of the proof drawn, keyed "path", "logits", "gap", "confidence" (in order)."""
    return {"path": ray_path_panel(profile, background, regions, extent),
            "logits": ray_logits_panel(profile, log_x, class_names),
            "gap": ray_gap_panel(profile, log_x),
            "confidence": ray_saturation_panel(profile, log_x)}
