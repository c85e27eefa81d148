"""Figures of a net's exact linear regions (``toyood.regions.Regions``) — pure plotly, no streamlit.

``region_map_figure``: a raster (one PNG image, pixel = region at its centre) coloured by region,
confidence or predicted class, with region boundaries drawn in a colour chosen against each fill
(dark on light fills, light on dark ones); below ``max_outlines`` regions in view the regions are
drawn as outlined polygons instead (one trace per colour bucket). Confidence uses the one confidence
scale of ``toyood.plots.colours`` with its colour bar under the map; the class view has a class
colour bar. Unbounded regions are outlined in red on a white halo; a coarse invisible heatmap
carries the hover (region id, class, confidence). ``limit_ring_figure``: the circle of directions
split into arcs coloured by the class that wins far away along them (Hein et al. Thm 3.1).
"""
from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import plotly.graph_objects as go

from ..regions import Regions, rasterize
from .colours import (LEGEND_STYLE, TIE_COLOUR, class_colour, class_colours, confidence_colorbar,
                      confidence_colorscale, confidence_rgb)

BUCKETS = 12  # outline traces in the "region" view
CONFIDENCE_BUCKETS = 20  # outline traces in the "confidence" view: 0.05 wide, edges at 0.5
UNBOUNDED_COLOUR = "#e41a1c"
HALO = "rgba(255,255,255,0.85)"
COLOUR_BY = ("region", "confidence", "class")
MAP_HEIGHT = 640
MAP_MARGIN = dict(l=50, r=20, t=70, b=170)  # as toyood.plots.toy: x ticks, colour bar and legend below


def _is_reject(class_names: list[str] | None, reject: bool | None) -> bool:
    return bool(reject) if reject is not None else bool(class_names) and class_names[-1] == "reject"


def region_map_figure(regions: Regions, colour_by: str = "region", extent: tuple | None = None,
                      resolution: int = 800, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                      max_outlines: int = 3000, hover_resolution: int = 160,
                      class_names: list[str] | None = None, *, reject: bool | None = None,
                      title: str | None = None, height: int | None = None) -> go.Figure:
    """Map of the regions in ``extent`` (default: the box). ``colour_by``: "region" (distinct
    colours), "confidence" (largest real-class probability on the one confidence scale) or "class"
    (predicted class, lighter where less confident). ``points``/``labels``: optional data overlay.
    ``reject``: the last output is a reject class (None: when ``class_names`` ends in "reject").
    ``title``: None for the region counts; ``height`` in px."""
    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by must be 'region', 'confidence' or 'class', got {colour_by!r}")
    extent = tuple(float(v) for v in (regions.box if extent is None else extent))
    k = regions.linear.shape[1]
    names = class_names or [f"class {c}" for c in range(k)]
    reject = _is_reject(class_names, reject)
    ids = rasterize(regions, extent, resolution, resolution)
    in_view = np.unique(ids[ids >= 0])
    fig = go.Figure()
    if len(in_view) <= max_outlines:
        _add_outlines(fig, regions, _visible(regions, extent), colour_by, reject)
    else:
        _add_raster(fig, regions, ids, colour_by, extent, reject)
    _add_hover(fig, regions, extent, hover_resolution, names, reject)
    _add_unbounded(fig, regions)
    _add_points(fig, points, labels, names)
    _add_colour_bar(fig, colour_by, names, reject)
    default_title = (f"{len(regions):,} linear regions ({len(in_view):,} in view)<br><sup>unbounded: "
                     f"{int(regions.unbounded.sum())} in the box, {regions.unbounded_total} in the plane</sup>")
    _map_layout(fig, default_title if title is None else title, extent, height)
    return fig


def _map_layout(fig: go.Figure, title: str, extent, height: int | None) -> None:
    """Square plot area sitting on its colour bar, centred title, legend at the bottom."""
    xmin, xmax, ymin, ymax = extent
    axis = dict(constrain="domain", showgrid=False, zeroline=False, tickformat="~s", nticks=5)
    fig.update_layout(
        title=dict(text=title, x=0.5, xanchor="center", font=dict(size=13)) if title else None,
        xaxis=dict(axis, range=[xmin, xmax]),
        yaxis=dict(axis, range=[ymin, ymax], autorange=False, scaleanchor="x", scaleratio=1, constraintoward="bottom"),
        plot_bgcolor="white", height=height or MAP_HEIGHT, margin=MAP_MARGIN,
        legend=dict(LEGEND_STYLE, orientation="h", x=0.5, xanchor="center", y=0.01, yref="container",
                    yanchor="bottom", itemsizing="constant", tracegroupgap=0, itemwidth=30))


