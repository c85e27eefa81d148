"""Exact linear (activation) regions of a (leaky-)ReLU MLP with 2-D input inside a box.

On every activation region Q the logits of a ReLU net are affine, f(x) = V_Q x + a_Q (Hein et al.
2019); ``enumerate_regions`` finds every region in a box exactly (float64, no sampling), with its
pattern, polygon, area, affine map, and whether and towards which class it is unbounded.

The modules, in the order a call goes through them:

- ``api``: ``enumerate_regions`` and its result ``Regions``, the engine choice, the box and memory
  checks, ``warm_compile``;
- ``compiled``: the numba cutter for two hidden layers (the app's nets; the default there);
- ``cutter``: the numpy cutter for any depth, layer by layer, with its steps in ``values`` (the
  pre-activations at the vertices), ``chords`` (where the zero lines meet each cell) and ``faces``
  (the faces of each cut cell and their patterns);
- ``unbounded``: recession arcs, limit classes and strip-like regions beyond the box;
- ``raster``: region ids on a pixel grid;
- ``geometry``: the tolerances and the array helpers they share.
"""
from .api import (
    BYTES_PER_REGION, ENGINES, Regions, activation_patterns, as_box, check_regions_budget, enumerate_regions,
    estimate_regions_cost, forward, resolve_engine, warm_compile)
from .geometry import ANGLE_TOL, GEOM_TOL, MAX_COORDINATE, MIN_HALF_WIDTH, REL_TOL, GeometryError, Layers
from .raster import rasterize

__all__ = ["ANGLE_TOL", "BYTES_PER_REGION", "ENGINES", "GEOM_TOL", "MAX_COORDINATE", "MIN_HALF_WIDTH", "REL_TOL",
           "GeometryError", "Layers", "Regions", "activation_patterns", "as_box", "check_regions_budget",
           "enumerate_regions", "estimate_regions_cost", "forward", "rasterize", "resolve_engine", "warm_compile"]
