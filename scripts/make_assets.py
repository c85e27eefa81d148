"""Regenerate the README's pictures in ``assets/`` from the app's own figure builders.

    python scripts/make_assets.py                       # all four pictures (~6 min on 2 CPU cores)
    python scripts/make_assets.py --only playground gan # some of them

Every number comes from a real run through the library (the same calls as the app and the CLI):

- ``playground.png``: a plain ReLU net (Playground defaults), confidence over [−200, 200]², four
  times the data box (``toyood.plots.toy.confidence_figure``);
- ``regions.png``: the exact linear regions of a 2×32 plain net in [−50, 50]², coloured by
  confidence and drawn as polygons (``toyood.plots.regions.region_map_figure``);
- ``gan.png``: the last frame of the joint GAN with the reject classifier
  (``toyood.plots.gan.gan_animation``);
- ``bench.png``: Table 1 as the image page shows it (``toyood.images.report.detection_rows``): plain,
  CEDA and ACET of the stored standard MNIST run in ``results/``, ours beside Hein et al.'s.

PNG export uses kaleido ≥ 1 (``pip install -e .[assets]``), which drives a Chrome or Chromium: the
``BROWSER_PATH`` environment variable names it; when unset, Debian's ``/usr/bin/chromium`` is used
if present. A PNG above 300 kB is reduced to 256 colours with Pillow (a Streamlit dependency).
Torch runs on ``TOYOOD_THREADS`` threads (default 1).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import plotly.graph_objects as go
import torch

from toyood.evaluate import evaluate_grid
from toyood.gan import GanConfig, train_gan
from toyood.models import piecewise_affine_layers
from toyood.plots import gan as gan_plots
from toyood.plots import regions as region_plots
from toyood.plots import toy as toy_plots
from toyood.regions import enumerate_regions
from toyood.toy import ToyConfig, train_toy

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
SCALE = 2  # pixels per CSS pixel: sharp on high-density screens
MAX_BYTES = 300_000
ZOOM = 200.0  # half-width of the playground picture: 4× the data box
DEFAULT_BROWSER = "/usr/bin/chromium"


def playground_figure() -> tuple[go.Figure, int, int]:
    """A plain net with the Playground's defaults, seen over [−1000, 1000]²."""
    run = train_toy(ToyConfig(method="plain"))
    grid = evaluate_grid(run.model, run.config.method_object(), ZOOM, 400)
    fig = toy_plots.confidence_figure(grid, title="A plain ReLU net is confident far from its data",
                                      x_train=run.data.x_train, y_train=run.data.y_train, sigma=run.config.sigma)
    return fig, 620, 640


def regions_figure() -> tuple[go.Figure, int, int]:
    """The exact linear regions of a 2×32 plain net in [−50, 50]², coloured by confidence."""
    run = train_toy(ToyConfig(method="plain", hidden=(32, 32)))
    layers, negative_slope = piecewise_affine_layers(run.model)
    regions = enumerate_regions(layers, 50.0, negative_slope)
    fig = region_plots.region_map_figure(regions, "confidence", points=run.data.x_train, labels=run.data.y_train,
                                         class_names=["class 0", "class 1"], max_outlines=len(regions))
    return fig, 620, 680


def gan_figure() -> tuple[go.Figure, int, int]:
    """The last snapshot of the joint GAN (Lee et al.) with the reject classifier, as a still."""
    run = train_gan(GanConfig(classifier="reject"))
    fig = gan_plots.gan_animation(run, initial_frame=-1)
    fig.frames = ()
    fig.layout.updatemenus, fig.layout.sliders = (), ()  # a still: no play controls
    fig.update_layout(margin=dict(t=110, b=110), title=dict(pad=dict(t=34)))  # kaleido cut the first line at t=10
    return fig, 760, 560


def bench_table_figure() -> tuple[go.Figure, int, int]:
    """Table 1 as the image page shows it: the repository's stored standard MNIST run (plain, CEDA,
    ACET; nothing trained), ours beside Hein et al.'s, the test errors in the title."""
    from toyood.images.report import MAIN_COLUMNS, detection_rows, summary_rows
    from toyood.images.stored import find_stored, select_methods, stored_runs

    run = find_stored(stored_runs(), "mnist", "standard")
    if run is None:
        raise SystemExit("no stored standard MNIST run in results/: python scripts/store_results.py --preset standard")
    result = select_methods(run.result, ("plain", "ceda", "acet"))
    rows, columns = detection_rows(result), MAIN_COLUMNS["detection"]
    sets = list(dict.fromkeys(r["Evaluation set"] for r in rows))
    shade = ["#f4f6fa" if sets.index(r["Evaluation set"]) % 2 else "white" for r in rows]  # one band per set
    fig = go.Figure(go.Table(header=dict(values=list(columns), fill_color="#262730", font=dict(color="white", size=13),
                                         align="left", height=46),
                             cells=dict(values=[[r[c] for r in rows] for c in columns], align="left", height=26,
                                        fill_color=[shade], font=dict(size=13, color="#262730")),
                             columnwidth=[1.2, 1.9, *[1] * (len(columns) - 2)]))
    errors = " · ".join(f"{r['Method'].split(' (')[0]} {r['Test error']} (paper {r['Test error (paper)']})"
                        for r in summary_rows(result))
    title = (f"Hein et al.'s Table 1 beside ours: LeNet on MNIST ({result.n_train:,} training images, "
             f"{result.config.preset} preset, stored run)<br><sup>test error: {errors}</sup>")
    fig.update_layout(title=dict(text=title, x=0.5, xanchor="center", font=dict(size=14)),
                      margin=dict(l=10, r=10, t=70, b=10))
    return fig, 900, 70 + 46 + 26 * len(rows) + 24


def write_png(fig: go.Figure, path: Path, width: int, height: int) -> None:
    """A light-template PNG at ``SCALE``×; above ``MAX_BYTES`` reduced to a 256-colour palette
    (median cut, no dithering), and refused if still too large."""
    from PIL import Image

    fig.update_layout(template="plotly_white", paper_bgcolor="white")
    png = fig.to_image(format="png", width=width, height=height, scale=SCALE)
    if len(png) > MAX_BYTES:
        image = Image.open(io.BytesIO(png)).convert("RGB")
        buffer = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            buffer, format="PNG", optimize=True)
        png = buffer.getvalue()
    path.write_bytes(png)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path.name} is {size:,} bytes (limit {MAX_BYTES:,}): make the figure smaller")
    print(f"  {path.relative_to(ROOT)}: {width}×{height} px ×{SCALE}, {size / 1000:.0f} kB", file=sys.stderr)


def _check_export() -> None:
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise SystemExit("PNG export needs kaleido: pip install -e '.[assets]'") from None
    if "BROWSER_PATH" not in os.environ and Path(DEFAULT_BROWSER).exists():
        os.environ["BROWSER_PATH"] = DEFAULT_BROWSER


def main(argv: list[str] | None = None) -> None:
    builders = {"playground": playground_figure, "regions": regions_figure, "gan": gan_figure,
                "bench": bench_table_figure}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(builders), default=list(builders))
    args = parser.parse_args(argv)
    _check_export()
    torch.set_num_threads(int(os.environ.get("TOYOOD_THREADS", "1")))
    ASSETS.mkdir(exist_ok=True)
    for name in args.only:
        start = time.perf_counter()
        print(f"{name} …", file=sys.stderr)
        fig, width, height = builders[name]()
        write_png(fig, ASSETS / f"{name}.png", width, height)
        print(f"  {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
