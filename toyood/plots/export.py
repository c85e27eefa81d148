"""The plotly ``config`` every toyood chart is shown with: the camera button saves a file fit for slides.

Usage in the app: ``st.plotly_chart(fig, config=export_config("confidence-plain"))``; in HTML:
``fig.write_html(path, config=export_config(stem))``.
"""
from __future__ import annotations

import re

IMAGE_FORMATS = ("png", "svg")


def export_config(file_stem: str, image_format: str = "png", scale: float = 2.0) -> dict:
    """Plotly ``config`` whose camera button saves ``<file_stem>.png`` at ``scale``× the shown size
    (sharp on a projector or a slide), or a vector ``.svg`` with ``image_format="svg"`` (heatmaps
    and region rasters stay embedded bitmaps in it). The stem is reduced to letters, digits, ``-``,
    ``_`` and ``.``; the plotly logo is hidden."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {', '.join(IMAGE_FORMATS)}, got {image_format!r}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", file_stem).strip("-.") or "figure"
    options = dict(format=image_format, filename=stem, height=None, width=None,
                   scale=scale if image_format == "png" else 1)
    return dict(toImageButtonOptions=options, displaylogo=False)
