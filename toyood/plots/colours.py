"""The one class-colour palette and the one confidence colour scale of every toyood figure.

Confidence is the largest *real-class* probability, in [0, 1]. A K-class softmax without a reject
class never goes below 1/K ("undecided"); only a reject-class model (or a score such as DisMax's)
goes below, down to 0 where it rejects. The scale keeps the two apart:

- [1/K, 1]: Viridis, a perceptually uniform sequential scale: dark purple = undecided (1/K),
  yellow = certain (1);
- [0, 1/K): a grey band, mid grey at 0 ("rejected", the colour of the reject class in class maps)
  lightening towards 1/K, so "rejected" never looks like "undecided".

``confidence_colorscale`` gives the plotly colour scale for any displayed range, ``confidence_rgb``
the same colours as numpy RGB (for rasters drawn as images), ``confidence_colorbar`` the labelled
colour bar.
"""
from __future__ import annotations

import numpy as np

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
REJECT_COLOUR = "#9e9e9e"  # the reject class; also the confidence colour of "rejected" (0)
TIE_COLOUR = "#bcbd22"  # directions where no class wins far away (limit confidence < 1)
OOD_SAMPLE_COLOUR = "#ff00ff"  # OOD training samples and the GAN's generated samples
LINE_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")  # one per model

# a light key card: black overlay lines in it stay visible under a dark template too
LEGEND_STYLE = dict(bgcolor="rgba(240,240,240,0.92)", bordercolor="rgba(120,120,120,0.6)", borderwidth=1,
                    font=dict(color="#262730", size=11))

VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
           "#b5de2b", "#fde725")
REJECTED_BAND = (REJECT_COLOUR, "#dadada")  # at 0 and just below 1/K
BAND_GAP = 1e-3  # width of the step from the grey band to Viridis, in confidence units


def class_colour(k: int) -> str:
    """The colour of real class ``k``."""
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def class_colours(n_classes: int, reject: bool = False) -> list[str]:
    """Colours of classes 0..K−1, then the reject class in grey if ``reject``."""
    return [class_colour(k) for k in range(n_classes)] + ([REJECT_COLOUR] if reject else [])


def _hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _anchors(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Confidence values in [0, 1] and their RGB: the grey band, then Viridis from 1/K to 1."""
    low = 1.0 / n_classes
    values = [0.0, low - BAND_GAP, *np.linspace(low, 1.0, len(VIRIDIS))]
    colours = [*REJECTED_BAND, *VIRIDIS]
    return np.array(values), np.stack([_hex_rgb(c) for c in colours])


def confidence_rgb(confidence: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """RGB (uint8, shape + (3,)) of confidences on the one scale (values clipped to [0, 1])."""
    values, rgb = _anchors(n_classes)
    c = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    return np.stack([np.interp(c, values, rgb[:, i]) for i in range(3)], -1).round().astype(np.uint8)


def confidence_colorscale(n_classes: int = 2, zmin: float = 0.0, zmax: float = 1.0) -> list[list]:
    """The plotly colour scale for a colour axis running from ``zmin`` to ``zmax`` (confidence
    units): the same colour for the same confidence whatever the displayed range."""
    if not 0.0 <= zmin < zmax <= 1.0:
        raise ValueError(f"confidence range must satisfy 0 ≤ zmin < zmax ≤ 1, got {zmin}, {zmax}")
    values, _ = _anchors(n_classes)
    inside = values[(values > zmin) & (values < zmax)]
    stops = np.concatenate([[zmin], inside, [zmax]])
    colours = confidence_rgb(stops, n_classes)
    return [[float((v - zmin) / (zmax - zmin)), "rgb({},{},{})".format(*c)] for v, c in zip(stops, colours)]


def confidence_ticks(n_classes: int = 2, zmin: float = 0.0, zmax: float = 1.0) -> tuple[list[float], list[str]]:
    """Ticks every 0.25 (and at 1/K); 0, 1/K and 1 are named "rejected", "undecided", "certain"; the
    labels kept short enough for a 220 px bar."""
    low = 1.0 / n_classes
    named = {0.0: "0<br>rejected", low: f"{low:.2g} = 1/K<br>undecided", 1.0: "1<br>certain"}
    values = sorted({*named, 0.25, 0.5, 0.75})
    values = [v for v in values if zmin - 1e-9 <= v <= zmax + 1e-9]
    spaced = [v for v in values if all(abs(v - n) >= 0.2 for n in named)]  # room for the named labels
    return values, [named.get(v, f"{v:g}" if v in spaced else "") for v in values]


def confidence_colorbar(n_classes: int = 2, zmin: float = 0.0, zmax: float = 1.0,
                        title: str = "confidence (largest real-class probability)", length: int = 220) -> dict:
    """A horizontal colour bar for under a map: ``length`` px long (never longer than a map at
    1024 px), 12 px thick, below the x tick labels (``ypad`` is in px, so it holds at any height)."""
    values, labels = confidence_ticks(n_classes, zmin, zmax)
    return dict(orientation="h", x=0.5, xanchor="center", len=length, lenmode="pixels", thickness=12,
                y=0, yref="paper", yanchor="top", ypad=26, tickvals=values, ticktext=labels, ticks="outside",
                ticklen=3, tickfont=dict(size=11), title=dict(text=title, side="top", font=dict(size=12)))
