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
- ``bench.png``: the image benchmark's table (``toyood.images.report.table_records``, as on the
  page) for plain and ACET, quick preset, on the MNIST subset shipped in ``../shared/data/mnist-10k``.

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

import numpy as np
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
    fig.update_layout(margin=dict(b=110))
    return fig, 760, 560


def bench_table_figure(data_dir: str) -> tuple[go.Figure, int, int]:
    """The image benchmark's table (plain vs ACET, quick preset, MNIST) as a plotly table."""
    from toyood.images.benchmark import BenchConfig, run_benchmark
    from toyood.images.report import table_records

    config = BenchConfig("mnist", ("plain", "acet"), "quick", data_dir)
    result = run_benchmark(config, lambda fraction, text: print(f"\r  bench {fraction:4.0%} {text[:60]:60}",
                                                                 end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    records = table_records(result)
    sets = list(dict.fromkeys(r["set"] for r in records))
    records.sort(key=lambda r: sets.index(r["set"]))  # stable: the methods of one set next to each other
    columns = list(dict.fromkeys(key for r in records for key in r if key not in ("set", "method")))
    cells = [[r["set"] for r in records], [r["method"] for r in records],
             *[[_cell(r.get(key)) for r in records] for key in columns]]
    shade = ["#f4f6fa" if sets.index(r["set"]) % 2 else "white" for r in records]  # one band per set
    fig = go.Figure(go.Table(header=dict(values=["evaluated on", "method", *columns], fill_color="#262730",
                                         font=dict(color="white", size=13), align="left", height=30),
                             cells=dict(values=cells, align="left", height=26, fill_color=[shade],
                                        font=dict(size=13, color="#262730")),
                             columnwidth=[2.2, 1.2, *[1] * len(columns)]))
    title = (f"Image benchmark: trained on MNIST ({result.n_train} images, quick preset), "
             f"tested on {result.n_test} test images per set")
    fig.update_layout(title=dict(text=title, x=0.5, xanchor="center", font=dict(size=14)),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig, 820, 50 + 30 + 26 * len(records) + 16


def _cell(value) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else (
        f"{value:.3f}" if isinstance(value, float) else str(value))


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
    builders = {"playground": playground_figure, "regions": regions_figure, "gan": gan_figure, "bench": None}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(builders), default=list(builders))
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist-10k"),
                        help="where the MNIST files are (default: ../shared/data/mnist-10k)")
    args = parser.parse_args(argv)
    _check_export()
    torch.set_num_threads(int(os.environ.get("TOYOOD_THREADS", "1")))
    ASSETS.mkdir(exist_ok=True)
    for name in args.only:
        start = time.perf_counter()
        print(f"{name} …", file=sys.stderr)
        fig, width, height = bench_table_figure(args.data_dir) if name == "bench" else builders[name]()
        write_png(fig, ASSETS / f"{name}.png", width, height)
        print(f"  {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
