"""Hein et al.'s (2019) image networks: a LeNet for 28×28 inputs and a small pre-activation ResNet for 32×32.

Every network is an ``ImageClassifier``: a feature extractor ``body`` and a swappable ``head`` from
``toyood.models.HEADS`` (``linear``: K logits; ``reject``: K+1, the last the reject class; ``dismax``:
``toyood.models.DisMaxHead``). As in the authors' code, conv and dense weights start He-normal
(truncated at 2 std, std = sqrt(2 / fan-in)) with zero biases; batch norm uses PyTorch's momentum 0.1
(the authors' TensorFlow decay 0.99 is PyTorch momentum 0.01), eps 1e-5.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..models import make_head

ARCHITECTURES = ("lenet", "resnet")


class LeNet(nn.Module):
    """conv5×5-32, ReLU, maxpool 2, conv5×5-64, ReLU, maxpool 2, dense 1024, ReLU: the features."""

    n_features = 1024

    def __init__(self, in_channels: int = 1, image_size: int = 28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.dense = nn.Linear(64 * (image_size // 4) ** 2, self.n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.dense(x.flatten(1)))


class PreActUnit(nn.Module):
    """Pre-activation residual unit (He et al. 2016): BN → ReLU → conv3×3 → BN → ReLU → conv3×3, plus a
    parameter-free shortcut (average pooling for the stride, zero channels for the extra filters).

    ``activate_before_residual``: the shortcut starts after the first BN → ReLU (the first unit of
    each stage in the authors' code) rather than before it.
    """

    def __init__(self, in_filters: int, out_filters: int, stride: int, activate_before_residual: bool):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_filters)
        self.conv1 = nn.Conv2d(in_filters, out_filters, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_filters)
        self.conv2 = nn.Conv2d(out_filters, out_filters, 3, padding=1, bias=False)
        self.stride = stride
        self.extra_filters = out_filters - in_filters
        self.activate_before_residual = activate_before_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.relu(self.bn1(x))
        shortcut = activated if self.activate_before_residual else x
        out = self.conv2(F.relu(self.bn2(self.conv1(activated))))
        if self.stride > 1:
            shortcut = F.avg_pool2d(shortcut, self.stride)
        if self.extra_filters:
            half = self.extra_filters // 2
            shortcut = F.pad(shortcut, (0, 0, 0, 0, half, self.extra_filters - half))
        return out + shortcut


class PreActResNet(nn.Module):
    """3×3 stem (16 filters) → 3 stages × 3 units (16/32/64 filters, strides 1/2/2) → BN → ReLU →
    global average pool: 64 features."""

    def __init__(self, in_channels: int = 3, filters: tuple[int, ...] = (16, 32, 64),
                 strides: tuple[int, ...] = (1, 2, 2), units_per_stage: int = 3):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        units, width = [], 16
        for out_filters, stride in zip(filters, strides):
            units.append(PreActUnit(width, out_filters, stride, activate_before_residual=True))
            units.extend(PreActUnit(out_filters, out_filters, 1, False) for _ in range(units_per_stage - 1))
            width = out_filters
        self.units = nn.Sequential(*units)
        self.bn = nn.BatchNorm2d(width)
        self.n_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.units(self.stem(x)))).mean((2, 3))


class ImageClassifier(nn.Module):
    """``head(body(x))``: logits (K, or K+1 with a reject class)."""

    def __init__(self, body: nn.Module, n_classes: int, head: str = "linear"):
        super().__init__()
        self.body = body
        self.head_kind = head
        self.head = make_head(head, body.n_features, n_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                _he_normal_(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _he_normal_(layer: nn.Conv2d | nn.Linear) -> None:
    std = math.sqrt(2.0 / (layer.weight[0].numel()))
    nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def default_architecture(shape: tuple[int, int, int]) -> str:
    """Hein et al.'s choice for an input shape (C, H, W): LeNet for 28×28, the ResNet otherwise."""
    return "lenet" if tuple(shape[1:]) == (28, 28) else "resnet"


def build_image_model(shape: tuple[int, int, int], n_classes: int, head: str = "linear",
                      architecture: str | None = None) -> ImageClassifier:
    """An untrained classifier for inputs of ``shape`` (C, H, W) with ``n_classes`` real classes."""
    architecture = architecture or default_architecture(shape)
    channels, height, width = shape
    if architecture == "lenet":
        if height != width or height % 4:
            raise ValueError(f"LeNet needs square inputs with a side divisible by 4, got {height}×{width}")
        body = LeNet(channels, height)
    elif architecture == "resnet":
        body = PreActResNet(channels)
    else:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ImageClassifier(body, n_classes, head)
