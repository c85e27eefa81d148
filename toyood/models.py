"""Networks: an MLP (ReLU, leaky ReLU, tanh or sigmoid) with a swappable output head, and an RBF network.

Heads (``HEADS``):
- ``linear``: an affine layer to K logits (softmax classifier);
- ``reject``: an affine layer to K+1 logits, the last one the reject class (Vernekar et al.);
- ``dismax``: ``DisMaxHead``, logits = -scale·‖f(x) − p_j‖ (Macêdo et al., eq. 6-7).
All models return logits; ``softmax(model(x))`` are the probabilities in both train and eval mode.

Temperature (Hein et al. 2019, Sec. 3): a model's ``temperature`` T (default 1) divides its logits in
eval mode only, so training never sees it and every evaluation (``predict``, ``farfield``, ``ray``,
regions via ``piecewise_affine_layers``) applies it exactly once. ``toyood.toy.ToyRun`` sets it from
its config.
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import torch
from torch import nn

HEADS = ("linear", "reject", "dismax")
ACTIVATIONS = ("relu", "leaky", "tanh", "sigmoid")
PIECEWISE_AFFINE = ("relu", "leaky")
MAX_NEGATIVE_SLOPE = 0.95  # the largest leaky slope the CLI, the app and its links accept (saved runs: < 1)
TEMPERATURE_RANGE = (0.01, 100.0)


def check_temperature(temperature: float) -> float:
    """T as a float in ``TEMPERATURE_RANGE``; ValueError naming the allowed range otherwise."""
    low, high = TEMPERATURE_RANGE
    if not (isinstance(temperature, (int, float)) and low <= float(temperature) <= high):
        raise ValueError(f"temperature must be a number in [{low:g}, {high:g}] (got {temperature!r})")
    return float(temperature)


def set_temperature(model: nn.Module, temperature: float) -> nn.Module:
    """Set the eval-mode temperature T of a toyood model (logits / T); returns the model."""
    model.temperature = check_temperature(temperature)
    return model


def _tempered(module: nn.Module, logits: torch.Tensor) -> torch.Tensor:
    temperature = getattr(module, "temperature", 1.0)
    return logits if module.training or temperature == 1.0 else logits / temperature


class DisMaxHead(nn.Module):
    """Distance-to-prototype logits, paper version (Macêdo et al., eq. 6 and 7).

    logits_j = −α·‖f − p_j‖ (Euclidean, no bias), prototypes initialised to zero. α is
    ``train_scale`` (paper: 10) in training mode and ``eval_scale`` (paper: 1) in eval mode.
    """

    def __init__(self, in_features: int, n_classes: int, train_scale: float = 10.0, eval_scale: float = 1.0):
        super().__init__()
        self.prototypes = nn.Parameter(torch.zeros(n_classes, in_features))
        self.train_scale = float(train_scale)
        self.eval_scale = float(eval_scale)

    def distances(self, features: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(features[:, None, :] - self.prototypes[None], dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        scale = self.train_scale if self.training else self.eval_scale
        return -scale * self.distances(features)


def make_head(kind: str, in_features: int, n_classes: int) -> nn.Module:
    """The output head ``kind`` (``HEADS``) on ``in_features`` features for ``n_classes`` real classes."""
    if kind not in HEADS:
        raise ValueError(f"unknown head {kind!r}; choose one of {', '.join(HEADS)}")
    if kind == "dismax":
        return DisMaxHead(in_features, n_classes)
    return nn.Linear(in_features, n_classes + (kind == "reject"))


def reject_index(model: nn.Module) -> int | None:
    """The index of the model's reject class (its last output), or None without one."""
    return n_outputs(model) - 1 if getattr(model, "head_kind", None) == "reject" else None


