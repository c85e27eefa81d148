"""Figures of a net's exact linear regions (``toyood.regions.Regions``) — pure plotly, no streamlit.

``region_map_figure``: a raster (one PNG image, pixel = region at its centre) coloured by region,
confidence or predicted class, with region boundaries drawn dark; below ``max_outlines`` regions in
view the regions are drawn as outlined polygons instead (one trace per colour bucket). Unbounded
regions are outlined in red; a coarse invisible heatmap carries the hover (region id, class,
confidence). ``limit_ring_figure``: the circle of directions split into arcs coloured by the class
that wins far away along them (Hein et al. Thm 3.1).
"""
from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import plotly.graph_objects as go

from ..regions import Regions, rasterize

CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
TIE_COLOUR = "#9e9e9e"
BUCKETS = 12


def region_map_figure(regions: Regions, color_by: str = "region", bounds: tuple | None = None,
                      resolution: int = 800, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                      max_outlines: int = 3000, hover_resolution: int = 160,
                      class_names: list[str] | None = None) -> go.Figure:
    """Map of the regions in ``bounds`` (default: the box). ``color_by``: "region" (distinct
    colours), "confidence" (max softmax probability, white → dark) or "class" (predicted class,
    lighter where less confident). ``points``/``labels``: optional data overlay."""
    if color_by not in ("region", "confidence", "class"):
        raise ValueError(f"color_by must be 'region', 'confidence' or 'class', got {color_by!r}")
    xmin, xmax, ymin, ymax = regions.box if bounds is None else bounds
    names = class_names or [f"class {k}" for k in range(regions.linear.shape[1])]
    ids = rasterize(regions, (xmin, xmax, ymin, ymax), resolution, resolution)
    in_view = np.unique(ids[ids >= 0])
    fig = go.Figure()
    if len(in_view) <= max_outlines:
        _add_outlines(fig, regions, _visible(regions, (xmin, xmax, ymin, ymax)), color_by)
    else:
        rgb = _pixel_colours(regions, ids, color_by, (xmin, xmax, ymin, ymax))
        dx, dy = (xmax - xmin) / resolution, (ymax - ymin) / resolution
        # row 0 of the raster is its bottom row: on the upward y axis it starts at ymin
        fig.add_trace(go.Image(source=_png_uri(rgb), x0=xmin + dx / 2, dx=dx, y0=ymin + dy / 2, dy=dy,
                               hoverinfo="skip", name="regions"))
    _add_hover(fig, regions, (xmin, xmax, ymin, ymax), hover_resolution, names)
    _add_unbounded(fig, regions)
    if points is not None:
        points = np.asarray(points)
        labels = np.zeros(len(points), int) if labels is None else np.asarray(labels)
        for k in np.unique(labels):
            chosen = points[labels == k]
            name = names[k] if 0 <= k < len(names) else f"label {k}"
            fig.add_trace(go.Scattergl(x=chosen[:, 0], y=chosen[:, 1], mode="markers", name=f"data: {name}",
                                       marker=dict(size=3, color=CLASS_COLOURS[k % len(CLASS_COLOURS)],
                                                   line=dict(width=0.3, color="white"))))
    fig.update_layout(title=f"{len(regions):,} linear regions in the box, {len(in_view):,} in view "
                            f"({int(regions.unbounded.sum())} unbounded in the box, "
                            f"{regions.unbounded_total} in the plane)",
                      xaxis=dict(range=[xmin, xmax], constrain="domain", showgrid=False, zeroline=False),
                      yaxis=dict(range=[ymin, ymax], autorange=False, scaleanchor="x", showgrid=False, zeroline=False),
                      plot_bgcolor="white", margin=dict(l=40, r=10, t=50, b=40), legend=dict(itemsizing="constant"))
    return fig


def limit_ring_figure(regions: Regions, class_names: list[str] | None = None) -> go.Figure:
    """Polar ring: each arc of directions u coloured by lim softmax(f(αu)) argmax (grey: tie, so
    the confidence stays below 1 there)."""
    arcs = regions.arcs
    k = regions.linear.shape[1]
    names = class_names or [f"class {c}" for c in range(k)]
    fig = go.Figure()
    for c in range(-1, k):
        chosen = arcs.limit_class == c
        if not chosen.any():
            continue
        middle, length = np.degrees((arcs.start + arcs.end)[chosen] / 2), np.degrees(arcs.length[chosen])
        share = arcs.length[chosen].sum() / (2 * np.pi)
        name = f"tie ({share:.1%})" if c < 0 else f"{names[c]} ({share:.1%})"
        fig.add_trace(go.Barpolar(theta=middle, width=length, r=np.ones(chosen.sum()), base=1.0, name=name,
                                  marker=dict(color=TIE_COLOUR if c < 0 else CLASS_COLOURS[c % len(CLASS_COLOURS)],
                                              line=dict(width=0)),
                                  customdata=np.stack([np.degrees(arcs.start[chosen]), np.degrees(arcs.end[chosen])], 1),
                                  hovertemplate="directions %{customdata[0]:.2f}°–%{customdata[1]:.2f}°<br>"
                                                f"limit: {name}<extra></extra>"))
    fig.update_layout(title=f"Limit class far away, per direction ({len(arcs.start)} arcs, "
                            f"{regions.unbounded_total} unbounded regions)",
                      polar=dict(radialaxis=dict(visible=False, range=[0, 2]), angularaxis=dict(direction="counterclockwise")),
                      margin=dict(l=20, r=20, t=50, b=20))
    return fig