def limit_ring_figure(regions: Regions, class_names: list[str] | None = None, *, reject: bool | None = None,
                      height: int | None = None) -> go.Figure:
    """Polar ring: each arc of directions u coloured by lim softmax(f(αu)) argmax (the reject class
    grey; a tie, where the confidence stays below 1, olive). Legend under the ring."""
    arcs = regions.arcs
    k = regions.linear.shape[1]
    names = class_names or [f"class {c}" for c in range(k)]
    colours = class_colours(k - 1, True) if _is_reject(class_names, reject) else class_colours(k)
    fig = go.Figure()
    for c in range(-1, k):
        chosen = arcs.limit_class == c
        if not chosen.any():
            continue
        middle, length = np.degrees((arcs.start + arcs.end)[chosen] / 2), np.degrees(arcs.length[chosen])
        share = arcs.length[chosen].sum() / (2 * np.pi)
        name = f"tie ({share:.1%})" if c < 0 else f"{names[c]} ({share:.1%})"
        fig.add_trace(go.Barpolar(theta=middle, width=length, r=np.ones(chosen.sum()), base=1.0, name=name,
                                  marker=dict(color=TIE_COLOUR if c < 0 else colours[c], line=dict(width=0)),
                                  customdata=np.degrees(np.stack([arcs.start[chosen], arcs.end[chosen]], 1)),
                                  hovertemplate="directions %{customdata[0]:.2f}°–%{customdata[1]:.2f}°<br>"
                                                f"limit: {name}<extra></extra>"))
    fig.update_layout(title=dict(text=f"Limit class far away, per direction<br><sup>{len(arcs.start)} arcs, "
                                      f"{regions.unbounded_total} unbounded regions</sup>", x=0.5, xanchor="center",
                                 font=dict(size=13)), showlegend=True,
                      polar=dict(radialaxis=dict(visible=False, range=[0, 2]),
                                 angularaxis=dict(direction="counterclockwise")),
                      height=height or 520, margin=dict(l=40, r=40, t=70, b=60),
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=0.01, yref="container", yanchor="bottom"))
    return fig


def _visible(regions: Regions, extent) -> np.ndarray:
    xmin, xmax, ymin, ymax = extent
    start = regions.offsets[:-1]
    lower = np.minimum.reduceat(regions.vertices, start, axis=0)
    upper = np.maximum.reduceat(regions.vertices, start, axis=0)
    return np.flatnonzero((upper[:, 0] >= xmin) & (lower[:, 0] <= xmax) & (upper[:, 1] >= ymin) & (lower[:, 1] <= ymax))


def _region_colours(ids: np.ndarray) -> np.ndarray:
    """Distinct-looking RGB (uint8) per region id: golden-ratio hues, alternating lightness."""
    hue = np.mod(ids * 0.6180339887, 1.0)
    light = np.where(ids % 2 == 0, 0.72, 0.58)
    return _hsl_to_rgb(hue, 0.55, light)


def _hsl_to_rgb(hue, saturation, light) -> np.ndarray:
    chroma = (1 - np.abs(2 * light - 1)) * saturation
    h6 = hue * 6
    x = chroma * (1 - np.abs(np.mod(h6, 2) - 1))
    sector = np.floor(h6).astype(int) % 6
    zero = np.zeros_like(hue)
    table = [(chroma, x, zero), (x, chroma, zero), (zero, chroma, x), (zero, x, chroma), (x, zero, chroma), (chroma, zero, x)]
    rgb = np.zeros(hue.shape + (3,))
    for s, channels in enumerate(table):
        mask = sector == s
        for c in range(3):
            rgb[..., c][mask] = (np.broadcast_to(channels[c], hue.shape)[mask])
    rgb += (light - chroma / 2)[..., None] if np.ndim(light) else light - chroma / 2
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


def _outputs(regions: Regions, centres: np.ndarray, region: np.ndarray, reject: bool) -> tuple[np.ndarray, np.ndarray]:
    """Predicted output (incl. reject) and confidence (largest real-class probability) at points."""
    logits = np.einsum("nkd,nd->nk", regions.linear[region], centres) + regions.bias[region]
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    real = probs[:, :-1] if reject else probs
    return logits.argmax(1), real.max(axis=1)


