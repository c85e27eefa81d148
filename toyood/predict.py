"""Model outputs on points: probabilities in chunks, and the points of a regular grid."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def probabilities(model: nn.Module, x, chunk: int = 65536, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """softmax(model(x)) in eval mode, in chunks, on the model's device; returns numpy (n, C)."""
    parameter = next(model.parameters())
    model.eval()
    x = torch.as_tensor(np.asarray(x), dtype=dtype)
    if dtype != parameter.dtype:
        raise ValueError(f"model is {parameter.dtype}, inputs requested as {dtype}")
    out = []
    with torch.inference_mode():
        for part in x.split(chunk):
            out.append(torch.softmax(model(part.to(parameter.device)), -1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0))


def grid_points(extent: tuple[float, float, float, float], resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xs, ys and the (ny·nx, 2) points of a resolution×resolution grid over (xmin, xmax, ymin, ymax)."""
    xmin, xmax, ymin, ymax = extent
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"grid extent must have xmin < xmax and ymin < ymax, got {extent}")
    if not 2 <= resolution <= 4000:
        raise ValueError(f"grid resolution must be between 2 and 4000, got {resolution}")
    xs, ys = np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], 1)