def _visible(regions: Regions, bounds) -> np.ndarray:
    xmin, xmax, ymin, ymax = bounds
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


def _pixel_colours(regions: Regions, ids: np.ndarray, color_by: str, bounds) -> np.ndarray:
    inside = ids >= 0
    rgb = np.full(ids.shape + (3,), 255, np.uint8)
    if color_by == "region":
        rgb[inside] = _region_colours(ids[inside])
    else:
        xmin, xmax, ymin, ymax = bounds
        h, w = ids.shape
        yy, xx = np.nonzero(inside)
        centres = np.stack([xmin + (xx + 0.5) * (xmax - xmin) / w, ymin + (yy + 0.5) * (ymax - ymin) / h], 1)
        region = ids[inside]
        logits = np.einsum("nkd,nd->nk", regions.linear[region], centres) + regions.bias[region]
        confidence = regions.confidence(centres, region)
        k = regions.linear.shape[1]
        if color_by == "confidence":
            level = (confidence - 1 / k) / (1 - 1 / k)
            rgb[inside] = _hsl_to_rgb(np.full(len(level), 0.02), 0.75, 0.97 - 0.6 * level)
        else:
            base = np.array([_hex(CLASS_COLOURS[c % len(CLASS_COLOURS)]) for c in range(k)])[logits.argmax(1)]
            level = ((confidence - 1 / k) / (1 - 1 / k))[:, None]
            rgb[inside] = np.round(255 - level * (255 - base) * 0.85).astype(np.uint8)
    boundary = np.zeros(ids.shape, bool)
    boundary[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    boundary[:-1, :] |= ids[:-1, :] != ids[1:, :]
    rgb[boundary & inside] = (40, 40, 40)
    return rgb


def _css(rgb) -> str:
    return "rgb({},{},{})".format(*(int(v) for v in rgb))


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


def _add_outlines(fig: go.Figure, regions: Regions, chosen: np.ndarray, color_by: str) -> None:
    if color_by == "region":
        bucket = chosen % BUCKETS
        colours = [_css(c) for c in _region_colours(np.arange(BUCKETS))]
        names = [f"regions ≡ {b} mod {BUCKETS}" for b in range(BUCKETS)]
    else:
        centre = np.add.reduceat(regions.vertices, regions.offsets[:-1], axis=0)[chosen] / np.diff(regions.offsets)[chosen, None]
        confidence = regions.confidence(centre, chosen)
        k = regions.linear.shape[1]
        if color_by == "confidence":
            bucket = np.minimum(((confidence - 1 / k) / (1 - 1 / k) * 10).astype(int), 9)
            colours = [_css(c) for c in _hsl_to_rgb(np.full(10, 0.02), 0.75, 0.97 - 0.06 * np.arange(10))]
            names = [f"confidence {1 / k + (1 - 1 / k) * b / 10:.2f}–" for b in range(10)]
        else:
            logits = np.einsum("nkd,nd->nk", regions.linear[chosen], centre) + regions.bias[chosen]
            bucket = logits.argmax(1)
            colours = CLASS_COLOURS
            names = [f"predicted class {c}" for c in range(k)]
    for b in np.unique(bucket):
        x, y = _polygon_path(regions, chosen[bucket == b])
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=colours[b % len(colours)],
                                 line=dict(color="rgb(40,40,40)", width=0.6), name=names[b], hoverinfo="skip"))


def _add_hover(fig: go.Figure, regions: Regions, bounds, resolution: int, names: list[str]) -> None:
    xmin, xmax, ymin, ymax = bounds
    ids = rasterize(regions, bounds, resolution, resolution)
    xs = xmin + (np.arange(resolution) + 0.5) * (xmax - xmin) / resolution
    ys = ymin + (np.arange(resolution) + 0.5) * (ymax - ymin) / resolution
    inside = ids >= 0
    centres = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), -1)[inside]
    region = ids[inside]
    logits = np.einsum("nkd,nd->nk", regions.linear[region], centres) + regions.bias[region]
    data = np.full(ids.shape + (3,), np.nan)
    data[inside] = np.stack([logits.argmax(1), regions.confidence(centres, region), regions.unbounded[region]], 1)
    fig.add_trace(go.Heatmap(x=xs, y=ys, z=np.where(inside, ids, np.nan), customdata=np.round(data, 4),
                             colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
                             hovertemplate="x %{x:.2f}, y %{y:.2f}<br>region %{z}<br>class %{customdata[0]}"
                                           " (confidence %{customdata[1]:.4f})<br>unbounded %{customdata[2]}"
                                           "<extra></extra>", name="hover"))


def _add_unbounded(fig: go.Figure, regions: Regions) -> None:
    chosen = np.flatnonzero(regions.unbounded)
    if len(chosen):
        x, y = _polygon_path(regions, chosen)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color="#e0002a", width=2),
                                 name="unbounded region", hoverinfo="skip"))