def _fill_colours(regions: Regions, region: np.ndarray, centres: np.ndarray, colour_by: str, reject: bool) -> np.ndarray:
    """RGB (uint8) of each (region, point) pair in the chosen colouring."""
    if colour_by == "region":
        return _region_colours(region)
    predicted, confidence = _outputs(regions, centres, region, reject)
    k = regions.linear.shape[1]
    n_real = k - 1 if reject else k
    if colour_by == "confidence":
        return confidence_rgb(confidence, n_real)
    base = np.array([_hex(c) for c in class_colours(n_real, reject)])[predicted]
    certainty = np.where(predicted == n_real, 1.0, (confidence - 1 / n_real) / (1 - 1 / n_real))[:, None]
    return np.round(255 - np.clip(certainty, 0, 1) * (255 - base) * 0.85).astype(np.uint8)


def _edge_colours(fill: np.ndarray) -> np.ndarray:
    """Boundary colour against a fill: mostly black over light fills, mostly white over dark ones."""
    luminance = fill @ np.array([0.2126, 0.7152, 0.0722]) / 255
    target = np.where(luminance < 0.45, 255.0, 0.0)[..., None]
    return np.round(0.35 * fill + 0.65 * target).astype(np.uint8)


def _add_raster(fig: go.Figure, regions: Regions, ids: np.ndarray, colour_by: str, extent, reject: bool) -> None:
    xmin, xmax, ymin, ymax = extent
    h, w = ids.shape
    inside = ids >= 0
    rgb = np.full(ids.shape + (3,), 255, np.uint8)
    yy, xx = np.nonzero(inside)
    centres = np.stack([xmin + (xx + 0.5) * (xmax - xmin) / w, ymin + (yy + 0.5) * (ymax - ymin) / h], 1)
    rgb[inside] = _fill_colours(regions, ids[inside], centres, colour_by, reject)
    boundary = np.zeros(ids.shape, bool)
    boundary[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    boundary[:-1, :] |= ids[:-1, :] != ids[1:, :]
    boundary &= inside
    rgb[boundary] = _edge_colours(rgb[boundary])
    dx, dy = (xmax - xmin) / w, (ymax - ymin) / h
    # row 0 of the raster is its bottom row: on the upward y axis it starts at ymin
    fig.add_trace(go.Image(source=_png_uri(rgb), x0=xmin + dx / 2, dx=dx, y0=ymin + dy / 2, dy=dy,
                           hoverinfo="skip", name="regions"))


def _css(rgb, alpha: float = 1.0) -> str:
    return "rgba({},{},{},{:g})".format(*(int(v) for v in rgb), alpha)


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _png_uri(rgb: np.ndarray) -> str:
    """data: URI of an RGB uint8 image (rows top to bottom) as PNG, with zlib only."""
    height, width, _ = rgb.shape
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, width * 3)], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _polygon_path(regions: Regions, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of the chosen polygons, each closed and followed by None (one scatter trace)."""
    if len(chosen) == 0:
        return np.zeros(0), np.zeros(0)
    start, size = regions.offsets[chosen], np.diff(regions.offsets)[chosen]
    n = size + 2
    slot = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    poly = np.repeat(np.arange(len(chosen)), n)
    index = start[poly] + np.minimum(slot, size[poly]) % size[poly]
    xy = regions.vertices[index].astype(object)
    xy[slot == n[poly] - 1] = None
    return xy[:, 0], xy[:, 1]


def _buckets(regions: Regions, chosen: np.ndarray, colour_by: str,
             reject: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Bucket per chosen region, RGB per bucket and the buckets' legend names."""
    if colour_by == "region":
        return (chosen % BUCKETS, _region_colours(np.arange(BUCKETS)),
                [f"regions ≡ {b} mod {BUCKETS}" for b in range(BUCKETS)])
    sums = np.add.reduceat(regions.vertices, regions.offsets[:-1], axis=0)
    centre = sums[chosen] / np.diff(regions.offsets)[chosen, None]
    predicted, confidence = _outputs(regions, centre, chosen, reject)
    n_real = regions.linear.shape[1] - (1 if reject else 0)
    if colour_by == "confidence":  # each bucket in the colour of its regions' mean confidence
        bucket = np.minimum((confidence * CONFIDENCE_BUCKETS).astype(int), CONFIDENCE_BUCKETS - 1)
        count = np.bincount(bucket, minlength=CONFIDENCE_BUCKETS)
        middles = (np.arange(CONFIDENCE_BUCKETS) + 0.5) / CONFIDENCE_BUCKETS
        means = np.where(count > 0, np.bincount(bucket, confidence, CONFIDENCE_BUCKETS) / np.maximum(count, 1), middles)
        return (bucket, confidence_rgb(means, n_real),
                [f"confidence {b / CONFIDENCE_BUCKETS:.2f}–{(b + 1) / CONFIDENCE_BUCKETS:.2f}"
                 for b in range(CONFIDENCE_BUCKETS)])
    colours = np.array([_hex(c) for c in class_colours(n_real, reject)])
    return predicted, colours, [f"predicted {name}" for name in
                                [f"class {c}" for c in range(n_real)] + (["reject"] if reject else [])]


def _add_outlines(fig: go.Figure, regions: Regions, chosen: np.ndarray, colour_by: str, reject: bool) -> None:
    bucket, colours, names = _buckets(regions, chosen, colour_by, reject)
    edges = _edge_colours(colours.astype(float))
    for b in np.unique(bucket):
        x, y = _polygon_path(regions, chosen[bucket == b])
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=_css(colours[b]),
                                 line=dict(color=_css(edges[b], 0.8), width=0.6), name=names[b], hoverinfo="skip",
                                 showlegend=False))


