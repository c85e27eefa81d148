"""Training methods: each one defined once — its loss, the OOD data it needs, its head, its OOD score.

Batch convention (toy and images alike): one batch holds in-distribution rows with labels 0..K-1
followed by OOD rows labelled ``OOD_LABEL`` (−1). Every loss is

    mean CE over in-distribution rows + weight · mean OOD term over OOD rows,

so a weight of 1 with equally many in- and out-rows is the papers' λ = 1 / β = 1 setting.

Scores: ``confidence`` is the largest probability of a *real* class (what MMC averages and what
"overconfident" thresholds); ``score`` is the OOD-detection score, higher = more in-distribution.

Settings: a method's own settings are its dataclass fields; ``from_options`` builds a method from
an experiment's options (any object with the attributes ``ood_weight`` = β or λ, ``ceda_objective``,
``acet_eps``, ``acet_steps``, ``acet_step_size``), each method taking only what it uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import math
import torch
import torch.nn.functional as F
from torch import nn

OOD_LABEL = -1


def split_rows(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean masks of the in-distribution and OOD rows of a batch."""
    ood = y == OOD_LABEL
    return ~ood, ood


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each row of probabilities."""
    return -(probs * torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny))).sum(-1)


def pgd_maximise(objective: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float, steps: int,
                 step_size: float, lower: float | None = None, upper: float | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """ℓ∞ PGD maximising a per-example ``objective`` within ‖u − x‖∞ ≤ eps (Hein et al.'s code).

    Random start x + U(0,1)·U(−ε,ε) (one factor per example, one per coordinate), signed-gradient
    ascent steps of ``step_size``, clipping to [lower, upper] when given and projection onto the
    ε-ball after every step; returns the best iterate per example, the start included.
    Gradients flow only to the input: callers put the model in eval mode.
    """
    start = pgd_start(x, eps, lower, upper, generator)
    return pgd_ascend(objective, x, start, eps, steps, step_size, lower, upper)


def pgd_start(x: torch.Tensor, eps: float, lower: float | None = None, upper: float | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``pgd_maximise``'s random start x + U(0,1)·U(−ε,ε), clipped (two draws from ``generator``)."""
    x = x.detach()
    shape = (len(x),) + (1,) * (x.dim() - 1)
    scale = torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)
    noise = (2 * torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) - 1) * eps
    return _clip(x + scale * noise, lower, upper)


def pgd_ascend(objective: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, u: torch.Tensor, eps,
               steps: int, step_size, lower: float | None = None, upper: float | None = None) -> torch.Tensor:
    """``pgd_maximise``'s ascent from the start ``u``; the best iterate per entry of ``objective(u)``.
    Shape-generic: ``x`` may stack several models' inputs (M, n, d) with ``eps`` and ``step_size``
    broadcastable tensors and ``objective`` returning (M, n) values (``toyood.batched``)."""
    x, u = x.detach(), u.detach()
    best, best_value = u.clone(), None
    for step in range(steps + 1):
        u.requires_grad_(True)
        value = objective(u)
        if best_value is None:
            best_value = torch.full_like(value.detach(), -math.inf)
        improved = value.detach() > best_value
        best[improved] = u.detach()[improved]
        best_value = torch.where(improved, value.detach(), best_value)
        if step == steps:
            break
        (grad,) = torch.autograd.grad(value.sum(), u)
        u = u.detach() + step_size * grad.sign()
        u = _clip(torch.min(torch.max(u, x - eps), x + eps), lower, upper)
    return best.detach()


def _clip(x: torch.Tensor, lower: float | None, upper: float | None) -> torch.Tensor:
    return x if lower is None and upper is None else x.clamp(lower, upper)