def activation_function(activation: str, negative_slope: float = 0.0):
    """The elementwise function of ``activation`` (``ACTIVATIONS``); relu and leaky are
    leaky_relu with ``negative_slope`` (0 for relu)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)} (got {activation!r})")
    if activation == "tanh":
        return torch.tanh
    if activation == "sigmoid":
        return torch.sigmoid
    return functools.partial(torch.nn.functional.leaky_relu, negative_slope=negative_slope)  # picklable


class MLP(nn.Module):
    """Dense → activation blocks, then a head. ``body`` maps inputs to the last hidden layer.
    ``activation``: relu / leaky (piecewise affine, ``negative_slope``) or tanh / sigmoid (bounded;
    Vernekar et al. Sec. 5.1)."""

    def __init__(self, hidden: tuple[int, ...] = (500, 500), n_classes: int = 2, head: str = "linear",
                 negative_slope: float = 0.0, in_features: int = 2, activation: str | None = None):
        super().__init__()
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden widths must be positive integers, got {hidden}")
        activation = activation or "relu"
        activation = "leaky" if activation == "relu" and negative_slope else activation  # a slope means leaky
        self.act = activation_function(activation, negative_slope)
        self.activation = activation
        self.negative_slope = float(negative_slope) if activation in PIECEWISE_AFFINE else 0.0
        self.temperature = 1.0
        self.head_kind = head
        widths = (in_features, *hidden)
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.head = make_head(head, hidden[-1], n_classes)

    @property
    def piecewise_affine(self) -> bool:
        return self.activation in PIECEWISE_AFFINE

    def body(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden_layers:
            x = self.act(layer(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _tempered(self, self.head(self.body(x)))


class RBFNet(nn.Module):
    """f_k(x) = Σ_l α_kl exp(−γ‖x − c_l‖²) (Hein et al., Thm 3.2): confidence → 1/K far away.

    Centres c_l, log γ and weights α are all learned; no bias, so every logit → 0 far out.
    """

    def __init__(self, centres: torch.Tensor, n_classes: int = 2, gamma: float = 0.5):
        super().__init__()
        self.centres = nn.Parameter(centres.clone().float())
        self.log_gamma = nn.Parameter(torch.tensor(float(np.log(gamma))))
        self.weights = nn.Parameter(0.1 * torch.randn(n_classes, len(centres)))
        self.temperature = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squared = torch.cdist(x, self.centres.to(x.dtype)).square()
        return _tempered(self, torch.exp(-self.log_gamma.exp() * squared) @ self.weights.t())


def n_outputs(model: nn.Module) -> int:
    """Number of logits (K, or K+1 with a reject class)."""
    if isinstance(model, RBFNet):
        return model.weights.shape[0]
    head = model.head
    return head.prototypes.shape[0] if isinstance(head, DisMaxHead) else head.out_features


def piecewise_affine_layers(model: nn.Module) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """The model's piecewise-affine part as float64 (W, b) pairs and its negative slope.

    For linear/reject heads this is the whole network up to the logits, divided by the model's
    temperature (the head's W and b over T: the eval-mode logits); for DisMax it is the body up to
    the features (the distance head is not affine). RBF, tanh and sigmoid networks have none.
    """
    if not isinstance(model, MLP):
        raise ValueError("only MLP models are piecewise affine")
    if not model.piecewise_affine:
        raise ValueError(f"a {model.activation} net is not piecewise affine: linear regions and the exact "
                         "ray proof apply to relu and leaky nets only")
    layers = list(model.hidden_layers)
    if model.head_kind != "dismax":
        layers.append(model.head)
    pairs = [(l.weight.detach().double().cpu().numpy(), l.bias.detach().double().cpu().numpy()) for l in layers]
    if model.head_kind != "dismax" and model.temperature != 1.0:
        pairs[-1] = (pairs[-1][0] / model.temperature, pairs[-1][1] / model.temperature)
    return pairs, model.negative_slope


def eval_logit_scale(model: nn.Module) -> float:
    """The factor of a DisMax head's eval-mode distances: −(eval_scale / T)·‖f − p_j‖."""
    return model.head.eval_scale / model.temperature


def float64_copy(model: nn.Module) -> nn.Module:
    """An eval-mode float64 copy (for evaluations far out, where float32 loses the offsets)."""
    return copy.deepcopy(model).cpu().double().eval()