def _add_hover(fig: go.Figure, regions: Regions, extent, resolution: int, names: list[str], reject: bool) -> None:
    xmin, xmax, ymin, ymax = extent
    ids = rasterize(regions, extent, resolution, resolution)
    xs = xmin + (np.arange(resolution) + 0.5) * (xmax - xmin) / resolution
    ys = ymin + (np.arange(resolution) + 0.5) * (ymax - ymin) / resolution
    inside = ids >= 0
    centres = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), -1)[inside]
    region = ids[inside]
    predicted, confidence = _outputs(regions, centres, region, reject)
    data = np.full(ids.shape + (3,), np.nan, np.float32)
    data[inside] = np.stack([predicted, confidence, regions.unbounded[region]], 1)
    fig.add_trace(go.Heatmap(x0=float(xs[0]), dx=float(xs[1] - xs[0]), y0=float(ys[0]), dy=float(ys[1] - ys[0]),
                             z=np.where(inside, ids, np.nan).astype(np.float32), customdata=data,
                             colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
                             hovertemplate="x %{x:.4g}, y %{y:.4g}<br>region %{z}<br>output %{customdata[0]}"
                                           " (confidence %{customdata[1]:.4f})<br>unbounded %{customdata[2]}"
                                           "<extra></extra>", name="hover", showlegend=False))


def _add_unbounded(fig: go.Figure, regions: Regions) -> None:
    """Unbounded regions outlined in red on a white halo (visible on every fill)."""
    chosen = np.flatnonzero(regions.unbounded)
    if len(chosen):
        x, y = _polygon_path(regions, chosen)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=HALO, width=4), hoverinfo="skip",
                                 showlegend=False, legendgroup="unbounded", name="unbounded (halo)"))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=UNBOUNDED_COLOUR, width=2),
                                 name="unbounded region", hoverinfo="skip", legendgroup="unbounded"))


def _add_points(fig: go.Figure, points, labels, names: list[str]) -> None:
    if points is None:
        return
    points = np.asarray(points, dtype=np.float32)
    labels = np.zeros(len(points), int) if labels is None else np.asarray(labels)
    for k in np.unique(labels):
        chosen = points[labels == k]
        name = names[k] if 0 <= k < len(names) else f"label {k}"
        fig.add_trace(go.Scattergl(x=chosen[:, 0], y=chosen[:, 1], mode="markers", name=f"data: {name}",
                                   marker=dict(size=4, color=class_colour(int(k)),
                                               line=dict(width=0.5, color="black"))))


def _add_colour_bar(fig: go.Figure, colour_by: str, names: list[str], reject: bool) -> None:
    """The colour bar of the confidence or class view, on an invisible one-point trace (the map
    itself is an image or filled polygons, which carry no colour bar)."""
    if colour_by == "region":
        return
    n_real = len(names) - (1 if reject else 0)
    if colour_by == "confidence":
        marker = dict(color=[0.0], cmin=0.0, cmax=1.0, colorscale=confidence_colorscale(n_real),
                      colorbar=confidence_colorbar(n_real))
    else:
        colours = class_colours(n_real, reject)
        n = len(colours)
        scale = [[edge, c] for k, c in enumerate(colours) for edge in (k / n, (k + 1) / n)]
        marker = dict(color=[0.0], cmin=-0.5, cmax=n - 0.5, colorscale=scale,
                      colorbar={**confidence_colorbar(), "tickvals": list(range(n)), "ticktext": names[:n],
                                "title": dict(text="predicted class (lighter: less confident)", side="top",
                                              font=dict(size=12))})
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(marker, showscale=True, size=0.1),
                             hoverinfo="skip", showlegend=False, name="colour bar"))