@dataclass(frozen=True)
class Method:
    """Plain cross-entropy on in-distribution data; no OOD data; linear head; score = max softmax."""

    name: ClassVar[str] = "plain"
    needs_ood: ClassVar[bool] = False
    head: ClassVar[str] = "linear"

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        return self.logits_loss(model(x), y)

    def logits_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss of a batch from its logits (``loss`` after the forward pass; ``toyood.batched``)."""
        inside, outside = split_rows(y)
        loss = F.cross_entropy(logits[inside], y[inside])
        if self.needs_ood and outside.any():
            loss = loss + self.ood_loss(logits[outside])
        return loss

    @classmethod
    def from_options(cls, options) -> "Method":
        """This method with its settings taken from ``options`` (see the module docstring)."""
        return cls()

    @classmethod
    def settings_used(cls) -> tuple[str, ...]:
        """The option names ``from_options`` reads (the others do not apply to this method)."""
        return ()

    def ood_loss(self, logits: torch.Tensor) -> torch.Tensor:
        raise TypeError(f"method {self.name} uses no OOD data")

    def reject_index(self, n_outputs: int) -> int | None:
        """The output index of the reject class, or None when the method has none."""
        return n_outputs - 1 if self.head == "reject" else None

    def confidence(self, probs: torch.Tensor) -> torch.Tensor:
        n_real = probs.shape[-1] - (self.reject_index(probs.shape[-1]) is not None)
        return probs[..., :n_real].max(-1).values

    def score(self, probs: torch.Tensor) -> torch.Tensor:
        return self.confidence(probs)


@dataclass(frozen=True)
class Plain(Method):
    """Plain cross-entropy (the baseline of Hein et al. Thm 3.1): min E_in[−log p_y(x)]."""


@dataclass(frozen=True)
class ConfidenceLoss(Method):
    """Confidence loss, Lee et al. 2018 eq. (1): CE(in) + β·E_out[KL(U ‖ p(y|x))].

    KL(U‖p) = −log K − (1/K)Σ_k log p_k, batch-mean as in the authors' code. The Vernekar notebooks'
    all-ones Keras target Σ_k −log p_k equals K·(KL + log K): the same gradient with β·K.
    Needs OOD samples; linear head; score = max softmax probability.
    """

    name: ClassVar[str] = "confidence"
    needs_ood: ClassVar[bool] = True
    beta: float = 1.0  # β, the weight of the OOD term

    @classmethod
    def from_options(cls, options) -> "ConfidenceLoss":
        return cls(beta=options.ood_weight)

    @classmethod
    def settings_used(cls) -> tuple[str, ...]:
        return ("ood_weight",)

    def ood_loss(self, logits: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(logits, -1)
        return self.beta * (-math.log(logits.shape[-1]) - log_probs.mean(-1)).mean()


@dataclass(frozen=True)
class CEDA(Method):
    """Confidence enhancing data augmentation, Hein et al. 2019 eq. (1)-(3).

    CE(in) + λ·E_out[L_out(z)], λ = 1. ``objective`` picks L_out: ``max_conf`` (default) is
    log max_k p_k(z), eq. (2) and the authors' code; ``uniform`` is CE against uniform labels, the
    code's alternative (= KL(U‖p) + log K, the confidence loss's term). log max_k p_k has gradient
    1 − p_max, which vanishes where the net is already confident: on the 2-D toy the far OOD
    samples saturate within the first epoch and stay confident (see the project notes).
    Needs OOD samples (noise); linear head; score = max softmax probability.
    """

    name: ClassVar[str] = "ceda"
    needs_ood: ClassVar[bool] = True
    lam: float = 1.0  # λ, the weight of the OOD term
    objective: str = "max_conf"  # L_out: 'max_conf' (eq. 2) or 'uniform'

    @classmethod
    def from_options(cls, options) -> "CEDA":
        return cls(lam=options.ood_weight, objective=options.ceda_objective)

    @classmethod
    def settings_used(cls) -> tuple[str, ...]:
        return ("ood_weight", "ceda_objective")

    def __post_init__(self):
        if self.objective not in CEDA_OBJECTIVES:
            raise ValueError(f"CEDA objective must be one of {', '.join(CEDA_OBJECTIVES)}, got {self.objective!r}")

    def out_objective(self, logits: torch.Tensor) -> torch.Tensor:
        """L_out per row (what CEDA minimises and ACET's attack maximises)."""
        log_probs = F.log_softmax(logits, -1)
        if self.objective == "max_conf":
            return log_probs.max(-1).values
        return -log_probs.mean(-1)

    def ood_loss(self, logits: torch.Tensor) -> torch.Tensor:
        return self.lam * self.out_objective(logits).mean()


CEDA_OBJECTIVES = ("max_conf", "uniform")


@dataclass(frozen=True)
class ACET(CEDA):
    """Adversarial confidence enhancing training, Hein et al. 2019 eq. (4)-(5).

    As CEDA, but each OOD sample z is first moved to u = argmax_{‖u−z‖∞≤ε} L_out(u) by
    ``pgd_maximise`` (random start, ``steps`` signed-gradient steps of ``step_size``, best iterate
    kept; model in eval mode during the attack). Images: ε = 0.3, 40 steps, step 0.0075, clipped to
    [0, 1] (Hein's code). 2-D defaults: ε = 2 (two σ of the paper's data), 10 steps of 0.5, no clip.
    """

    name: ClassVar[str] = "acet"
    eps: float = 2.0  # ℓ∞ radius of the attack
    steps: int = 10  # PGD steps
    step_size: float = 0.5  # signed-gradient step
    lower: float | None = None  # clip of the inputs (images: 0)
    upper: float | None = None  # (images: 1)

    @classmethod
    def from_options(cls, options) -> "ACET":
        return cls(lam=options.ood_weight, objective=options.ceda_objective, eps=options.acet_eps,
                   steps=options.acet_steps, step_size=options.acet_step_size,
                   lower=getattr(options, "input_lower", None), upper=getattr(options, "input_upper", None))

    @classmethod
    def settings_used(cls) -> tuple[str, ...]:
        return ("ood_weight", "ceda_objective", "acet_eps", "acet_steps", "acet_step_size")

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        _, outside = split_rows(y)
        if outside.any():
            was_training = model.training
            model.eval()
            moved = pgd_maximise(lambda u: self.out_objective(model(u)), x[outside], self.eps, self.steps,
                                 self.step_size, self.lower, self.upper, generator)
            model.train(was_training)
            x = x.clone()
            x[outside] = moved
        return super().loss(model, x, y, generator)


@dataclass(frozen=True)
class RejectClass(Method):
    """Explicit reject class, Vernekar et al. 2019 Sec. 4: K+1 outputs, OOD samples labelled K.

    Loss: categorical CE(in) + CE(OOD rows, class K) (the notebooks compiled binary CE on one-hot
    targets; categorical CE is used here). Needs OOD samples; K+1 linear head.
    Score = largest real-class probability max_{k<K} p_k (also the "confidence").
    """

    name: ClassVar[str] = "reject"
    needs_ood: ClassVar[bool] = True
    head: ClassVar[str] = "reject"

    def ood_loss(self, logits: torch.Tensor) -> torch.Tensor:
        target = torch.full((len(logits),), self.reject_index(logits.shape[-1]), dtype=torch.long,
                            device=logits.device)
        return F.cross_entropy(logits, target)


@dataclass(frozen=True)
class DisMax(Method):
    """DisMax loss, paper version (Macêdo et al., eq. 6-8).

    Logits −α‖f(x) − p_j‖ with zero-initialised prototypes (``models.DisMaxHead``); training CE with
    α = 10 (eq. 7), probabilities with α = 1 (eq. 6). No OOD data. Score = −entropy (eq. 8).
    """

    name: ClassVar[str] = "dismax"
    head: ClassVar[str] = "dismax"

    def score(self, probs: torch.Tensor) -> torch.Tensor:
        return -entropy(probs)


@dataclass(frozen=True)
class RBF(Method):
    """RBF network contrast, Hein et al. 2019 Thm 3.2: CE on ``models.RBFNet``; no OOD data.

    Far from the centres every logit → 0, so the confidence → 1/K. Score = max softmax probability.
    """

    name: ClassVar[str] = "rbf"
    head: ClassVar[str] = "rbf"


METHODS: dict[str, type[Method]] = {m.name: m for m in (Plain, ConfidenceLoss, CEDA, ACET, RejectClass, DisMax, RBF)}


def method_by_name(name: str, **params) -> Method:
    """Instantiate a method from its name and its own parameters (e.g. ``beta``, ``eps``)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name](**params)
